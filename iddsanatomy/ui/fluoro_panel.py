"""The fluoroscopy panel: a virtual C-arm beside the 3D view.

Sliders and preset buttons set ``state.carm`` (a :class:`~iddsanatomy.fluoro.pose.CArmPose`);
"Take shot" renders a full-resolution DRR; in live mode the image follows every change of the
C-arm or the needle (throttled, at live resolution). Drawing the C-arm in the 3D view is the
renderer's job (:func:`iddsanatomy.fluoro.pose.carm_geometry`).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from PySide6.QtCore import QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.errors import IddsError
from iddsanatomy.fluoro.pose import CArmPose, level_centre_lps, square_endplates

log = logging.getLogger(__name__)

LIVE_PIXELS = 256
SHOT_PIXELS = 512
THROTTLE_MS = 40

_PRESET_BUTTONS = (
    ("AP", 0.0),
    ("Lat", 90.0),
    ("L 15°", 15.0),
    ("L 30°", 30.0),
    ("L 45°", 45.0),
    ("R 15°", -15.0),
    ("R 30°", -30.0),
    ("R 45°", -45.0),
)


class _ImageLabel(QLabel):
    """A QLabel that shows a pixmap scaled to fit, keeping its aspect ratio."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setStyleSheet("background: black; color: #ccc;")

    def set_image(self, pixmap: QPixmap | None):
        self._pixmap = pixmap
        self._rescale()

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self):
        if self._pixmap is None:
            return
        self.setPixmap(
            self._pixmap.scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
        )


