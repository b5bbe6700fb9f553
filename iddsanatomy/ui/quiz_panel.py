"""The Quiz panel: answer questions from a bank (practice or exam), see history and what to review.

:class:`QuestionWidget` shows one question of any type and turns the trainee's input into a
response; the lesson panel reuses it for a step's question. Grading is the core's
(:mod:`iddsanatomy.quiz.grading`); every answer is committed to the progress store as it is given.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.errors import IddsError
from iddsanatomy.quiz import grading
from iddsanatomy.quiz import models as qm

log = logging.getLogger(__name__)

FLUORO_PIXELS = 384


def markdown_html(text: str) -> str:
    """Markdown to HTML for Qt's rich text (tables and lists included)."""
    import markdown

    return markdown.markdown(text or "", extensions=["extra", "sane_lists"])


def trainee_name(window) -> str:
    settings = getattr(window, "settings", None)
    name = settings.value("trainee/name", "") if settings is not None else ""
    if not name:
        import getpass

        try:
            name = getpass.getuser()
        except Exception:
            name = "trainee"
    return str(name)


def _same_patient(a, b) -> bool:
    """``None`` is the default patient."""
    try:
        from iddsanatomy.anatomy.variant import PatientVariant
    except ImportError:
        return a == b
    return (a or PatientVariant()) == (b or PatientVariant())


def sync_patient(window) -> bool:
    """Ask the Patient panel to build the patient ``window.state.variant`` names when the anatomy
    on screen is another one (a lesson step or a question set the variant). ``True`` if a build
    was started."""
    wanted = window.state.variant
    shown = getattr(getattr(window, "anatomy", None), "variant", None)
    if _same_patient(wanted, shown):
        return False
    panel = getattr(window, "panels", {}).get("Patient")
    apply = getattr(panel, "apply_variant", None)
    if apply is None:
        return False
    try:
        from iddsanatomy.anatomy.variant import PatientVariant

        apply(wanted if wanted is not None else PatientVariant())
    except Exception as exc:  # the lesson goes on with the anatomy it has
        log.warning("could not build the patient: %s", exc)
        return False
    return True


def variant_anatomy(window, variant, cache: dict):
    """The anatomy of ``variant`` (built now, cached), or the window's when it already is it."""
    if variant is None or _same_patient(variant, getattr(window.anatomy, "variant", None)):
        return window.anatomy
    key = variant.model_dump_json() if hasattr(variant, "model_dump_json") else repr(variant)
    if key not in cache:
        from iddsanatomy.anatomy.variation import VariantBuilder

        base = getattr(window, "base_anatomy", None) or window.anatomy
        cache.setdefault("_builder", VariantBuilder(base))
        cache[key] = cache["_builder"].build(variant)
    return cache[key]


class ClickableImage(QLabel):
    """A picture that reports clicks in image pixel coordinates (column, row)."""

    clicked = Signal(float, float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(256, 256)
        self._size = (0, 0)
        self.marker: tuple[float, float] | None = None
        #: (n, 3, 2) image pixels drawn in translucent green (the right answer, after grading)
        self.answer_triangles: np.ndarray | None = None
        self._pixmap: QPixmap | None = None

    def set_picture(self, picture: np.ndarray) -> None:
        """``picture``: (N, N) uint8 grey or (N, N, 3) uint8 RGB."""
        pic = np.ascontiguousarray(picture)
        if pic.ndim == 2:
            pic = np.repeat(pic[:, :, None], 3, axis=2)
        h, w = pic.shape[:2]
        self._size = (w, h)
        img = QImage(pic.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        self._pixmap = QPixmap.fromImage(img)
        self._redraw()

    def _redraw(self) -> None:
        if self._pixmap is None:
            return
        pm = self._pixmap.scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
        if self.marker is not None or self.answer_triangles is not None:
            from PySide6.QtCore import QPointF
            from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

            p = QPainter(pm)
            p.setRenderHint(QPainter.Antialiasing)
            s = pm.width() / max(1, self._size[0])
            if self.answer_triangles is not None and len(self.answer_triangles):
                p.setPen(Qt.NoPen)
                p.setBrush(QColor(40, 200, 90, 110))
                for tri in (self.answer_triangles + 0.5) * s:
                    if np.all(np.isfinite(tri)):
                        p.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in tri]))
            if self.marker is not None:
                p.setPen(QPen(QColor(255, 60, 60), 2))
                x, y = (self.marker[0] + 0.5) * s, (self.marker[1] + 0.5) * s
                p.drawLine(int(x - 8), int(y), int(x + 8), int(y))
                p.drawLine(int(x), int(y - 8), int(x), int(y + 8))
            p.end()
        self.setPixmap(pm)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._redraw()

    def image_pixel(self, pos: QPoint) -> tuple[float, float] | None:
        """Widget position → image (column, row), pixel centres at integers; None off the image."""
        pm = self.pixmap()
        if pm is None or pm.isNull() or not self._size[0]:
            return None
        ox = (self.width() - pm.width()) / 2
        oy = (self.height() - pm.height()) / 2
        s = pm.width() / self._size[0]
        col = (pos.x() - ox) / s - 0.5
        row = (pos.y() - oy) / s - 0.5
        if not (-0.5 <= col <= self._size[0] - 0.5 and -0.5 <= row <= self._size[1] - 0.5):
            return None
        return col, row

    def widget_point(self, col: float, row: float) -> QPoint:
        """Image (column, row) → widget position (the inverse of :meth:`image_pixel`)."""
        pm = self.pixmap()
        s = pm.width() / self._size[0]
        ox = (self.width() - pm.width()) / 2
        oy = (self.height() - pm.height()) / 2
        return QPoint(round(ox + (col + 0.5) * s), round(oy + (row + 0.5) * s))

    def mousePressEvent(self, event):
        px = self.image_pixel(event.position().toPoint())
        if px is not None:
            self.marker = px
            self._redraw()
            self.clicked.emit(*px)


