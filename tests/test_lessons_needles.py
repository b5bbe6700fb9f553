"""Planned needles in lessons: placed on the step's patient, a clear error when they cannot be.

A step may say ``needle: {interspace: L4-L5, approach: paramedian, target: intrathecal}``; the
runner places it with the needle path finder on the anatomy of the patient the step shows. The
independent answers: the needle analysis of the placed needle (tip in the tissue the plan names,
through the interspace it names, no bone), and the patient — an operated level (prior L4–L5
laminectomy) has scar where the window was, so no clear path exists there.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from iddsanatomy.cli import main
from iddsanatomy.lessons import loader
from iddsanatomy.lessons.runner import LessonRunner, apply_spec, default_scene, patient_anatomies
from iddsanatomy.lessons.scene_spec import NeedlePlanError, NeedlePlanSpec, SceneSpec
from iddsanatomy.needle.analysis import analyse
from iddsanatomy.needle.pose import NeedlePose
from iddsanatomy.scene import SceneState

OPERATED = "prior L4-L5 laminectomy"

LESSON = textwrap.dedent(
    f"""\
    schema_version: 1
    id: planned
    title: Planned needles
    summary: A needle that follows the patient.
    objectives: [See the needle placed on each patient]
    minutes: 3
    start_scene:
      visible: [L3, L4, L5, dura, csf]
      camera: left
    steps:
      - id: default
        title: The default patient
        scene:
          needle: {{interspace: L4-L5, approach: paramedian, side: left, target: intrathecal}}
      - id: operated
        title: The same plan after a laminectomy at that level
        scene:
          variant: {OPERATED}
      - id: short
        title: Stopped short, back on the default patient
        scene:
          variant: null
          needle: {{interspace: L4-L5, approach: paramedian, target: intrathecal, depth: 30}}
      - id: epidural
        title: Epidural, midline
        scene:
          needle: {{interspace: L4-L5, approach: midline, target: epidural}}
    """
)


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    path = tmp_path_factory.mktemp("planned") / "planned.yaml"
    path.write_text(LESSON, encoding="utf-8")
    return path, loader.load_lesson(path, None)


@pytest.fixture(scope="module")
def anatomy_for(default_anatomy):
    return patient_anatomies(default_anatomy)


def test_plan_form_validates_and_coordinates_still_do():
    spec = SceneSpec.model_validate(
        {"needle": {"interspace": "L3-L4", "approach": "midline", "target": "epidural"}}
    )
    assert isinstance(spec.needle, NeedlePlanSpec)
    assert spec.needle.depth == "target" and spec.needle.side is None
    coords = SceneSpec.model_validate(
        {"needle": {"entry_lps": [0, 80, 0], "target_lps": [0, 1, 0]}}
    )
    assert type(coords.needle).__name__ == "NeedleSpec"
    assert SceneSpec.model_validate({"needle": "trainee"}).needle == "trainee"


def test_placed_needle_ends_where_the_plan_says(lesson, default_anatomy, anatomy_for):
    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, anatomy_for=anatomy_for)
    runner.start()
    st = runner.state
    assert st.needle_mode == "fixed" and isinstance(st.needle, NeedlePose)
    a = analyse(default_anatomy, st.needle)
    assert a.tip_tissue == "csf" and a.intrathecal
    assert a.interlaminar == "L4-L5" and a.bone_contact is None and not a.blocked
    assert st.needle.entry_lps[0] > 0, "a left paramedian entry is on the patient's left (+x)"
    assert runner.needle_problem(0) is None

    runner.jump("epidural")
    a = analyse(default_anatomy, st.needle)
    assert a.in_epidural_space and a.tip_tissue == "fat" and a.interlaminar == "L4-L5"
    assert abs(st.needle.entry_lps[0]) < 5.0, "a midline entry"


def test_a_depth_in_mm_advances_along_the_planned_path(lesson, default_anatomy, anatomy_for):
    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, anatomy_for=anatomy_for)
    full, short = runner.scene_at(0)["needle"], runner.scene_at(2)["needle"]
    assert short.depth_mm == pytest.approx(30.0)
    assert np.allclose(short.entry_lps, full.entry_lps)
    assert np.allclose(short.unit_direction, full.unit_direction)
    assert full.depth_mm > 30.0  # the CSF is deeper than 30 mm of tissue behind the lamina
    assert analyse(default_anatomy, short).tip_tissue != "csf"


def test_no_clear_path_is_a_named_error_for_that_step_and_the_lesson_goes_on(
    lesson, default_anatomy, anatomy_for
):
    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, anatomy_for=anatomy_for)
    problems = []
    runner.events.needle_problem.connect(lambda i, msg: problems.append((i, msg)))
    runner.start()
    assert runner.next()  # to the operated patient: the plan is carried over and fails there
    st = runner.state
    err = runner.needle_problem(1)
    assert isinstance(err, NeedlePlanError)
    text = str(err)
    assert "step 'operated'" in text and OPERATED in text
    assert "paramedian (left) L4-L5 needle to the intrathecal space" in text
    assert st.needle is None and st.needle_mode == "off"
    assert st.message.startswith("Needle not shown:")
    assert problems[-1] == (1, text) and problems[0] == (0, "")
    assert runner.next() and runner.next() and runner.at_end  # the lesson goes on
    assert st.needle_mode == "fixed" and st.needle is not None and not st.message


def test_without_the_patients_anatomy_the_needle_waits_for_set_anatomy(lesson, default_anatomy):
    """The app builds the patient in the background; the needle appears when it arrives."""
    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None)
    runner.start()
    assert runner.state.needle is None and runner.state.needle_mode == "fixed"
    assert runner.needle_problem(0) is None
    runner.set_anatomy(default_anatomy)
    assert isinstance(runner.state.needle, NeedlePose)
    assert analyse(default_anatomy, runner.state.needle).tip_tissue == "csf"
    runner.next()  # the operated patient is not built yet: waiting, not an error
    assert runner.state.needle is None and runner.needle_problem(1) is None


def test_apply_spec_places_a_plan_on_the_anatomy_it_is_given(default_anatomy):
    """Callers outside the runner (a bank question's scene) get a pose or a NeedlePlanError."""
    spec = SceneSpec.model_validate(
        {"needle": {"interspace": "L4-L5", "approach": "paramedian", "target": "epidural"}}
    )
    s = apply_spec(default_scene(), spec, lambda refs: list(refs), default_anatomy)
    assert isinstance(s["needle"], NeedlePose) and s["needle_mode"] == "fixed"
    with pytest.raises(NeedlePlanError, match="needs an anatomy"):
        apply_spec(default_scene(), spec, lambda refs: list(refs), None)


def test_check_places_planned_needles_on_each_steps_patient(lesson, capsys):
    path, _les = lesson
    code = main(["lessons", "check", str(path)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    lines = out.splitlines()
    assert len([p for p in lines if not p.startswith(" ")]) == 1, out
    line = LESSON.splitlines().index(f"      variant: {OPERATED}") + 1
    assert lines[0].startswith(f"{path}:{line}:"), lines[0]
    assert "steps[1].scene.variant: step 'operated': the planned paramedian (left) L4-L5" in out
    assert "checked 1 file: 1 problem in 1 file" in err
    assert main(["lessons", "check", str(path), "--no-needles"]) == 0


def test_check_passes_a_plan_that_works(tmp_path, capsys):
    text = LESSON.split("  - id: operated")[0]
    assert "operated" not in text and "L4-L5, approach: paramedian" in text
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["lessons", "check", str(path)]) == 0, capsys.readouterr().out


def test_json_schema_has_the_plan_form():
    import jsonschema

    from iddsanatomy.lessons.schema import json_schema

    schema = json_schema()
    assert "NeedlePlanSpec" in schema["$defs"]
    validator = jsonschema.Draft202012Validator(schema)
    doc = {
        "schema_version": 1,
        "id": "x",
        "title": "x",
        "summary": "x",
        "objectives": ["x"],
        "minutes": 5,
        "steps": [{"id": "a", "title": "a", "scene": {"needle": None}}],
    }
    good = {"interspace": "L3-L4", "approach": "paramedian", "side": "right", "target": "epidural"}
    for needle, ok in (
        (good, True),
        ({**good, "depth": 42.5}, True),
        ({**good, "target": "csf"}, False),
        ({**good, "taget": "epidural"}, False),
        ({**good, "depth": 0}, False),
    ):
        doc["steps"][0]["scene"]["needle"] = needle
        assert (not list(validator.iter_errors(doc))) is ok, needle


def test_a_catheter_is_threaded_through_the_placed_needle(default_anatomy):
    """Threaded from the space the plan names, starting at the needle tip, going cephalad."""
    plan = {"interspace": "L4-L5", "approach": "paramedian", "target": "epidural"}
    spec = SceneSpec.model_validate(
        {"needle": {**plan, "catheter": {"length_mm": 25, "direction": "cephalad"}}}
    )
    s = apply_spec(default_scene(), spec, lambda refs: list(refs), default_anatomy)
    cat, pose = s["catheter"], s["needle"]
    assert cat is not None and cat.space == "epidural" and cat.direction == "cephalad"
    assert np.allclose(cat.polyline_lps[0], pose.tip_lps, atol=1.0)
    assert cat.tip_lps[2] > pose.tip_lps[2] + 15.0  # 25 mm threaded towards the head (+z)
    assert cat.threaded_mm == pytest.approx(25.0, abs=0.5)
    cleared = apply_spec(s, SceneSpec.model_validate({"needle": None}), list, default_anatomy)
    assert cleared["catheter"] is None and cleared["needle"] is None


# --- placing later (the app: on a worker thread) ------------------------------------------------


def test_place_later_asks_for_the_placement_and_shows_the_result_handed_back(
    lesson, default_anatomy
):
    from iddsanatomy.lessons.runner import place_plan

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, place_later=True)
    asked, problems = [], []
    runner.events.needle_pending.connect(lambda i, plan, an: asked.append((i, plan, an)))
    runner.events.needle_problem.connect(lambda i, msg: problems.append((i, msg)))
    runner.start()
    st = runner.state
    assert st.needle is None and st.needle_mode == "fixed"  # the step shows, the needle waits
    plan = runner.planned_needle(0)[0]
    assert asked == [(0, plan, default_anatomy)]
    assert runner.pending_placement(0) == (plan, default_anatomy)
    result = place_plan(plan, default_anatomy)  # what the worker thread runs
    assert runner.placed(plan, default_anatomy, result)
    assert st.needle is result[0][0] and runner.pending_placement(0) is None
    a = analyse(default_anatomy, st.needle)
    assert a.intrathecal and a.interlaminar == "L4-L5"
    assert problems[-1] == (0, "")
    runner.jump("short")  # another plan (stopped at 30 mm): asked for in its turn
    assert len(asked) == 2 and asked[1][1].depth == 30.0 and st.needle is None
    short = asked[1][1]
    assert runner.placed(short, default_anatomy, place_plan(short, default_anatomy))
    assert st.needle.depth_mm == pytest.approx(30.0)
    runner.jump(0)  # the first result is still there: shown without asking again
    assert st.needle is result[0][0] and len(asked) == 2


def test_a_result_the_trainee_has_moved_on_from_is_kept_but_not_shown(lesson, default_anatomy):
    from iddsanatomy.lessons.runner import place_plan

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, place_later=True)
    asked = []
    runner.events.needle_pending.connect(lambda i, plan, an: asked.append(plan))
    runner.start()
    runner.jump("epidural")  # before the first plan came back
    paramedian, midline = asked
    assert midline.approach == "midline" and paramedian.approach == "paramedian"
    late = place_plan(paramedian, default_anatomy)
    assert not runner.placed(paramedian, default_anatomy, late)  # stale: not shown here
    assert runner.state.needle is None
    assert runner.placed(midline, default_anatomy, place_plan(midline, default_anatomy))
    assert analyse(default_anatomy, runner.state.needle).in_epidural_space
    runner.jump(0)  # the stale result was kept: shown at once, nothing asked
    assert runner.state.needle is late[0][0] and len(asked) == 2


