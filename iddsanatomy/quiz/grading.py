"""Grading: pure, deterministic functions from (question, response) to a :class:`Grade`.

No GUI, no randomness, no clock. Geometry a grade needs (the projected target of a fluoroscopy
question, the needle analysis of a placement) is computed by the caller and passed in, so that a
grade can be reproduced from stored data and tested with hand-made cases.

Responses, per question type:

======================  =====================================================================
single_choice           an option id (``"a"``)
multiple_choice         a list of option ids
identify                the picked structure (or part) id
find_on_fluoro          the click as (column, row) pixels, plus ``target_px`` triangles
choose_level            an interspace (``"L3-L4"``)
place_needle            a :class:`NeedleOutcome` (see :func:`outcome_from_analysis`)
numeric                 a number
======================  =====================================================================
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iddsanatomy.errors import ValidationError
from iddsanatomy.quiz import models as m


@dataclass(frozen=True)
class Grade:
    """The result of one answer.

    Attributes
    ----------
    question_id : str
    correct : bool
        Full marks.
    score : float
        0–1 (partial credit for multiple choice).
    response : Any
        The response as stored (JSON-compatible).
    expected : str
        The right answer, in words.
    feedback : str
        Markdown: what was right or wrong and why (per-option explanations, rationale).
    reveal : dict
        Scene hints for showing the right answer: ``highlight`` (ids), ``point_px``, ``path``.
    detail : dict
        Numbers behind the grade (distance in pixels, error of a numeric answer…).
    """

    question_id: str
    correct: bool
    score: float
    response: Any
    expected: str
    feedback: str = ""
    reveal: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


# --- shuffling -------------------------------------------------------------------------------


def option_order(question: m.SingleChoice | m.MultipleChoice, seed: int | str) -> list[str]:
    """The option ids in the order to show them: a permutation fixed by ``seed`` and the
    question id (the file order when ``shuffle`` is false)."""
    ids = [o.id for o in question.options]
    if not question.shuffle:
        return ids
    random.Random(f"{seed}:{question.id}").shuffle(ids)
    return ids


def draw(items: Sequence[Any], n: int | None, seed: int | str) -> list[Any]:
    """``n`` items drawn without replacement, in a seeded random order (all of them if None)."""
    items = list(items)
    n = len(items) if n is None else n
    if not 1 <= n <= len(items):
        raise ValidationError(f"cannot draw {n} items from a bank of {len(items)}")
    return random.Random(f"draw:{seed}").sample(items, n)


# --- the question types ----------------------------------------------------------------------


def grade_single_choice(q: m.SingleChoice, option_id: str) -> Grade:
    try:
        chosen = q.option(str(option_id))
    except KeyError:
        ids = ", ".join(o.id for o in q.options)
        raise ValidationError(f"{q.id}: no option {option_id!r}; options are {ids}") from None
    right = next(o for o in q.options if o.correct)
    fb = [f"**{'Right' if chosen.correct else 'Not quite'}.** {chosen.explanation}".strip()]
    if not chosen.correct:
        fb.append(f"The answer is **{right.text}**. {right.explanation}".strip())
    return Grade(
        q.id,
        chosen.correct,
        1.0 if chosen.correct else 0.0,
        chosen.id,
        right.text,
        _join(*fb, q.explanation),
        {"options": [right.id]},
    )


def grade_multiple_choice(q: m.MultipleChoice, option_ids: Sequence[str]) -> Grade:
    if isinstance(option_ids, str):
        option_ids = [option_ids]
    picked = list(dict.fromkeys(str(i) for i in option_ids))
    known = {o.id for o in q.options}
    unknown = [i for i in picked if i not in known]
    if unknown:
        raise ValidationError(
            f"{q.id}: no option(s) {', '.join(unknown)}; options are {', '.join(sorted(known))}"
        )
    right = {o.id for o in q.options if o.correct}
    hits = len(right & set(picked))
    false_picks = len(set(picked) - right)
    score = max(0.0, (hits - false_picks) / len(right))
    correct = set(picked) == right
    lines = []
    for o in q.options:
        mark = "✓" if o.correct else "✗"
        chose = " (your choice)" if o.id in picked else ""
        lines.append(f"- {mark} {o.text}{chose}{': ' + o.explanation if o.explanation else ''}")
    expected = "; ".join(o.text for o in q.options if o.correct)
    return Grade(
        q.id,
        correct,
        score,
        sorted(picked, key=[o.id for o in q.options].index),
        expected,
        _join("\n".join(lines), q.explanation),
        {"options": sorted(right)},
        {"hits": hits, "false_picks": false_picks, "n_correct": len(right)},
    )


def _matches(structure_id: str, patterns: Sequence[str], catalog=None) -> bool:
    for pat in patterns:
        if pat.startswith("@"):
            if catalog is not None and structure_id in catalog.expand([pat]):
                return True
        elif fnmatch.fnmatchcase(structure_id, pat):
            return True
    return False


def grade_identify(
    q: m.Identify, picked_id: str | None, catalog=None, names: dict[str, str] | None = None
) -> Grade:
    """Right when the picked id matches one of the accepted ids or patterns.

    ``names`` (id → display name) only makes the feedback read better.
    """
    names = names or {}
    picked = picked_id or ""
    ok = bool(picked) and _matches(picked, q.answer, catalog)
    expected = " or ".join(names.get(a, a) for a in q.answer)
    shown = names.get(picked, picked)
    if ok:
        fb = f"**Right**: {shown}."
    else:
        fb = f"**Not quite**: you picked {shown or 'nothing'}; the answer is {expected}."
    return Grade(
        q.id,
        ok,
        float(ok),
        picked or None,
        expected,
        _join(fb, q.explanation),
        {"highlight": list(q.answer)},
    )


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from ``p`` (2,) to segments ``a``–``b`` ((n, 2) each)."""
    ab = b - a
    denom = np.einsum("ij,ij->i", ab, ab)
    t = np.where(denom > 0, np.einsum("ij,ij->i", p - a, ab) / np.where(denom > 0, denom, 1), 0)
    t = np.clip(t, 0.0, 1.0)
    closest = a + t[:, None] * ab
    return np.linalg.norm(p - closest, axis=1)


