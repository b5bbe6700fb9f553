"""Grading of every question type against hand-made cases, including clicks on a boundary."""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.errors import ValidationError
from iddsanatomy.quiz import grading
from iddsanatomy.quiz.grading import NeedleOutcome, click_distance_px, grade
from iddsanatomy.quiz.models import (
    ChooseLevel,
    FindOnFluoro,
    Identify,
    MultipleChoice,
    Numeric,
    PlaceNeedle,
    SingleChoice,
)


def single():
    return SingleChoice.model_validate(
        {
            "id": "s",
            "type": "single_choice",
            "prompt": "Conus?",
            "options": [
                {"text": "L1", "correct": True, "explanation": "Saifuddin 1998"},
                {"text": "L4", "explanation": "too low"},
                {"text": "T10"},
            ],
        }
    )


def multiple():
    return MultipleChoice.model_validate(
        {
            "id": "m",
            "type": "multiple_choice",
            "prompt": "Which?",
            "options": [
                {"text": "A", "correct": True},
                {"text": "B", "correct": True},
                {"text": "C"},
                {"text": "D", "correct": True},
            ],
        }
    )


def test_single_choice():
    g = grade(single(), "a")
    assert g.correct and g.score == 1.0 and "Saifuddin 1998" in g.feedback
    g = grade(single(), "b")
    assert not g.correct and g.score == 0 and "too low" in g.feedback and "**L1**" in g.feedback
    with pytest.raises(ValidationError, match="no option 'z'"):
        grade(single(), "z")


@pytest.mark.parametrize(
    ("picked", "score", "correct"),
    [
        (["a", "b", "d"], 1.0, True),
        (["a", "b"], 2 / 3, False),  # two of three right
        (["a", "b", "c"], 1 / 3, False),  # (2 right - 1 wrong) / 3
        (["c"], 0.0, False),  # never negative
        ([], 0.0, False),
        (["a", "b", "c", "d"], 2 / 3, False),
    ],
)
def test_multiple_choice_partial_credit(picked, score, correct):
    g = grade(multiple(), picked)
    assert g.score == pytest.approx(score) and g.correct is correct


def test_identify_ids_and_patterns():
    q = Identify.model_validate(
        {"id": "i", "type": "identify", "prompt": "p", "answer": ["L4.pedicle.left", "L4.lamina.*"]}
    )
    assert grade(q, "L4.pedicle.left").correct
    assert grade(q, "L4.lamina.right").correct
    assert not grade(q, "L4.pedicle.right").correct
    assert not grade(q, "L4").correct  # the whole bone is not the part
    assert not grade(q, None).correct
    assert grade(q, "L3").reveal["highlight"] == ["L4.pedicle.left", "L4.lamina.*"]


# A unit square split into two triangles, in pixels: columns 10..20, rows 30..40.
SQUARE = np.array([[[10, 30], [20, 30], [20, 40]], [[10, 30], [20, 40], [10, 40]]], float)


@pytest.mark.parametrize(
    ("click", "distance"),
    [
        ((15, 35), 0.0),  # inside
        ((10, 35), 0.0),  # exactly on the left edge
        ((20, 30), 0.0),  # exactly on a corner
        ((15, 35 + 0.0), 0.0),
        ((15.0, 35.0), 0.0),  # on the shared diagonal
        ((25, 35), 5.0),  # 5 px right of the right edge
        ((23, 44), 5.0),  # 3-4-5 from the corner (20, 40)
        ((15, 29), 1.0),
    ],
)
def test_click_distance_hand_cases(click, distance):
    assert click_distance_px(click, SQUARE) == pytest.approx(distance)


def test_click_distance_any_winding_and_empty():
    flipped = SQUARE[:, ::-1, :]
    assert click_distance_px((10, 35), flipped) == 0.0
    assert click_distance_px((0, 0), np.zeros((0, 3, 2))) == float("inf")


