"""Viewer benchmarks: launch to first rendered frame, orbit frame rate, pick latency.

Everything runs in fresh child processes, as a user would meet it: the app's window under the
current X display (or a private Xvfb started here when there is none), on whatever OpenGL is
there (Mesa llvmpipe on the CI machine). ``run(quick)`` returns the figures for
``iddsanatomy bench``; ``python -m iddsanatomy.benchmarks.viewer`` prints them.

- launch: wall time from spawning ``python -m iddsanatomy`` to the first frame that shows the
  anatomy (the window reports it and quits);
- orbit: frames per second while turning the camera 360° in the app's 3D view, as when a
  trainee drags: coarse meshes (what the app draws while the camera moves) and full detail;
- offscreen orbit: the same with the renderer alone in ``pv.Plotter(off_screen=True)``;
- pick: one click's pick (cell picker with locators) at points spread over the view.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

from iddsanatomy.benchmarks import Figure, summarise

TARGET_LAUNCH_S = 2.0
TARGET_ORBIT_FPS = 30.0
TARGET_PICK_MS = 50.0


@contextlib.contextmanager
def _display():
    """The current DISPLAY, or a private Xvfb for the duration."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise RuntimeError("no DISPLAY and no Xvfb: install xvfb to benchmark the viewer")
    for n in range(90, 140):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            break
    proc = subprocess.Popen(
        [xvfb, f":{n}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                break
            time.sleep(0.05)
        yield f":{n}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _child_env(display: str) -> dict[str, str]:
    env = dict(os.environ)
    env["DISPLAY"] = display
    env.pop("PYVISTA_OFF_SCREEN", None)
    env.setdefault("QT_QPA_PLATFORM", "xcb")
    return env


def measure_launch(display: str, repeat: int) -> tuple[list[float], list[float]]:
    """Seconds from spawning ``python -m iddsanatomy`` to its first frame with anatomy, and
    the part of it spent after the app's ``run_app`` started (interpreter start excluded)."""
    env = _child_env(display)
    env["IDDSANATOMY_EXIT_AFTER_FIRST_FRAME"] = "1"
    out, inside = [], []
    for _ in range(repeat):
        t0 = time.time()
        r = subprocess.run(
            [sys.executable, "-m", "iddsanatomy"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        line = next((ln for ln in r.stdout.splitlines() if ln.startswith("first-frame ")), None)
        if line is None:
            raise RuntimeError(f"the app did not report a first frame:\n{r.stdout}\n{r.stderr}")
        out.append(float(line.split()[1]) - t0)
        inside.append(float(line.split()[3]))
    return out, inside


def _app_child(frames: int, picks: int) -> None:
    """In a child process: open the window, orbit and pick, print JSON."""
    import numpy as np

    from iddsanatomy.ui.app import make_app

    app = make_app()
    from PySide6.QtCore import QSettings

    from iddsanatomy.ui.main_window import MainWindow

    settings = QSettings(os.devnull, QSettings.IniFormat)
    w = MainWindow(settings=settings, optional_panels=False)
    w.resize(1400, 900)
    w.show()
    t_end = time.perf_counter() + 20
    while w.first_frame_seconds is None and time.perf_counter() < t_end:
        app.processEvents()
    n_tri = sum(
        a.mapper.GetInput().GetNumberOfCells()
        for a in w.renderer.actors.values()
        if a.GetVisibility()
    )
    result = {"triangles_shown": int(n_tri), "view_px": [w.plotter.width(), w.plotter.height()]}
    cam = w.plotter.camera

    def orbit(lod: bool) -> list[float]:
        if lod:
            w.renderer.begin_interaction()
        times = []
        for _ in range(frames):
            cam.Azimuth(360.0 / frames)
            t = time.perf_counter()
            w.plotter.repaint()  # a synchronous paint: render and show, as when dragging
            app.processEvents()
            times.append(time.perf_counter() - t)
        if lod:
            w.renderer.end_interaction()
        return times

    orbit(True)  # warm-up: shaders, buffers
    result["orbit_lod_s"] = orbit(True)
    result["orbit_full_s"] = orbit(False)
    w.picker.prepare()
    rng = np.random.default_rng(0)
    width, height = w.plotter.width(), w.plotter.height()
    pick_ms, hits = [], 0
    for _ in range(picks):
        x = rng.uniform(0.3, 0.7) * width
        y = rng.uniform(0.2, 0.8) * height
        t = time.perf_counter()
        hit = w.picker.pick(x, y)
        pick_ms.append((time.perf_counter() - t) * 1000.0)
        hits += hit is not None
    result["pick_ms"] = pick_ms
    result["pick_hits"] = hits
    w.close()
    print("RESULT " + json.dumps(result), flush=True)


def run_child(code: str, display: str, what: str) -> dict:
    """Run ``code`` in a fresh Python on ``display``; return the JSON it prints after RESULT."""
    r = subprocess.run(
        [sys.executable, "-c", code],
        env=_child_env(display),
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{what} benchmark failed:\n{r.stdout}\n{r.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def measure_app(display: str, frames: int, picks: int) -> dict:
    code = f"from iddsanatomy.benchmarks.viewer import _app_child; _app_child({frames}, {picks})"
    return run_child(code, display, "app")


def _offscreen_child(frames: int) -> None:
    import pyvista as pv

    from iddsanatomy.anatomy import load_anatomy
    from iddsanatomy.render.scene_renderer import SceneRenderer, default_visible
    from iddsanatomy.scene import SceneState

    anatomy = load_anatomy()
    state = SceneState(visible=default_visible(anatomy))
    p = pv.Plotter(off_screen=True, window_size=(1100, 800))
    sr = SceneRenderer(p, anatomy, state)
    rw = p.render_window
    rw.Render()
    out = {}
    for lod in (True, False):
        if lod:
            sr.begin_interaction()
        rw.Render()
        times = []
        for _ in range(frames):
            p.camera.Azimuth(360.0 / frames)
            t = time.perf_counter()
            rw.Render()
            times.append(time.perf_counter() - t)
        sr.end_interaction()
        out["lod" if lod else "full"] = times
    sr.close()
    p.close()
    print("RESULT " + json.dumps(out), flush=True)


def measure_offscreen(display: str, frames: int) -> dict:
    code = f"from iddsanatomy.benchmarks.viewer import _offscreen_child; _offscreen_child({frames})"
    return run_child(code, display, "offscreen")


def _fps(name: str, seconds: list[float], note: str) -> Figure:
    return summarise(name, [1.0 / s for s in seconds], "fps", TARGET_ORBIT_FPS, "higher", note)


def run(quick: bool = False) -> list[Figure]:
    """Measure and return the viewer figures (medians over repeats)."""
    launches = 2 if quick else 5
    frames = 24 if quick else 72
    picks = 20 if quick else 60
    with _display() as display:
        launch, launch_inside = measure_launch(display, launches)
        app = measure_app(display, frames, picks)
        off = measure_offscreen(display, frames)
    tri = f"{app['triangles_shown']} triangles shown, view {app['view_px'][0]}x{app['view_px'][1]}"
    return [
        summarise(
            "viewer launch to first frame",
            launch,
            "s",
            TARGET_LAUNCH_S,
            note="fresh process: python -m iddsanatomy until the anatomy is drawn; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        ),
        summarise(
            "viewer first frame after run_app",
            launch_inside,
            "s",
            note="the same launches, without interpreter start and the CLI",
        ),
        _fps("viewer orbit (app, LOD while moving)", app["orbit_lod_s"], tri),
        _fps("viewer orbit (app, full detail)", app["orbit_full_s"], tri),
        _fps("viewer orbit (offscreen, LOD)", off["lod"], "pv.Plotter 1100x800"),
        _fps("viewer orbit (offscreen, full)", off["full"], "pv.Plotter 1100x800"),
        summarise(
            "viewer pick",
            app["pick_ms"],
            "ms",
            TARGET_PICK_MS,
            note=f"{app['pick_hits']}/{len(app['pick_ms'])} picks hit a structure",
        ),
    ]


def main() -> None:
    from iddsanatomy.bench import format_table

    figures = run(quick="--quick" in sys.argv)
    print(format_table(figures))
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for f in figures:
        print(f"{f.name}: median {f.median:.3g} {f.unit} ({f.samples} samples) {f.note}")


if __name__ == "__main__":
    main()