def click_distance_px(click_px: Sequence[float], triangles_px: np.ndarray) -> float:
    """Distance in pixels from a click to the union of projected triangles; 0 inside or on an
    edge (edges count as inside).

    Parameters
    ----------
    click_px : (2,) float
        Column, row of the click (pixel centres at integers, as ``CArmPose.project``).
    triangles_px : (n, 3, 2) float
        The target's triangles projected to the image.
    """
    p = np.asarray(click_px, dtype=float).reshape(2)
    tri = np.asarray(triangles_px, dtype=float).reshape(-1, 3, 2)
    if tri.size == 0:
        return math.inf
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]

    def cross(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (
            w[..., 0] - u[..., 0]
        )

    d1, d2, d3 = cross(a, b, p), cross(b, c, p), cross(c, a, p)
    scale = np.maximum(np.abs(cross(a, b, c)), 1e-12)
    eps = 1e-9 * scale  # a click exactly on an edge counts, whatever the winding
    inside = ((d1 >= -eps) & (d2 >= -eps) & (d3 >= -eps)) | (
        (d1 <= eps) & (d2 <= eps) & (d3 <= eps)
    )
    inside &= np.abs(cross(a, b, c)) > 0  # degenerate (edge-on) triangles only by distance
    if inside.any():
        return 0.0
    dist = np.minimum.reduce(
        [
            _point_segment_distance(p, a, b),
            _point_segment_distance(p, b, c),
            _point_segment_distance(p, c, a),
        ]
    )
    return float(dist.min())


def grade_find_on_fluoro(
    q: m.FindOnFluoro,
    click_px: Sequence[float] | None,
    target_px: np.ndarray,
    names: dict[str, str] | None = None,
) -> Grade:
    """Right when the click falls on the target's projection, or within ``tolerance_px`` of it
    (a click exactly on the boundary counts)."""
    names = names or {}
    tri = np.asarray(target_px, dtype=float).reshape(-1, 3, 2)
    centre = tri.reshape(-1, 2).mean(axis=0) if tri.size else np.array([np.nan, np.nan])
    expected = " or ".join(names.get(t, t) for t in q.target)
    reveal = {"highlight": list(q.target), "point_px": [float(centre[0]), float(centre[1])]}
    if click_px is None:
        return Grade(
            q.id,
            False,
            0.0,
            None,
            expected,
            _join("**No click.**", q.explanation),
            reveal,
            {"distance_px": None},
        )
    click = [float(click_px[0]), float(click_px[1])]
    dist = click_distance_px(click, tri)
    ok = dist <= q.tolerance_px
    fb = "**Right.**" if ok else f"**Not quite**: {dist:.0f} px from the {expected}."
    return Grade(
        q.id,
        ok,
        float(ok),
        click,
        expected,
        _join(fb, q.explanation),
        reveal,
        {"distance_px": dist},
    )


def grade_choose_level(q: m.ChooseLevel, interspace: str) -> Grade:
    if interspace not in q.options:
        raise ValidationError(
            f"{q.id}: {interspace!r} is not offered; options are {', '.join(q.options)}"
        )
    ok = interspace in q.correct
    lines = [
        f"- {'✓' if o in q.correct else '✗'} **{o}**"
        f"{' (your choice)' if o == interspace else ''}: {q.rationale[o]}"
        for o in q.options
    ]
    head = "**Right.**" if ok else f"**Not the best choice.** Acceptable: {', '.join(q.correct)}."
    return Grade(
        q.id,
        ok,
        float(ok),
        interspace,
        ", ".join(q.correct),
        _join(head, "\n".join(lines), q.explanation),
        {"highlight": [f"interlaminar.{c}" for c in q.correct]},
    )


@dataclass(frozen=True)
class NeedleOutcome:
    """What a needle placement achieved, in the terms a goal is written in.

    Attributes
    ----------
    space : str
        Where the tip ended: ``"epidural"``, ``"intrathecal"``, or another tissue / ``"outside"``.
    interspace : str or None
        The interlaminar space the needle passed (``"L3-L4"``).
    bone_contact : bool
    redirections : int
    touched : tuple of str
        Structure ids the needle passed through.
    tip_lps : (3,) float or None, mm
    """

    space: str
    interspace: str | None
    bone_contact: bool
    redirections: int = 0
    touched: tuple[str, ...] = ()
    tip_lps: tuple[float, float, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "interspace": self.interspace,
            "bone_contact": self.bone_contact,
            "redirections": self.redirections,
            "touched": list(self.touched),
            "tip_lps": list(self.tip_lps) if self.tip_lps is not None else None,
        }


def outcome_from_analysis(analysis: Any, redirections: int = 0) -> NeedleOutcome:
    """A :class:`NeedleOutcome` from :func:`iddsanatomy.needle.analysis.analyse`'s result."""
    if getattr(analysis, "intrathecal", False):
        space = "intrathecal"
    elif getattr(analysis, "in_epidural_space", False):
        space = "epidural"
    else:
        space = getattr(analysis, "tip_tissue", None) or "outside"
    touched = tuple(
        dict.fromkeys(getattr(c, "structure_id", "") for c in getattr(analysis, "crossings", ()))
    )
    tip = getattr(analysis, "tip_lps", None)
    return NeedleOutcome(
        space=space,
        interspace=getattr(analysis, "interlaminar", None),
        bone_contact=getattr(analysis, "bone_contact", None) is not None
        or bool(getattr(analysis, "blocked", False)),
        redirections=int(redirections),
        touched=touched,
        tip_lps=tuple(float(x) for x in tip) if tip is not None else None,
    )


def grade_place_needle(q: m.PlaceNeedle, outcome: NeedleOutcome, catalog=None) -> Grade:
    """All of the goal's conditions must hold; feedback lists each one."""
    g = q.goal
    checks = [
        (outcome.space == g.space, f"tip in the {g.space} space (yours: {outcome.space})"),
        (
            outcome.interspace in g.levels,
            f"through {' or '.join(g.levels)} "
            f"(yours: {outcome.interspace or 'no interlaminar space'})",
        ),
        (
            g.bone_contact_allowed or not outcome.bone_contact,
            "no bone contact" + (" (you touched bone)" if outcome.bone_contact else ""),
        ),
        (
            outcome.redirections <= g.max_redirections,
            f"at most {g.max_redirections} redirections (yours: {outcome.redirections})",
        ),
    ]
    for pat in g.avoid:
        hit = [s for s in outcome.touched if _matches(s, [pat], catalog)]
        checks.append(
            (not hit, f"not touching {pat}" + (f" (touched {', '.join(hit)})" if hit else ""))
        )
    passed = sum(ok for ok, _ in checks)
    ok = passed == len(checks)
    lines = [f"- {'✓' if c else '✗'} {text}" for c, text in checks]
    expected = f"{g.space} at {' or '.join(g.levels)}"
    return Grade(
        q.id,
        ok,
        float(ok),
        outcome.as_dict(),
        expected,
        _join(
            "**Goal reached.**" if ok else "**Goal not reached.**", "\n".join(lines), q.explanation
        ),
        {"highlight": [f"interlaminar.{lv}" for lv in g.levels], "path": "planned"},
        {"checks_passed": passed, "checks": len(checks)},
    )


def grade_numeric(q: m.Numeric, value: float | str | None) -> Grade:
    """Right when ``|value - answer| <= tolerance`` (the bound itself counts)."""
    unit = f" {q.unit}" if q.unit else ""
    expected = f"{q.answer:g}{unit} ± {q.tolerance:g}"
    try:
        x = float(str(value).replace(",", ".")) if value is not None else math.nan
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        return Grade(
            q.id,
            False,
            0.0,
            None if value is None else str(value),
            expected,
            _join("**Not a number.**", q.explanation),
            {},
            {"error": None},
        )
    err = abs(x - q.answer)
    # compare with a hair of slack so that 5.2 vs 5.7 ± 0.5 counts despite binary rounding
    ok = err <= q.tolerance + 1e-9 * max(1.0, abs(q.answer))
    fb = "**Right.**" if ok else f"**Not quite**: the answer is {expected}."
    return Grade(
        q.id, ok, float(ok), x, expected, _join(fb, q.explanation), {}, {"error": x - q.answer}
    )


def grade(question: Any, response: Any, **context: Any) -> Grade:
    """Grade any question. ``context``: ``target_px`` for find_on_fluoro, ``catalog`` for groups
    in identify and place_needle, ``names`` (id → display name) for readable feedback."""
    if isinstance(question, m.SingleChoice):
        return grade_single_choice(question, response)
    if isinstance(question, m.MultipleChoice):
        return grade_multiple_choice(question, response)
    if isinstance(question, m.Identify):
        return grade_identify(question, response, context.get("catalog"), context.get("names"))
    if isinstance(question, m.FindOnFluoro):
        if "target_px" not in context:
            raise ValidationError(f"{question.id}: grading a fluoroscopy click needs target_px")
        return grade_find_on_fluoro(question, response, context["target_px"], context.get("names"))
    if isinstance(question, m.ChooseLevel):
        return grade_choose_level(question, response)
    if isinstance(question, m.PlaceNeedle):
        if isinstance(response, dict):
            response = NeedleOutcome(**{**response, "touched": tuple(response.get("touched", ()))})
        return grade_place_needle(question, response, context.get("catalog"))
    if isinstance(question, m.Numeric):
        return grade_numeric(question, response)
    raise ValidationError(f"cannot grade a {type(question).__name__}")


def project_target(anatomy: Any, question: m.FindOnFluoro, pose: Any) -> np.ndarray:
    """The target's triangles projected by ``pose`` (a fluoro ``CArmPose``): (n, 3, 2) pixels.

    Uses ``pose.project`` (LPS mm → column, row), the same projection the DRR is drawn with.
    """
    from iddsanatomy.lessons.names import catalog_from_anatomy

    ids = catalog_from_anatomy(anatomy).expand(question.target)
    tris = []
    for sid in ids:
        s = anatomy.structures.get(sid)
        if s is None or s.mesh is None:
            continue
        faces = np.asarray(s.mesh.faces)
        px = np.asarray(pose.project(np.asarray(s.mesh.vertices, dtype=float)), dtype=float)
        tris.append(px[:, :2][faces])
    for sid in ids:  # parts of bones: the faces of the parent labelled with the part
        if sid in anatomy.structures:
            continue
        parent_id = sid.split(".")[0]
        parent = anatomy.structures.get(parent_id)
        if parent is None or parent.mesh is None or parent.face_labels is None:
            continue
        idx = parent.part_ids.index(sid) if sid in parent.part_ids else -1
        faces = np.asarray(parent.mesh.faces)[np.asarray(parent.face_labels) == idx]
        px = np.asarray(pose.project(np.asarray(parent.mesh.vertices, dtype=float)), dtype=float)
        tris.append(px[:, :2][faces])
    if not tris:
        return np.zeros((0, 3, 2))
    return np.concatenate(tris, axis=0)


def example_needle_pose(anatomy: Any, goal: m.NeedleGoal) -> Any:
    """A needle that meets ``goal``, to show after a placement is graded ("draw the right path").

    A midline needle at the goal's first interspace (perpendicular to the skin, else to the
    spine), advanced to the middle of the first stretch of the goal's space along it: CSF for
    intrathecal, epidural fat for epidural. ``None`` when no such line is found.
    """
    from iddsanatomy.needle import analyse, midline_pose

    want = "csf" if goal.space == "intrathecal" else "epidural"
    for level in goal.levels:
        for reference in ("skin", "spine"):
            try:
                pose = midline_pose(anatomy, level, reference=reference)
                full = analyse(anatomy, pose.with_depth(pose.needle.length_mm))
            except Exception:
                continue
            if full.bone_contact is not None:
                continue
            for c in (*full.crossings, *getattr(full, "ahead", ())):
                hit = c.tissue == want if want == "csf" else c.structure_id.startswith(want)
                if hit and c.exit_depth_mm > c.entry_depth_mm:
                    return pose.with_depth((c.entry_depth_mm + c.exit_depth_mm) / 2)
    return None
