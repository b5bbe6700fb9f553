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
    """In a child process: open the app, put the needle on a clear path, drag it in and out.

    Each step is what holding "]" or "[" does: the panel moves the needle, the analysis runs,
    the read-out (text, gauge, events) updates and the 3D view shows one new frame. Steps that
    cannot move the needle (bone stops it, or it is back at the skin) turn the drag around and
    are not counted: they draw no frame. Prints one JSON line after ``RESULT``.
    """
    import json
    import os
    import time

    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from iddsanatomy.needle import analyser_for
    from iddsanatomy.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    w = MainWindow(settings=QSettings(os.devnull, QSettings.IniFormat))
    w.resize(1400, 900)
    w.show()
    t_end = time.perf_counter() + 60
    while not getattr(w, "startup_done", True) and time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.01)
    panel = w.panels["Needle"]
    analyser_for(w.anatomy)
    if not panel.suggest_path():  # a path to the CSF: the drag crosses every layer
        raise RuntimeError("could not place the needle on a clear path")
    t_end = time.perf_counter() + 3
    while time.perf_counter() < t_end:  # let start-up work (LOD, pickers) finish
        app.processEvents()
        time.sleep(0.01)

    # where the time goes: wrap the pieces of one step (instance attributes; the code calls
    # them through self, so the wrappers see every call)
    spent = {"analysis": 0.0, "scene": 0.0, "readout": 0.0}

    def timed(key, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += (time.perf_counter() - t) * 1000.0

        return wrapper

    session = panel.session
    session.advance = timed("analysis", session.advance)
    session.withdraw = timed("analysis", session.withdraw)
    w.renderer._update_needle = timed("scene", w.renderer._update_needle)
    panel._show_analysis = timed("readout", panel._show_analysis)
    rw = w.plotter.render_window
    render = {"n": 0, "t0": 0.0, "ms": 0.0}

    def on_start(*_):
        render["t0"] = time.perf_counter()

    def on_end(*_):
        render["n"] += 1
        render["ms"] += (time.perf_counter() - render["t0"]) * 1000.0

    rw.AddObserver("StartEvent", on_start)
    rw.AddObserver("EndEvent", on_end)
    instruments = getattr(w.renderer, "instruments", None)
    alone0 = getattr(instruments, "instrument_frames", 0)
    rows = []
    sign, k, turns = +1, 0, 0
    t_stop = time.perf_counter() + 240
    while len(rows) < steps and time.perf_counter() < t_stop:
        before = (w.state.needle, panel.analysis)
        for key in spent:
            spent[key] = 0.0
        n0, ms0 = render["n"], render["ms"]
        t0 = time.perf_counter()
        moved = panel.step(sign) and w.state.needle != before[0]
        t1 = time.perf_counter()
        if not moved:
            sign, turns = -sign, turns + 1
            if turns > 4 and not rows:
                raise RuntimeError("the needle does not move")
            continue
        # as in the app: Qt coalesces the panel's and the 3D view's repaints into one frame
        while render["n"] == n0 and time.perf_counter() - t0 < 5.0:
            app.processEvents()
        t2 = time.perf_counter()
        app.processEvents()  # what else the step queued (the gauge's paint, the read-out)
        t3 = time.perf_counter()
        assert panel.analysis is not before[1], "the read-out did not update"
        rows.append(
            {
                "step_ms": (t2 - t0) * 1000.0,
                "panel_ms": (t1 - t0) * 1000.0,
                "analysis_ms": spent["analysis"],
                "scene_ms": spent["scene"],
                "readout_ms": spent["readout"],
                "to_frame_ms": (t2 - t1) * 1000.0,
                "render_ms": (render["ms"] - ms0),
                "frames": render["n"] - n0,
                "after_ms": (t3 - t2) * 1000.0,
            }
        )
        k += 1
    result = {
        "rows": rows,
        "frames_instruments_alone": getattr(instruments, "instrument_frames", 0) - alone0,
        "view_px": [w.plotter.width(), w.plotter.height()],
        "lod_while_moving": bool(w.renderer.interacting),
    }
    w.close()
    print("RESULT " + json.dumps(result), flush=True)


def measure_drag(steps: int = 150, pythonpath: str | None = None):
    """Frames per second while the needle is dragged in the app, and where a step's time goes.

    ``pythonpath`` runs the same child against another checkout of the package (to compare a
    change with what came before it, in one sitting).
    """
    import os
    import statistics

    from iddsanatomy.benchmarks.viewer import _display, run_child

    script = os.path.abspath(__file__)
    code = (
        f"import runpy, sys; sys.argv = ['needle', '--drag-child', '{steps:d}']; "
        f"runpy.run_path({script!r}, run_name='__main__')"
    )
    env_path = os.environ.get("PYTHONPATH")
    if pythonpath is not None:
        os.environ["PYTHONPATH"] = pythonpath
    try:
        with _display() as display:
            out = run_child(code, display, "needle drag")
    finally:
        if pythonpath is not None:
            if env_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = env_path
    rows = out["rows"]

    def col(key):
        return [r[key] for r in rows]

    def med(key):
        return statistics.median(col(key))

    n = len(rows)
    breakdown = (
        f"median ms per step: analysis {med('analysis_ms'):.2f}, needle mesh + scene "
        f"{med('scene_ms'):.2f}, read-out {med('readout_ms'):.2f}, Qt + frame "
        f"{med('to_frame_ms'):.1f} (VTK render {med('render_ms'):.1f}, "
        f"{statistics.mean(col('frames')):.2f} renders/step); "
        f"{out['frames_instruments_alone']}/{n} frames redrew the needle alone; "
        f"view {out['view_px'][0]}x{out['view_px'][1]}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    return [
        summarise(
            "needle: step in the app (panel + 3D frame)",
            [1000.0 / t for t in col("step_ms") if t > 0],
            "fps",
            target=30.0,
            better="higher",
            note="advance/withdraw 1 mm on a clear path: analysis, read-out, gauge and the "
            "3D frame that shows it; " + breakdown,
        ),
        summarise(
            "needle: panel step without the frame",
            col("panel_ms"),
            "ms",
            note="session move + analysis + read-out + scene assignment (needle mesh updated)",
        ),
        summarise(
            "needle: VTK render per step",
            col("render_ms"),
            "ms",
            note="the 3D frame alone (the needle redrawn over the kept anatomy when only it moved)",
        ),
    ]


if __name__ == "__main__":  # pragma: no cover
    import sys

    if "--drag-child" in sys.argv:
        _drag_child(int(sys.argv[sys.argv.index("--drag-child") + 1]))
    else:
        from iddsanatomy.bench import format_table

        print(format_table(run(quick="--quick" in sys.argv, phantom="--phantom" in sys.argv)))
