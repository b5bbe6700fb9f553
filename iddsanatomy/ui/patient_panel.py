"""Patient panel: edit the patient variant live (presets, posture, habitus, scoliosis, variants).

Every change is validated first (a bad value is shown in red and the anatomy stays as it was),
then built off the GUI thread so the window stays responsive; a newer change supersedes one still
building. Undo steps back through the variants the trainee applied.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.anatomy.variant import (
    CONUS_RANGE,
    LUMBAR_INTERSPACES,
    SAC_END_RANGE,
    PatientVariant,
    make_variant,
    position_label,
    position_units,
    preset,
    preset_description,
    preset_names,
)
from iddsanatomy.errors import IddsError

log = logging.getLogger(__name__)

POSTURES = ("prone", "prone_pillow", "supine", "standing", "lateral_flexed", "sitting_flexed")
DEBOUNCE_MS = 120


def _labels_between(lo: str, hi: str) -> list[str]:
    return [position_label(u) for u in range(int(position_units(lo)), int(position_units(hi)) + 1)]


class _BuildSignals(QObject):
    done = Signal(int, object, object)  # request id, anatomy or None, error text or None


class _BuildJob(QRunnable):
    def __init__(self, builder, variant, request_id, signals):
        super().__init__()
        self.builder, self.variant, self.request_id, self.signals = (
            builder,
            variant,
            request_id,
            signals,
        )

    def run(self):
        try:
            anatomy = self.builder.build(self.variant)
            self.signals.done.emit(self.request_id, anatomy, None)
        except Exception as exc:  # shown in the panel; the current anatomy stays
            log.exception("variant build failed")
            self.signals.done.emit(self.request_id, None, f"{type(exc).__name__}: {exc}")


class PatientPanel(QWidget):
    """Edits ``window.state.variant`` and swaps in the varied anatomy when it is built."""

    def __init__(self, window, parent=None):
        super().__init__(parent)
        from iddsanatomy.anatomy.variation import VariantBuilder

        self.window = window
        self.builder = VariantBuilder(window.base_anatomy)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.signals = _BuildSignals()
        self.signals.done.connect(self._on_built)
        self._request = 0
        self._applied: list[PatientVariant] = [window.state.variant or PatientVariant()]
        self._updating = False
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._submit)
        self._build_ui()
        self._show_variant(self._applied[-1])

    # ------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.preset_box = QComboBox()
        self.preset_box.addItems(preset_names())
        self.preset_box.setToolTip("Load a named patient")
        self.preset_box.activated.connect(self._on_preset_chosen)
        top.addWidget(QLabel("Preset:"))
        top.addWidget(self.preset_box, 1)
        outer.addLayout(top)
        self.preset_text = QLabel("")
        self.preset_text.setWordWrap(True)
        self.preset_text.setStyleSheet("color: #667; font-size: 11px;")
        outer.addWidget(self.preset_text)

        form_box = QGroupBox("Position and habitus")
        form = QFormLayout(form_box)
        self.posture = QComboBox()
        self.posture.addItems(POSTURES)
        self.lordosis_auto = QCheckBox("from posture")
        self.lordosis = QDoubleSpinBox(minimum=-10, maximum=80, decimals=1, suffix="°")
        row = QHBoxLayout()
        row.addWidget(self.lordosis)
        row.addWidget(self.lordosis_auto)
        self.bmi = QDoubleSpinBox(minimum=16, maximum=60, decimals=1, singleStep=1)
        self.bmi.setToolTip("Body-mass index (16–60 kg/m²); only the subcutaneous fat changes")
        form.addRow("Posture", self.posture)
        form.addRow("Lordosis L1–S1", row)
        form.addRow("BMI", self.bmi)
        outer.addWidget(form_box)

        scol_box = QGroupBox("Scoliosis")
        sf = QFormLayout(scol_box)
        self.cobb = QDoubleSpinBox(minimum=0, maximum=90, decimals=0, suffix="°")
        self.apex = QComboBox()
        self.apex.addItems(["T12", "L1", "L2", "L3", "L4"])
        self.side = QComboBox()
        self.side.addItems(["right", "left"])
        self.rotation = QDoubleSpinBox(minimum=0, maximum=45, decimals=0, suffix="°")
        sf.addRow("Cobb angle", self.cobb)
        sf.addRow("Apex", self.apex)
        sf.addRow("Convex to the", self.side)
        sf.addRow("Apical rotation", self.rotation)
        outer.addWidget(scol_box)

        nb = QGroupBox("Neural axis and counting")
        nf = QFormLayout(nb)
        self.conus = QComboBox()
        self.conus.addItems(_labels_between(*CONUS_RANGE))
        self.sac = QComboBox()
        self.sac.addItems(_labels_between(*SAC_END_RANGE))
        self.rib12 = QComboBox()
        self.rib12.addItems(["normal", "short", "absent"])
        self.transitional = QComboBox()
        self.transitional.addItems(["none", "sacralised_L5", "lumbarised_S1"])
        nf.addRow("Conus tip", self.conus)
        nf.addRow("Dural sac ends", self.sac)
        nf.addRow("12th ribs", self.rib12)
        nf.addRow("Transitional", self.transitional)
        outer.addWidget(nb)

        sb = QGroupBox("Surgery and skin (by interspace)")
        grid = QGridLayout(sb)
        self.level_checks: dict[str, dict[str, QCheckBox]] = {}
        kinds = (("laminectomy", "Laminectomy"), ("fusion", "Fusion"), ("skin", "Skin lesion"))
        for c, (_key, title) in enumerate(kinds, start=1):
            grid.addWidget(QLabel(title), 0, c)
        for r, seg in enumerate(LUMBAR_INTERSPACES, start=1):
            grid.addWidget(QLabel(seg), r, 0)
            self.level_checks[seg] = {}
            for c, (key, _title) in enumerate(kinds, start=1):
                box = QCheckBox()
                grid.addWidget(box, r, c, alignment=Qt.AlignCenter)
                self.level_checks[seg][key] = box
                box.toggled.connect(self._on_field_changed)
        outer.addWidget(sb)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate while a variant builds
        self.busy.setMaximumHeight(8)
        self.busy.setTextVisible(False)
        self.busy.hide()
        outer.addWidget(self.busy)
        outer.addWidget(self.status)
        buttons = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Back to the previous patient (Ctrl+Shift+Z)")
        self.undo_button.clicked.connect(self.undo)
        self.reset_button = QPushButton("Average adult")
        self.reset_button.clicked.connect(lambda: self.apply_variant(PatientVariant()))
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.reset_button)
        outer.addLayout(buttons)
        outer.addStretch(1)
        QShortcut(QKeySequence("Ctrl+Shift+Z"), self, activated=self.undo)

        for w in (self.posture, self.apex, self.side, self.conus, self.sac):
            w.currentIndexChanged.connect(self._on_field_changed)
        for w in (self.rib12, self.transitional):
            w.currentIndexChanged.connect(self._on_field_changed)
        for w in (self.lordosis, self.bmi, self.cobb, self.rotation):
            w.valueChanged.connect(self._on_field_changed)
        self.lordosis_auto.toggled.connect(self._on_field_changed)

    # ------------------------------------------------------------------ variant <-> widgets
    def _show_variant(self, v: PatientVariant) -> None:
        self._updating = True
        try:
            self.posture.setCurrentText(v.posture)
            self.lordosis_auto.setChecked(v.lordosis_deg is None)
            self.lordosis.setValue(v.effective_lordosis_deg)
            self.lordosis.setEnabled(v.lordosis_deg is not None)
            self.bmi.setValue(v.bmi)
            self.cobb.setValue(v.scoliosis_cobb_deg)
            self.apex.setCurrentText(v.scoliosis_apex)
            self.side.setCurrentText(v.scoliosis_side)
            self.rotation.setValue(v.apical_rotation_deg)
            self.conus.setCurrentText(v.conus_level)
            self.sac.setCurrentText(v.dural_sac_end)
            self.rib12.setCurrentText(v.rib12)
            self.transitional.setCurrentText(v.transitional)
            for seg, boxes in self.level_checks.items():
                boxes["laminectomy"].setChecked(seg in v.laminectomy_levels)
                boxes["fusion"].setChecked(seg in v.fusion_levels)
                boxes["skin"].setChecked(seg in v.skin_lesion_levels)
            if v.name in preset_names():
                self.preset_box.setCurrentText(v.name)
                self.preset_text.setText(preset_description(v.name))
        finally:
            self._updating = False

    def variant_from_widgets(self) -> PatientVariant:
        """Build a validated variant from the widgets (raises ValidationError naming the field)."""
        checks = self.level_checks

        def chosen(kind):
            return tuple(seg for seg in LUMBAR_INTERSPACES if checks[seg][kind].isChecked())

        return make_variant(
            name="custom",
            posture=self.posture.currentText(),
            lordosis_deg=None if self.lordosis_auto.isChecked() else self.lordosis.value(),
            bmi=self.bmi.value(),
            scoliosis_cobb_deg=self.cobb.value(),
            scoliosis_apex=self.apex.currentText(),
            scoliosis_side=self.side.currentText(),
            apical_rotation_deg=self.rotation.value(),
            conus_level=self.conus.currentText(),
            dural_sac_end=self.sac.currentText(),
            rib12=self.rib12.currentText(),
            transitional=self.transitional.currentText(),
            laminectomy_levels=chosen("laminectomy"),
            fusion_levels=chosen("fusion"),
            skin_lesion_levels=chosen("skin"),
        )

    # ------------------------------------------------------------------ events
    def _on_preset_chosen(self, _index: int) -> None:
        name = self.preset_box.currentText()
        try:
            self.apply_variant(preset(name))
        except IddsError as exc:
            self._set_status(str(exc), error=True)

    def _on_field_changed(self, *_):
        if self._updating:
            return
        self.lordosis.setEnabled(not self.lordosis_auto.isChecked())
        self._debounce.start()

    def _submit(self) -> None:
        try:
            v = self.variant_from_widgets()
        except IddsError as exc:
            self._set_status(str(exc), error=True)  # the anatomy stays as it was
            return
        self.apply_variant(v, from_widgets=True)

    def apply_variant(self, v: PatientVariant, from_widgets: bool = False) -> int:
        """Start building ``v``; returns the request id. The current anatomy stays until done."""
        if not from_widgets:
            self._show_variant(v)
        self._request += 1
        self._pending = v
        self.busy.show()
        self._set_status(f"Building patient: {v.name}…")
        self.pool.start(_BuildJob(self.builder, v, self._request, self.signals))
        return self._request

    def _on_built(self, request_id: int, anatomy, error) -> None:
        if request_id != self._request:
            return  # superseded by a newer change
        self.busy.hide()
        if error is not None:
            self._set_status(f"Could not build this patient: {error}", error=True)
            return
        v = anatomy.variant
        self.window.set_anatomy(anatomy)
        self.window.state.variant = v
        if not self._applied or self._applied[-1] != v:
            self._applied.append(v)
        self._set_status(f"Patient: {v.name}")

    def undo(self) -> None:
        if len(self._applied) < 2:
            self._set_status("Nothing to undo.")
            return
        self._applied.pop()
        previous = self._applied.pop()
        self.apply_variant(previous)

    def wait_idle(self, timeout_ms: int = 30000) -> bool:
        """Block until no build is running (tests and scripts)."""
        return self.pool.waitForDone(timeout_ms)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #b00020; font-weight: bold;" if error else "")
