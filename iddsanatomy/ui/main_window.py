"""The main window: 3D view, structure browser, info panel, view and section toolbars, menus.

Other panels (needle, fluoroscopy, lessons, quiz, patient) are hosted as docks. A panel is a
QWidget constructed as ``XPanel(window)``; it may use ``window.state`` (SceneState),
``window.anatomy`` (shown), ``window.base_anatomy`` (default patient), ``window.renderer``
(SceneRenderer), ``window.plotter`` (a pyvista plotter widget), ``window.picker``,
``window.add_dock(title, widget, area)``, ``window.show_error(title, text)``,
``window.set_anatomy(anatomy)`` and the ``window.anatomy_changed`` signal.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtCore import QEvent, QObject, QPoint, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy import __version__
from iddsanatomy.render import views
from iddsanatomy.render.picking import Picker
from iddsanatomy.render.scene_renderer import SceneRenderer, default_visible
from iddsanatomy.scene import Camera, SceneState

log = logging.getLogger(__name__)

#: (module, class, dock title, area) of the panels other parts of the app provide
OPTIONAL_PANELS = (
    ("iddsanatomy.ui.needle_panel", "NeedlePanel", "Needle", "right"),
    ("iddsanatomy.ui.fluoro_panel", "FluoroPanel", "Fluoroscopy", "right"),
    ("iddsanatomy.ui.lesson_panel", "LessonPanel", "Lessons", "right"),
    ("iddsanatomy.ui.quiz_panel", "QuizPanel", "Quiz", "right"),
    ("iddsanatomy.ui.patient_panel", "PatientPanel", "Patient", "right"),
)

_AREAS = {
    "left": Qt.LeftDockWidgetArea,
    "right": Qt.RightDockWidgetArea,
    "top": Qt.TopDockWidgetArea,
    "bottom": Qt.BottomDockWidgetArea,
}

CAMERA_TRANSITION_MS = 250
LAYOUT_VERSION = 1
CAP_DELAY_MS = 150  # fill the cut once the section slider rests
HOVER_INTERVAL_MS = 90
CLICK_SLOP_PX = 4


def load_default_anatomy():
    """The shipped anatomy, or an empty one and the reason it could not be loaded."""
    from iddsanatomy.anatomy.model import Anatomy

    try:
        from iddsanatomy.anatomy import load_anatomy
    except ImportError as exc:
        return Anatomy(structures={}), f"the anatomy loader is not available: {exc}"
    try:
        return load_anatomy(), None
    except Exception as exc:  # the window must open even without anatomy, and say why
        log.exception("loading the anatomy failed")
        return Anatomy(structures={}), f"{type(exc).__name__}: {exc}"


class CameraAnimator(QObject):
    """Moves the camera from one pose to another in ~250 ms, drawing coarse meshes meanwhile."""

    def __init__(self, renderer: SceneRenderer, duration_ms: int = CAMERA_TRANSITION_MS):
        super().__init__()
        self.renderer = renderer
        self.duration_ms = duration_ms
        self._timer = QTimer(self)
        self._timer.setInterval(16)
        self._timer.timeout.connect(self._tick)
        self._from: views.CameraPose | None = None
        self._to: views.CameraPose | None = None
        self._t0 = 0.0
        self.frames = 0

    def __call__(self, start: views.CameraPose, end: views.CameraPose) -> None:
        self._from, self._to = start, end
        self._t0 = time.perf_counter()
        self.frames = 0
        if self.duration_ms <= 0:
            self._finish()
            return
        self.renderer.begin_interaction()
        self._timer.start()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        t = (time.perf_counter() - self._t0) * 1000.0 / self.duration_ms
        if t >= 1.0:
            self._finish()
            return
        self.frames += 1
        self.renderer.apply_pose(views.interpolate(self._from, self._to, views.ease(t)))

    def _finish(self) -> None:
        self._timer.stop()
        self.renderer.end_interaction()
        if self._to is not None:
            self.renderer.apply_pose(self._to)

    def finish_now(self) -> None:
        if self.running:
            self._finish()


class _ViewEvents(QObject):
    """Watches mouse events on the 3D view (without consuming them): click-to-pick and hover."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self._press: QPoint | None = None
        self._buttons_down = False
        self._hover_pos: QPoint | None = None
        self._hover_timer = QTimer(self)
        self._hover_timer.setSingleShot(True)
        self._hover_timer.setInterval(HOVER_INTERVAL_MS)
        self._hover_timer.timeout.connect(self._on_hover_timeout)

    def eventFilter(self, obj, event):
        et = event.type()
        if et == QEvent.MouseButtonPress:
            self._buttons_down = True
            if event.button() == Qt.LeftButton:
                self._press = event.position().toPoint()
        elif et == QEvent.MouseButtonRelease:
            self._buttons_down = event.buttons() != Qt.NoButton
            if event.button() == Qt.LeftButton and self._press is not None:
                pos = event.position().toPoint()
                if (pos - self._press).manhattanLength() <= CLICK_SLOP_PX:
                    self.window.pick_at_widget_pos(pos, select=True)
                self._press = None
        elif et == QEvent.MouseMove and not self._buttons_down:
            self._hover_pos = event.position().toPoint()
            if not self._hover_timer.isActive():  # throttle, not debounce
                self._hover_timer.start()
        elif et == QEvent.Leave:
            self._hover_timer.stop()
            self.window.set_hover_text("")
        return False

    def _on_hover_timeout(self) -> None:
        if self._hover_pos is not None and not self._buttons_down:
            self.window.pick_at_widget_pos(self._hover_pos, select=False)


