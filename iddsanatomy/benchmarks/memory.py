"""Memory of the app with the anatomy, the fluoroscopy panel and a lesson open.

A fresh child process opens the main window on the shipped anatomy, takes a fluoroscopy shot,
opens the first shipped lesson and lets the window render; it then reports its resident set size
(``VmRSS``) and peak (``VmHWM``) from ``/proc/self/status``. Linux only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from iddsanatomy.benchmarks import Figure

TARGET_MB = 600.0

CHILD = r"""
import json, sys
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import QSettings, QEventLoop, QTimer
app = QApplication.instance() or QApplication([])
from iddsanatomy.ui.main_window import MainWindow
settings = QSettings(sys.argv[1], QSettings.IniFormat)
w = MainWindow(settings=settings)
w.show()
def pump(ms):
    loop = QEventLoop(); QTimer.singleShot(ms, loop.quit); loop.exec()
pump(800)
opened = []
fluoro = w.panels.get("Fluoroscopy")
if fluoro is not None:
    w.state.fluoro_open = True
    fluoro.take_shot(); opened.append("fluoro")
lessons = w.panels.get("Lessons")
if lessons is not None:
    from iddsanatomy.lessons import loader
    entries = loader.discover().lessons
    if entries:
        lessons.open_lesson(entries[0]); opened.append("lesson")
pump(1500)
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
mb = lambda k: int(status[k].split()[0]) / 1024.0
print(json.dumps({"rss_mb": mb("VmRSS"), "peak_mb": mb("VmHWM"), "opened": opened}))
w.close()
"""


def run(quick: bool = False):
    import tempfile

    from iddsanatomy.benchmarks.viewer import _display

    with tempfile.TemporaryDirectory() as tmp, _display() as display:
        env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
        env.pop("PYVISTA_OFF_SCREEN", None)
        out = subprocess.run(
            [sys.executable, "-c", CHILD, os.path.join(tmp, "settings.ini")],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed: {out.stderr[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    note = "opened: " + ", ".join(["anatomy", *data["opened"]])
    return [
        Figure(
            "app memory, resident (anatomy+fluoro+lesson)",
            data["rss_mb"],
            0.0,
            "MB",
            TARGET_MB,
            "lower",
            1,
            note,
        ),
        Figure("app memory, peak", data["peak_mb"], 0.0, "MB", None, "lower", 1, note),
    ]
