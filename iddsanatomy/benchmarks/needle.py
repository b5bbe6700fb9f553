"""Needle benchmarks: analysing one pose (a new line, a depth step on a known line), and stepping
the needle in the app (panel read-out and 3D view redrawn), in a child process under the current
X display or a private Xvfb, as :mod:`iddsanatomy.benchmarks.viewer` does."""

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

    for p in poses[:50]:
        an.analyse(p)  # the depth steps below move along these 50 cached lines

    def depth_step():
        k = next(it) % 50  # a few lines, as when dragging the depth: all cached
        an.analyse(poses[k].advanced(1.0))

    repeat = 50 if quick else 300
    step_ms = timings_ms(depth_step, repeat)  # first: new_line() empties the line cache
    figures = [
        summarise(
            f"needle: analyse a new pose ({name})",
            timings_ms(new_line, repeat),
            "ms",
            target=1.0,
            note="ray cast of every structure near the line + distances",
        ),
        summarise(
            f"needle: analyse a depth step ({name})",
            step_ms,
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
    if not phantom:
        try:
            figures.extend(measure_drag(steps=40 if quick else 150))
        except Exception as exc:  # no display: the core figures still count
            figures.append(
                summarise(
                    "needle: step in the app (panel + 3D)",
                    [float("nan")],
                    "fps",
                    target=30.0,
                    better="higher",
                    note=f"not measured: {exc}",
                )
            )
    return figures


def _drag_child(steps: int) -> None:
    """In a child process: open the app, place the needle, step it; print frame times (ms)."""
    import json
    import os
    import time

    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    from iddsanatomy.needle import analyser_for
    from iddsanatomy.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    w = MainWindow()
    w.resize(1400, 900)
    w.show()
    t_end = time.perf_counter() + 60
    while not getattr(w, "startup_done", True) and time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.01)
    panel = w.panels["Needle"]
    if not panel.place_needle():
        raise RuntimeError("could not place the needle")
    analyser_for(w.anatomy)
    frames = [0]
    w.plotter.render_window.AddObserver("EndEvent", lambda *_: frames.__setitem__(0, frames[0] + 1))
    times, panel_ms = [], []
    sign = +1
    for k in range(steps):
        t0 = time.perf_counter()
        if not panel.step(sign):
            sign = -sign
            panel.step(sign)
        panel_ms.append((time.perf_counter() - t0) * 1000.0)
        # as in the app: Qt coalesces the panel's and the 3D view's repaints into one frame
        n0 = frames[0]
        while frames[0] == n0 and time.perf_counter() - t0 < 5.0:
            app.processEvents()
        times.append((time.perf_counter() - t0) * 1000.0)
        if k % 40 == 39:
            sign = -sign
    print("PANEL_MS " + json.dumps(panel_ms))
    print("DRAG_MS " + json.dumps(times))
    w.close()


def measure_drag(steps: int = 150):
    """Frames per second while the needle steps in the app (median frame)."""
    import json
    import subprocess
    import sys

    from iddsanatomy.benchmarks.viewer import _child_env, _display

    code = f"from iddsanatomy.benchmarks.needle import _drag_child; _drag_child({steps})"
    with _display() as display:
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=_child_env(display),
            capture_output=True,
            text=True,
            timeout=300,
        )
    line = next((x for x in out.stdout.splitlines() if x.startswith("DRAG_MS ")), None)
    if line is None:
        raise RuntimeError(f"the app child failed: {out.stderr[-500:]}")
    ms = json.loads(line[len("DRAG_MS ") :])
    fps = [1000.0 / t for t in ms if t > 0]
    panel_line = next(x for x in out.stdout.splitlines() if x.startswith("PANEL_MS "))
    return [
        summarise(
            "needle: step in the app (panel + 3D frame)",
            fps,
            "fps",
            target=30.0,
            better="higher",
            note="advance/withdraw 1 mm: analysis, read-out, gauge and one 3D frame (coarse LOD)",
        ),
        summarise(
            "needle: panel step without the frame",
            json.loads(panel_line[len("PANEL_MS ") :]),
            "ms",
            note="session move + analysis + read-out + scene assignment (renderer rebuilds the "
            "needle actor)",
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    from iddsanatomy.bench import format_table

    print(format_table(run(quick="--quick" in sys.argv, phantom="--phantom" in sys.argv)))
