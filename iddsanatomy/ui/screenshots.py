"""Make the README screenshots of the explorer: ``python -m iddsanatomy.ui.screenshots OUTDIR``.

Run under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" python -m ...``). Writes
``app_window.png`` (window with panels, a part selected, oblique view),
``explorer_interlaminar.png`` (posterior view, interlaminar windows highlighted) and
``explorer_section_L3L4.png`` (sagittal cross-section at L3–L4). Settings go to a temporary
file, never to the user's.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def make_screenshots(out: Path, size=(1440, 900)) -> list[Path]:
    from iddsanatomy.ui.app import make_app

    app = make_app()
    from PySide6.QtCore import QSettings

    from iddsanatomy.scene import Camera
    from iddsanatomy.ui.main_window import MainWindow

    out.mkdir(parents=True, exist_ok=True)
    ini = Path(tempfile.mkdtemp()) / "settings.ini"
    w = MainWindow(settings=QSettings(str(ini), QSettings.IniFormat))
    w.resize(*size)
    w.show()

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            app.processEvents()

    def settle() -> None:
        spin(0.1)
        while w.animator.running:
            app.processEvents()
        spin(0.4)

    def grab(name: str) -> Path:
        # a screen grab: the native 3D view is a child window that QWidget.grab() cannot see
        path = out / name
        app.primaryScreen().grabWindow(w.winId()).save(str(path))
        return path

    end = time.perf_counter() + 20
    while not w.startup_done and time.perf_counter() < end:
        app.processEvents()
    spin(0.5)
    st = w.state
    ids = list(w.anatomy.structures)
    windows = [i for i in ids if i.startswith("interlaminar.")]
    cover = [i for i in ids if i.startswith(("supraspinous", "interspinous"))]
    paths = []

    st.labels = frozenset({"levels"})
    st.selected = "L4.lamina.left" if "L4.lamina.left" in ids else None
    w.set_view("oblique_left_30")
    settle()
    paths.append(grab("app_window.png"))

    # the ligaments over the midline hide the windows from behind
    st.visible = (st.visible | set(windows)) - set(cover)
    st.highlighted = frozenset(windows)
    st.selected = "interlaminar.L3-L4" if "interlaminar.L3-L4" in ids else None
    st.labels = frozenset({"levels", "interlaminar", "ribs"})
    st.camera = Camera(view="posterior", zoom=1.3)
    settle()
    paths.append(grab("explorer_interlaminar.png"))

    st.highlighted = frozenset()
    st.selected = None
    st.labels = frozenset({"levels"})
    st.visible = (st.visible - set(windows)) | set(cover)
    w.section_toolbar.set_section("sagittal", "L3-L4")
    settle()
    st.camera = Camera(view="left", zoom=1.45)
    settle()
    paths.append(grab("explorer_section_L3L4.png"))
    w.close()
    return paths


if __name__ == "__main__":
    for p in make_screenshots(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")):
        print(p)
