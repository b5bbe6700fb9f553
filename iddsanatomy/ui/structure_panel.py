"""The structure browser: region → level → structure → part, with search, tissue filter,
visibility checkboxes, opacity, isolate, show all, reset and group toggles.

The panel only changes :class:`~iddsanatomy.scene.SceneState`; the renderer draws it. It also
listens to the state, so a lesson or a click in the 3D view shows up here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QTreeWidgetItemIterator,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.anatomy.model import LEVELS
from iddsanatomy.render.scene_renderer import default_visible
from iddsanatomy.scene import Camera

ID_ROLE = Qt.UserRole
KIND_ROLE = Qt.UserRole + 1  # "region" | "level" | "structure" | "part" | "failed"

REGIONS = (
    ("thoracic", "Thoracic"),
    ("lumbar", "Lumbar"),
    ("sacral", "Sacrum and coccyx"),
    ("whole", "Whole spine"),
    ("failed", "Failed to load"),
)

#: group toggle -> tissues it switches
GROUPS = {
    "Bones": ("bone",),
    "Discs": ("disc",),
    "Ligaments": ("ligament",),
    "Neural": ("neural", "dura", "csf"),
    "Soft tissue": ("skin", "fat", "muscle"),
    "Spaces": ("region",),
}

FAILED_RGB = "#ff7b72"


def _region_of(level: str | None) -> str:
    if not level:
        return "whole"
    first = level.split("-")[0]
    if first.startswith("T"):
        return "thoracic"
    if first.startswith("L"):
        return "lumbar"
    return "sacral"


def _level_key(level: str):
    first = level.split("-")[0]
    return (LEVELS.index(first) if first in LEVELS else 99, "-" in level, level)


class StructurePanel(QWidget):
    """Browser dock widget. Construct as ``StructurePanel(window)``."""

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.state = window.state
        self.anatomy = window.anatomy
        self._items: dict[str, QTreeWidgetItem] = {}
        self._syncing = False
        self._commit_timer = QTimer(self)
        self._commit_timer.setSingleShot(True)
        self._commit_timer.setInterval(0)
        self._commit_timer.timeout.connect(self._commit_checks)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        top = QHBoxLayout()
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search structures…")
        self.search.setClearButtonEnabled(True)
        top.addWidget(self.search, 3)
        self.tissue = QComboBox(self)
        self.tissue.addItem("All tissues", None)
        for t in sorted({s.tissue for s in self.anatomy.structures.values()}):
            self.tissue.addItem(t.capitalize(), t)
        top.addWidget(self.tissue, 2)
        lay.addLayout(top)

        grid = QGridLayout()
        grid.setSpacing(4)
        self.group_buttons: dict[str, QPushButton] = {}
        present = {s.tissue for s in self.anatomy.structures.values() if s.ok}
        col = 0
        for name, tissues in GROUPS.items():
            if not present & set(tissues):
                continue
            b = QPushButton(name, self)
            b.setCheckable(True)
            b.setToolTip(f"Show or hide all {name.lower()} ({', '.join(tissues)})")
            b.toggled.connect(lambda on, n=name: self.set_group_visible(n, on))
            grid.addWidget(b, col // 3, col % 3)
            self.group_buttons[name] = b
            col += 1
        lay.addLayout(grid)

        self.tree = QTreeWidget(self)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setAnimated(False)
        lay.addWidget(self.tree, 1)

        op = QHBoxLayout()
        op.addWidget(QLabel("Opacity"))
        self.opacity = QSlider(Qt.Horizontal, self)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(100)
        self.opacity.setToolTip("Opacity of the selected structure or group")
        op.addWidget(self.opacity, 1)
        self.opacity_label = QLabel("100 %")
        self.opacity_label.setMinimumWidth(44)
        op.addWidget(self.opacity_label)
        lay.addLayout(op)

        buttons = QHBoxLayout()
        self.isolate_button = QPushButton("Isolate", self)
        self.isolate_button.setToolTip("Show only the selected structure or group")
        self.show_all_button = QPushButton("Show all", self)
        self.reset_button = QPushButton("Reset", self)
        self.reset_button.setToolTip("Default structures, opacity, no highlight, posterior view")
        for b in (self.isolate_button, self.show_all_button, self.reset_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)

        self._build_tree()
        self.search.textChanged.connect(self._apply_filter)
        self.tissue.currentIndexChanged.connect(self._apply_filter)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.currentItemChanged.connect(self._on_current_changed)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.opacity.valueChanged.connect(self._on_opacity_slider)
        self.isolate_button.clicked.connect(self.isolate_current)
        self.show_all_button.clicked.connect(self.show_all)
        self.reset_button.clicked.connect(self.reset)
        ev = self.state.events
        ev.visible.connect(self._on_visible_changed)
        ev.selected.connect(self._on_selected_changed)
        ev.opacity.connect(self._on_state_opacity_changed)
        self._on_visible_changed()

    # ------------------------------------------------------------------ tree
    def _build_tree(self) -> None:
        tree = self.tree
        tree.clear()
        regions: dict[str, QTreeWidgetItem] = {}
        levels: dict[str, QTreeWidgetItem] = {}
        structures = self.anatomy.structures

        def region_item(key: str) -> QTreeWidgetItem:
            if key not in regions:
                item = QTreeWidgetItem([dict(REGIONS)[key]])
                item.setData(0, KIND_ROLE, "region")
                item.setData(0, ID_ROLE, f"region:{key}")
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
                if key == "failed":
                    item.setForeground(0, QBrush(QColor(FAILED_RGB)))
                else:
                    item.setFlags(item.flags() | Qt.ItemIsUserCheckable | Qt.ItemIsAutoTristate)
                regions[key] = item
            return regions[key]

        def level_item(level: str) -> QTreeWidgetItem:
            if level not in levels:
                item = QTreeWidgetItem([level.replace("-", "–")])
                item.setData(0, KIND_ROLE, "level")
                item.setData(0, ID_ROLE, f"level:{level}")
                item.setFlags(item.flags() | Qt.ItemIsUserCheckable | Qt.ItemIsAutoTristate)
                item.setToolTip(0, f"All structures of {level} (check to show, uncheck to hide)")
                levels[level] = item
            return levels[level]

        wholes = [s for s in structures.values() if s.parent is None]
        wholes.sort(key=lambda s: (_level_key(s.level) if s.level else (100, False, ""), s.id))
        for s in wholes:
            item = QTreeWidgetItem([s.display_name])
            item.setData(0, ID_ROLE, s.id)
            if not s.ok:
                item.setData(0, KIND_ROLE, "failed")
                item.setText(0, f"{s.display_name} — failed to load")
                item.setForeground(0, QBrush(QColor(FAILED_RGB)))
                item.setToolTip(0, s.error or "no mesh")
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                region_item("failed").addChild(item)
                self._items[s.id] = item
                continue
            item.setData(0, KIND_ROLE, "structure")
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(0, Qt.Unchecked)
            item.setToolTip(
                0, f"{s.id} · {s.tissue}" + (f"\n{s.description}" if s.description else "")
            )
            region = region_item(_region_of(s.level))
            if s.level:
                lvl = level_item(s.level)
                if lvl.parent() is None:
                    region.addChild(lvl)
                lvl.addChild(item)
            else:
                region.addChild(item)
            self._items[s.id] = item
            for pid in s.part_ids:
                part = structures.get(pid)
                name = part.display_name if part is not None else pid
                child = QTreeWidgetItem([name])
                child.setData(0, ID_ROLE, pid)
                child.setData(0, KIND_ROLE, "part")
                child.setToolTip(0, f"{pid} — part of {s.display_name}")
                f = QFont(child.font(0))
                f.setItalic(True)
                child.setFont(0, f)
                item.addChild(child)
                self._items[pid] = child
        order = [k for k, _ in REGIONS]
        for key in sorted(regions, key=order.index):
            tree.addTopLevelItem(regions[key])
        for key, item in regions.items():
            item.setExpanded(key in ("lumbar", "failed"))

    def set_anatomy(self, anatomy) -> None:
        """Rebuild the tree for another anatomy (a patient variant), keeping the filter."""
        self.anatomy = anatomy
        self._items.clear()
        self._syncing = True
        try:
            self._build_tree()
        finally:
            self._syncing = False
        self._on_visible_changed()
        self._apply_filter()

    def item_for(self, sid: str) -> QTreeWidgetItem | None:
        return self._items.get(sid)

    def _structure_ids_under(self, item: QTreeWidgetItem) -> list[str]:
        """Whole-structure ids at or below ``item`` (a part maps to its bone)."""
        kind = item.data(0, KIND_ROLE)
        if kind == "structure":
            return [item.data(0, ID_ROLE)]
        if kind == "part":
            return [item.parent().data(0, ID_ROLE)]
        out: list[str] = []
        for i in range(item.childCount()):
            out.extend(self._structure_ids_under(item.child(i)))
        return out

    # ------------------------------------------------------------------ filter
    def _apply_filter(self, *_):
        text = self.search.text().strip().lower()
        tissue = self.tissue.currentData()
        structures = self.anatomy.structures

        def visit(item: QTreeWidgetItem) -> bool:
            kind = item.data(0, KIND_ROLE)
            sid = item.data(0, ID_ROLE)
            child_match = False
            for i in range(item.childCount()):
                child_match |= visit(item.child(i))
            if kind in ("structure", "part", "failed"):
                s = structures.get(sid)
                whole = structures.get(s.parent) if s is not None and s.parent else s
                tissue_ok = tissue is None or (whole is not None and whole.tissue == tissue)
                text_ok = not text or text in item.text(0).lower() or text in sid.lower()
                own = tissue_ok and text_ok
                if kind == "structure" and tissue_ok and child_match:
                    own = True
                shown = own or (child_match and tissue_ok)
            else:
                shown = child_match
            item.setHidden(not shown)
            if text and shown and item.childCount():
                item.setExpanded(child_match)
            return shown

        for i in range(self.tree.topLevelItemCount()):
            visit(self.tree.topLevelItem(i))

    def visible_items(self) -> list[str]:
        """Ids of the structure and part rows not hidden by the filter (for tests)."""
        out = []
        it = QTreeWidgetItemIterator(self.tree)
        while it.value():
            item = it.value()
            if not item.isHidden() and item.data(0, KIND_ROLE) in ("structure", "part", "failed"):
                hidden_parent = False
                p = item.parent()
                while p is not None:
                    hidden_parent |= p.isHidden()
                    p = p.parent()
                if not hidden_parent:
                    out.append(item.data(0, ID_ROLE))
            it += 1
        return out

    # ------------------------------------------------------------------ visibility
    def _on_item_changed(self, item, column):
        if self._syncing:
            return
        # checking a level or region ticks its children one by one: commit once, afterwards
        self._commit_timer.start()

    def _commit_checks(self) -> None:
        checked = set()
        for sid, item in self._items.items():
            if item.data(0, KIND_ROLE) == "structure" and item.checkState(0) == Qt.Checked:
                checked.add(sid)
        if checked != set(self.state.visible):
            self.state.visible = frozenset(checked)

    def _on_visible_changed(self, *_):
        self._commit_timer.stop()
        visible = self.state.visible
        self._syncing = True
        try:
            for sid, item in self._items.items():
                if item.data(0, KIND_ROLE) == "structure":
                    want = Qt.Checked if sid in visible else Qt.Unchecked
                    if item.checkState(0) != want:
                        item.setCheckState(0, want)
            by_tissue = {}
            for sid, s in self.anatomy.structures.items():
                if s.parent is None and s.ok:
                    by_tissue.setdefault(s.tissue, set()).add(sid)
            for name, b in self.group_buttons.items():
                ids = set().union(*(by_tissue.get(t, set()) for t in GROUPS[name]))
                b.blockSignals(True)
                b.setChecked(bool(ids) and ids <= visible)
                b.blockSignals(False)
        finally:
            self._syncing = False

    def set_group_visible(self, name: str, on: bool) -> None:
        tissues = GROUPS[name]
        ids = {
            sid
            for sid, s in self.anatomy.structures.items()
            if s.parent is None and s.ok and s.tissue in tissues
        }
        st = self.state
        st.visible = (st.visible | ids) if on else (st.visible - ids)

    def set_checked(self, sid: str, on: bool) -> None:
        """Tick or untick a row as a user would (commits on the next event-loop turn)."""
        self._items[sid].setCheckState(0, Qt.Checked if on else Qt.Unchecked)

    def isolate_current(self) -> None:
        item = self.tree.currentItem()
        if item is None:
            self.window_.statusBar().showMessage("Select a structure or group to isolate.", 5000)
            return
        ids = [i for i in self._structure_ids_under(item) if i in self.anatomy.structures]
        if ids:
            self.state.visible = frozenset(ids)

    def show_all(self) -> None:
        self.state.visible = frozenset(
            sid for sid, s in self.anatomy.structures.items() if s.parent is None and s.ok
        )

    def reset(self) -> None:
        st = self.state
        st.visible = default_visible(self.anatomy)
        st.opacity = {}
        st.highlighted = frozenset()
        st.selected = None
        st.clip = None
        st.camera = Camera(view="posterior")
        self.search.clear()
        self.tissue.setCurrentIndex(0)

    # ------------------------------------------------------------------ selection
    def _on_current_changed(self, current, _previous):
        if self._syncing or current is None:
            return
        kind = current.data(0, KIND_ROLE)
        if kind in ("structure", "part", "failed"):
            self._syncing = True
            try:
                self.state.selected = current.data(0, ID_ROLE)
            finally:
                self._syncing = False
        self._sync_opacity_slider()

    def _on_selected_changed(self, selected, *_):
        if self._syncing:
            return
        item = self._items.get(selected) if selected else None
        self._syncing = True
        try:
            if item is None:
                self.tree.setCurrentItem(None)
            else:
                p = item.parent()
                while p is not None:
                    p.setExpanded(True)
                    p = p.parent()
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
        finally:
            self._syncing = False
        self._sync_opacity_slider()

    def _on_double_clicked(self, item, _column):
        sid = item.data(0, ID_ROLE)
        if item.data(0, KIND_ROLE) in ("structure", "part"):
            self.state.camera = Camera(view=self.state.camera.view or "posterior", focus=sid)

    # ------------------------------------------------------------------ opacity
    def _current_ids(self) -> list[str]:
        item = self.tree.currentItem()
        return self._structure_ids_under(item) if item is not None else []

    def _sync_opacity_slider(self) -> None:
        ids = self._current_ids()
        value = 100
        if ids:
            value = round(100 * self.window_.renderer.opacity_of(ids[0]))
        self.opacity.blockSignals(True)
        self.opacity.setValue(value)
        self.opacity.blockSignals(False)
        self.opacity_label.setText(f"{value} %")
        self.opacity.setEnabled(bool(ids))

    def _on_opacity_slider(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        ids = self._current_ids()
        if not ids:
            return
        new = dict(self.state.opacity)
        for sid in ids:
            new[sid] = value / 100.0
        self.state.opacity = new

    def _on_state_opacity_changed(self, *_):
        self._sync_opacity_slider()

    def shutdown(self) -> None:
        ev = self.state.events
        ev.visible.disconnect(self._on_visible_changed)
        ev.selected.disconnect(self._on_selected_changed)
        ev.opacity.disconnect(self._on_state_opacity_changed)