class QuestionWidget(QWidget):
    """One question of any type: prompt, the input that type needs, Submit, feedback.

    ``submitted(response)`` is emitted with the response; the owner grades it (through a
    :class:`~iddsanatomy.quiz.session.QuizSession` or :func:`grading.grade`) and calls
    :meth:`show_grade`.
    """

    submitted = Signal(object)

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window = window
        self.question: Any = None
        self.seed: Any = 0
        self.target_px: np.ndarray | None = None
        self.fluoro_pose = None
        self._anatomies: dict = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.prompt = QLabel()
        self.prompt.setWordWrap(True)
        self.prompt.setTextFormat(Qt.RichText)
        self.prompt.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self._layout.addWidget(self.prompt)
        self.body = QWidget()
        self._body_layout = QVBoxLayout(self.body)
        self._body_layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.body)
        self.submit_button = QPushButton("Submit answer")
        self.submit_button.clicked.connect(self.submit)
        self._layout.addWidget(self.submit_button)
        self.path_button = QPushButton("Show a correct path")
        self.path_button.setToolTip("Place a needle that meets the goal, to compare with yours")
        self.path_button.clicked.connect(self.show_correct_path)
        self.path_button.hide()
        self._layout.addWidget(self.path_button)
        self.feedback = QTextBrowser()
        self.feedback.setOpenExternalLinks(True)
        self.feedback.setMinimumHeight(120)
        self.feedback.hide()
        self._layout.addWidget(self.feedback, 1)
        self._layout.addStretch(0)
        self._buttons: dict[str, QRadioButton | QCheckBox] = {}
        self._group: QButtonGroup | None = None
        self.level_box: QComboBox | None = None
        self.number: QLineEdit | None = None
        self.pick_label: QLabel | None = None
        self.image: ClickableImage | None = None
        self.click_px: tuple[float, float] | None = None
        self._state = getattr(window, "state", None)
        if self._state is not None:
            self._state.events.selected.connect(self._on_selected_changed)

    def shutdown(self) -> None:
        """Stop listening to the scene (the window is closing)."""
        if self._state is not None:
            self._state.events.selected.disconnect(self._on_selected_changed)
            self._state = None

    # --- building --------------------------------------------------------------------------

    def _clear_body(self) -> None:
        while self._body_layout.count():
            item = self._body_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._buttons.clear()
        self._group = None
        self.level_box = self.number = self.pick_label = self.image = None
        self.click_px = None
        self.target_px = None
        self.fluoro_pose = None

    def set_question(self, question, seed: Any = 0) -> None:
        self.question, self.seed = question, seed
        self._clear_body()
        self.feedback.hide()
        self.feedback.clear()
        self.path_button.hide()
        self.submit_button.setEnabled(True)
        self.prompt.setText(markdown_html(question.prompt))
        add = self._body_layout.addWidget
        if isinstance(question, qm.SingleChoice | qm.MultipleChoice):
            single = isinstance(question, qm.SingleChoice)
            self._group = QButtonGroup(self)
            self._group.setExclusive(single)
            for oid in grading.option_order(question, seed):
                o = question.option(oid)
                b = QRadioButton(o.text) if single else QCheckBox(o.text)
                b.setObjectName(f"option_{oid}")
                self._group.addButton(b)
                self._buttons[oid] = b
                add(b)
        elif isinstance(question, qm.Identify):
            self.pick_label = QLabel("Click the structure in the 3D view, then submit.")
            self.pick_label.setWordWrap(True)
            add(self.pick_label)
        elif isinstance(question, qm.ChooseLevel):
            self.level_box = QComboBox()
            self.level_box.addItems(list(question.options))
            add(QLabel("Your interspace:"))
            add(self.level_box)
        elif isinstance(question, qm.Numeric):
            row = QWidget()
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 0, 0, 0)
            self.number = QLineEdit()
            self.number.setPlaceholderText("a number")
            self.number.returnPressed.connect(self.submit)
            h.addWidget(self.number)
            h.addWidget(QLabel(question.unit))
            add(row)
        elif isinstance(question, qm.FindOnFluoro):
            self.image = ClickableImage()
            self.image.clicked.connect(self._on_image_clicked)
            add(self.image)
            self._render_fluoro(question)
        elif isinstance(question, qm.PlaceNeedle):
            note = QLabel(
                "Place the needle with the Needle panel, then submit. Goal: "
                f"{question.goal.space} at {' or '.join(question.goal.levels)}."
            )
            note.setWordWrap(True)
            add(note)

    def _render_fluoro(self, question: qm.FindOnFluoro) -> None:
        anatomy = getattr(self.window, "anatomy", None)
        try:
            from iddsanatomy.fluoro import display, drr

            if question.variant is not None:
                anatomy = variant_anatomy(self.window, question.variant.build(), self._anatomies)

            pose = question.carm.build(anatomy)
            pose = pose.with_(pixels=FLUORO_PIXELS)
            sigma = drr.line_integral(anatomy, pose)
            self.image.set_picture(display.window(sigma))
            self.fluoro_pose = pose
            self.target_px = grading.project_target(anatomy, question, pose)
        except Exception as exc:  # the question says why; the app keeps running
            log.warning("fluoroscopy question could not render: %s", exc)
            self.image.setText(f"The fluoroscopy image could not be made: {exc}")
            self.submit_button.setEnabled(False)

    # --- input -----------------------------------------------------------------------------

    def _on_selected_changed(self, value, *_):
        if self.pick_label is not None:
            self.pick_label.setText(f"Picked: <b>{value or 'nothing'}</b>. Submit when ready.")

    def _on_image_clicked(self, col: float, row: float) -> None:
        self.click_px = (col, row)

    def response(self) -> Any:
        """The trainee's current input as a response for :func:`grading.grade`."""
        q = self.question
        if isinstance(q, qm.SingleChoice):
            return next((oid for oid, b in self._buttons.items() if b.isChecked()), None)
        if isinstance(q, qm.MultipleChoice):
            return [oid for oid, b in self._buttons.items() if b.isChecked()]
        if isinstance(q, qm.Identify):
            return self.window.state.selected
        if isinstance(q, qm.ChooseLevel):
            return self.level_box.currentText()
        if isinstance(q, qm.Numeric):
            return self.number.text()
        if isinstance(q, qm.FindOnFluoro):
            return self.click_px
        if isinstance(q, qm.PlaceNeedle):
            return self._needle_outcome()
        return None

    def _needle_outcome(self):
        state = self.window.state
        if state.needle is None:
            raise IddsError("place a needle first (Needle panel)")
        from iddsanatomy.needle.analysis import analyse

        analysis = analyse(self.window.anatomy, state.needle)
        # the Needle panel's session knows the whole attempt: redirections and bone contacts
        panel = getattr(self.window, "panels", {}).get("Needle")
        session = getattr(panel, "session", None)
        redirections, touched_bone = 0, False
        if session is not None:
            try:
                m = session.metrics()
                redirections, touched_bone = int(m.redirections), m.bone_contacts > 0
            except Exception as exc:
                log.warning("needle metrics unavailable: %s", exc)
        outcome = grading.outcome_from_analysis(analysis, redirections)
        if touched_bone and not outcome.bone_contact:
            from dataclasses import replace

            outcome = replace(outcome, bone_contact=True)
        return outcome

    def context(self) -> dict[str, Any]:
        ctx: dict[str, Any] = {}
        if self.target_px is not None:
            ctx["target_px"] = self.target_px
        anatomy = getattr(self.window, "anatomy", None)
        if anatomy is not None:
            from iddsanatomy.lessons.names import catalog_from_anatomy

            ctx["catalog"] = catalog_from_anatomy(anatomy)
            ctx["names"] = {k: s.display_name for k, s in anatomy.structures.items()}
        return ctx

    def submit(self) -> None:
        if self.question is None:
            return
        try:
            response = self.response()
        except IddsError as exc:
            self.show_message(str(exc))
            return
        if response is None and isinstance(self.question, qm.SingleChoice):
            self.show_message("Choose an option first.")
            return
        self.submitted.emit(response)

    # --- output ----------------------------------------------------------------------------

    def show_message(self, text: str) -> None:
        self.feedback.setHtml(markdown_html(text))
        self.feedback.show()

    def show_grade(self, g: grading.Grade | None, reveal: bool = True) -> None:
        """Feedback (practice) or "recorded" (exam); reveal the answer in the scene."""
        self.submit_button.setEnabled(False)
        for b in self._buttons.values():
            b.setEnabled(False)
        if g is None:
            self.show_message("Answer recorded. Feedback comes at the end of the exam.")
            return
        self.show_message(g.feedback)
        if reveal:
            self.reveal(g)

    def show_correct_path(self) -> bool:
        """Replace the needle by one that meets the goal (after grading; the answer is stored)."""
        anatomy = getattr(self.window, "anatomy", None)
        if anatomy is None or not isinstance(self.question, qm.PlaceNeedle):
            return False
        try:
            pose = grading.example_needle_pose(anatomy, self.question.goal)
        except Exception as exc:
            log.warning("no example path: %s", exc)
            pose = None
        if pose is None:
            self.show_message(self.feedback.toMarkdown() + "\n\nNo example path was found here.")
            return False
        self.window.state.needle_mode = "fixed"
        self.window.state.needle = pose
        return True

    def reveal(self, g: grading.Grade) -> None:
        """Show the right answer in the 3D view (highlight) and on the picture (marker)."""
        ids = g.reveal.get("highlight") or []
        anatomy = getattr(self.window, "anatomy", None)
        if ids and anatomy is not None:
            from iddsanatomy.lessons.names import catalog_from_anatomy

            try:
                expanded = catalog_from_anatomy(anatomy).expand(ids)
            except IddsError:
                expanded = []
            if expanded:
                st = self.window.state
                st.visible = st.visible | frozenset(e for e in expanded if e in anatomy.structures)
                st.highlighted = frozenset(expanded)
        if isinstance(self.question, qm.PlaceNeedle):
            self.path_button.show()
        if self.image is not None and self.target_px is not None:
            self.image.answer_triangles = self.target_px  # the trainee's click stays marked
            self.image._redraw()


