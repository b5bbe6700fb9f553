"""The Lessons panel: the library, the lesson view, and the author mode.

* Library: every lesson with title, summary, objectives, minutes and the trainee's progress;
  broken lessons are listed too, greyed, with their problems.
* Lesson view: rendered Markdown, the step list, Back/Next (buttons, ←/→, PgUp/PgDn), a progress
  bar, and the step's question. Each step is applied by the core
  :class:`~iddsanatomy.lessons.runner.LessonRunner` (assignments to ``window.state``; the
  renderer animates the camera).
* Author mode: "Copy scene as YAML" and live reload of the open file, keeping the step.

A step's planned needle is placed off the GUI thread (the path search, and on a new patient its
needle analyser, take up to ≈1.5 s): the step shows at once with "Placing the needle…", and the
needle appears when the worker is done, unless the trainee has moved on (a stale result is kept
for when that step is shown again, never shown on another step).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QFileSystemWatcher, QObject, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from iddsanatomy.errors import IddsError
from iddsanatomy.lessons import loader
from iddsanatomy.ui.quiz_panel import QuestionWidget, markdown_html, sync_patient, trainee_name

log = logging.getLogger(__name__)

RELOAD_DEBOUNCE_MS = 150
PLACING_TEXT = "Placing the needle…"


class _PlaceSignals(QObject):
    done = Signal(object, object, object)  # plan, anatomy, result of place_plan (None: skipped)


class _PlaceJob(QRunnable):
    """Places one planned needle on a worker thread (``runner.place_plan``)."""

    def __init__(self, plan, anatomy, signals, wanted):
        super().__init__()
        self.plan, self.anatomy, self.signals, self.wanted = plan, anatomy, signals, wanted

    def run(self):
        from iddsanatomy.lessons.runner import place_plan
        from iddsanatomy.lessons.scene_spec import NeedlePlanError

        key = (self.plan, id(self.anatomy))
        if self.wanted[0] != key:  # the trainee moved on before this job started
            self.signals.done.emit(self.plan, self.anatomy, None)
            return
        try:
            result = place_plan(self.plan, self.anatomy)
        except Exception as exc:  # shown as the step's notice; the lesson goes on
            log.exception("placing a planned needle failed")
            result = (
                (None, None),
                NeedlePlanError(f"the planned {self.plan.describe()} failed: {exc}"),
            )
        self.signals.done.emit(self.plan, self.anatomy, result)


def _problem_label() -> QLabel:
    """A hidden, selectable, red, wrapping line for a problem the trainee must see."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setStyleSheet("color: #a33;")
    label.hide()
    return label


