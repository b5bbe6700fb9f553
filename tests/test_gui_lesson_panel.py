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


def _lesson_window(tmp_path, anatomy, folder):
    """A main window on ``anatomy`` hosting a Lessons panel on ``folder`` (not yet shown),
    with a private settings file and progress store; returns (window, panel, store)."""
    from PySide6.QtCore import QSettings

    from iddsanatomy.quiz.store import ProgressStore
    from iddsanatomy.ui.lesson_panel import LessonPanel
    from iddsanatomy.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("trainee/name", "tester")
    w = MainWindow(anatomy=anatomy, settings=settings, optional_panels=False)
    store = ProgressStore(tmp_path / "progress.sqlite3")
    panel = LessonPanel(w, folder=folder, store=store)
    w.add_dock("Lessons", panel)
    w.panels["Lessons"] = panel  # as the window hosts it: closing calls panel.shutdown()
    w.resize(1200, 800)
    return w, panel, store


@pytest.fixture
def setup(qtbot, tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "a_lesson.yaml").write_text(LESSON, encoding="utf-8")
    (folder / "b_broken.yaml").write_text(
        LESSON.replace("id: gui-lesson", "id: other").replace("camera: left", "camera: lefft"),
        encoding="utf-8",
    )
    w, panel, store = _lesson_window(tmp_path, make_anatomy(), folder)
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
    panel.next()  # placed off the GUI thread: the notice comes when the search is done
    qtbot.waitUntil(lambda: not panel.needle_notice.isHidden(), timeout=20000)
    assert panel.placing.isHidden()
    notice = panel.needle_notice.text()
    assert "step 'two'" in notice and "paramedian (left) T12-L1" in notice and "T12" in notice
    assert w.state.needle is None and w.state.needle_mode == "off"
    panel.next()  # the lesson goes on; the needle carried over still cannot be placed
    assert panel.runner.index == 2 and "step 'three'" in panel.needle_notice.text()
    panel.back()
    panel.back()
    assert panel.needle_notice.isHidden()


PLANNED = textwrap.dedent(
    """\
    schema_version: 1
    id: planned-gui
    title: Planned needles in the app
    summary: Two plans on the box phantom.
    objectives: [Watch the needle placed]
    minutes: 2
    start_scene:
      visible: [L3, L4, dura, csf]
      camera: left
    steps:
      - id: none
        title: No needle yet
      - id: midline
        title: Midline, intrathecal
        scene:
          needle: {interspace: L3-L4, approach: midline, target: intrathecal}
      - id: paramedian
        title: Paramedian, epidural
        scene:
          needle: {interspace: L3-L4, approach: paramedian, side: left, target: epidural}
    """
)


@pytest.fixture
def phantom_setup(qtbot, tmp_path, monkeypatch):
    """The app on the box phantom, with every needle placement held at a gate until released
    (so that "while a plan is placed" lasts as long as the test wants)."""
    import threading

    from iddsanatomy.lessons import runner as runner_module
    from iddsanatomy.needle.phantom import build_phantom

    gate = threading.Event()
    calls: list = []  # (thread, plan) of every placement
    real = runner_module.place_plan

    def gated(plan, anatomy):
        calls.append((threading.current_thread(), plan))
        gate.wait(20)
        return real(plan, anatomy)

    monkeypatch.setattr(runner_module, "place_plan", gated)
    folder = tmp_path / "lessons"
    folder.mkdir()
    (folder / "planned.yaml").write_text(PLANNED, encoding="utf-8")
    w, panel, store = _lesson_window(tmp_path, build_phantom(), folder)
    w.show()
    qtbot.waitExposed(w)
    yield w, panel, gate, calls
    gate.set()
    w.close()
    store.close()


def _plan_pose(anatomy, approach, target):
    from iddsanatomy.needle import find_path

    return find_path(anatomy, "L3-L4", approach, "left", target).pose