def fluoro_q(tol):
    return FindOnFluoro.model_validate(
        {
            "id": "f",
            "type": "find_on_fluoro",
            "prompt": "p",
            "target": "interlaminar.L3-L4",
            "carm": "ap",
            "tolerance_px": tol,
        }
    )


def test_find_on_fluoro_boundary_and_tolerance():
    assert grade(fluoro_q(0), (20, 35), target_px=SQUARE).correct  # on the boundary
    assert not grade(fluoro_q(0), (20.01, 35), target_px=SQUARE).correct
    assert grade(fluoro_q(3), (23, 35), target_px=SQUARE).correct  # exactly at tolerance
    g = grade(fluoro_q(3), (23.5, 35), target_px=SQUARE)
    assert not g.correct and g.detail["distance_px"] == pytest.approx(3.5)
    assert g.reveal["point_px"] == pytest.approx([15.0, 35.0], abs=2)
    with pytest.raises(ValidationError, match="target_px"):
        grade(fluoro_q(0), (1, 1))


def test_find_on_fluoro_through_the_real_projection():
    """A 20 mm wide, 2 mm thick plate at the isocentre of an AP shot: its half-width on the
    image is 10 mm × magnification / pixel size (hand computation), centred on the image."""
    trimesh = pytest.importorskip("trimesh")
    from iddsanatomy.anatomy.model import Anatomy, Structure
    from iddsanatomy.fluoro.pose import CArmPose

    pose = CArmPose()  # AP, centre at the origin
    plate = trimesh.creation.box(extents=(20.0, 2.0, 20.0))
    anat = Anatomy(
        {"interlaminar.L3-L4": Structure("interlaminar.L3-L4", "region", "w", mesh=plate)}
    )
    tri = grading.project_target(anat, fluoro_q(0), pose)
    assert tri.shape[1:] == (3, 2) and len(tri) == 12
    centre = pose.project(np.zeros(3))
    assert centre == pytest.approx([(pose.pixels - 1) / 2] * 2)
    mag = pose.sid_mm / pose.source_to_centre_mm
    half_px = 10.0 * mag / (pose.detector_mm / pose.pixels)  # ≈ 27.5 px
    # the near face (1 mm nearer the source) is magnified slightly more: allow 0.3 px
    assert grade(fluoro_q(0), centre + np.array([half_px - 0.3, 0]), target_px=tri).correct
    assert not grade(fluoro_q(0), centre + np.array([half_px + 0.5, 0]), target_px=tri).correct
    assert grade(fluoro_q(0), centre + np.array([0, half_px - 0.3]), target_px=tri).correct


def test_choose_level_with_rationale():
    q = ChooseLevel.model_validate(
        {
            "id": "c",
            "type": "choose_level",
            "prompt": "p",
            "variant": "prior L4-L5 laminectomy",
            "options": ["L2-L3", "L3-L4", "L4-L5"],
            "correct": "L3-L4",
            "rationale": {"L2-L3": "near conus", "L3-L4": "good", "L4-L5": "operated"},
        }
    )
    g = grade(q, "L3-L4")
    assert g.correct and "good" in g.feedback and "operated" in g.feedback
    g = grade(q, "L4-L5")
    assert not g.correct and "(your choice): operated" in g.feedback
    assert g.reveal["highlight"] == ["interlaminar.L3-L4"]
    with pytest.raises(ValidationError, match="not offered"):
        grade(q, "L5-S1")


def test_choose_level_model_refuses_incomplete_rationale():
    from pydantic import ValidationError as PydanticError

    with pytest.raises(PydanticError, match="missing: L4-L5"):
        ChooseLevel.model_validate(
            {
                "id": "c",
                "type": "choose_level",
                "prompt": "p",
                "variant": "obese",
                "options": ["L3-L4", "L4-L5"],
                "correct": "L3-L4",
                "rationale": {"L3-L4": "ok"},
            }
        )


