"""GUI tier: a quiz answered in the app ends up in the progress store; history and review."""

from __future__ import annotations

import textwrap

import pytest
from viewer_fixtures import make_anatomy

pytestmark = pytest.mark.gui

BANK = textwrap.dedent(
    """\
    schema_version: 1
    kind: bank
    id: gui-bank
    title: GUI bank
    questions:
      - id: conus
        type: single_choice
        prompt: Where does the conus usually end?
        options:
          - {text: Lower third of L1, correct: true, explanation: Saifuddin 1998.}
          - {text: L4, explanation: Far too low.}
      - id: pick
        type: identify
        prompt: Click the left half of L3.
        answer: L3.pedicle.left
        scene: {highlight: [L4]}
      - id: depth
        type: numeric
        prompt: Depth at BMI 40, cm?
        answer: 5.7
        tolerance: 0.5
        unit: cm
      - id: level
        type: choose_level
        prompt: Which interspace?
        variant: average adult
        options: [L2-L3, L3-L4]
        correct: L3-L4
        rationale: {L2-L3: Higher., L3-L4: Good.}
    """
)


@pytest.fixture
def setup(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from iddsanatomy.quiz.store import ProgressStore
    from iddsanatomy.ui.main_window import MainWindow
    from iddsanatomy.ui.quiz_panel import QuizPanel

    folder = tmp_path / "lessons"
    (folder / "banks").mkdir(parents=True)
    (folder / "banks" / "bank.yaml").write_text(BANK, encoding="utf-8")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("trainee/name", "tester")
    w = MainWindow(anatomy=make_anatomy(), settings=settings, optional_panels=False)
    store = ProgressStore(tmp_path / "progress.sqlite3")
    panel = QuizPanel(w, folder=folder, store=store)
    w.add_dock("Quiz", panel)
    w.panels["Quiz"] = panel  # as the window hosts it: closing calls panel.shutdown()
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w, panel, store
    w.close()
    store.close()


def answer_current(qtbot, w, panel, right: bool):
    from PySide6.QtCore import Qt

    q = panel.session.current
    qw = panel.question
    if q.id == "conus":
        qw._buttons["a" if right else "b"].setChecked(True)
    elif q.id == "pick":
        assert w.state.highlighted == {"L4"}  # the question's scene is shown
        w.state.selected = "L3.pedicle.left" if right else "L4"
    elif q.id == "depth":
        qtbot.keyClicks(qw.number, "5.5" if right else "9")
    elif q.id == "level":
        qw.level_box.setCurrentText("L3-L4" if right else "L2-L3")
    qtbot.mouseClick(qw.submit_button, Qt.LeftButton)
    return q.id


def test_practice_quiz_answers_are_stored_and_reviewed(qtbot, setup):
    from PySide6.QtCore import Qt

    w, panel, store = setup
    assert panel.bank_box.count() == 1 and panel.count.maximum() == 4
    panel.count.setValue(4)
    panel.start(seed=3)
    answered = []
    for k in range(4):
        qid = answer_current(qtbot, w, panel, right=k % 2 == 0)
        answered.append((qid, k % 2 == 0))
        fb = panel.question.feedback.toPlainText()
        assert ("Right" in fb or "Goal reached" in fb) == (k % 2 == 0), fb
        # every answer is in the store as soon as it is given
        assert len(store.answer_rows("tester")) == k + 1
        qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    assert panel.pages.currentIndex() == 2
    assert "Score: 2 / 4" in panel.result.toPlainText()
    rows = store.answer_rows("tester")
    assert [(r["question_id"], bool(r["correct"])) for r in rows] == answered
    panel.tabs.setCurrentIndex(1)
    assert panel.history.rowCount() == 1 and panel.history.item(0, 3).text() == "2 / 4"
    wrong = sorted(qid for qid, ok in answered if not ok)
    assert (
        sorted(panel.review.item(i).text().split(" / ")[1] for i in range(panel.review.count()))
        == wrong
    )


def test_exam_gives_feedback_only_at_the_end(qtbot, setup):
    from PySide6.QtCore import Qt

    w, panel, store = setup
    panel.mode.setCurrentText("exam")
    panel.count.setValue(2)
    panel.start(seed=1)
    answer_current(qtbot, w, panel, right=True)
    assert "recorded" in panel.question.feedback.toPlainText()
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    answer_current(qtbot, w, panel, right=False)
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)
    text = panel.result.toPlainText()
    assert "Score: 1 / 2" in text and "✓" in text and "✗" in text
    assert len(store.answer_rows("tester")) == 2