class LessonPanel(QWidget):
    """Lessons dock. ``LessonPanel(window)`` finds the shipped lessons; tests pass ``folder``
    and ``store``."""

    TITLE = "Lessons"
    #: emitted after every step change: (lesson id, step index)
    step_shown = Signal(str, int)
    #: emitted after a live reload: (ok, message)
    reloaded = Signal(bool, str)

    def __init__(self, window, folder=None, store=None, parent=None):
        super().__init__(parent)
        self.window = window
        self.folder = Path(folder) if folder is not None else None
        self._owns_store = store is None
        if store is None:
            from iddsanatomy.quiz.store import ProgressStore

            store = ProgressStore()
        self.store = store
        self.runner = None
        self.entry: loader.Entry | None = None
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._on_file_changed)
        self._watcher.directoryChanged.connect(self._on_file_changed)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DEBOUNCE_MS)
        self._reload_timer.timeout.connect(self.reload)
        # planned needles are placed on one worker thread, newest request wanted
        self.place_pool = QThreadPool(self)
        self.place_pool.setMaxThreadCount(1)
        self._place_signals = _PlaceSignals()
        self._place_signals.done.connect(self._on_placed)
        self._placing: set = set()  # (plan, id(anatomy)) queued or running
        self._wanted: list = [None]  # the key the step shown waits for (read by the jobs)
        self._build()
        self.refresh_library()
        changed = getattr(window, "anatomy_changed", None)
        if changed is not None:
            changed.connect(self._on_anatomy_changed)

    def _on_anatomy_changed(self, anatomy) -> None:
        if self.runner is not None:
            self.runner.set_anatomy(anatomy)  # asks for the step's plan on the new patient
            self._update_placing()

    def shutdown(self) -> None:
        """Called by the window when it closes: stop watching files, let go of the state."""
        self._reload_timer.stop()
        self._wanted[0] = None
        self.place_pool.clear()  # queued placements are not started
        self.place_pool.waitForDone(30000)  # the running one finishes (≤ ≈1.5 s)
        for paths in (self._watcher.files(), self._watcher.directories()):
            if paths:
                self._watcher.removePaths(paths)
        self.question.shutdown()
        self.runner = None
        if self._owns_store:
            self.store.close()

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.setMinimumWidth(320)
        v = QVBoxLayout(self)
        v.setContentsMargins(4, 4, 4, 4)
        self.pages = QStackedWidget()
        v.addWidget(self.pages)

        lib = QWidget()
        lv = QVBoxLayout(lib)
        lv.setContentsMargins(0, 0, 0, 0)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #a33;")
        self.notice.setVisible(bool(self.store.notice))
        self.notice.setText(self.store.notice or "")
        lv.addWidget(self.notice)
        self.library_list = QListWidget()
        self.library_list.setWordWrap(True)
        self.library_list.currentRowChanged.connect(self._on_library_row)
        self.library_list.itemActivated.connect(lambda *_: self.open_selected())
        self.details = QTextBrowser()
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.library_list)
        split.addWidget(self.details)
        lv.addWidget(split, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open lesson")
        self.open_button.clicked.connect(self.open_selected)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_library)
        row.addWidget(self.open_button)
        row.addWidget(self.refresh_button)
        lv.addLayout(row)
        self.pages.addWidget(lib)

        view = QWidget()
        vv = QVBoxLayout(view)
        vv.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.library_button = QPushButton("◀ Library")
        self.library_button.clicked.connect(self.show_library)
        self.lesson_title = QLabel()
        self.lesson_title.setWordWrap(True)
        self.lesson_title.setStyleSheet("font-weight: bold;")
        head.addWidget(self.library_button)
        head.addWidget(self.lesson_title, 1)
        vv.addLayout(head)
        self.progress = QProgressBar()
        self.progress.setFormat("step %v of %m")
        vv.addWidget(self.progress)
        self.banner = _problem_label()
        vv.addWidget(self.banner)
        #: why this step's planned needle is not shown (no clear path on this patient)
        self.needle_notice = _problem_label()
        vv.addWidget(self.needle_notice)
        #: shown while the step's planned needle is placed on the worker thread
        self.placing = QWidget()
        pr = QHBoxLayout(self.placing)
        pr.setContentsMargins(0, 0, 0, 0)
        self.placing_label = QLabel(PLACING_TEXT)
        self.placing_bar = QProgressBar()
        self.placing_bar.setRange(0, 0)  # indeterminate
        self.placing_bar.setMaximumHeight(8)
        self.placing_bar.setTextVisible(False)
        pr.addWidget(self.placing_label)
        pr.addWidget(self.placing_bar, 1)
        self.placing.hide()
        vv.addWidget(self.placing)
        split = QSplitter(Qt.Vertical)
        self.step_list = QListWidget()
        self.step_list.currentRowChanged.connect(self._on_step_row)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.question = QuestionWidget(self.window)
        self.question.submitted.connect(self._on_answer)
        split.addWidget(self.step_list)
        split.addWidget(self.text)
        split.addWidget(self.question)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        split.setSizes([110, 380, 260])
        self.split = split
        vv.addWidget(split, 1)
        nav = QHBoxLayout()
        self.back_button = QPushButton("◀ Back")
        self.back_button.clicked.connect(self.back)
        self.next_button = QPushButton("Next ▶")
        self.next_button.clicked.connect(self.next)
        nav.addWidget(self.back_button)
        nav.addWidget(self.next_button)
        vv.addLayout(nav)
        author = QHBoxLayout()
        self.author_mode = QCheckBox("Author mode")
        self.author_mode.setToolTip("Reload the lesson when its file changes; copy scenes as YAML")
        self.author_mode.toggled.connect(self.set_author_mode)
        self.copy_button = QPushButton("Copy scene as YAML")
        self.copy_button.clicked.connect(self.copy_scene)
        self.copy_button.setVisible(False)
        author.addWidget(self.author_mode)
        author.addWidget(self.copy_button)
        author.addStretch(1)
        vv.addLayout(author)
        self.pages.addWidget(view)

        for keys, slot in (
            ((Qt.Key_Right, Qt.Key_PageDown), self.next),
            ((Qt.Key_Left, Qt.Key_PageUp), self.back),
        ):
            for key in keys:
                sc = QShortcut(QKeySequence(key), view)
                sc.setContext(Qt.WidgetWithChildrenShortcut)
                sc.activated.connect(slot)

    # --- library ------------------------------------------------------------------------------

    @property
    def trainee(self) -> str:
        return trainee_name(self.window)

    def _catalog(self):
        """Names are checked against the default patient's anatomy (a variant may lack some
        structures: an operated lamina), or the shipped manifest when no anatomy is loaded."""
        from iddsanatomy.lessons.names import catalog_from_anatomy, default_catalog

        anatomy = getattr(self.window, "base_anatomy", None) or getattr(
            self.window, "anatomy", None
        )
        if anatomy is not None and anatomy.structures:
            return catalog_from_anatomy(anatomy)
        return default_catalog()

    def refresh_library(self) -> None:
        """Find every lesson again (broken ones included) and show them with progress."""
        self.library = loader.discover(self.folder, self._catalog())
        self.entries = [e for e in self.library.entries if e.kind == "lesson"]
        progress = self.store.lesson_progress(self.trainee)
        self.library_list.clear()
        for e in self.entries:
            if e.ok:
                p = progress.get(e.item.id)
                done = f" — {p['fraction']:.0%} done" if p else ""
                text = f"{e.item.title}\n{e.item.summary.strip()}\n{e.item.minutes} min{done}"
            else:
                n = len(e.problems)
                text = f"⚠ {e.path.name}\n{n} problem{'s' if n != 1 else ''}: cannot be opened"
            item = QListWidgetItem(text)
            if not e.ok:
                item.setForeground(QBrush(QColor(150, 60, 60)))
                item.setToolTip("\n".join(p.format() for p in e.problems[:20]))
            self.library_list.addItem(item)
        if self.entries:
            self.library_list.setCurrentRow(0)
        else:
            self.details.setHtml("<p>No lessons found.</p>")

    def _on_library_row(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        if not e.ok:
            problems = "".join(f"<li><code>{_esc(p.format())}</code></li>" for p in e.problems)
            self.details.setHtml(
                f"<h3>{_esc(e.path.name)}</h3><p>This lesson has problems and cannot be opened. "
                f"Fix them and press Refresh (or run <code>iddsanatomy lessons check</code>):"
                f"</p><ul>{problems}</ul>"
            )
            self.open_button.setEnabled(False)
            return
        lesson = e.item
        p = self.store.lesson_progress(self.trainee).get(lesson.id)
        objectives = "".join(f"<li>{_esc(o)}</li>" for o in lesson.objectives)
        prog = f"{p['visited']} of {p['n_steps']} steps seen" if p else "not started"
        self.details.setHtml(
            f"<h3>{_esc(lesson.title)}</h3><p>{_esc(lesson.summary)}</p>"
            f"<p><b>You will be able to:</b></p><ul>{objectives}</ul>"
            f"<p>{lesson.minutes} min · {len(lesson.steps)} steps · {prog}</p>"
            + (f"<p><i>{_esc(lesson.audience)}</i></p>" if lesson.audience else "")
        )
        self.open_button.setEnabled(True)

    def show_library(self) -> None:
        self.refresh_library()
        self.pages.setCurrentIndex(0)

    def open_selected(self) -> None:
        row = self.library_list.currentRow()
        if 0 <= row < len(self.entries) and self.entries[row].ok:
            self.open_lesson(self.entries[row])

    # --- the lesson -------------------------------------------------------------------------

    def open_lesson(self, entry: loader.Entry | str, step: int | str | None = None) -> None:
        """Open a lesson (an entry of the library or a lesson id) at ``step`` (default: where the
        trainee left it)."""
        from iddsanatomy.lessons.runner import LessonRunner

        if isinstance(entry, str):
            found = [e for e in self.entries if e.ok and e.item.id == entry]
            if not found:
                raise IddsError(f"no lesson {entry!r} in the library")
            entry = found[0]
        self.entry = entry
        self.runner = LessonRunner(
            entry.item,
            self.window.state,
            self._catalog(),
            entry.path,
            getattr(self.window, "anatomy", None),
            place_later=True,
        )
        self.runner.events.step_changed.connect(self._on_step_changed)
        self.runner.events.needle_problem.connect(self._on_needle_problem)
        self.runner.events.needle_pending.connect(self._on_needle_pending)
        self._fill_steps()
        self.lesson_title.setText(entry.item.title)
        self.banner.hide()
        self.pages.setCurrentIndex(1)
        self._watch()
        if step is None:
            p = self.store.lesson_progress(self.trainee).get(entry.item.id)
            step = p["step_id"] if p and p["step_id"] in [s.id for s in entry.item.steps] else 0
        self.runner.jump(step)
        self.next_button.setFocus()

    def _fill_steps(self) -> None:
        self.step_list.blockSignals(True)
        self.step_list.clear()
        for i, s in enumerate(self.runner.lesson.steps, 1):
            mark = " ?" if s.question is not None else ""
            self.step_list.addItem(f"{i}. {s.title}{mark}")
        self.step_list.blockSignals(False)
        self.progress.setRange(0, self.runner.n_steps)

    def _on_step_row(self, row: int) -> None:
        if self.runner is not None and 0 <= row < self.runner.n_steps and row != self.runner.index:
            self.runner.jump(row)

    def _on_step_changed(self, index: int, step) -> None:
        r = self.runner
        self.step_list.blockSignals(True)
        self.step_list.setCurrentRow(index)
        self.step_list.blockSignals(False)
        self.progress.setValue(index + 1)
        html = markdown_html(f"## {step.title}\n\n{step.text}")
        if step.image and self.entry is not None:
            img = (self.entry.path.parent / step.image).resolve()
            html += f'<p><img src="{img.as_uri()}" width="320"></p>'
        self.text.setHtml(html)
        if step.question is not None:
            self.question.set_question(step.question, seed=f"{r.lesson.id}:{step.id}")
            self.question.show()
        else:
            self.question.hide()
        self.back_button.setEnabled(index > 0)
        self.next_button.setEnabled(not r.at_end)
        self._update_placing()
        sync_patient(self.window)  # a step that names a patient gets that patient's anatomy
        try:
            self.store.save_lesson_progress(
                self.trainee, r.lesson.id, step.id, index, r.n_steps, len(r.visited), r.finished
            )
        except Exception as exc:  # progress is a nicety: the lesson goes on
            log.warning("could not save lesson progress: %s", exc)
        self.step_shown.emit(r.lesson.id, index)

    def _on_needle_problem(self, index: int, message: str) -> None:
        self.needle_notice.setText(f"The needle of this step is not shown: {message}")
        self.needle_notice.setVisible(bool(message))

    # --- planned needles, placed off the GUI thread ----------------------------------------

    def _on_needle_pending(self, index: int, plan, anatomy) -> None:
        self._wanted[0] = (plan, id(anatomy))
        self._start_placing(plan, anatomy)
        self._show_placing(True)

    def _start_placing(self, plan, anatomy) -> None:
        key = (plan, id(anatomy))
        if key in self._placing:
            return  # already queued or running
        self._placing.add(key)
        self.place_pool.start(_PlaceJob(plan, anatomy, self._place_signals, self._wanted))

    def _on_placed(self, plan, anatomy, result) -> None:
        self._placing.discard((plan, id(anatomy)))
        if self.runner is not None and result is not None:
            self.runner.placed(plan, anatomy, result)  # shown only if still wanted
        self._update_placing()

    def _update_placing(self) -> None:
        """Show "Placing the needle…" while the step shown waits for its needle (and make sure
        a job is on its way: one skipped as stale may be wanted again)."""
        r = self.runner
        wait = r.pending_placement(r.index) if r is not None and r.index >= 0 else None
        self._wanted[0] = None if wait is None else (wait[0], id(wait[1]))
        if wait is not None:
            self._start_placing(*wait)
        self._show_placing(wait is not None)

    def _show_placing(self, on: bool) -> None:
        self.placing.setVisible(on)
        status = getattr(self.window, "statusBar", None)
        if status is None:
            return
        bar = status()
        if on:
            bar.showMessage(PLACING_TEXT)
        elif bar.currentMessage() == PLACING_TEXT:
            bar.clearMessage()

    def wait_placed(self, timeout_ms: int = 30000) -> bool:
        """Block until no needle is being placed (tests and scripts; the GUI never waits)."""
        return self.place_pool.waitForDone(timeout_ms)

    def next(self) -> None:
        if self.runner is not None:
            self.runner.next()

    def back(self) -> None:
        if self.runner is not None:
            self.runner.back()

    def _on_answer(self, response) -> None:
        from iddsanatomy.quiz import grading

        r = self.runner
        q = r.step.question
        try:
            g = grading.grade(q, response, **self.question.context())
        except IddsError as exc:
            self.question.show_message(str(exc))
            return
        try:
            attempt = self.store.start_attempt(
                self.trainee,
                r.lesson.id,
                kind="lesson",
                n_items=1,
                seed=f"{r.lesson.id}:{r.step.id}",
            )
            self.store.record_answer(attempt, r.index, g, q.type, q.points)
            self.store.finish_attempt(attempt, g.score * q.points, q.points)
        except Exception as exc:
            log.warning("could not store the answer: %s", exc)
        self.question.show_grade(g)

    # --- author mode ------------------------------------------------------------------------

    def set_author_mode(self, on: bool) -> None:
        self.copy_button.setVisible(on)
        if self.author_mode.isChecked() != on:
            self.author_mode.setChecked(on)
        self._watch()

    def _watch(self) -> None:
        for paths in (self._watcher.files(), self._watcher.directories()):
            if paths:
                self._watcher.removePaths(paths)
        if self.author_mode.isChecked() and self.entry is not None:
            # editors often replace the file: watch its folder too
            self._watcher.addPath(str(self.entry.path))
            self._watcher.addPath(str(self.entry.path.parent))

    def _on_file_changed(self, *_):
        self._reload_timer.start()

    def reload(self) -> None:
        """Reload the open lesson from disk, keeping the step; show problems and keep the old
        lesson when the file is broken."""
        if self.runner is None:
            return
        path = self.entry.path
        if path.exists() and str(path) not in self._watcher.files():
            self._watcher.addPath(str(path))
        try:
            self.runner.reload()
        except loader.LessonLoadError as exc:
            msg = "\n".join(p.format() for p in exc.problems[:10])
            self.banner.setText(
                f"The lesson file has problems; showing the last good version.\n{msg}"
            )
            self.banner.show()
            self.reloaded.emit(False, msg)
            return
        except IddsError as exc:
            self.banner.setText(str(exc))
            self.banner.show()
            self.reloaded.emit(False, str(exc))
            return
        self.entry = loader.Entry(path, "lesson", self.runner.lesson)
        self.banner.hide()
        index = self.runner.index
        self._fill_steps()
        self.lesson_title.setText(self.runner.lesson.title)
        self._on_step_changed(index, self.runner.step)
        self.reloaded.emit(True, "")

    def scene_yaml(self) -> str:
        from iddsanatomy.lessons.authoring import scene_as_yaml

        plan = self.runner.shown_plan() if self.runner is not None else None
        return scene_as_yaml(self.window.state, plan=plan)

    def copy_scene(self) -> None:
        text = self.scene_yaml()
        QGuiApplication.clipboard().setText(text)
        status = getattr(self.window, "statusBar", None)
        if status is not None:
            status().showMessage("Scene copied as YAML: paste it under a step's scene:", 5000)

    def current(self) -> Any:
        return self.runner.step if self.runner is not None else None


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))
