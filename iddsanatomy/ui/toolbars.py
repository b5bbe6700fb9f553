"""View toolbar (named views, reset, focus, labels) and section toolbar (clipping plane)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar

from iddsanatomy.errors import IddsError
from iddsanatomy.render.sections import SECTION_KINDS, SECTION_VIEWS, section_plane
from iddsanatomy.render.views import VIEW_TITLES
from iddsanatomy.scene import Camera

#: view -> (toolbar text, shortcut)
VIEW_BUTTONS = {
    "posterior": ("Post", "P"),
    "anterior": ("Ant", "A"),
    "left": ("Left", "L"),
    "right": ("Right", "R"),
    "oblique_left_30": ("L30°", "1"),
    "oblique_right_30": ("R30°", "2"),
    "oblique_left_45": ("L45°", "3"),
    "oblique_right_45": ("R45°", "4"),
    "cranial": ("Cranial", "C"),
    "caudal": ("Caudal", "Shift+C"),
}

LABEL_TITLES = {
    "levels": "Level labels (T12…S1)",
    "ribs": "12th rib labels",
    "interlaminar": "Interlaminar space labels",
}

SECTION_RANGE_MM = 80


class ViewToolBar(QToolBar):
    """Named views with one-key shortcuts, reset (Home), focus on selection (F), labels."""

    def __init__(self, window):
        super().__init__("Views", window)
        self.setObjectName("toolbar_views")
        self.window_ = window
        self.view_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for view, (text, key) in VIEW_BUTTONS.items():
            a = QAction(text, self)
            a.setCheckable(True)
            a.setShortcut(QKeySequence(key))
            a.setToolTip(f"{VIEW_TITLES[view]} view ({key})")
            a.triggered.connect(lambda _=False, v=view: window.set_view(v))
            group.addAction(a)
            self.addAction(a)
            self.view_actions[view] = a
        self.addSeparator()
        self.reset_action = QAction("Reset", self)
        self.reset_action.setShortcut(QKeySequence(Qt.Key_Home))
        self.reset_action.setToolTip("Reset the camera to the posterior view of everything (Home)")
        self.reset_action.triggered.connect(lambda: window.set_view("posterior"))
        self.addAction(self.reset_action)
        self.focus_action = QAction("Focus", self)
        self.focus_action.setShortcut(QKeySequence("F"))
        self.focus_action.setToolTip("Frame the selected structure (F)")
        self.focus_action.triggered.connect(window.focus_selection)
        self.addAction(self.focus_action)
        self.clear_action = QAction("Clear selection", self)
        self.clear_action.setShortcut(QKeySequence(Qt.Key_Escape))
        self.clear_action.triggered.connect(lambda: setattr(window.state, "selected", None))
        window.addAction(self.clear_action)  # a shortcut without a toolbar button
        self.addSeparator()
        self.label_actions: dict[str, QAction] = {}
        for group_name, title in LABEL_TITLES.items():
            a = QAction(title, self)
            a.setCheckable(True)
            a.toggled.connect(lambda on, g=group_name: self._on_label_toggled(g, on))
            self.label_actions[group_name] = a
        labels = QAction("Labels", self)
        labels.setCheckable(True)
        labels.setToolTip("Show level, rib and interlaminar labels")
        labels.toggled.connect(self._on_all_labels_toggled)
        self.addAction(labels)
        self.labels_action = labels
        window.state.events.camera.connect(self._sync_view)
        window.state.events.labels.connect(self._sync_labels)
        self._sync_view(window.state.camera)
        self._sync_labels(window.state.labels)

    def shutdown(self) -> None:
        self.window_.state.events.camera.disconnect(self._sync_view)
        self.window_.state.events.labels.disconnect(self._sync_labels)

    def _on_label_toggled(self, group: str, on: bool) -> None:
        st = self.window_.state
        st.labels = (st.labels | {group}) if on else (st.labels - {group})

    def _on_all_labels_toggled(self, on: bool) -> None:
        st = self.window_.state
        st.labels = frozenset(LABEL_TITLES) if on else frozenset()

    def _sync_view(self, camera, *_):
        a = self.view_actions.get(camera.view or "")
        if a is not None and not a.isChecked():
            a.setChecked(True)

    def _sync_labels(self, labels, *_):
        for group_name, a in self.label_actions.items():
            a.blockSignals(True)
            a.setChecked(group_name in labels)
            a.blockSignals(False)
        self.labels_action.blockSignals(True)
        self.labels_action.setChecked(bool(labels))
        self.labels_action.blockSignals(False)


class SectionToolBar(QToolBar):
    """Cross-section: kind, level and a slider that moves the plane along its normal (mm)."""

    def __init__(self, window):
        super().__init__("Section", window)
        self.setObjectName("toolbar_section")
        self.window_ = window
        self.addWidget(QLabel(" Section "))
        self.kind = QComboBox(self)
        self.kind.addItem("Off", None)
        for k in SECTION_KINDS:
            self.kind.addItem(k.capitalize(), k)
        self.kind.setToolTip("Cut all structures with a plane to see the canal in section")
        self.addWidget(self.kind)
        self.level = QComboBox(self)
        self.level.setToolTip("The level the plane passes through")
        for lvl in self._levels():
            self.level.addItem(lvl.replace("-", "–"), lvl)
        idx = self.level.findData("L3-L4")
        if idx >= 0:
            self.level.setCurrentIndex(idx)
        self.addWidget(self.level)
        self.slider = QSlider(Qt.Horizontal, self)
        self.slider.setRange(-SECTION_RANGE_MM, SECTION_RANGE_MM)
        self.slider.setValue(0)
        self.slider.setFixedWidth(180)
        self.slider.setToolTip("Move the plane along its normal (mm)")
        self.addWidget(self.slider)
        self.offset_label = QLabel(" 0 mm ")
        self.offset_label.setMinimumWidth(56)
        self.addWidget(self.offset_label)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self.level.currentIndexChanged.connect(lambda *_: self._apply())
        self.slider.valueChanged.connect(lambda *_: self._apply())
        window.state.events.clip.connect(self._on_clip_changed)
        self._sync_enabled()

    def refresh_levels(self) -> None:
        """Re-list the levels (another anatomy), keeping the chosen one when it still exists."""
        current = self.level.currentData()
        self.level.blockSignals(True)
        self.level.clear()
        for lvl in self._levels():
            self.level.addItem(lvl.replace("-", "–"), lvl)
        idx = self.level.findData(current)
        self.level.setCurrentIndex(max(idx, 0))
        self.level.blockSignals(False)
        self._apply()

    def _levels(self) -> list[str]:
        from iddsanatomy.anatomy.model import LEVELS

        anatomy = self.window_.anatomy
        have = {s.level for s in anatomy.structures.values() if s.level and s.ok}
        have |= set(anatomy.lps_from_level)

        def key(lvl: str):
            first = lvl.split("-")[0]
            return (LEVELS.index(first) if first in LEVELS else 99, "-" in lvl, lvl)

        return sorted(have, key=key)

    def _sync_enabled(self) -> None:
        on = self.kind.currentData() is not None
        self.level.setEnabled(on)
        self.slider.setEnabled(on)

    def _on_kind_changed(self, *_):
        self._sync_enabled()
        kind = self.kind.currentData()
        if kind is not None and self.slider.value() != 0:
            self.slider.blockSignals(True)
            self.slider.setValue(0)
            self.slider.blockSignals(False)
        self._apply()
        if kind is not None:
            # look at the cut face
            self.window_.state.camera = Camera(view=SECTION_VIEWS[kind])

    def set_section(self, kind: str | None, level: str | None = None, offset_mm: int = 0) -> None:
        """Programmatic control (tests, lessons through the window)."""
        if level is not None:
            idx = self.level.findData(level)
            if idx >= 0:
                self.level.blockSignals(True)
                self.level.setCurrentIndex(idx)
                self.level.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setValue(int(offset_mm))
        self.slider.blockSignals(False)
        idx = self.kind.findData(kind)
        if idx != self.kind.currentIndex():
            self.kind.setCurrentIndex(idx)  # emits: applies and turns the camera
        else:
            self._apply()

    def _apply(self) -> None:
        kind = self.kind.currentData()
        offset = self.slider.value()
        self.offset_label.setText(f" {offset:+d} mm ")
        st = self.window_.state
        if kind is None:
            st.clip = None
            return
        try:
            st.clip = section_plane(self.window_.anatomy, kind, self.level.currentData(), offset)
        except IddsError as exc:
            self.window_.statusBar().showMessage(f"No section: {exc}", 8000)

    def _on_clip_changed(self, clip, *_):
        if clip is None and self.kind.currentData() is not None:
            self.kind.blockSignals(True)
            self.kind.setCurrentIndex(0)
            self.kind.blockSignals(False)
            self._sync_enabled()

    def shutdown(self) -> None:
        self.window_.state.events.clip.disconnect(self._on_clip_changed)
