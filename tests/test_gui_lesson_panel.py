"""GUI tier: the Lessons panel (library, stepping with keys, question, author mode, live reload)."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from viewer_fixtures import make_anatomy

pytestmark = pytest.mark.gui

LESSON = textwrap.dedent(
    """\
    schema_version: 1
    id: gui-lesson
    title: GUI lesson
    summary: Three steps on the synthetic anatomy.
    objectives: [Step through]
    minutes: 2
    start_scene:
      visible: [L3, L4, disc.L3-L4]
      camera: posterior
    steps:
      - id: one
        title: First step
        text: "Some **bold** text."
      - id: two
        title: Second step
        text: The L3–L4 window.
        scene:
          show: [interlaminar.L3-L4]
          highlight: [interlaminar.L3-L4]
          camera: left
      - id: three
        title: Third step
        scene:
          highlight: []
        question:
          id: q-pedicle
          type: identify
          prompt: Click the left half of L3.
          answer: L3.pedicle.left
    """
)


@pytest.fixture
def setup(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from iddsanatomy.quiz.store import ProgressStore
    from iddsanatomy.ui.lesson_panel import LessonPanel
    from iddsanatomy.ui.main_window import MainWindow

    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "a_lesson.yaml").write_text(LESSON, encoding="utf-8")
    (folder / "b_broken.yaml").write_text(
        LESSON.replace("id: gui-lesson", "id: other").replace("camera: left", "camera: lefft"),
        encoding="utf-8",
    )
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("trainee/name", "tester")
    w = MainWindow(anatomy=make_anatomy(), settings=settings, optional_panels=False)
    store = ProgressStore(tmp_path / "progress.sqlite3")
    panel = LessonPanel(w, folder=folder, store=store)
    w.add_dock("Lessons", panel)
    w.panels["Lessons"] = panel  # as the window hosts it: closing calls panel.shutdown()
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()  # shortcuts need the active window
    qtbot.waitActive(w)
    yield w, panel, folder, store
    w.close()
    store.close()


def test_library_lists_good_and_broken_lessons(setup):
    _w, panel, _folder, _store = setup
    assert panel.library_list.count() == 2
    assert panel.library_list.item(0).text().startswith("GUI lesson")
    assert "2 min" in panel.library_list.item(0).text()
    broken = panel.library_list.item(1)
    assert broken.text().startswith("⚠ b_broken.yaml")
    assert "'lefft' is not allowed" in broken.toolTip()
    panel.library_list.setCurrentRow(1)
    assert "lefft" in panel.details.toPlainText() and not panel.open_button.isEnabled()
    panel.library_list.setCurrentRow(0)
    assert "Step through" in panel.details.toPlainText()


def test_steps_with_keyboard_and_progress_is_stored(qtbot, setup):
    from PySide6.QtCore import Qt

    w, panel, _folder, store = setup
    panel.open_selected()
    assert panel.pages.currentIndex() == 1 and panel.runner.index == 0
    assert "bold" in panel.text.toHtml() and "<b>" in panel.text.toHtml().replace(
        'font-weight:700;">', "<b>"
    )
    assert w.state.visible == {"L3", "L4", "disc.L3-L4"}
    assert panel.progress.value() == 1 and panel.progress.maximum() == 3
    panel.next_button.setFocus()
    qtbot.keyClick(panel.next_button, Qt.Key_Right)
    assert panel.runner.index == 1
    assert w.state.highlighted == {"interlaminar.L3-L4"} and w.state.camera.view == "left"
    assert panel.step_list.currentRow() == 1
    qtbot.keyClick(panel.next_button, Qt.Key_Left)
    assert panel.runner.index == 0 and w.state.highlighted == frozenset()
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    assert panel.runner.at_end and not panel.next_button.isEnabled()
    p = store.lesson_progress("tester")["gui-lesson"]
    assert p["step_id"] == "three" and p["completed"] and p["fraction"] == 1.0
    # the question of the last step: pick in 3D, submit, the answer is stored
    assert panel.question.isVisible()
    w.state.selected = "L3.pedicle.left"
    qtbot.mouseClick(panel.question.submit_button, Qt.LeftButton)
    assert "Right" in panel.question.feedback.toPlainText()
    rows = store.answer_rows("tester")
    assert [(r["question_id"], r["correct"], r["source_id"]) for r in rows] == [
        ("q-pedicle", 1, "gui-lesson")
    ]
    # reopening starts where the trainee left
    panel.show_library()
    assert "100% done" in panel.library_list.item(0).text()
    panel.open_selected()
    assert panel.runner.step.id == "three"


def test_live_reload_keeps_the_step_and_survives_a_broken_save(qtbot, setup):
    _w, panel, folder, _store = setup
    path = folder / "a_lesson.yaml"
    panel.open_lesson("gui-lesson", step="two")
    panel.author_mode.setChecked(True)
    assert panel.copy_button.isVisible()
    with qtbot.waitSignal(panel.reloaded, timeout=5000) as sig:
        path.write_text(LESSON.replace("Second step", "Second step, edited"), encoding="utf-8")
    assert sig.args[0] is True
    assert panel.runner.step.id == "two"
    assert panel.step_list.item(1).text() == "2. Second step, edited"
    assert "Second step, edited" in panel.text.toPlainText()
    with qtbot.waitSignal(panel.reloaded, timeout=5000) as sig:
        path.write_text(LESSON.replace("minutes: 2", "minutes: many"), encoding="utf-8")
    assert sig.args[0] is False
    assert panel.banner.isVisible() and "minutes" in panel.banner.text()
    assert panel.runner.step.id == "two"  # the last good lesson is kept
    with qtbot.waitSignal(panel.reloaded, timeout=5000) as sig:
        path.write_text(LESSON, encoding="utf-8")
    assert sig.args[0] is True and not panel.banner.isVisible()


def test_copy_scene_as_yaml(qtbot, setup):
    from PySide6.QtGui import QGuiApplication

    _w, panel, _folder, _store = setup
    panel.open_lesson("gui-lesson", step="two")
    panel.author_mode.setChecked(True)
    panel.copy_button.click()
    scene = yaml.safe_load(QGuiApplication.clipboard().text())["scene"]
    assert scene["camera"] == "left" and scene["highlight"] == ["interlaminar.L3-L4"]
    assert set(scene["visible"]) == {"L3", "L4", "disc.L3-L4", "interlaminar.L3-L4"}


def test_closing_the_window_releases_the_state(setup):
    w, panel, _folder, _store = setup
    panel.open_lesson("gui-lesson")
    panel.author_mode.setChecked(True)
    state = w.state
    w.close()
    assert len(state.events.selected) == 0  # nothing of ours still listening
    assert panel.runner is None and not panel._watcher.files()


def test_new_patient_recentres_the_carm(qtbot, setup, tmp_path):
    import numpy as np

    from iddsanatomy.geometry import translation

    w, panel, folder, _store = setup
    (folder / "c.yaml").write_text(
        LESSON.replace("id: gui-lesson", "id: carm").replace(
            "camera: left", "camera: left\n      carm: {preset: ap, level: L4}"
        ),
        encoding="utf-8",
    )
    panel.refresh_library()
    panel.open_lesson("carm", step="two")
    assert w.state.carm.centre_lps[2] == -40.0
    moved = make_anatomy()
    moved.lps_from_level["L4"] = translation((0.0, 0.0, -45.0))
    w.set_anatomy(moved)
    assert w.state.carm.centre_lps == (0.0, 0.0, -45.0)
    assert np.isfinite(w.state.carm.centre_lps).all()


def test_corrupt_progress_file_is_announced_and_the_panel_works(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from iddsanatomy.quiz.store import ProgressStore
    from iddsanatomy.ui.lesson_panel import LessonPanel
    from iddsanatomy.ui.main_window import MainWindow

    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "a.yaml").write_text(LESSON, encoding="utf-8")
    db = tmp_path / "progress.sqlite3"
    db.write_bytes(b"garbage" * 500)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(anatomy=make_anatomy(), settings=settings, optional_panels=False)
    store = ProgressStore(db)
    panel = LessonPanel(w, folder=folder, store=store)
    try:
        assert not panel.notice.isHidden() and "moved to" in panel.notice.text()
        panel.open_lesson("gui-lesson")
        panel.next()
        assert store.lesson_progress(trainee_of(w))["gui-lesson"]["step_index"] == 1
    finally:
        panel.shutdown()
        w.close()
        store.close()


def trainee_of(w):
    from iddsanatomy.ui.quiz_panel import trainee_name

    return trainee_name(w)


def test_the_guides_example_lesson_plays_in_the_app(qtbot, setup):
    """lessons/README.md's example (a fluoro step, a variant, a question) plays in the panel."""
    import re

    from iddsanatomy.paths import data_dir

    w, panel, folder, _store = setup
    guide = (data_dir("lessons") / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A complete small lesson.*?```yaml\n(.*?)```", guide, re.S).group(1)
    (folder / "c_guide.yaml").write_text(block, encoding="utf-8")
    panel.refresh_library()
    panel.open_lesson("level-counting", step=0)
    assert w.state.fluoro_open and w.state.carm.level == "L1"
    panel.next()
    assert w.state.variant.rib12 == "short" and panel.question.isVisible()
    assert panel.runner.finished


def test_a_step_with_a_patient_asks_the_patient_panel_to_build_it(setup):
    """The Patient panel builds variants; a lesson step that names one asks it to (once)."""
    from iddsanatomy.anatomy.variant import preset

    w, panel, folder, _store = setup

    class FakePatientPanel:
        def __init__(self):
            self.calls = []

        def apply_variant(self, v):
            self.calls.append(v)

    fake = FakePatientPanel()
    w.panels["Patient"] = fake
    text = LESSON.replace("id: gui-lesson", "id: patient").replace(
        "camera: left", "camera: left\n      variant: obese"
    )
    (folder / "p.yaml").write_text(text, encoding="utf-8")
    panel.refresh_library()
    panel.open_lesson("patient", step=0)
    assert fake.calls == []  # the default patient is already shown
    panel.next()
    assert fake.calls == [preset("obese")]
    w.anatomy.variant = preset("obese")  # as if the build finished
    panel.next()  # the variant carries over: nothing to build
    assert fake.calls == [preset("obese")]
    del w.panels["Patient"]


def test_a_planned_needle_without_a_path_is_shown_as_a_notice_and_the_lesson_goes_on(qtbot, setup):
    """The synthetic anatomy has no T12: the plan cannot be placed; the step says so."""
    w, panel, folder, _store = setup
    text = LESSON.replace(
        "      camera: left\n",
        "      camera: left\n"
        "      needle: {interspace: T12-L1, approach: paramedian, target: intrathecal}\n",
    ).replace("id: gui-lesson", "id: planned-needle")
    assert "T12-L1" in text
    (folder / "c_planned.yaml").write_text(text, encoding="utf-8")
    panel.refresh_library()
    panel.open_lesson("planned-needle", step=0)
    assert panel.needle_notice.isHidden()
    panel.next()
    assert not panel.needle_notice.isHidden()
    notice = panel.needle_notice.text()
    assert "step 'two'" in notice and "paramedian (left) T12-L1" in notice and "T12" in notice
    assert w.state.needle is None and w.state.needle_mode == "off"
    panel.next()  # the lesson goes on; the needle carried over still cannot be placed
    assert panel.runner.index == 2 and "step 'three'" in panel.needle_notice.text()
    panel.back()
    panel.back()
    assert panel.needle_notice.isHidden()