class QuizPanel(QWidget):
    """Quiz dock: choose a bank, draw N questions, practice or exam, and the history."""

    TITLE = "Quiz"

    def __init__(self, window, folder=None, store=None, parent=None):
        super().__init__(parent)
        self.window = window
        self.session = None
        self._owns_store = store is None
        if store is None:
            from iddsanatomy.quiz.store import ProgressStore

            store = ProgressStore()
        self.store = store
        self._build()
        self.reload_banks(folder)
        if store.notice:
            self.banner.setText(store.notice)
            self.banner.show()
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._tick)

    def _build(self) -> None:
        v = QVBoxLayout(self)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("color: #a33;")
        self.banner.hide()
        v.addWidget(self.banner)
        self.tabs = QTabWidget()
        v.addWidget(self.tabs)

        # the quiz page: set-up, question, result
        self.pages = QStackedWidget()
        setup = QWidget()
        form = QFormLayout(setup)
        self.trainee = QLineEdit(trainee_name(self.window))
        self.trainee.editingFinished.connect(self._remember_trainee)
        self.bank_box = QComboBox()
        self.count = QSpinBox()
        self.count.setRange(1, 1)
        self.mode = QComboBox()
        self.mode.addItems(["practice", "exam"])
        self.limit = QSpinBox()
        self.limit.setRange(0, 180)
        self.limit.setSuffix(" min")
        self.limit.setSpecialValueText("no limit")
        self.start_button = QPushButton("Start quiz")
        self.start_button.clicked.connect(self.start)
        form.addRow("Trainee", self.trainee)
        form.addRow("Question bank", self.bank_box)
        form.addRow("Questions", self.count)
        form.addRow("Mode", self.mode)
        form.addRow("Time limit (exam)", self.limit)
        form.addRow(self.start_button)
        self.bank_box.currentIndexChanged.connect(self._on_bank_changed)
        self.pages.addWidget(setup)

        ask = QWidget()
        av = QVBoxLayout(ask)
        self.progress = QLabel()
        self.clock = QLabel()
        top = QHBoxLayout()
        top.addWidget(self.progress)
        top.addStretch(1)
        top.addWidget(self.clock)
        av.addLayout(top)
        self.question = QuestionWidget(self.window)
        self.question.submitted.connect(self._on_submitted)
        av.addWidget(self.question)
        av.addStretch(1)
        nav = QHBoxLayout()
        self.skip_button = QPushButton("Skip")
        self.skip_button.clicked.connect(self.skip)
        self.next_button = QPushButton("Next question")
        self.next_button.clicked.connect(self.next_question)
        self.finish_button = QPushButton("Finish")
        self.finish_button.clicked.connect(self.finish)
        for b in (self.skip_button, self.next_button, self.finish_button):
            nav.addWidget(b)
        av.addLayout(nav)
        self.pages.addWidget(ask)

        done = QWidget()
        dv = QVBoxLayout(done)
        self.result = QTextBrowser()
        dv.addWidget(self.result)
        again = QPushButton("New quiz")
        again.clicked.connect(lambda: self.pages.setCurrentIndex(0))
        dv.addWidget(again)
        self.pages.addWidget(done)
        self.tabs.addTab(self.pages, "Quiz")

        hist = QWidget()
        hv = QVBoxLayout(hist)
        self.history = QTableWidget(0, 4)
        self.history.setHorizontalHeaderLabels(["started", "source", "mode", "score"])
        self.history.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.history.horizontalHeader().setStretchLastSection(True)
        hv.addWidget(QLabel("Scores over time"))
        hv.addWidget(self.history, 2)
        hv.addWidget(QLabel("To review (last answer wrong)"))
        self.review = QListWidget()
        hv.addWidget(self.review, 1)
        self.tabs.addTab(hist, "History")
        self.tabs.currentChanged.connect(lambda i: i == 1 and self.refresh_history())

    # --- banks ------------------------------------------------------------------------------

    def reload_banks(self, folder=None) -> None:
        from iddsanatomy.lessons.loader import discover
        from iddsanatomy.lessons.names import catalog_from_anatomy, default_catalog

        anatomy = getattr(self.window, "base_anatomy", None) or getattr(
            self.window, "anatomy", None
        )
        if anatomy is not None and anatomy.structures:
            catalog = catalog_from_anatomy(anatomy)
        else:
            catalog = default_catalog()
        self.library = discover(folder, catalog)
        self.banks = [e.item for e in self.library.banks]
        self.bank_box.clear()
        for b in self.banks:
            self.bank_box.addItem(f"{b.title} ({len(b.questions)})", b.id)
        broken = [e for e in self.library.broken if e.kind == "bank"]
        if broken:
            self.banner.setText(
                "Some question banks have problems and are not offered: "
                + "; ".join(f"{e.path.name}: {e.problems[0].message}" for e in broken)
            )
            self.banner.show()
        self.start_button.setEnabled(bool(self.banks))

    def _on_bank_changed(self, index: int) -> None:
        if 0 <= index < len(self.banks):
            n = len(self.banks[index].questions)
            self.count.setRange(1, n)
            self.count.setValue(n)

    def _remember_trainee(self) -> None:
        settings = getattr(self.window, "settings", None)
        if settings is not None:
            settings.setValue("trainee/name", self.trainee.text().strip())

    # --- running ----------------------------------------------------------------------------

    def start(self, seed: Any = None) -> None:
        from iddsanatomy.quiz.session import from_bank

        index = self.bank_box.currentIndex()
        if index < 0:
            return
        bank = self.banks[index]
        seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 10**9)
        limit = self.limit.value() * 60 if self.mode.currentText() == "exam" else 0
        self._remember_trainee()
        self.session = from_bank(
            bank,
            self.count.value(),
            seed=seed,
            mode=self.mode.currentText(),
            time_limit_s=limit or None,
            store=self.store,
            trainee=self.trainee.text().strip() or "trainee",
        )
        self.pages.setCurrentIndex(1)
        if limit:
            self._timer.start()
        self._show_current()

    def _show_current(self) -> None:
        s = self.session
        q = s.current
        if q is None:
            self.finish()
            return
        self.progress.setText(f"Question {s.index + 1} of {len(s.items)}")
        if q.scene is not None:
            self._apply_scene(q.scene)
        variant = getattr(q, "variant", None)
        if variant is not None:
            self.window.state.variant = variant.build()
        sync_patient(self.window)
        self.question.set_question(q, s.seed)
        self.next_button.setEnabled(False)
        self.skip_button.setEnabled(True)
        self._tick()

    def _apply_scene(self, spec) -> None:
        from iddsanatomy.lessons.names import catalog_from_anatomy
        from iddsanatomy.lessons.runner import RefResolver, apply_spec

        anatomy = getattr(self.window, "anatomy", None)
        st = self.window.state
        refs = RefResolver(catalog_from_anatomy(anatomy) if anatomy is not None else None, {})
        from iddsanatomy.lessons.runner import CONTROLLED

        prev = {name: getattr(st, name) for name in CONTROLLED}
        try:
            new = apply_spec(prev, spec, refs, anatomy)
        except IddsError as exc:
            self.banner.setText(f"This question's scene could not be shown: {exc}")
            self.banner.show()
            return
        for name, value in new.items():
            if value != prev[name]:
                setattr(st, name, value)

    def _on_submitted(self, response) -> None:
        s = self.session
        if s is None or s.current is None:
            return
        try:
            g = s.answer(response, **self.question.context())
        except IddsError as exc:
            self.question.show_message(str(exc))
            return
        self.question.show_grade(g, reveal=s.mode == "practice")
        self.skip_button.setEnabled(False)
        self.next_button.setEnabled(True)
        if s.current is None:
            self.next_button.setText("See results")
        else:
            self.next_button.setText("Next question")

    def answer(self, response) -> None:
        """Answer the current question programmatically (scripts and tests)."""
        self._on_submitted(response)

    def next_question(self) -> None:
        if self.session is not None:
            self._show_current()

    def skip(self) -> None:
        if self.session is not None:
            self.session.skip()
            self._show_current()

    def finish(self) -> None:
        s = self.session
        if s is None:
            return
        self._timer.stop()
        res = s.finish()
        parts = [f"## Score: {res.score:g} / {res.max_score:g} ({res.fraction:.0%})"]
        for g in res.grades:
            parts.append(f"### {'✓' if g.correct else '✗'} {g.question_id}\n\n{g.feedback}")
        if res.unanswered:
            parts.append("Not answered: " + ", ".join(res.unanswered))
        self.result.setHtml(markdown_html("\n\n".join(parts)))
        self.pages.setCurrentIndex(2)
        self.refresh_history()

    def _tick(self) -> None:
        s = self.session
        if s is None or s.time_left_s is None:
            self.clock.setText("")
            return
        left = s.time_left_s
        self.clock.setText(f"{int(left // 60)}:{int(left % 60):02d} left")
        if s.expired and not s.finished:
            self.finish()

    def refresh_history(self) -> None:
        name = self.trainee.text().strip() or "trainee"
        rows = self.store.attempt_rows(name)
        self.history.setRowCount(len(rows))
        for i, r in enumerate(rows):
            score = f"{r['score']:g} / {r['max_score']:g}" if r["max_score"] else "—"
            for j, text in enumerate(
                (r["started_at"][:16].replace("T", " "), r["source_id"], r["mode"], score)
            ):
                self.history.setItem(i, j, QTableWidgetItem(text))
        self.review.clear()
        for item in self.store.items_to_review(name):
            self.review.addItem(f"{item['source_id']} / {item['question_id']}")

    def shutdown(self) -> None:
        """Called by the window when it closes: stop timers, let go of the state and the store."""
        self._timer.stop()
        self.question.shutdown()
        if self._owns_store:
            self.store.close()


__all__ = ["ClickableImage", "QuestionWidget", "QuizPanel", "markdown_html"]
