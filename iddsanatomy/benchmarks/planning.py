"""Planned-needle benchmarks: how long the needle path finder takes to place a lesson's plan.

A lesson step that shows a planned needle runs :func:`iddsanatomy.needle.find_path` on the
step's patient (in the app on a worker thread; in ``lessons check`` for every plan). Measured on
the default anatomy with its analyser already built (the search itself), for the interspaces
and approaches lessons use, with the exhaustive search (the reference) for comparison, and the
one-off cost of a new patient's analyser.
"""

from __future__ import annotations

import time

from iddsanatomy.benchmarks import summarise

#: The plans measured: every shipped lesson's kind of plan, at the middle lumbar interspaces.
PLANS = [
    (interspace, approach, target)
    for interspace in ("L2-L3", "L3-L4", "L4-L5")
    for approach in ("midline", "paramedian")
    for target in ("epidural", "intrathecal")
]


def run(quick: bool = False) -> list:
    """Figures: median ms per plan (fast and exhaustive search), and the analyser build."""
    from iddsanatomy.anatomy import load_anatomy
    from iddsanatomy.needle.analysis import NeedleAnalyser
    from iddsanatomy.needle.planning import find_path

    anatomy = load_anatomy()
    t0 = time.perf_counter()
    an = NeedleAnalyser(anatomy)
    for group in ("skin", "bone", "dura", "conus"):
        an.proximity(group)
    build_ms = (time.perf_counter() - t0) * 1000.0
    anatomy._needle_analyser = an  # what analyser_for(anatomy) would build and keep
    plans = PLANS[::3] if quick else PLANS
    rounds = 1 if quick else 3

    def times(exhaustive: bool) -> list[float]:
        out = []
        for _ in range(rounds):
            for interspace, approach, target in plans:
                an._lines.clear()  # the exhaustive search would otherwise reuse cached lines
                t = time.perf_counter()
                find_path(anatomy, interspace, approach, "left", target, exhaustive=exhaustive)
                out.append((time.perf_counter() - t) * 1000.0)
        return out

    find_path(anatomy, "L3-L4", "midline", "left", "intrathecal")  # warm-up
    n = len(plans)
    return [
        summarise(
            "planning: place one planned needle (find_path)",
            times(False),
            "ms",
            target=200.0,
            note=f"{n} plans (L2-L3…L4-L5, midline/paramedian, epidural/intrathecal) × {rounds}; "
            "default anatomy, analyser built",
        ),
        summarise(
            "planning: the same plans, exhaustive search",
            times(True),
            "ms",
            note="every candidate through the full analysis twice (the reference answer)",
        ),
        summarise(
            "planning: a new patient's needle analyser",
            [build_ms],
            "ms",
            note="once per patient, before its first plan (Embree scenes, distance trees)",
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    from iddsanatomy.bench import format_table

    print(format_table(run(quick="--quick" in sys.argv)))
