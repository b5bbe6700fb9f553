"""The QApplication: dark Fusion style, names for QSettings, and the main window's event loop."""

from __future__ import annotations

import os
import sys
import threading
import time

ORGANIZATION = "iddsanatomy"
APPLICATION = "iddsanatomy"

_STYLE_SHEET = """
QMainWindow::separator { background: #1b2129; width: 3px; height: 3px; }
QDockWidget { font-weight: 600; }
QDockWidget::title { background: #222a34; padding: 5px 8px; }
QToolBar { background: #20262f; border: none; spacing: 2px; padding: 2px; }
QToolButton { padding: 3px 7px; border-radius: 4px; }
QToolButton:hover { background: #33404f; }
QToolButton:checked { background: #2d5d86; }
QTreeWidget, QTextBrowser, QLineEdit, QComboBox { background: #1a1f26; border: 1px solid #2c343f;
    border-radius: 4px; }
QTreeWidget::item { padding: 2px 0; }
QTreeWidget::item:selected { background: #2d5d86; }
QStatusBar { background: #1b2129; color: #c9d3de; }
QPushButton { padding: 4px 10px; border-radius: 4px; background: #2a333e;
    border: 1px solid #3a4654; }
QPushButton:hover { background: #33404f; }
QPushButton:checked { background: #2d5d86; }
QSlider::groove:horizontal { height: 4px; background: #2c343f; border-radius: 2px; }
QSlider::handle:horizontal { width: 14px; margin: -6px 0; border-radius: 7px; background: #6fb3e8; }
"""


def apply_style(app) -> None:
    """Dark Fusion palette: the 3D view is the bright thing on screen."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.Window: "#242b34",
        QPalette.WindowText: "#dde4ec",
        QPalette.Base: "#1a1f26",
        QPalette.AlternateBase: "#20262e",
        QPalette.ToolTipBase: "#2a333e",
        QPalette.ToolTipText: "#e8eef4",
        QPalette.Text: "#dde4ec",
        QPalette.Button: "#2a333e",
        QPalette.ButtonText: "#dde4ec",
        QPalette.Highlight: "#2d6fa6",
        QPalette.HighlightedText: "#ffffff",
        QPalette.Link: "#6fb3e8",
        QPalette.PlaceholderText: "#7c8896",
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor("#6c7784"))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor("#6c7784"))
    app.setPalette(pal)
    app.setStyleSheet(_STYLE_SHEET)


def make_app(argv: list[str] | None = None):
    """The QApplication (created once), styled and named."""
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationName(APPLICATION)
        apply_style(app)
    return app


class _BackgroundLoad(threading.Thread):
    """Loads the default anatomy on a worker thread; :meth:`result` waits for it."""

    def __init__(self):
        super().__init__(name="anatomy-loader", daemon=True)
        self._result = None

    def run(self) -> None:
        try:
            from iddsanatomy.anatomy import load_anatomy

            self._result = (load_anatomy(), None)
        except Exception as exc:  # reported in the window, which opens regardless
            self._result = (None, f"{type(exc).__name__}: {exc}")

    def result(self):
        self.join()
        return self._result


def run_app(argv: list[str] | None = None) -> int:
    """Create the application and the main window, and run the event loop.

    With ``IDDSANATOMY_EXIT_AFTER_FIRST_FRAME=1`` the app prints ``first-frame <unix time>`` once
    the 3D view has drawn the anatomy, and quits (the launch benchmark uses it).
    """
    t0 = time.perf_counter()
    # read the meshes (trimesh, numpy: file reading releases the GIL) while Qt and VTK import
    loader = _BackgroundLoad()
    loader.start()
    app = make_app(argv)
    from iddsanatomy.ui.main_window import MainWindow

    anatomy, error = loader.result()
    window = MainWindow(anatomy=anatomy, load_error=error)
    if os.environ.get("IDDSANATOMY_EXIT_AFTER_FIRST_FRAME"):

        def _first(seconds: float) -> None:
            print(f"first-frame {time.time():.6f} in-process {seconds:.3f}", flush=True)
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, window.close)

        window.first_frame_callback = lambda: _first(time.perf_counter() - t0)
    window.show()
    return int(app.exec())
