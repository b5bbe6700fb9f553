"""The Needle panel: plan, place and advance a needle, read the layers, see the metrics.

Wiring only: a :class:`iddsanatomy.needle.NeedleSession` does the work; the panel assigns
``window.state.needle`` (a new NeedlePose each time) and ``window.state.catheter``, and the
renderer and the fluoroscopy draw them. A lesson that sets a fixed needle
(``state.needle_mode == "fixed"``) is shown read-only.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QPen, QPolygonF, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.errors import IddsError

log = logging.getLogger(__name__)

#: Gauge colours by tissue when a structure has none of its own.
TISSUE_RGB = {
    "skin": (0.93, 0.76, 0.65),
    "fat": (1.0, 0.88, 0.45),
    "muscle": (0.75, 0.32, 0.30),
    "ligament": (0.55, 0.75, 0.90),
    "dura": (0.62, 0.62, 0.90),
    "csf": (0.55, 0.82, 1.0),
    "neural": (1.0, 0.95, 0.55),
    "bone": (0.92, 0.90, 0.82),
    "disc": (0.55, 0.72, 0.95),
    "none": (0.75, 0.75, 0.75),
}
INTERSPACES = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
INTERSPACES_ORDER = {lv: i for i, lv in enumerate(("T12", "L1", "L2", "L3", "L4", "L5", "S1"))}
APPROACHES = (
    "midline",
    "paramedian left",
    "paramedian right",
    "from a landmark",
    "click on the skin",
)
CLICK_SLOP_PX = 4
STEP_MM = (0.5, 1.0, 2.0, 5.0)
MOVING_MS = 300  # after the last step, back to full detail
_BANNER = (
    "QLabel {{ background: {bg}; color: white; font-weight: bold; font-size: 14px; "
    "padding: 8px; border-radius: 4px; }}"
)
SEVERITY_RGB = {"info": "#2f6f3e", "warning": "#a35a00", "critical": "#c0141b"}


def _wrap(text: str, width: int = 22) -> str:
    """Break a long name onto indented lines (the read-out does not word-wrap: a wrapped label
    is clipped by the dock's layout)."""
    words, lines, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return "<br>&nbsp;&nbsp;".join(lines)


def _pretty(structure_id: str | None, anatomy=None) -> str:
    if not structure_id:
        return "outside the body"
    if structure_id == "epidural_space":
        return "epidural space"
    if structure_id == "unlabelled":
        return "tissue not modelled"
    if anatomy is not None and structure_id in anatomy.structures:
        return anatomy[structure_id].display_name
    return structure_id.replace("_", " ").replace(".", " ")


class DepthGauge(QWidget):
    """A vertical bar of the layers the needle has passed, coloured by tissue, tip marked.

    Depth 0 (the skin) is at the top. Shows only what the needle has passed unless
    ``show_ahead`` (the instructor's view) is on.
    """

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(150, 300)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.analysis = None
        self.anatomy = None
        self.show_ahead = False
        self.scale_mm = 90.0

    def sizeHint(self) -> QSize:
        return QSize(190, 420)

    def set_analysis(self, analysis, anatomy=None) -> None:
        self.analysis = analysis
        self.anatomy = anatomy
        if analysis is not None:
            self.scale_mm = max(60.0, min(analysis.pose.needle.length_mm, 200.0))
        self.update()

    def _colour(self, crossing) -> QColor:
        rgb = None
        if self.anatomy is not None and crossing.structure_id in self.anatomy.structures:
            rgb = self.anatomy[crossing.structure_id].color
        if rgb is None or crossing.structure_id == "epidural_space":
            rgb = TISSUE_RGB.get(crossing.tissue, TISSUE_RGB["none"])
        return QColor.fromRgbF(*[float(c) for c in rgb[:3]])

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w, h = self.width(), self.height()
        top, bottom = 14.0, h - 14.0
        bar_x, bar_w = 44.0, 34.0
        scale = (bottom - top) / self.scale_mm

        def y_of(d):
            return top + d * scale

        p.fillRect(self.rect(), QColor("#fbfbfa"))
        # depth ticks every 10 mm
        p.setPen(QPen(QColor("#777777"), 1))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1.5))
        p.setFont(small)
        for d in range(0, int(self.scale_mm) + 1, 10):
            y = y_of(d)
            p.drawLine(int(bar_x - 6), int(y), int(bar_x), int(y))
            p.drawText(QRectF(0, y - 8, bar_x - 8, 16), Qt.AlignRight | Qt.AlignVCenter, f"{d}")
        p.drawText(QRectF(0, 0, bar_x + bar_w, 12), Qt.AlignLeft, "mm")
        p.setPen(QPen(QColor("#999999"), 1))
        p.drawRect(QRectF(bar_x, top, bar_w, bottom - top))
        a = self.analysis
        if a is None:
            p.setPen(QColor("#555555"))
            p.drawText(
                QRectF(bar_x + bar_w + 6, top, w - bar_x - bar_w - 8, 60),
                Qt.TextWordWrap,
                "Place the needle",
            )
            p.end()
            return
        layers = list(a.crossings)
        if self.show_ahead and not a.blocked:
            from dataclasses import replace

            layers += [
                replace(c, entry_depth_mm=max(c.entry_depth_mm, a.tip_depth_mm)) for c in a.ahead
            ]
        label_x = bar_x + bar_w + 6
        last_label_y = -100.0
        for c in layers:
            y0, y1 = y_of(c.entry_depth_mm), y_of(min(c.exit_depth_mm, self.scale_mm))
            if y0 >= bottom:
                break
            col = self._colour(c)
            ahead = c.entry_depth_mm >= a.tip_depth_mm - 1e-6
            if ahead:
                col.setAlphaF(0.35)
            p.fillRect(QRectF(bar_x + 1, y0, bar_w - 1, max(1.0, y1 - y0)), col)
            # a thin line between layers: neighbouring ligaments have similar colours
            p.setPen(QPen(QColor(60, 60, 60, 90 if ahead else 160), 1))
            p.drawLine(int(bar_x + 1), int(y0), int(bar_x + bar_w - 1), int(y0))
            mid = (y0 + y1) / 2
            if mid - last_label_y >= 13 and not ahead:
                p.setPen(QColor("#222222"))
                name = _pretty(c.structure_id, self.anatomy)
                p.drawText(
                    QRectF(label_x, mid - 8, w - label_x - 2, 16),
                    Qt.AlignLeft | Qt.AlignVCenter,
                    p.fontMetrics().elidedText(name, Qt.ElideRight, int(w - label_x - 2)),
                )
                last_label_y = mid
        if a.bone_contact is not None:
            y = y_of(a.tip_depth_mm)
            p.fillRect(QRectF(bar_x + 1, y, bar_w - 1, 8), QColor("#d8d2bf"))
            p.setPen(QPen(QColor("#6b5f3a"), 2))
            for k in range(0, int(bar_w), 6):
                p.drawLine(int(bar_x + k), int(y + 8), int(bar_x + k + 6), int(y))
        # the tip: a line across and a red triangle
        y = y_of(min(a.tip_depth_mm, self.scale_mm))
        crit = a.critical
        p.setPen(QPen(QColor("#c0141b" if crit else "#111111"), 2))
        p.drawLine(int(bar_x - 2), int(y), int(bar_x + bar_w + 2), int(y))
        tri = QPolygonF()
        for px, py in ((bar_x - 14, y - 7), (bar_x - 2, y), (bar_x - 14, y + 7)):
            tri.append(QPointF(px, py))
        p.setBrush(QColor("#c0141b"))
        p.drawPolygon(tri)
        p.end()