def needle_q():
    return PlaceNeedle.model_validate(
        {
            "id": "n",
            "type": "place_needle",
            "prompt": "p",
            "goal": {
                "space": "intrathecal",
                "levels": ["L3-L4"],
                "max_redirections": 2,
                "avoid": ["conus"],
            },
        }
    )


@pytest.mark.parametrize(
    ("outcome", "correct", "failing"),
    [
        (NeedleOutcome("intrathecal", "L3-L4", False, 2, ("skin", "dura")), True, None),
        (NeedleOutcome("epidural", "L3-L4", False, 0), False, "tip in the intrathecal space"),
        (NeedleOutcome("intrathecal", "L2-L3", False, 0), False, "through L3-L4"),
        (NeedleOutcome("intrathecal", "L3-L4", True, 0), False, "no bone contact"),
        (NeedleOutcome("intrathecal", "L3-L4", False, 3), False, "at most 2 redirections"),
        (
            NeedleOutcome("intrathecal", "L3-L4", False, 0, ("dura", "conus")),
            False,
            "not touching conus",
        ),
    ],
)
def test_place_needle_each_condition(outcome, correct, failing):
    g = grade(needle_q(), outcome)
    assert g.correct is correct
    if failing:
        assert f"✗ {failing}" in g.feedback
    # the stored response grades the same
    assert grade(needle_q(), g.response).correct is correct


def test_outcome_from_needle_analysis():
    from types import SimpleNamespace

    crossing = SimpleNamespace
    analysis = SimpleNamespace(
        intrathecal=True,
        in_epidural_space=False,
        tip_tissue="csf",
        interlaminar="L3-L4",
        bone_contact=None,
        blocked=False,
        tip_lps=np.array([0.0, 10.0, -5.0]),
        crossings=(crossing(structure_id="skin"), crossing(structure_id="dura")),
    )
    o = grading.outcome_from_analysis(analysis, redirections=1)
    assert o == NeedleOutcome("intrathecal", "L3-L4", False, 1, ("skin", "dura"), (0.0, 10.0, -5.0))


@pytest.mark.parametrize(
    ("value", "correct"),
    [
        (5.7, True),
        (5.2, True),
        (6.2, True),
        (5.19, False),
        (6.21, False),
        ("5,5", True),
        ("five", False),
        (None, False),
        (float("nan"), False),
    ],
)
def test_numeric_tolerance_bounds_count(value, correct):
    q = Numeric.model_validate(
        {"id": "d", "type": "numeric", "prompt": "p", "answer": 5.7, "tolerance": 0.5, "unit": "cm"}
    )
    assert grade(q, value).correct is correct


def test_option_order_is_seeded_and_a_permutation():
    q = single()
    a = grading.option_order(q, 1)
    assert sorted(a) == ["a", "b", "c"]
    assert grading.option_order(q, 1) == a
    orders = {tuple(grading.option_order(q, s)) for s in range(30)}
    assert len(orders) > 1  # the seed matters
    fixed = q.model_copy(update={"shuffle": False})
    assert grading.option_order(fixed, 5) == ["a", "b", "c"]


def test_draw_is_seeded_without_replacement():
    items = list(range(10))
    d = grading.draw(items, 4, seed="class-1")
    assert d == grading.draw(items, 4, seed="class-1") and len(set(d)) == 4
    with pytest.raises(ValidationError, match="cannot draw 11"):
        grading.draw(items, 11, seed=0)


@pytest.fixture(scope="module")
def phantom():
    from iddsanatomy.needle.phantom import build_phantom

    return build_phantom()