def test_a_result_for_a_patient_no_longer_shown_is_dropped(lesson, default_anatomy):
    from iddsanatomy.lessons.runner import place_plan

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, place_later=True)
    runner.start()
    plan = runner.planned_needle(0)[0]
    from iddsanatomy.anatomy.variant import preset

    other = patient_anatomies(default_anatomy)(preset("obese"))
    assert not runner.placed(plan, other, place_plan(plan, default_anatomy))
    assert runner.state.needle is None and runner.pending_placement(0) == (plan, default_anatomy)


def test_the_trainees_own_needle_is_not_replaced_by_a_late_placement(lesson, default_anatomy):
    from iddsanatomy.lessons.runner import place_plan

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy, place_later=True)
    runner.start()
    plan = runner.planned_needle(0)[0]
    runner.state.needle_mode = "trainee"
    assert not runner.placed(plan, default_anatomy, place_plan(plan, default_anatomy))
    assert runner.state.needle is None and runner.state.needle_mode == "trainee"


# --- Copy scene as YAML: a planned needle is written as its plan -----------------------------


@pytest.mark.parametrize("step", ["default", "short", "epidural"])
def test_scene_yaml_of_a_planned_needle_round_trips_to_the_same_plan(
    lesson, default_anatomy, step, tmp_path
):
    import yaml

    from iddsanatomy.lessons.authoring import scene_as_yaml

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy)
    runner.jump(step)
    plan = runner.shown_plan()
    assert plan is not None and plan == runner.planned_needle(runner.index)[0]
    text = scene_as_yaml(runner.state, plan=plan)
    scene = yaml.safe_load(text)["scene"]
    assert "entry_lps" not in scene["needle"]
    pasted = SceneSpec.model_validate(scene)
    assert pasted.needle == plan  # copy → load → the same plan
    # and a lesson made of the pasted scene places the same needle
    one = textwrap.dedent(
        """\
        schema_version: 1
        id: pasted
        title: Pasted
        summary: A pasted scene.
        objectives: [Paste]
        minutes: 1
        steps:
          - id: only
            title: Only
        """
    )
    doc = yaml.safe_load(one)
    doc["steps"][0]["scene"] = scene
    path = tmp_path / "pasted.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    again = LessonRunner(
        loader.load_lesson(path, None), SceneState(), None, anatomy=default_anatomy
    )
    again.start()
    assert again.state.needle == runner.state.needle


def test_scene_yaml_writes_coordinates_once_the_trainee_moves_the_planned_needle(
    lesson, default_anatomy
):
    import yaml

    from iddsanatomy.lessons.authoring import scene_as_yaml

    _path, les = lesson
    runner = LessonRunner(les, SceneState(), None, anatomy=default_anatomy)
    runner.start()
    runner.state.needle = runner.state.needle.advanced(-3.0)
    assert runner.shown_plan() is None
    needle = yaml.safe_load(scene_as_yaml(runner.state, runner.shown_plan()))["scene"]["needle"]
    assert needle["depth_mm"] == pytest.approx(round(runner.state.needle.depth_mm, 1))
    assert needle["entry_lps"] == pytest.approx(runner.state.needle.entry_lps, abs=0.05)