class MainWindow(QMainWindow):
    """The explorer window.

    Signals
    -------
    anatomy_changed(object)
        After :meth:`set_anatomy` swapped the anatomy shown.

    Parameters
    ----------
    anatomy : Anatomy, optional
        Default: the shipped anatomy (``iddsanatomy.anatomy.load_anatomy()``).
    state : SceneState, optional
        Default: a new state showing :func:`default_visible` from the posterior view.
    settings : QSettings, optional
        Where layout and last view are kept. Tests pass their own (an ini file in a temp dir).
    optional_panels : bool
        Host the needle, fluoroscopy, lesson, quiz and patient panels when their modules exist.
    load_error : str, optional
        Why the anatomy could not be loaded (the window opens empty and says so).
    """

    anatomy_changed = Signal(object)

    def __init__(
        self,
        anatomy=None,
        state=None,
        settings=None,
        optional_panels=True,
        parent=None,
        load_error: str | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle(f"iddsanatomy {__version__} — IDDS trial needle anatomy")
        self.resize(1400, 900)
        self.load_error: str | None = load_error
        if anatomy is None and load_error is None:
            anatomy, self.load_error = load_default_anatomy()
        if anatomy is None:
            from iddsanatomy.anatomy.model import Anatomy

            anatomy = Anatomy(structures={})
        self.anatomy = anatomy
        #: the default patient's anatomy; ``anatomy`` is what is shown (it may be a variant)
        self.base_anatomy = anatomy
        self.state = state if state is not None else SceneState(visible=default_visible(anatomy))
        self.settings = settings if settings is not None else QSettings()
        self.first_frame_callback = None
        self.panels: dict[str, QWidget] = {}
        self.panel_errors: dict[str, str] = {}
        self._closed = False

        from iddsanatomy.ui.view_widget import make_view

        self.plotter = make_view(self)
        self.plotter.setMinimumSize(320, 240)
        self.setCentralWidget(self.plotter)
        self._cap_timer = QTimer(self)
        self._cap_timer.setSingleShot(True)
        self._cap_timer.setInterval(CAP_DELAY_MS)
        self._cap_timer.timeout.connect(self._on_cap_timer)
        self.renderer = SceneRenderer(
            self.plotter,
            self.anatomy,
            self.state,
            schedule_render=self.plotter.update,
            schedule_caps=self._cap_timer.start,
        )
        self.picker = Picker(self.renderer)
        self.animator = CameraAnimator(self.renderer)
        self.renderer.camera_transition = self._animate_camera
        self._view_events = _ViewEvents(self)
        self.plotter.installEventFilter(self._view_events)
        self.plotter.setMouseTracking(True)
        self._watch_first_frame()

        self._hover_label = QLabel("")
        self._hover_label.setMinimumWidth(260)
        self.statusBar().addPermanentWidget(self._hover_label)

        from iddsanatomy.ui.info_panel import InfoPanel
        from iddsanatomy.ui.structure_panel import StructurePanel
        from iddsanatomy.ui.toolbars import SectionToolBar, ViewToolBar

        self.browser = StructurePanel(self)
        self.browser_dock = self.add_dock("Structures", self.browser, "left")
        self.info = InfoPanel(self)
        self.info_dock = self.add_dock("Info", self.info, "right")
        self.view_toolbar = ViewToolBar(self)
        self.addToolBar(Qt.TopToolBarArea, self.view_toolbar)
        self.section_toolbar = SectionToolBar(self)
        self.addToolBar(Qt.TopToolBarArea, self.section_toolbar)
        self._build_menus()
        self._want_optional_panels = optional_panels
        #: True once the first frame is up and the hosted panels and layout are in place
        self.startup_done = False

        self.state.events.message.connect(self._on_message_changed)
        self.state.events.camera.connect(self._on_camera_changed)
        self._restore_geometry_and_view()
        self._announce_problems()

    def _on_cap_timer(self) -> None:
        if self._closed:
            return
        try:
            self.renderer.update_caps()
        except Exception as exc:  # the cut still shows its back faces
            log.warning("could not cap the section: %s", exc)
        self.plotter.update()

    # ------------------------------------------------------------------ hosting API
    def add_dock(self, title: str, widget: QWidget, area: str = "right") -> QDockWidget:
        """Host ``widget`` in a dock titled ``title`` on ``area`` (left/right/top/bottom)."""
        dock = QDockWidget(title, self)
        dock.setObjectName("dock_" + "".join(c if c.isalnum() else "_" for c in title.lower()))
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetMovable
            | QDockWidget.DockWidgetFloatable
            | QDockWidget.DockWidgetClosable
        )
        qt_area = _AREAS.get(area, Qt.RightDockWidgetArea)
        self.addDockWidget(qt_area, dock)
        if area == "right" and getattr(self, "_right_panel_dock", None) is not None:
            self.tabifyDockWidget(self._right_panel_dock, dock)
        elif area == "right" and getattr(self, "info_dock", None) is not None:
            self._right_panel_dock = dock  # panels tab together under the info panel
        if hasattr(self, "_docks_menu"):
            self._docks_menu.addAction(dock.toggleViewAction())
        return dock

    def set_anatomy(self, anatomy) -> None:
        """Show another anatomy (a patient variant): renderer, browser and info follow.

        Emits :attr:`anatomy_changed` so hosted panels can follow too.
        """
        previous = self.anatomy
        self.anatomy = anatomy
        # structures this patient adds (hardware, scar, a skin lesion) are shown if they would be
        # shown by default; structures it no longer has (a removed rib) leave the scene
        added = default_visible(anatomy) - set(previous.structures)
        self.state.visible = (
            frozenset(sid for sid in self.state.visible if sid in anatomy.structures) | added
        )
        self.renderer.set_anatomy(anatomy)
        self.browser.set_anatomy(anatomy)
        self.info.anatomy = anatomy
        self.info._on_selected_changed(self.state.selected)
        self.section_toolbar.refresh_levels()
        self.anatomy_changed.emit(anatomy)

    def show_error(self, title: str, text: str) -> None:
        """Tell the user something went wrong without stopping anything (non-blocking)."""
        log.warning("%s: %s", title, text)
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.open()
        self._last_error_box = box

    # ------------------------------------------------------------------ setup helpers
    def _watch_first_frame(self) -> None:
        rw = self.plotter.render_window
        self._first_frame_tag = None
        self.first_frame_seconds: float | None = None
        t0 = time.perf_counter()

        def on_end(*_):
            if self.first_frame_seconds is not None:
                return
            actors = self.renderer.actors.values()
            if actors and not any(a.GetVisibility() for a in actors):
                return  # wait for the anatomy (an empty anatomy: the first frame counts)
            self.first_frame_seconds = time.perf_counter() - t0
            QTimer.singleShot(0, self._after_first_frame)

        self._first_frame_tag = rw.AddObserver("EndEvent", on_end)

    def _after_first_frame(self) -> None:
        """The 3D view is up: now build what the first frame did not need.

        The hosted panels (lessons, quiz, ... parse their content), the saved dock layout (it
        names those panels), the coarse meshes for moving the camera and the pick locators.
        """
        if self._closed or self.startup_done:
            return
        if self.first_frame_callback is not None:
            self.first_frame_callback()
        if self._want_optional_panels:
            self._add_optional_panels()
        self._restore_layout()
        self.startup_done = True
        self._announce_problems()
        QTimer.singleShot(0, self._prepare_interaction)

    def _prepare_interaction(self) -> None:
        if self._closed:
            return
        try:
            self.renderer.prepare_lod()
            self.picker.prepare()
        except Exception as exc:  # only speed is at stake
            log.warning("could not prepare LOD or picking: %s", exc)

    def _announce_problems(self) -> None:
        msgs = []
        if self.load_error:
            msgs.append(f"No anatomy loaded — {self.load_error}")
        n_failed = len(self.anatomy.errors)
        if n_failed:
            msgs.append(f"{n_failed} structure(s) failed to load (listed in the browser)")
        if self.renderer.problems:
            msgs.append("; ".join(self.renderer.problems))
        if self.panel_errors:
            msgs.append("panel errors: " + "; ".join(self.panel_errors.values()))
        if msgs:
            self.statusBar().showMessage(" · ".join(msgs), 15000)
        else:
            n = len(self.renderer.actors)
            self.statusBar().showMessage(
                f"{n} structures loaded. Click one to learn about it.", 8000
            )

    def _add_optional_panels(self) -> None:
        for module_name, cls_name, title, area in OPTIONAL_PANELS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue  # that part of the app is not installed: nothing to show
            except Exception as exc:
                self.panel_errors[title] = f"{title} panel failed to load: {exc}"
                log.exception("panel module %s failed", module_name)
                continue
            try:
                cls = getattr(module, cls_name)
                widget = cls(self)
                self.panels[title] = widget
                # a scroll area: a tall panel must not make the window taller than the screen
                scroll = QScrollArea(self)
                scroll.setWidgetResizable(True)
                scroll.setFrameShape(QScrollArea.NoFrame)
                scroll.setWidget(widget)
                dock = self.add_dock(
                    getattr(cls, "TITLE", title), scroll, getattr(cls, "AREA", area)
                )
                dock.setObjectName(f"dock_panel_{cls_name.lower()}")
            except Exception as exc:
                self.panel_errors[title] = f"{title} panel failed to start: {exc}"
                log.exception("panel %s failed", cls_name)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        a = QAction("Save screenshot…", self)
        a.setShortcut(QKeySequence("Ctrl+S"))
        a.triggered.connect(lambda: self._ask_screenshot(1))
        file_menu.addAction(a)
        a = QAction("Save screenshot at 2× resolution…", self)
        a.setShortcut(QKeySequence("Ctrl+Shift+S"))
        a.triggered.connect(lambda: self._ask_screenshot(2))
        file_menu.addAction(a)
        file_menu.addSeparator()
        a = QAction("Quit", self)
        a.setShortcut(QKeySequence.Quit)
        a.triggered.connect(self.close)
        file_menu.addAction(a)

        view_menu = mb.addMenu("&View")
        for action in self.view_toolbar.view_actions.values():
            view_menu.addAction(action)
        view_menu.addAction(self.view_toolbar.reset_action)
        view_menu.addAction(self.view_toolbar.focus_action)
        view_menu.addSeparator()
        labels_menu = view_menu.addMenu("Labels")
        for action in self.view_toolbar.label_actions.values():
            labels_menu.addAction(action)
        view_menu.addSeparator()
        self._docks_menu = view_menu.addMenu("Panels")
        for dock in self.findChildren(QDockWidget):
            self._docks_menu.addAction(dock.toggleViewAction())
        tb_menu = view_menu.addMenu("Toolbars")
        tb_menu.addAction(self.view_toolbar.toggleViewAction())
        tb_menu.addAction(self.section_toolbar.toggleViewAction())
        a = QAction("Reset layout", self)
        a.triggered.connect(self.reset_layout)
        view_menu.addAction(a)

        help_menu = mb.addMenu("&Help")
        a = QAction("About iddsanatomy", self)
        a.triggered.connect(self.show_about)
        help_menu.addAction(a)
        self.about_action = a

    # ------------------------------------------------------------------ picking and hover
    def widget_to_display(self, pos: QPoint) -> tuple[float, float]:
        """Qt widget position (logical px, top left) → VTK display (device px, bottom left)."""
        dpr = self.plotter.devicePixelRatioF()
        return pos.x() * dpr, (self.plotter.height() - pos.y() - 1) * dpr

    def pick_at_widget_pos(self, pos: QPoint, select: bool):
        """Pick under a widget position: select it (click) or name it in the status bar (hover)."""
        if select:
            self.animator.finish_now()
        elif self.animator.running or self.renderer.interacting:
            return None  # coarse meshes are up: their faces have no part labels
        x, y = self.widget_to_display(pos)
        try:
            hit = self.picker.pick(x, y)
        except Exception as exc:  # picking must never break the view
            log.warning("pick failed: %s", exc)
            return None
        if select:
            self.state.selected = hit.part_id if hit else None
        else:
            if hit is None:
                self.set_hover_text("")
            else:
                s = self.anatomy.structures.get(hit.part_id)
                self.set_hover_text(s.display_name if s else hit.part_id)
        return hit

    def set_hover_text(self, text: str) -> None:
        self._hover_label.setText(text)

    @property
    def hover_text(self) -> str:
        return self._hover_label.text()

    # ------------------------------------------------------------------ views
    def set_view(self, view: str) -> None:
        camera = Camera(view=view)
        if self.state.camera == camera:
            self.renderer.reapply_camera()  # back to the preset after orbiting away
        else:
            self.state.camera = camera

    def focus_selection(self) -> None:
        target = self.state.selected
        if not target:
            self.statusBar().showMessage("Select a structure first (click it), then focus.", 5000)
            return
        camera = Camera(view=self.state.camera.view or "posterior", focus=target)
        if self.state.camera == camera:
            self.renderer.reapply_camera()
        else:
            self.state.camera = camera

    def _animate_camera(self, start, end) -> None:
        if not self.isVisible():
            self.renderer.apply_pose(end)
            return
        self.animator(start, end)

    def _on_camera_changed(self, camera, *_):
        if camera.view:
            self.settings.setValue("view/last", camera.view)

    def _on_message_changed(self, message, *_):
        if message:
            self.statusBar().showMessage(message, 8000)

    # ------------------------------------------------------------------ screenshot
    def save_screenshot(self, path, scale: int = 1) -> Path:
        """Save the 3D view as PNG at the window's resolution times ``scale``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.animator.finish_now()
        self.plotter.screenshot(str(path), scale=scale if scale != 1 else None)
        return path

    def _ask_screenshot(self, scale: int) -> None:
        from iddsanatomy.paths import user_data_dir

        default = user_data_dir() / "screenshots" / time.strftime("iddsanatomy-%Y%m%d-%H%M%S.png")
        default.parent.mkdir(parents=True, exist_ok=True)
        last_dir = self.settings.value("screenshot/dir", str(default.parent))
        name, _ = QFileDialog.getSaveFileName(
            self, "Save screenshot", str(Path(last_dir) / default.name), "PNG image (*.png)"
        )
        if not name:
            return
        if not name.lower().endswith(".png"):
            name += ".png"
        try:
            out = self.save_screenshot(name, scale)
        except Exception as exc:
            self.show_error("Screenshot not saved", f"Could not write {name}: {exc}")
            return
        self.settings.setValue("screenshot/dir", str(out.parent))
        self.statusBar().showMessage(f"Saved {out}", 8000)

    # ------------------------------------------------------------------ about
    def about_html(self) -> str:
        from iddsanatomy.ui.about import about_html

        return about_html(self.anatomy)

    def show_about(self) -> QDialog:
        dlg = QDialog(self)
        dlg.setWindowTitle("About iddsanatomy")
        dlg.resize(620, 560)
        lay = QVBoxLayout(dlg)
        text = QTextBrowser(dlg)
        text.setOpenExternalLinks(True)
        text.setHtml(self.about_html())
        lay.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close, dlg)
        buttons.rejected.connect(dlg.reject)
        lay.addWidget(buttons)
        dlg.setAttribute(Qt.WA_DeleteOnClose)
        dlg.open()
        self.about_dialog = dlg
        return dlg

    # ------------------------------------------------------------------ settings
    def _dock_names(self) -> str:
        return ",".join(sorted(d.objectName() for d in self.findChildren(QDockWidget)))

    def _restore_geometry_and_view(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        last = self.settings.value("view/last")
        if isinstance(last, str) and last in views.VIEW_DIRECTIONS and last != "posterior":
            self.state.camera = Camera(view=last)  # not yet shown: jumps, no animation

    def _restore_layout(self) -> None:
        self._default_layout = self.saveState(LAYOUT_VERSION)
        layout = self.settings.value("window/state")
        # a layout saved with other panels would strand the new ones: use it only if it matches
        if layout is not None and self.settings.value("window/docks") == self._dock_names():
            self.restoreState(layout, LAYOUT_VERSION)
        elif getattr(self, "_right_panel_dock", None) is not None:
            # the info panel needs a few lines; the hosted panels get the rest of the height
            self.resizeDocks([self.info_dock, self._right_panel_dock], [190, 10_000], Qt.Vertical)
            self.resizeDocks([self.info_dock], [430], Qt.Horizontal)
            self._right_panel_dock.raise_()

    def reset_layout(self) -> None:
        if hasattr(self, "_default_layout"):
            self.restoreState(self._default_layout, LAYOUT_VERSION)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        if self.startup_done:
            self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
            self.settings.setValue("window/docks", self._dock_names())
        if self.state.camera.view:
            self.settings.setValue("view/last", self.state.camera.view)
        self.settings.sync()

    def closeEvent(self, event):
        if not self._closed:
            self._closed = True
            self.animator.finish_now()
            self._cap_timer.stop()
            self.save_settings()
            for panel in self.panels.values():
                closer = getattr(panel, "shutdown", None)
                if callable(closer):
                    try:
                        closer()
                    except Exception:
                        log.exception("panel shutdown failed")
            self.browser.shutdown()
            self.info.shutdown()
            self.section_toolbar.shutdown()
            self.view_toolbar.shutdown()
            self.state.events.message.disconnect(self._on_message_changed)
            self.state.events.camera.disconnect(self._on_camera_changed)
            self.renderer.close()
            self.plotter.removeEventFilter(self._view_events)
            rw = self.plotter.render_window
            if rw is not None and self._first_frame_tag is not None:
                rw.RemoveObserver(self._first_frame_tag)
            self.plotter.close()
        super().closeEvent(event)