class NeedlePanel(QWidget):
    """Plan, place and advance the needle; layer read-out, warnings, metrics."""

    analysis_changed = Signal(object)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.state = window.state
        self.anatomy = window.anatomy
        self.session = None
        self.analysis = None
        self._external = None  # a pose someone else (a lesson) set
        self._updating = False
        # while the needle moves, the 3D view draws coarse meshes (as when the camera moves)
        self._moving = QTimer(self)
        self._moving.setSingleShot(True)
        self._moving.setInterval(MOVING_MS)
        self._moving.timeout.connect(self._on_moving_stopped)
        self._build()
        self._connect_state()
        self._on_needle_mode_changed()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        from iddsanatomy.needle import NEEDLE_TYPES

        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.banner.setStyleSheet(_BANNER.format(bg="#c0141b"))
        outer.addWidget(self.banner)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.error_label.setStyleSheet("QLabel { color: #c0141b; }")
        outer.addWidget(self.error_label)

        plan = QGroupBox("Plan and entry")
        form = QFormLayout(plan)
        self.needle_combo = QComboBox()
        for nid, n in NEEDLE_TYPES.items():
            self.needle_combo.addItem(n.display_name, nid)
        self.needle_combo.setCurrentIndex(self.needle_combo.findData("tuohy-17G-90"))
        form.addRow("Needle", self.needle_combo)
        self.target_combo = QComboBox()
        self.target_combo.addItems(["intrathecal", "epidural"])
        form.addRow("Target", self.target_combo)
        self.interspace_combo = QComboBox()
        self.interspace_combo.addItems(list(INTERSPACES))
        self.interspace_combo.setCurrentText("L3-L4")
        form.addRow("Interspace", self.interspace_combo)
        self.approach_combo = QComboBox()
        self.approach_combo.addItems(list(APPROACHES))
        form.addRow("Approach", self.approach_combo)
        # "from a landmark": 1 cm lateral and 1 cm caudal to the L3 spinous tip, and so on
        self.landmark_box = QWidget()
        lrow = QFormLayout(self.landmark_box)
        lrow.setContentsMargins(0, 0, 0, 0)
        self.landmark_combo = QComboBox()
        self._fill_landmarks()
        lrow.addRow("Landmark", self.landmark_combo)
        self.lateral_spin = QDoubleSpinBox()
        self.lateral_spin.setRange(0, 60)
        self.lateral_spin.setValue(10)
        self.lateral_spin.setSuffix(" mm lateral")
        self.side_combo = QComboBox()
        self.side_combo.addItems(["left", "right"])
        side_row = QHBoxLayout()
        side_row.addWidget(self.lateral_spin)
        side_row.addWidget(self.side_combo)
        lrow.addRow("Offset", side_row)
        self.caudal_spin = QDoubleSpinBox()
        self.caudal_spin.setRange(-60, 60)
        self.caudal_spin.setValue(10)
        self.caudal_spin.setSuffix(" mm caudal")
        lrow.addRow("", self.caudal_spin)
        form.addRow(self.landmark_box)
        self.place_button = QPushButton("Place needle on the skin")
        self.place_button.setToolTip(
            "Depth 0 at the entry; then advance with ] and withdraw with ["
        )
        form.addRow(self.place_button)
        outer.addWidget(plan)
        self.approach_combo.currentIndexChanged.connect(self._on_approach_changed)
        self._on_approach_changed()

        steer = QGroupBox("Direction and depth")
        sform = QFormLayout(steer)
        self.cephalad_spin = QDoubleSpinBox()
        self.cephalad_spin.setRange(-60, 60)
        self.cephalad_spin.setSingleStep(1.0)
        self.cephalad_spin.setSuffix("°")
        self.cephalad_spin.setToolTip("Cephalad (+) or caudad (−) tilt. Keys: Alt+Up / Alt+Down")
        sform.addRow("Cephalad", self.cephalad_spin)
        self.medial_spin = QDoubleSpinBox()
        self.medial_spin.setRange(-45, 45)
        self.medial_spin.setSingleStep(1.0)
        self.medial_spin.setSuffix("°")
        self.medial_spin.setToolTip(
            "Medial (+) tilt; in the midline, towards the patient's left (+). "
            "Keys: Alt+Left / Alt+Right"
        )
        sform.addRow("Medial", self.medial_spin)
        self.step_combo = QComboBox()
        for s in STEP_MM:
            self.step_combo.addItem(f"{s:g} mm", s)
        self.step_combo.setCurrentIndex(1)
        sform.addRow("Step", self.step_combo)
        row = QHBoxLayout()
        self.advance_button = QPushButton("Advance  ▼  ( ] )")
        self.withdraw_button = QPushButton("Withdraw  ▲  ( [ )")
        row.addWidget(self.advance_button)
        row.addWidget(self.withdraw_button)
        sform.addRow(row)
        outer.addWidget(steer)

        middle = QHBoxLayout()
        self.gauge = DepthGauge()
        middle.addWidget(self.gauge, 1)
        right = QVBoxLayout()
        self.readout = QLabel("No needle.")
        self.readout.setWordWrap(False)  # short lines; a wrapped label gets clipped here
        self.readout.setTextFormat(Qt.RichText)
        self.readout.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.readout.setMinimumWidth(170)
        self.readout.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        right.addWidget(self.readout)
        self.events_list = QListWidget()
        self.events_list.setWordWrap(True)
        self.events_list.setMinimumHeight(120)
        events_title = QLabel("<b>Events</b>")
        right.addSpacing(6)
        right.addWidget(events_title)
        right.addWidget(self.events_list, 1)
        self.ahead_check = QCheckBox("Show layers ahead (instructor)")
        right.addWidget(self.ahead_check)
        self.suggest_button = QPushButton("Suggest a clear path (instructor)")
        self.suggest_button.setToolTip(
            "Search entries and angles near the chosen approach for a path to the target "
            "through the chosen interspace, and place the needle on it at the skin"
        )
        right.addWidget(self.suggest_button)
        middle.addLayout(right, 1)
        outer.addLayout(middle, 1)

        cat = QGroupBox("Catheter")
        crow = QHBoxLayout(cat)
        self.catheter_spin = QDoubleSpinBox()
        self.catheter_spin.setRange(5, 400)
        self.catheter_spin.setValue(100)
        self.catheter_spin.setSuffix(" mm")
        self.catheter_dir = QComboBox()
        self.catheter_dir.addItems(["cephalad", "caudad"])
        self.thread_button = QPushButton("Thread")
        crow.addWidget(self.catheter_spin)
        crow.addWidget(self.catheter_dir)
        crow.addWidget(self.thread_button)
        outer.addWidget(cat)

        self.metrics_label = QLabel("")
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setTextFormat(Qt.RichText)
        self.metrics_label.setStyleSheet(
            "QLabel { background: #eef3f8; border: 1px solid #b9c8d8; padding: 6px; }"
        )
        self.metrics_label.setVisible(False)
        outer.addWidget(self.metrics_label)
        self.finish_button = QPushButton("Finish attempt — show my metrics")
        outer.addWidget(self.finish_button)

        self.place_button.clicked.connect(self.place_needle)
        self.advance_button.clicked.connect(lambda: self.step(+1))
        self.withdraw_button.clicked.connect(lambda: self.step(-1))
        self.cephalad_spin.valueChanged.connect(self._on_angles_changed)
        self.medial_spin.valueChanged.connect(self._on_angles_changed)
        self.needle_combo.currentIndexChanged.connect(self._on_needle_type_changed)
        self.thread_button.clicked.connect(self.thread_catheter)
        self.finish_button.clicked.connect(self.finish_attempt)
        self.ahead_check.toggled.connect(self._on_ahead_toggled)
        self.suggest_button.clicked.connect(self.suggest_path)
        self.target_combo.currentIndexChanged.connect(self._on_plan_changed)
        self.interspace_combo.currentIndexChanged.connect(self._on_plan_changed)

        self._shortcuts = []
        for key, fn in (
            ("]", lambda: self.step(+1)),
            ("[", lambda: self.step(-1)),
            ("Alt+Up", lambda: self.cephalad_spin.stepUp()),
            ("Alt+Down", lambda: self.cephalad_spin.stepDown()),
            ("Alt+Right", lambda: self.medial_spin.stepUp()),
            ("Alt+Left", lambda: self.medial_spin.stepDown()),
        ):
            sc = QShortcut(
                QKeySequence(key), self.window if isinstance(self.window, QWidget) else self
            )
            sc.setContext(Qt.WindowShortcut)
            sc.activated.connect(fn)
            self._shortcuts.append(sc)

    def _connect_state(self) -> None:
        self.state.events.needle.connect(self._on_needle_changed)
        self.state.events.needle_mode.connect(self._on_needle_mode_changed)
        changed = getattr(self.window, "anatomy_changed", None)
        if changed is not None:  # the window swaps the anatomy for a patient variant
            changed.connect(self._on_anatomy_changed)
        self._warm_up()

    def _warm_up(self) -> None:
        """Build the ray scenes and distance trees in the background (a second or two on the
        default anatomy), so that the first placement does not stall the window."""
        import threading

        anatomy = self.anatomy

        def build():
            try:
                from iddsanatomy.needle import analyser_for

                an = analyser_for(anatomy)
                for group in ("skin", "dura", "conus", "bone"):
                    an.proximity(group)
            except Exception as exc:  # the first real use will report it
                log.info("needle warm-up failed: %s", exc)

        if anatomy is not None and anatomy.structures:
            threading.Thread(target=build, name="needle-warm-up", daemon=True).start()

    def disconnect_state(self) -> None:
        """Stop listening to the scene (when the panel is closed)."""
        for sig, fn in (
            (self.state.events.needle, self._on_needle_changed),
            (self.state.events.needle_mode, self._on_needle_mode_changed),
            (getattr(self.window, "anatomy_changed", None), self._on_anatomy_changed),
        ):
            if sig is None:
                continue
            try:
                sig.disconnect(fn)
            except (TypeError, ValueError, RuntimeError):
                pass

    def shutdown(self) -> None:
        """Called by the main window as it closes: stop listening, stop timers."""
        self._moving.stop()
        plotter = getattr(self.window, "plotter", None)
        if plotter is not None:
            plotter.removeEventFilter(self)
        self.disconnect_state()

    def closeEvent(self, event) -> None:
        plotter = getattr(self.window, "plotter", None)
        if plotter is not None:
            plotter.removeEventFilter(self)
        self.disconnect_state()
        super().closeEvent(event)

    # ------------------------------------------------------------------ actions
    def _plan(self):
        from iddsanatomy.needle import NeedlePlan

        return NeedlePlan(self.target_combo.currentText(), self.interspace_combo.currentText())

    def _error(self, title: str, exc: Exception) -> None:
        show = getattr(self.window, "show_error", None)
        if callable(show):
            show(title, str(exc))
        else:
            log.warning("%s: %s", title, exc)
        self.error_label.setText(f"{title}: {exc}")
        self.error_label.setVisible(True)

    def _ensure_session(self):
        from iddsanatomy.needle import NeedleSession

        if self.session is None:
            self.session = NeedleSession(self.anatomy, self._plan())
            self.session.on_event(self._on_session_event)
        return self.session

    def _fill_landmarks(self) -> None:
        self.landmark_combo.clear()
        names = sorted(
            (k for k in self.anatomy.landmarks_lps if k.endswith(".spinous_tip")),
            key=lambda k: INTERSPACES_ORDER.get(k.split(".")[0], 99),
        )
        for k in names:
            self.landmark_combo.addItem(f"{k.split('.')[0]} spinous tip", k)
        i = self.landmark_combo.findData("L3.spinous_tip")
        if i >= 0:
            self.landmark_combo.setCurrentIndex(i)

    def _on_approach_changed(self, *_):
        approach = self.approach_combo.currentText()
        self.landmark_box.setVisible(approach == "from a landmark")
        clicking = approach == "click on the skin"
        self.place_button.setCheckable(clicking)
        self.place_button.setChecked(False)
        self.place_button.setText(
            "Click the skin in the 3D view…" if clicking else "Place needle on the skin"
        )
        plotter = getattr(self.window, "plotter", None)
        if plotter is not None:
            if clicking:
                plotter.installEventFilter(self)
            else:
                plotter.removeEventFilter(self)

    def place_needle(self) -> bool:
        """Place the needle for the chosen approach and interspace (depth 0)."""
        from iddsanatomy import needle as nd

        approach = self.approach_combo.currentText()
        if approach == "click on the skin":
            self._status("Click the patient's back in the 3D view to choose the entry point.")
            return False
        interspace = self.interspace_combo.currentText()
        needle = self.needle_combo.currentData()
        try:
            if approach == "midline":
                pose = nd.midline_pose(self.anatomy, interspace, needle=needle)
            elif approach == "from a landmark":
                lateral = self.lateral_spin.value()
                side = self.side_combo.currentText()
                pose = nd.pose_from_landmark(
                    self.anatomy,
                    str(self.landmark_combo.currentData()),
                    lateral,
                    self.caudal_spin.value(),
                    side,
                    needle=needle,
                )
            else:
                side = approach.split()[-1]
                pose = nd.paramedian_pose(self.anatomy, interspace, side, needle=needle)
        except (IddsError, KeyError) as exc:
            self._error("Cannot place the needle", exc)
            return False
        return self.place_pose(pose)

    def suggest_path(self) -> bool:
        """Place the needle at the skin on a clear path found by the planner (depth 0)."""
        from iddsanatomy import needle as nd

        approach = self.approach_combo.currentText()
        kind = "paramedian" if approach.startswith("paramedian") else "midline"
        side = approach.split()[-1] if kind == "paramedian" else "left"
        try:
            planned = nd.find_path(
                self.anatomy,
                self.interspace_combo.currentText(),
                kind,
                side,
                self.target_combo.currentText(),
                self.needle_combo.currentData(),
            )
        except IddsError as exc:
            self._error("No clear path", exc)
            return False
        ok = self.place_pose(planned.pose.with_depth(0.0))
        if ok:
            self._status(
                f"A clear path: advance {planned.pose.depth_mm:.0f} mm to reach the "
                f"{self.target_combo.currentText()} space."
            )
            self._show_analysis(self.session.analysis)
        return ok

    def place_pose(self, pose) -> bool:
        """Start the needle at ``pose`` (validated; on error nothing changes)."""
        try:
            session = self._ensure_session()
            fresh = session.pose is None
            session.place(pose)
            if fresh:  # a new attempt: the last attempt's events stay until now, for review
                self.events_list.clear()
                self.metrics_label.setVisible(False)
        except (IddsError, KeyError) as exc:
            self._error("Cannot place the needle", exc)
            return False
        self._sync_angles()
        self._publish()
        return True

    def place_at_widget_pos(self, pos) -> bool:
        """Place the needle where the view ray under ``pos`` (a point of the 3D view) meets the
        skin, aimed straight in (anterior) with the current angles."""
        import numpy as np

        from iddsanatomy import needle as nd

        w = self.window
        try:
            x, y = w.widget_to_display(pos)
            hit = w.picker.pick(x, y)
        except Exception as exc:  # picking must never break the panel
            self._error("Cannot pick", exc)
            return False
        if hit is None:
            self._status("Nothing under the mouse: click on the patient's back.")
            return False
        an = nd.analyser_for(self.anatomy)
        camera = np.asarray(w.plotter.camera_position[0], dtype=float)
        ray = np.asarray(hit.point_lps, dtype=float) - camera
        entry = an.first_hit("skin", camera, ray / np.linalg.norm(ray))
        if entry is None:
            self._status("That is not on the back: click on the patient's back.")
            return False
        midline = float(
            np.mean(
                [v[0] for k, v in self.anatomy.landmarks_lps.items() if k.endswith(".spinous_tip")]
                or [0.0]
            )
        )
        dx = entry[0] - midline
        side = None if abs(dx) < 3.0 else ("left" if dx > 0 else "right")
        medial = self.medial_spin.value() if side else 0.0
        try:
            pose = nd.pose_at_skin(
                self.anatomy,
                entry,
                self.cephalad_spin.value(),
                medial,
                needle=self.needle_combo.currentData(),
                side=side,
            )
        except IddsError as exc:
            self._error("Cannot place the needle", exc)
            return False
        return self.place_pose(pose)

    def eventFilter(self, obj, event):
        from PySide6.QtCore import QEvent

        if self.approach_combo.currentText() == "click on the skin" and not self._read_only():
            et = event.type()
            if et == QEvent.MouseButtonPress and event.button() == Qt.LeftButton:
                self._press_pos = event.position().toPoint()
            elif et == QEvent.MouseButtonRelease and event.button() == Qt.LeftButton:
                start = getattr(self, "_press_pos", None)
                pos = event.position().toPoint()
                if start is not None and (pos - start).manhattanLength() <= CLICK_SLOP_PX:
                    self.place_at_widget_pos(pos)
                self._press_pos = None
        return False

    def _status(self, text: str) -> None:
        self.readout.setText(text)
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 6000)

    def step(self, sign: int) -> bool:
        """Advance (+1) or withdraw (-1) by the chosen step."""
        if self.session is None or self.session.pose is None or self._read_only():
            return False
        mm = float(self.step_combo.currentData())
        try:
            if sign > 0:
                self.session.advance(mm)
            else:
                if self.session.analysis.tip_depth_mm <= 0:
                    return False
                self.session.withdraw(min(mm, self.session.analysis.tip_depth_mm))
        except IddsError as exc:
            self._error("Cannot move the needle", exc)
            return False
        self._begin_moving()
        self._publish()
        return True

    def set_angles(self, cephalad_deg: float, medial_deg: float) -> bool:
        """Point the placed needle (degrees, as the spin boxes). A refused angle (not finite,
        too steep) shows the error and changes nothing: needle, read-out and spin boxes stay."""
        if self.session is None or self.session.pose is None or self._read_only():
            return False
        try:
            self.session.redirect(cephalad_deg, medial_deg)  # validates before any change
        except IddsError as exc:
            self._error("Cannot redirect the needle", exc)
            self._sync_angles()
            return False
        self._sync_angles()
        self._publish()
        return True

    def _on_angles_changed(self, *_):
        if self._updating:
            return
        self.set_angles(self.cephalad_spin.value(), self.medial_spin.value())

    def _on_needle_type_changed(self, *_):
        if self.session is None or self.session.pose is None:
            return
        try:
            self.session.place(self.session.pose.with_needle(self.needle_combo.currentData()))
        except IddsError as exc:
            self._error("Cannot change the needle", exc)
            # the combo goes back to the needle in use
            i = self.needle_combo.findData(self.session.pose.needle_type)
            if i >= 0:
                self.needle_combo.blockSignals(True)
                self.needle_combo.setCurrentIndex(i)
                self.needle_combo.blockSignals(False)
            return
        self._publish()

    def _on_plan_changed(self, *_):
        if self.session is not None:
            self.session.plan = self._plan()
            self._show_analysis(self.session.analysis)

    def thread_catheter(self) -> bool:
        if self.session is None or self.session.analysis is None:
            self._error("Cannot thread the catheter", IddsError("place and advance the needle"))
            return False
        try:
            cat = self.session.thread(self.catheter_spin.value(), self.catheter_dir.currentText())
        except IddsError as exc:
            self._error("Cannot thread the catheter", exc)
            return False
        self.state.catheter = cat
        self._show_analysis(self.session.analysis)
        return True

    def finish_attempt(self):
        """Show the attempt's metrics and start a new attempt."""
        if self.session is None or self.session.analysis is None:
            return None
        m = self.session.finish_attempt()
        lines = "<br>".join(m.summary_lines(lambda sid: _pretty(sid, self.anatomy)))
        self.metrics_label.setText(f"<b>Attempt {len(self.session.history)}</b><br>{lines}")
        self.metrics_label.setVisible(True)
        self.analysis = None
        self.state.catheter = None
        self.state.needle = None
        self._show_analysis(None)
        return m

    def _on_ahead_toggled(self, on: bool) -> None:
        self.gauge.show_ahead = bool(on)
        self.gauge.update()

    # ------------------------------------------------------------------ state
    def _read_only(self) -> bool:
        return self.state.needle_mode == "fixed"

    def _begin_moving(self) -> None:
        renderer = getattr(self.window, "renderer", None)
        if getattr(renderer, "redraws_instruments_alone", False):
            # the anatomy is not redrawn while only the needle moves: it stays at full detail
            return
        begin = getattr(renderer, "begin_interaction", None)
        if callable(begin):
            begin()
            self._moving.start()

    def _on_moving_stopped(self) -> None:
        renderer = getattr(self.window, "renderer", None)
        end = getattr(renderer, "end_interaction", None)
        if callable(end):
            end()
            plotter = getattr(self.window, "plotter", None)
            if plotter is not None:
                plotter.update()

    def _publish(self) -> None:
        """Give the scene the session's pose (a new object) and show the analysis."""
        s = self.session
        self._updating = True
        try:
            self.state.catheter = s.catheter
            self.state.needle = s.pose
        finally:
            self._updating = False
        self._show_analysis(s.analysis)

    def _sync_angles(self) -> None:
        pose = self.session.pose if self.session else None
        if pose is None:
            return
        c, m = pose.angles_deg()
        self._updating = True
        try:
            self.cephalad_spin.setValue(c)
            self.medial_spin.setValue(m)
        finally:
            self._updating = False

    def _on_needle_changed(self, *_):
        if self._updating:
            return
        pose = self.state.needle
        if pose is None:
            self._show_analysis(None)
            return
        if self.session is not None and pose is self.session.pose:
            return
        try:
            from iddsanatomy.needle import analyse

            self._show_analysis(analyse(self.anatomy, pose))
        except Exception as exc:  # a lesson's pose that does not fit this anatomy
            self._error("Cannot analyse the needle", exc)

    def _on_needle_mode_changed(self, *_):
        fixed = self._read_only()
        for w in (
            self.place_button,
            self.advance_button,
            self.withdraw_button,
            self.cephalad_spin,
            self.medial_spin,
            self.needle_combo,
            self.approach_combo,
            self.landmark_box,
            self.suggest_button,
            self.thread_button,
        ):
            w.setEnabled(not fixed)

    def _on_anatomy_changed(self, anatomy=None):
        # a new patient: the session (and its needle) belonged to the old anatomy
        self.anatomy = anatomy if anatomy is not None else self.window.anatomy
        self.session = None
        self.events_list.clear()
        self._fill_landmarks()
        self._updating = True
        try:
            self.state.catheter = None
            self.state.needle = None
        finally:
            self._updating = False
        self._show_analysis(None)
        self._warm_up()

    def _on_session_event(self, event) -> None:
        item = QListWidgetItem(f"{event.depth_mm:5.1f} mm  {event.message}")
        item.setForeground(QColor(SEVERITY_RGB.get(event.severity, "#000000")))
        self.events_list.addItem(item)
        self.events_list.scrollToBottom()

    def _show_analysis(self, a) -> None:
        self.analysis = a
        self.error_label.setVisible(False)
        self.gauge.set_analysis(a, self.anatomy)
        if a is None:
            self.readout.setText("No needle yet:<br>choose the plan, then<br><b>Place needle</b>.")
            self.banner.setVisible(False)
            self.analysis_changed.emit(None)
            return
        events = (
            self.session.graded_events()
            if (self.session is not None and a is self.session.analysis)
            else a.events
        )
        critical = [e for e in events if e.severity == "critical"]
        if critical:
            self.banner.setText("⚠ " + "\n".join(e.message for e in critical))
            self.banner.setStyleSheet(_BANNER.format(bg="#c0141b"))
            self.banner.setVisible(True)
        elif a.bone_contact is not None:
            part = a.bone_contact.part_id or a.bone_contact.structure_id
            self.banner.setText(
                f"Bone: {_pretty(part, self.anatomy)} at {a.tip_depth_mm:.1f} mm — "
                "withdraw to the fat and redirect."
            )
            self.banner.setStyleSheet(_BANNER.format(bg="#b85c00"))
            self.banner.setVisible(True)
        else:
            self.banner.setVisible(False)

        def mm(d):
            return "–" if d is None else f"{d:.1f} mm"

        tip = _pretty(a.tip_structure, self.anatomy)
        lines = [
            f"<b>Tip:</b> {_wrap(tip)}",
            f"<b>Depth:</b> {a.tip_depth_mm:.1f} mm of {a.pose.needle.length_mm:g}",
            f"<b>Level:</b> {a.tip_level or '–'}",
        ]
        if a.bone_contact is not None:
            part = a.bone_contact.part_id or a.bone_contact.structure_id
            lines.append(
                f"<span style='color:#a35a00'><b>Bone:</b> "
                f"{_wrap(_pretty(part, self.anatomy))}</span>"
            )
        if a.interlaminar:
            lines.append(f"<b>Interlaminar space:</b> {a.interlaminar}")
        lines += [
            f"to dura {mm(a.distance_to_dura_mm)}",
            f"to conus {mm(a.distance_to_conus_mm)}",
            f"to bone {mm(a.distance_to_bone_mm)}",
        ]
        cat = self.state.catheter
        if cat is not None:
            lines.append(f"<b>Catheter tip:</b> {cat.tip_level or '–'} ({cat.space})")
        self.readout.setText("<br>".join(lines))
        self.analysis_changed.emit(a)
