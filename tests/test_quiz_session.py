"""Quiz sessions: practice and exam modes, time limit, drawing from a bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from iddsanatomy.errors import ValidationError
from iddsanatomy.lessons import loader
from iddsanatomy.lessons.names import catalog_from_manifest
from iddsanatomy.paths import data_dir
from iddsanatomy.quiz.session import QuizSession, from_bank

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def bank():
    cat = catalog_from_manifest(DATA / "lessons_manifest.json")
    return loader.load_bank(data_dir("lessons") / "banks" / "example_bank.yaml", cat)


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_practice_gives_feedback_each_item(bank):
    q = {x.id: x for x in bank.questions}
    s = QuizSession([q["conus-level"], q["depth-bmi-40"]], mode="practice")
    g = s.answer("a")
    assert g is not None and g.correct
    g = s.answer(4.0)
    assert g is not None and not g.correct and "5.7 cm ± 0.5" in g.feedback
    assert s.current is None
    res = s.finish()
    assert res.score == 1 and res.fraction == 0.5


def test_exam_holds_feedback_until_the_end_and_enforces_time(bank):
    clock = Clock()
    q = {x.id: x for x in bank.questions}
    s = QuizSession(
        [q["conus-level"], q["pedicle"], q["depth-bmi-40"]],
        mode="exam",
        time_limit_s=60,
        clock=clock,
    )
    assert s.answer("b") is None
    clock.t += 30
    assert s.time_left_s == pytest.approx(30)
    assert s.answer("L3.pedicle.left") is None
    clock.t += 31
    assert s.expired
    with pytest.raises(ValidationError, match="time limit"):
        s.answer(5.7)
    res = s.finish()
    assert [g.correct for g in res.grades] == [False, True]
    assert res.unanswered == ["depth-bmi-40"] and res.to_review == ["conus-level", "depth-bmi-40"]


def test_bad_response_stores_nothing_and_keeps_the_item(bank, tmp_path):
    from iddsanatomy.quiz.store import ProgressStore

    with ProgressStore(tmp_path / "p.sqlite3") as store:
        s = QuizSession([bank.questions[0]], store=store, source_id=bank.id)
        with pytest.raises(ValidationError):
            s.answer("zz")
        assert store.count_answers() == 0 and s.current is bank.questions[0]


def test_from_bank_draws_n_seeded(bank):
    a = from_bank(bank, 3, seed=7)
    b = from_bank(bank, 3, seed=7)
    assert [q.id for q in a.items] == [q.id for q in b.items] and len(a.items) == 3
    assert a.source_id == bank.id
    assert a.option_order(bank.questions[0]) == b.option_order(bank.questions[0])


def test_every_example_bank_question_can_be_graded(bank):
    import numpy as np

    from iddsanatomy.quiz.grading import NeedleOutcome, grade

    square = np.array([[[0, 0], [10, 0], [10, 10]], [[0, 0], [10, 10], [0, 10]]], float)
    right = {
        "conus-level": "a",
        "qualifying-space": ["a", "b", "d"],
        "pedicle": "L3.pedicle.left",
        "find-window": (5, 5),
        "level-after-laminectomy": "L3-L4",
        "place-intrathecal": NeedleOutcome("intrathecal", "L3-L4", False, 0, ("dura",)),
        "depth-bmi-40": 5.7,
    }
    for q in bank.questions:
        assert grade(q, right[q.id], target_px=square).correct, q.id