FLUORO_BANK = textwrap.dedent(
    """\
    schema_version: 1
    kind: bank
    id: fluoro-bank
    title: Fluoro bank
    questions:
      - id: window
        type: find_on_fluoro
        prompt: Click the L3–L4 interlaminar space.
        target: interlaminar.L3-L4
        carm: {preset: ap, level: L3-L4}
        tolerance_px: 2
    """
)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_find_on_fluoro_click_in_the_picture(qtbot, setup, tmp_path):
    """A mouse click on the DRR where the window projects is right; far from it is wrong.

    (The DRR display of the synthetic anatomy warns about NaN outside the body: fluoro's.)"""
    import numpy as np
    from PySide6.QtCore import Qt

    _w, panel, store = setup
    folder = tmp_path / "lessons2" / "banks"
    folder.mkdir(parents=True)
    (folder / "f.yaml").write_text(FLUORO_BANK, encoding="utf-8")
    panel.reload_banks(folder.parent)
    panel.start(seed=0)
    qw = panel.question
    assert qw.fluoro_pose is not None, qw.image.text()
    pose = qw.fluoro_pose
    # independent answer: the window box's centre (synthetic anatomy) through the C-arm
    centre_px = pose.project(np.array([0.0, 34.0, -20.0]))
    qtbot.mouseClick(qw.image, Qt.LeftButton, pos=qw.image.widget_point(*centre_px))
    assert np.allclose(qw.click_px, centre_px, atol=1.0)
    qtbot.mouseClick(qw.submit_button, Qt.LeftButton)
    assert "Right" in qw.feedback.toPlainText()
    qtbot.mouseClick(panel.next_button, Qt.LeftButton)  # results
    panel.start(seed=1)
    qw = panel.question
    far = centre_px + np.array([0.0, 60.0])
    qtbot.mouseClick(qw.image, Qt.LeftButton, pos=qw.image.widget_point(*far))
    qtbot.mouseClick(qw.submit_button, Qt.LeftButton)
    assert "Not quite" in qw.feedback.toPlainText()
    rows = store.answer_rows("tester")
    assert [(r["question_id"], r["correct"]) for r in rows] == [("window", 1), ("window", 0)]


NEEDLE_BANK = textwrap.dedent(
    """\
    schema_version: 1
    kind: bank
    id: needle-bank
    title: Needle bank
    questions:
      - id: place
        type: place_needle
        prompt: Intrathecal at L3–L4, no bone.
        goal: {space: intrathecal, levels: [L3-L4], max_redirections: 2}
    """
)


def test_place_needle_graded_by_the_analysis_and_right_path_shown(qtbot, tmp_path):
    """On the needle module's box phantom: a needle 60 mm deep at the L3–L4 midline is in the
    CSF (55–66 mm, hand figures), so the goal is met; then the panel shows a right path."""
    from PySide6.QtCore import QSettings, Qt

    from iddsanatomy.needle import NeedlePose
    from iddsanatomy.needle.phantom import build_phantom
    from iddsanatomy.quiz.store import ProgressStore
    from iddsanatomy.ui.main_window import MainWindow
    from iddsanatomy.ui.quiz_panel import QuizPanel

    folder = tmp_path / "lessons" / "banks"
    folder.mkdir(parents=True)
    (folder / "n.yaml").write_text(NEEDLE_BANK, encoding="utf-8")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    settings.setValue("trainee/name", "tester")
    w = MainWindow(anatomy=build_phantom(), settings=settings, optional_panels=False)
    store = ProgressStore(tmp_path / "p.sqlite3")
    panel = QuizPanel(w, folder=folder.parent, store=store)
    w.panels["Quiz"] = panel
    try:
        panel.start(seed=0)
        qw = panel.question
        qtbot.mouseClick(qw.submit_button, Qt.LeftButton)  # no needle yet: a message, no answer
        assert "place a needle first" in qw.feedback.toPlainText() and store.count_answers() == 0
        w.state.needle = NeedlePose(
            entry_lps=(0.0, 0.0, -22.0), direction=(0.0, -1.0, 0.0), depth_mm=60.0
        )
        qtbot.mouseClick(qw.submit_button, Qt.LeftButton)
        assert "Goal reached" in qw.feedback.toPlainText(), qw.feedback.toPlainText()
        assert not qw.path_button.isHidden()
        qtbot.mouseClick(qw.path_button, Qt.LeftButton)
        assert 55.0 < w.state.needle.depth_mm < 66.0 and w.state.needle_mode == "fixed"
        (row,) = store.answer_rows("tester")
        assert row["question_id"] == "place" and row["correct"] == 1
    finally:
        w.close()
        store.close()
