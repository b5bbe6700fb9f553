"""Needle benchmarks: analysing one pose (new line, and a depth change on a known line)."""

from __future__ import annotations

import numpy as np

from iddsanatomy.benchmarks import summarise, timings_ms


def _anatomy(use_phantom: bool):
    if use_phantom:
        from iddsanatomy.needle.phantom import build_phantom

        return build_phantom(), "box phantom"
    from iddsanatomy.anatomy import load_anatomy

    return load_anatomy(), "default anatomy"


def run(quick: bool = False, phantom: bool = False) -> list:
    """Figures: ms per pose for a new direction, for a depth step, and the build time."""
    import time

    from iddsanatomy.needle import NeedleAnalyser, midline_pose

    anatomy, name = _anatomy(phantom)
    t0 = time.perf_counter()
    an = NeedleAnalyser(anatomy)
    base = midline_pose(anatomy, "L3-L4")
    an.analyse(base)  # builds the distance trees
    build_ms = (time.perf_counter() - t0) * 1000
    rng = np.random.default_rng(1)
    n = 100 if quick else 500
    poses = [
        base.with_angles(float(c), 0.0).with_depth(float(d))
        for c, d in zip(rng.uniform(-35, 35, n), rng.uniform(20, 80, n), strict=True)
    ]
    it = iter(range(10**9))

    def new_line():
        k = next(it) % n
        an._lines.clear()  # force a fresh ray cast: the worst case
        an.analyse(poses[k])

    def depth_step():
        k = next(it) % 50  # a few lines, as when dragging the depth: all cached
        an.analyse(poses[k].advanced(1.0))

    repeat = 50 if quick else 300
    return [
        summarise(
            f"needle: analyse a new pose ({name})",
            timings_ms(new_line, repeat),
            "ms",
            target=1.0,
            note="ray cast of every structure near the line + distances",
        ),
        summarise(
            f"needle: analyse a depth step ({name})",
            timings_ms(depth_step, repeat),
            "ms",
            target=1.0,
            note="the line is cached; distances and events only",
        ),
        summarise(
            f"needle: build the analyser ({name})",
            [build_ms],
            "ms",
            note="Embree scenes, KD-trees, level scale; once per anatomy",
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    from iddsanatomy.bench import format_table

    print(format_table(run(quick="--quick" in sys.argv, phantom="--phantom" in sys.argv)))