class FluoroPanel(QWidget):
    """C-arm controls and the simulated fluoroscopy image.

    Parameters
    ----------
    window
        The main window: ``window.state`` (SceneState) and ``window.anatomy`` are used.
    """

    TITLE = "Fluoroscopy"
    AREA = "right"

    #: Emitted after every rendered image with the render time in ms.
    rendered = Signal(float)
    #: A background (live) render finished: request number, (sigma, pose, ms) or an exception.
    _live_done = Signal(int, object)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.state = window.state
        self.sigma: np.ndarray | None = None  # last line-integral image
        self.picture: np.ndarray | None = None  # last displayed picture (uint8, grey or RGB)
        self.last_pose: CArmPose | None = None
        self.last_ms = 0.0
        self._updating = False
        self._live_executor = None
        self._live_busy = False
        self._live_again = False
        self._live_request = 0
        self._live_done.connect(self._on_live_done)

        self.image = _ImageLabel(self)
        self.image.setText("Take a shot, or switch Live on.")
        self.status = QLabel("", self)
        self.status.setWordWrap(True)

        # C-arm angles
        self.orbital = QSlider(Qt.Horizontal, self)
        self.orbital.setRange(-90, 90)
        self.orbital.setToolTip("Oblique: + detector to the patient's left, − to the right")
        self.tilt = QSlider(Qt.Horizontal, self)
        self.tilt.setRange(-40, 40)
        self.tilt.setToolTip("Cranial (+) / caudal (−) tilt of the beam")
        self.orbital_label = QLabel(self)
        self.tilt_label = QLabel(self)
        self.level = QComboBox(self)
        self.level.setToolTip("Centre the C-arm on this level")

        grid = QGridLayout()
        grid.addWidget(QLabel("Oblique"), 0, 0)
        grid.addWidget(self.orbital, 0, 1)
        grid.addWidget(self.orbital_label, 0, 2)
        grid.addWidget(QLabel("Tilt"), 1, 0)
        grid.addWidget(self.tilt, 1, 1)
        grid.addWidget(self.tilt_label, 1, 2)
        grid.addWidget(QLabel("Centre"), 2, 0)
        grid.addWidget(self.level, 2, 1, 1, 2)

        presets = QGridLayout()
        self.preset_buttons: dict[str, QPushButton] = {}
        for i, (name, orbital) in enumerate(_PRESET_BUTTONS):
            b = QPushButton(name, self)
            b.setToolTip(f"C-arm preset: oblique {orbital:+.0f}°, no tilt")
            b.clicked.connect(lambda _=False, o=orbital: self.set_angles(o, 0.0))
            presets.addWidget(b, i // 4, i % 4)
            self.preset_buttons[name] = b
        self.square_button = QPushButton("Square endplates", self)
        self.square_button.setToolTip(
            "Tilt so that the centred level's superior endplate is a single line"
        )
        self.square_button.clicked.connect(self.square)
        presets.addWidget(self.square_button, 2, 0, 1, 4)

        self.shot_button = QPushButton("Take shot", self)
        self.shot_button.setToolTip(f"Render a {SHOT_PIXELS}² image of this C-arm position")
        self.shot_button.clicked.connect(self.take_shot)
        self.live = QCheckBox("Live", self)
        self.live.setToolTip("Re-render while the C-arm or the needle moves")
        self.invert = QCheckBox("Invert", self)
        self.invert.setToolTip("Bone white instead of dark")
        self.show_levels = QCheckBox("Levels", self)
        self.show_ribs = QCheckBox("Ribs", self)
        self.show_needle = QCheckBox("Needle path", self)
        self.round_field = QCheckBox("Round field", self)
        self.round_field.setToolTip("Show the round field of an image intensifier")
        self.round_field.setChecked(True)
        self.mottle = QCheckBox("Mottle", self)
        self.mottle.setToolTip(
            "Quantum noise: thicker (obese) patients give grainier images, as on a real C-arm"
        )
        self.mottle.setChecked(True)
        row = QHBoxLayout()
        row.addWidget(self.shot_button)
        row.addWidget(self.live)
        row.addWidget(self.invert)
        row.addWidget(self.round_field)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Overlays:"))
        row2.addWidget(self.show_levels)
        row2.addWidget(self.show_ribs)
        row2.addWidget(self.show_needle)
        row2.addWidget(self.mottle)
        row2.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addLayout(row)
        layout.addLayout(row2)
        layout.addLayout(grid)
        layout.addLayout(presets)
        layout.addWidget(self.status)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(THROTTLE_MS)
        self._timer.timeout.connect(self._render_live)

        self._fill_levels()
        self.orbital.valueChanged.connect(self._on_slider_changed)
        self.tilt.valueChanged.connect(self._on_slider_changed)
        self.level.currentIndexChanged.connect(self._on_slider_changed)
        self.live.toggled.connect(self._on_live_changed)
        for box in (
            self.invert,
            self.show_levels,
            self.show_ribs,
            self.show_needle,
            self.round_field,
            self.mottle,
        ):
            box.toggled.connect(self._redisplay)
        self.state.events.carm.connect(self._on_carm_changed)
        self.state.events.needle.connect(self._on_needle_changed)
        self.state.events.variant.connect(self._on_variant_changed)
        self.state.events.fluoro_open.connect(self._update_carm_actors)
        if self.state.carm is None:
            self._on_slider_changed()
        else:
            self._on_carm_changed(self.state.carm)
        self._prepare_in_background()

    def shutdown(self) -> None:
        """Stop re-rendering and let go of the scene state (the window is closing)."""
        self._timer.stop()
        self.live.setChecked(False)
        self._live_request += 1  # a render still running is not shown
        if self._live_executor is not None:
            self._live_executor.shutdown(wait=False)
            self._live_executor = None
        for signal, slot in (
            (self.state.events.carm, self._on_carm_changed),
            (self.state.events.needle, self._on_needle_changed),
            (self.state.events.variant, self._on_variant_changed),
            (self.state.events.fluoro_open, self._update_carm_actors),
        ):
            try:
                signal.disconnect(slot)
            except (TypeError, ValueError, RuntimeError):  # already disconnected
                pass

    # --- the pose --------------------------------------------------------------------------

    @property
    def anatomy(self):
        return getattr(self.window, "anatomy", None)

    def _fill_levels(self):
        frames = getattr(self.anatomy, "lps_from_level", None) or {}
        keep = self.level.currentText() or "L3"
        self.level.blockSignals(True)
        self.level.clear()
        for name in frames:
            self.level.addItem(name)
        if keep in frames:
            self.level.setCurrentText(keep)
        self.level.blockSignals(False)

    def _prepare_in_background(self):
        """Simplify the meshes for the DRR in a worker thread, so the first shot is quick."""
        if self.anatomy is not None:
            QThreadPool.globalInstance().start(_Prepare(self.anatomy))

    def _on_variant_changed(self, *_):
        # a new patient (window.anatomy was replaced first): same C-arm angles and level, the
        # level's new position; the image follows if one is shown
        self._prepare_in_background()
        self._fill_levels()
        self.state.carm = self.pose_from_controls()
        if self.picture is not None and not self.live.isChecked():
            self.render(self.sigma.shape[0] if self.sigma is not None else SHOT_PIXELS)

    def pose_from_controls(self) -> CArmPose:
        """The C-arm pose the sliders and the level box describe."""
        base = self.state.carm if isinstance(self.state.carm, CArmPose) else CArmPose()
        level = self.level.currentText() or None
        centre = base.centre_lps
        if level and self.anatomy is not None:
            try:
                centre = tuple(level_centre_lps(self.anatomy, level))
            except IddsError:
                level = None
        return base.with_(
            orbital_deg=float(self.orbital.value()),
            cranial_tilt_deg=float(self.tilt.value()),
            centre_lps=centre,
            level=level,
        )

    def set_angles(self, orbital_deg: float, tilt_deg: float) -> None:
        """Move the C-arm (as a preset button does)."""
        self.state.carm = self.pose_from_controls().with_(
            orbital_deg=float(orbital_deg), cranial_tilt_deg=float(tilt_deg)
        )

    def square(self) -> None:
        """Tilt to square the centred level's superior endplate."""
        level = self.level.currentText()
        if not level or self.anatomy is None:
            return
        try:
            pose = square_endplates(self.anatomy, level, orbital_deg=float(self.orbital.value()))
        except (IddsError, KeyError) as exc:
            self.status.setText(f"Cannot square {level}: {exc}")
            return
        self.state.carm = self.pose_from_controls().with_(
            cranial_tilt_deg=round(pose.cranial_tilt_deg, 1)
        )
        self.status.setText(f"{level} endplate squared at {pose.cranial_tilt_deg:+.1f}° tilt.")

    def _on_slider_changed(self, *_):
        self.orbital_label.setText(f"{self.orbital.value():+d}°")
        self.tilt_label.setText(f"{self.tilt.value():+d}°")
        if self._updating:
            return
        self.state.carm = self.pose_from_controls()

    def _on_carm_changed(self, pose, *_):
        self._update_carm_actors()
        if isinstance(pose, CArmPose):
            self._updating = True
            try:
                self.orbital.setValue(round(pose.orbital_deg))
                self.tilt.setValue(round(pose.cranial_tilt_deg))
                if pose.level and self.level.findText(pose.level) >= 0:
                    self.level.setCurrentText(pose.level)
                self.orbital_label.setText(f"{pose.orbital_deg:+.0f}°")
                self.tilt_label.setText(f"{pose.cranial_tilt_deg:+.1f}°")
            finally:
                self._updating = False
        if self.live.isChecked():
            self._timer.start()

    # --- the C-arm in the 3D view ---------------------------------------------------------------

    CARM_ACTORS = ("fluoro.carm.source", "fluoro.carm.cone", "fluoro.carm.detector")

    def _update_carm_actors(self, *_):
        """Draw the C-arm (source, beam cone, detector) in the 3D view while fluoroscopy is open.

        Uses ``window.renderer.set_carm(pose)`` when the scene renderer offers it; otherwise adds
        named, unpickable actors to ``window.plotter`` itself.
        """
        pose = self.state.carm if isinstance(self.state.carm, CArmPose) else None
        show = pose is not None and bool(self.state.fluoro_open)
        scene_renderer = getattr(self.window, "renderer", None)
        if hasattr(scene_renderer, "set_carm"):
            scene_renderer.set_carm(pose if show else None)
            return
        plotter = getattr(self.window, "plotter", None)
        if plotter is None:
            return
        try:
            if not show:
                for name in self.CARM_ACTORS:
                    plotter.remove_actor(name, render=False)
            else:
                import pyvista as pv

                from iddsanatomy.fluoro.pose import carm_geometry

                # see-through: the detector hangs over the patient's back, between the usual
                # posterior camera and the spine
                style = {
                    "source": {"color": (0.35, 0.35, 0.4), "opacity": 0.5},
                    "cone": {"color": (1.0, 0.85, 0.3), "opacity": 0.12},
                    "detector": {"color": (0.55, 0.6, 0.7), "opacity": 0.22},
                }
                for part, mesh in carm_geometry(pose).items():
                    plotter.add_mesh(
                        pv.wrap(mesh),
                        name=f"fluoro.carm.{part}",
                        pickable=False,
                        reset_camera=False,
                        render=False,
                        **style[part],
                    )
            plotter.update()
        except Exception:  # the 3D picture is a convenience: never break the panel for it
            log.exception("drawing the C-arm in the 3D view failed")

    def _on_needle_changed(self, *_):
        if self.live.isChecked():
            self._timer.start()

    def _on_live_changed(self, on: bool):
        self.state.fluoro_open = bool(on) or self.picture is not None
        if on:
            self._timer.start()

    # --- rendering ---------------------------------------------------------------------------

    def take_shot(self) -> None:
        """Render the current C-arm pose at full resolution."""
        self.render(SHOT_PIXELS)
        self.state.fluoro_open = True

    def _render_live(self):
        """Render at live resolution in the background; the GUI stays responsive. One render
        at a time: a change during a render asks for one more when it ends."""
        if self._live_busy:
            self._live_again = True
            return
        job = self._shot_job(LIVE_PIXELS)
        if job is None:
            return
        self._live_busy = True
        self._live_request += 1
        request = self._live_request

        def work():
            try:
                result = job()
            except Exception as exc:  # reported on the GUI thread
                result = exc
            try:
                self._live_done.emit(request, result)
            except RuntimeError:  # the panel is gone
                pass

        self._executor().submit(work)

    def _executor(self):
        if self._live_executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._live_executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="fluoro-live"
            )
        return self._live_executor

    def _on_live_done(self, request: int, result) -> None:
        self._live_busy = False
        if request == self._live_request:
            self._show_result(result)
        if self._live_again:
            self._live_again = False
            self._timer.start()

    def _shot_job(self, pixels: int):
        """A callable that renders the current anatomy, pose and needle, with everything it
        needs read now (on the GUI thread); None (and a message) if there is nothing to render."""
        from iddsanatomy.fluoro import drr

        anatomy = self.anatomy
        if anatomy is None:
            self.status.setText("No anatomy is loaded.")
            return None
        pose = self.state.carm if isinstance(self.state.carm, CArmPose) else None
        pose = (pose or self.pose_from_controls()).with_(pixels=pixels)
        needle = self.state.needle

        def job():
            extra = []
            layer = drr.needle_layer_from(needle)
            if layer is not None:
                extra.append(layer)
            t0 = time.perf_counter()
            sigma = drr.line_integral(anatomy, pose, extra=extra)
            return sigma, pose, (time.perf_counter() - t0) * 1000

        return job

    def render(self, pixels: int) -> bool:
        """Render a DRR of the current anatomy, pose and needle now; False (and a message) on
        error."""
        job = self._shot_job(pixels)
        if job is None:
            return False
        try:
            result = job()
        except Exception as exc:  # the panel reports; the app keeps running
            result = exc
        return self._show_result(result)

    def _show_result(self, result) -> bool:
        if isinstance(result, Exception):
            log.error("fluoroscopy render failed: %s", result)
            self.status.setText(f"Fluoroscopy failed: {result}")
            return False
        sigma, pose, ms = result
        self.sigma, self.last_pose, self.last_ms = sigma, pose, ms
        self._redisplay()
        self.status.setText(
            f"{pose.level or 'centre'}: oblique {pose.orbital_deg:+.0f}°, tilt "
            f"{pose.cranial_tilt_deg:+.1f}°, {pose.pixels}² in {ms:.0f} ms"
        )
        self.rendered.emit(ms)
        return True

    def overlays(self) -> tuple[dict, list]:
        """Labels ({text: (col, row)}) and polylines for the chosen overlays."""
        from iddsanatomy.fluoro import overlays

        pose, anatomy = self.last_pose, self.anatomy
        labels: dict[str, tuple[float, float]] = {}
        paths: list[np.ndarray] = []
        if pose is None or anatomy is None:
            return labels, paths
        labels.update(overlays.orientation_marker(pose))
        if self.show_levels.isChecked():
            labels.update(overlays.level_labels(anatomy, pose))
        if self.show_ribs.isChecked():
            labels.update(overlays.rib_labels(anatomy, pose))
        if self.show_needle.isChecked() and self.state.needle is not None:
            path = overlays.needle_path(self.state.needle, pose)
            if path is not None:
                paths.append(path)
        return labels, paths

    def _redisplay(self, *_):
        from iddsanatomy.fluoro import display

        if self.sigma is None:
            return
        pic = display.window(
            self.sigma,
            invert=self.invert.isChecked(),
            circle=self.round_field.isChecked(),
            photons=display.TEACHING_PHOTONS * (self.sigma.shape[0] / 512) ** -2
            if self.mottle.isChecked()
            else None,
        )
        labels, paths = self.overlays()
        if labels or paths:
            pic = display.overlay(pic, labels, paths, scale=self.sigma.shape[0] / 512)
        self.picture = np.ascontiguousarray(pic)
        self.image.set_image(QPixmap.fromImage(_qimage(self.picture)))


class _Prepare(QRunnable):
    def __init__(self, anatomy):
        super().__init__()
        self.anatomy = anatomy

    def run(self):
        from iddsanatomy.fluoro import drr

        try:
            for detail in ("live", "full"):
                drr.prepare(self.anatomy, detail)
        except Exception:  # the shot itself will report the problem
            log.exception("preparing the DRR scene failed")


def _qimage(pic: np.ndarray) -> QImage:
    h, w = pic.shape[:2]
    if pic.ndim == 2:
        img = QImage(pic.data, w, h, w, QImage.Format_Grayscale8)
    else:
        img = QImage(pic.data, w, h, 3 * w, QImage.Format_RGB888)
    return img.copy()  # own the pixels: the numpy buffer may go