def test_a_planned_needle_is_placed_off_the_gui_thread_while_the_window_responds(
    qtbot, phantom_setup
):
    import threading
    import time

    from PySide6.QtCore import QTimer

    from iddsanatomy.ui.lesson_panel import PLACING_TEXT

    w, panel, gate, calls = phantom_setup
    panel.open_lesson("planned-gui", step=0)
    t0 = time.perf_counter()
    panel.next()  # the placement is held at the gate: a GUI-thread placement would block here
    assert time.perf_counter() - t0 < 5.0
    assert panel.runner.index == 1 and w.state.needle is None
    assert not panel.placing.isHidden() and panel.placing_label.text() == PLACING_TEXT
    assert w.statusBar().currentMessage() == PLACING_TEXT
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    qtbot.wait(1000)  # the event loop runs while the plan is being placed
    timer.stop()
    # a GUI thread blocked on the placement would tick at most once (the gate holds for 20 s);
    # the first 3D frames under Xvfb take ~0.1 s each on a loaded machine, so ask for a few
    assert len(ticks) >= 5, ticks
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    assert calls[0][0] is not threading.main_thread()
    assert w.state.needle is None  # still placing
    gate.set()
    qtbot.waitUntil(lambda: w.state.needle is not None, timeout=20000)
    assert panel.placing.isHidden() and w.statusBar().currentMessage() != PLACING_TEXT
    assert w.state.needle_mode == "fixed"
    expected = _plan_pose(w.anatomy, "midline", "intrathecal")  # the path finder, directly
    assert w.state.needle.entry_lps == pytest.approx(expected.entry_lps)
    assert w.state.needle.direction == pytest.approx(expected.direction)
    assert w.state.needle.depth_mm == pytest.approx(expected.depth_mm)
    qtbot.waitUntil(lambda: w.renderer.instruments.shown("needle"), timeout=5000)  # drawn
    w.plotter.render()
    w.plotter.screenshot("/tmp/plan_gui_needle_placed.png")


def test_a_stale_placement_is_not_shown_on_the_step_the_trainee_moved_to(qtbot, phantom_setup):
    w, panel, gate, calls = phantom_setup
    panel.open_lesson("planned-gui", step=0)
    panel.next()  # midline: held at the gate
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)
    panel.next()  # the trainee moves on to the paramedian step before it is done
    assert w.state.needle is None and not panel.placing.isHidden()
    gate.set()
    qtbot.waitUntil(lambda: w.state.needle is not None, timeout=20000)
    panel.wait_placed()
    qtbot.wait(50)  # any late result delivered
    paramedian = _plan_pose(w.anatomy, "paramedian", "epidural")
    assert panel.runner.index == 2
    assert w.state.needle.entry_lps == pytest.approx(paramedian.entry_lps)
    assert w.state.needle.side == "left" and panel.placing.isHidden()
    assert [c[1].approach for c in calls] == ["midline", "paramedian"]
    panel.back()  # the midline result was kept: shown at once, no new placement
    midline = _plan_pose(w.anatomy, "midline", "intrathecal")
    assert w.state.needle.entry_lps == pytest.approx(midline.entry_lps)
    assert panel.placing.isHidden() and len(calls) == 2


def test_copy_scene_writes_a_planned_needle_as_its_plan(qtbot, phantom_setup):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication

    from iddsanatomy.lessons.scene_spec import SceneSpec

    w, panel, gate, _calls = phantom_setup
    gate.set()
    panel.open_lesson("planned-gui", step=1)
    qtbot.waitUntil(lambda: w.state.needle is not None, timeout=20000)
    panel.set_author_mode(True)
    qtbot.mouseClick(panel.copy_button, Qt.LeftButton)
    scene = yaml.safe_load(QGuiApplication.clipboard().text())["scene"]
    assert scene["needle"] == {
        "interspace": "L3-L4",
        "approach": "midline",
        "target": "intrathecal",
    }
    assert SceneSpec.model_validate(scene).needle == panel.runner.planned_needle(1)[0]
    # the trainee's own needle is written as coordinates
    w.state.needle = w.state.needle.advanced(-5.0)
    scene = yaml.safe_load(panel.scene_yaml())["scene"]
    assert set(scene["needle"]) >= {"entry_lps", "target_lps", "depth_mm"}


def test_a_new_patient_gets_the_steps_plan_placed_off_the_gui_thread(qtbot, phantom_setup):
    """The patient panel swaps in a new anatomy (window.set_anatomy): the plan is placed again
    on it, in the background, and the needle on the old patient is not kept."""
    import threading

    from iddsanatomy.needle.phantom import build_phantom

    w, panel, gate, calls = phantom_setup
    gate.set()
    panel.open_lesson("planned-gui", step=1)
    qtbot.waitUntil(lambda: w.state.needle is not None, timeout=20000)
    first = w.state.needle
    gate.clear()
    new = build_phantom()
    w.set_anatomy(new)
    assert w.state.needle is None and not panel.placing.isHidden()
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=5000)
    assert calls[1][0] is not threading.main_thread()
    gate.set()
    qtbot.waitUntil(lambda: w.state.needle is not None, timeout=20000)
    assert w.state.needle is not first and panel.placing.isHidden()
    assert w.state.needle.entry_lps == pytest.approx(first.entry_lps)  # the same phantom
    assert panel.runner.pending_placement(1) is None
