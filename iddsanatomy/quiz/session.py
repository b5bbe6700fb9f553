"""Quiz sessions: practice (feedback after each item) and exam (feedback at the end, optional
time limit). Every answer is graded at once and, with a store, committed before
:meth:`QuizSession.answer` returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from iddsanatomy.errors import ValidationError
from iddsanatomy.quiz import grading
from iddsanatomy.quiz.grading import Grade

Mode = Literal["practice", "exam"]


@dataclass
class SessionResult:
    """The end of a session: every grade, the weighted score and what to review."""

    grades: list[Grade]
    score: float
    max_score: float
    unanswered: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0

    @property
    def to_review(self) -> list[str]:
        return [g.question_id for g in self.grades if not g.correct] + self.unanswered


class QuizSession:
    """A run through some questions.

    Parameters
    ----------
    items : sequence of questions
        Already drawn (see :func:`from_bank`).
    mode : "practice" or "exam"
        Practice returns each :class:`Grade` from :meth:`answer`; exam returns ``None`` and shows
        the grades in :meth:`finish`.
    seed : int or str
        Fixes the option order of choice questions.
    time_limit_s : float, optional
        Exam time limit; answers after it are refused.
    store : ProgressStore, optional
        Where answers are committed as they are given.
    trainee, source_id : str
        Who answers, and the bank or lesson the items come from.
    clock : callable
        Seconds (monotonic); injectable for tests.
    """

    def __init__(
        self,
        items: Sequence[Any],
        *,
        mode: Mode = "practice",
        seed: int | str = 0,
        time_limit_s: float | None = None,
        store=None,
        trainee: str = "trainee",
        source_id: str = "",
        clock: Callable[[], float] = time.monotonic,
    ):
        if mode not in ("practice", "exam"):
            raise ValidationError(f"mode must be 'practice' or 'exam', got {mode!r}")
        if not items:
            raise ValidationError("a quiz needs at least one question")
        ids = [q.id for q in items]
        if len(set(ids)) != len(ids):
            raise ValidationError("a quiz cannot hold the same question twice")
        self.items = list(items)
        self.mode = mode
        self.seed = seed
        self.time_limit_s = time_limit_s
        self.store = store
        self.trainee = trainee
        self.source_id = source_id
        self._clock = clock
        self._started = clock()
        self._shown_at = self._started
        self.index = 0
        self.grades: dict[str, Grade] = {}
        self.finished = False
        self.attempt_id = None
        if store is not None:
            self.attempt_id = store.start_attempt(
                trainee,
                source_id,
                kind="quiz",
                mode=mode,
                seed=seed,
                n_items=len(self.items),
                time_limit_s=time_limit_s,
            )

    # --- state ------------------------------------------------------------------------------

    @property
    def current(self):
        """The question being answered, or ``None`` at the end."""
        return (
            self.items[self.index] if self.index < len(self.items) and not self.finished else None
        )

    def option_order(self, question=None) -> list[str]:
        """Option ids in display order for a choice question (seeded)."""
        q = question or self.current
        return grading.option_order(q, self.seed)

    @property
    def time_left_s(self) -> float | None:
        if self.time_limit_s is None:
            return None
        return max(0.0, self.time_limit_s - (self._clock() - self._started))

    @property
    def expired(self) -> bool:
        left = self.time_left_s
        return left is not None and left <= 0

    # --- actions ----------------------------------------------------------------------------

    def answer(self, response: Any, **context: Any) -> Grade | None:
        """Grade the current question, commit it to the store, and move on.

        Returns the grade in practice mode, ``None`` in exam mode. Raises
        :class:`ValidationError` for a response the question cannot take (nothing is stored),
        or when the exam's time is up.
        """
        q = self.current
        if q is None:
            raise ValidationError("the quiz is over: there is no current question")
        if self.mode == "exam" and self.expired:
            raise ValidationError("the exam's time limit has passed; no more answers are taken")
        g = grading.grade(q, response, **context)
        now = self._clock()
        if self.store is not None:
            self.store.record_answer(
                self.attempt_id,
                self.index,
                g,
                q.type,
                q.points,
                elapsed_s=round(now - self._shown_at, 3),
            )
        self.grades[q.id] = g
        self.index += 1
        self._shown_at = now
        return g if self.mode == "practice" else None

    def skip(self) -> None:
        """Leave the current question unanswered and move on."""
        if self.current is not None:
            self.index += 1
            self._shown_at = self._clock()

    def finish(self) -> SessionResult:
        """End the session; the result holds every grade (the feedback of an exam)."""
        grades = [self.grades[q.id] for q in self.items if q.id in self.grades]
        score = sum(g.score * q.points for q in self.items for g in [self.grades.get(q.id)] if g)
        max_score = sum(q.points for q in self.items)
        unanswered = [q.id for q in self.items if q.id not in self.grades]
        if self.store is not None and not self.finished:
            self.store.finish_attempt(self.attempt_id, score, max_score)
        self.finished = True
        return SessionResult(grades, score, max_score, unanswered)


def from_bank(bank, n: int | None = None, *, seed: int | str = 0, **kw: Any) -> QuizSession:
    """A session of ``n`` questions drawn at random (seeded) from a :class:`QuestionBank`."""
    items = grading.draw(bank.questions, n, seed)
    return QuizSession(items, seed=seed, source_id=bank.id, **kw)
