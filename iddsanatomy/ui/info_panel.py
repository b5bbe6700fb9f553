"""The info panel: what the selected structure or part is (name, level, tissue, description)."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

HINT = "Click a structure in the 3D view, or pick one in the browser, to learn about it."

TISSUE_NAMES = {
    "bone": "Bone",
    "disc": "Intervertebral disc",
    "ligament": "Ligament",
    "neural": "Neural tissue",
    "dura": "Dura mater",
    "csf": "Cerebrospinal fluid",
    "fat": "Fat",
    "muscle": "Muscle",
    "skin": "Skin",
    "scar": "Scar tissue",
    "metal": "Implant",
    "region": "Space (target region)",
}


class InfoPanel(QWidget):
    """Shows ``window.state.selected``. Construct as ``InfoPanel(window)``."""

    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.state = window.state
        self.anatomy = window.anatomy
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.view = QTextBrowser(self)
        self.view.setOpenExternalLinks(True)
        self.view.setMinimumHeight(140)
        lay.addWidget(self.view)
        self.state.events.selected.connect(self._on_selected_changed)
        self._on_selected_changed(self.state.selected)

    def _on_selected_changed(self, selected, *_):
        self.view.setHtml(self.html_for(selected))

    def html_for(self, sid: str | None) -> str:
        if not sid:
            return f"<p style='color:#9aa7b4'>{html.escape(HINT)}</p>"
        s = self.anatomy.structures.get(sid)
        if s is None:
            return f"<p>Unknown structure <code>{html.escape(sid)}</code>.</p>"
        parent = self.anatomy.structures.get(s.parent) if s.parent else None
        rows = []
        if parent is not None:
            rows.append(("Part of", parent.display_name))
        if s.level:
            rows.append(("Level", s.level.replace("-", "–")))
        rows.append(("Tissue", TISSUE_NAMES.get(s.tissue, s.tissue)))
        rows.append(("Id", s.id))
        table = "".join(
            f"<tr><td style='color:#9aa7b4;padding-right:10px'>{html.escape(k)}</td>"
            f"<td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        desc = s.description or (parent.description if parent is not None else "")
        error = (
            f"<p style='color:#ff7b72'><b>Failed to load:</b> {html.escape(s.error)}</p>"
            if s.error
            else ""
        )
        return (
            f"<h3 style='margin-bottom:4px'>{html.escape(s.display_name)}</h3>"
            f"<table>{table}</table>{error}"
            f"<p>{html.escape(desc)}</p>"
        )

    def text(self) -> str:
        """The panel's plain text (for tests and accessibility)."""
        return self.view.toPlainText()

    def shutdown(self) -> None:
        self.state.events.selected.disconnect(self._on_selected_changed)