@pytest.mark.parametrize(
    ("entry_x", "depth_mm", "space", "correct"),
    [
        (0.0, 60.0, "intrathecal", True),  # csf lies 55–66 mm deep in the phantom
        (0.0, 52.0, "epidural", False),  # epidural fat 50–54 mm
        (0.0, 75.0, "intrathecal", True),  # among the cauda equina roots, inside the sac
    ],
)
def test_place_needle_through_the_needle_analysis(phantom, entry_x, depth_mm, space, correct):
    """Grading a placement through the needle module's own analysis of its box phantom, whose
    layer depths are known by hand (needle/phantom.py docstring)."""
    from iddsanatomy.needle import NeedlePose, analyse

    anatomy = phantom
    pose = NeedlePose(
        entry_lps=(entry_x, 0.0, -22.0),
        direction=(0.0, -1.0, 0.0),
        depth_mm=depth_mm,
        needle_type="spinal-22G-pencil-point-90",
    )
    outcome = grading.outcome_from_analysis(analyse(anatomy, pose), redirections=0)
    q = needle_q().model_copy(update={"goal": needle_q().goal.model_copy(update={"avoid": []})})
    assert outcome.space == space and outcome.interspace == "L3-L4"
    assert not outcome.bone_contact
    assert grade(q, outcome).correct is correct


def test_place_needle_on_the_lamina_touches_bone(phantom):
    from iddsanatomy.needle import NeedlePose, analyse

    anatomy = phantom
    # 10 mm left of the midline at the level of L3's lamina (x 1–20, y -45…-50, z -10…10)
    pose = NeedlePose(entry_lps=(10.0, 0.0, 0.0), direction=(0.0, -1.0, 0.0), depth_mm=60.0)
    outcome = grading.outcome_from_analysis(analyse(anatomy, pose))
    assert outcome.bone_contact
    assert not grade(needle_q(), outcome).correct


@pytest.mark.parametrize(
    ("space", "lo", "hi"), [("intrathecal", 55.0, 66.0), ("epidural", 50.0, 54.0)]
)
def test_example_needle_pose_reaches_the_goal(phantom, space, lo, hi):
    """The "right path" shown after grading ends in the goal's space: in the phantom, CSF lies
    55–66 mm and epidural fat 50–54 mm deep along the L3–L4 midline (hand figures)."""
    from iddsanatomy.needle import analyse
    from iddsanatomy.quiz.models import NeedleGoal

    goal = NeedleGoal(space=space, levels=["L3-L4"])
    pose = grading.example_needle_pose(phantom, goal)
    assert pose is not None and lo < pose.depth_mm < hi
    outcome = grading.outcome_from_analysis(analyse(phantom, pose))
    assert outcome.space == space and outcome.interspace == "L3-L4" and not outcome.bone_contact


def test_click_distance_matches_a_brute_force_reference():
    """Second method: points inside by barycentric combination are at distance 0; outside, the
    distance equals the nearest of 4,000 samples along the triangle's edges (to the sample step)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    coord = st.floats(-200, 200, allow_nan=False)

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(coord, min_size=6, max_size=6),
        coord,
        coord,
        st.lists(st.floats(0, 1), min_size=3, max_size=3),
    )
    def check(v, px, py, w):
        tri = np.array(v, float).reshape(1, 3, 2)
        (ax, ay), (bx, by) = tri[0, 1] - tri[0, 0], tri[0, 2] - tri[0, 0]
        area = abs(ax * by - ay * bx)
        if area < 1.0:
            return  # degenerate triangles are not targets
        w = np.array(w) + 1e-3
        inside = (w / w.sum()) @ tri[0]
        assert click_distance_px(inside, tri) == 0.0
        t = np.linspace(0, 1, 1334)[:, None]
        edges = np.concatenate(
            [tri[0, i] + t * (tri[0, (i + 1) % 3] - tri[0, i]) for i in range(3)]
        )
        p = np.array([px, py])
        d = click_distance_px(p, tri)
        if d > 0:
            step = max(np.linalg.norm(tri[0, i] - tri[0, (i + 1) % 3]) for i in range(3)) / 1333
            ref = np.linalg.norm(edges - p, axis=1).min()
            assert ref - step <= d <= ref + 1e-9

    check()
