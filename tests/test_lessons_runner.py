"""LessonRunner: steps a lesson end to end and checks the SceneState at every step."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iddsanatomy.errors import LessonError
from iddsanatomy.lessons import loader
from iddsanatomy.lessons.names import catalog_from_manifest
from iddsanatomy.lessons.runner import LessonRunner
from iddsanatomy.scene import Camera, ClipPlane, SceneState

DATA = Path(__file__).parent / "data"

LESSON = textwrap.dedent(
    """\
    schema_version: 1
    id: run
    title: Runner lesson
    summary: Steps that change every kind of scene field.
    objectives: [Watch the scene change]
    minutes: 3
    groups:
      lumbar: [L1, L2, L3, L4, L5]
    start_scene:
      visible: ["@lumbar"]
      camera: posterior
      labels: [levels]
    steps:
      - id: s0
        title: Start
      - id: s1
        title: Pedicles, obese patient
        scene:
          highlight: ["L3.pedicle.*"]
          show: [conus, dura]
          opacity: {dura: 0.3}
          variant: obese
          camera: {view: left, zoom: 2}
      - id: s2
        title: Fluoro and needle
        scene:
          hide: [L1]
          opacity: {"@bone": 0.8}
          carm: {preset: ap, level: L3-L4, cranial_tilt_deg: 5}
          fluoro_open: true
          needle: trainee
          clip: {kind: sagittal}
      - id: s3
        title: Clear some fields
        scene:
          highlight: []
          clip: null
          variant: null
          needle: {entry_lps: [0, 80, -20], target_lps: [0, 20, -15]}
          camera: {position_lps: [0, 500, 0], focal_point_lps: [0, 0, 0]}
      - id: s4
        title: Reset
        reset: true
        scene:
          select: L4
        question:
          id: q
          type: identify
          prompt: Click L4
          answer: L4
          scene: {highlight: [L4]}
    """
)

LUMBAR = frozenset({"L1", "L2", "L3", "L4", "L5"})
BONES = ("T12", "L1", "L2", "L3", "L4", "L5", "sacrum", "rib12.left", "rib12.right")


@pytest.fixture
def runner(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(LESSON, encoding="utf-8")
    cat = catalog_from_manifest(DATA / "lessons_manifest.json")
    return LessonRunner.load(path, SceneState(), cat)


def test_steps_end_to_end(runner):
    from iddsanatomy.anatomy.variant import preset
    from iddsanatomy.fluoro.pose import CArmPose

    st = runner.state
    seen = []
    runner.events.step_changed.connect(lambda i, step: seen.append((i, step.id)))
    finished = []
    runner.events.finished.connect(lambda: finished.append(True))

    runner.start()
    assert st.visible == LUMBAR and st.camera == Camera(view="posterior")
    assert st.labels == frozenset({"levels"}) and st.highlighted == frozenset()
    assert st.variant is None and st.carm is None and st.needle_mode == "off"

    assert runner.next()
    assert st.highlighted == {"L3.pedicle.left", "L3.pedicle.right"}
    assert st.visible == LUMBAR | {"conus", "dura"}
    assert st.opacity == {"dura": 0.3}
    assert st.variant == preset("obese") and st.variant.bmi == 40
    assert st.camera == Camera(view="left", zoom=2.0)
    assert st.labels == {"levels"}  # carried over from the start scene

    assert runner.next()
    assert st.visible == (LUMBAR - {"L1"}) | {"conus", "dura"}
    # @bone sets every bone's opacity, dura keeps its previous value
    assert st.opacity == {"dura": 0.3, **dict.fromkeys(BONES, 0.8)}
    assert st.carm == CArmPose(orbital_deg=0.0, cranial_tilt_deg=5.0, level="L3-L4")
    assert st.fluoro_open is True and st.needle_mode == "trainee" and st.needle is None
    assert st.clip == ClipPlane((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), "sagittal")
    assert st.variant == preset("obese")  # carried over
    assert st.highlighted == {"L3.pedicle.left", "L3.pedicle.right"}

    assert runner.next()
    assert st.highlighted == frozenset() and st.clip is None and st.variant is None
    assert st.needle_mode == "fixed" and st.needle is not None
    assert st.camera.view is None and st.camera.position_lps == (0.0, 500.0, 0.0)
    assert st.fluoro_open is True  # carried over

    assert runner.next()
    # reset: back to the start scene, plus this step and its question's scene
    assert st.visible == LUMBAR and st.camera == Camera(view="posterior")
    assert st.selected == "L4" and st.highlighted == {"L4"}
    assert st.carm is None and st.fluoro_open is False and st.opacity == {}
    assert runner.at_end and not runner.next()
    assert runner.progress == 1.0 and finished == [True]
    assert [i for i, _ in seen] == [0, 1, 2, 3, 4]


def test_same_step_same_scene_whatever_the_path(runner):
    runner.start()
    for _ in range(4):
        runner.next()
    runner.back()
    runner.back()
    via_back = {k: getattr(runner.state, k) for k in runner.scene_at(2)}
    runner.jump(0)
    runner.jump("s2")
    via_jump = {k: getattr(runner.state, k) for k in runner.scene_at(2)}
    assert via_back == via_jump == runner.scene_at(2)


def test_state_changes_are_assignments_that_emit(runner):
    changes = []
    runner.state.events.highlighted.connect(lambda v: changes.append(v))
    runner.start()
    runner.next()
    assert changes == [frozenset({"L3.pedicle.left", "L3.pedicle.right"})]


def test_navigation_bounds_and_errors(runner):
    runner.start()
    assert not runner.back() and runner.index == 0
    with pytest.raises(LessonError, match=r"no step 's9'.*did you mean"):
        runner.jump("s9")
    with pytest.raises(LessonError, match="out of range"):
        runner.jump(7)
    assert runner.progress == pytest.approx(1 / 5)


def test_reload_keeps_the_step_and_survives_a_broken_file(runner):
    runner.start()
    runner.jump("s2")
    path = runner.path
    path.write_text(LESSON.replace("title: Start", "title: Begin"), encoding="utf-8")
    runner.reload()
    assert runner.index == 2 and runner.step.id == "s2"
    assert runner.lesson.steps[0].title == "Begin"
    # a step inserted before: the current step follows its id
    path.write_text(
        LESSON.replace("  - id: s0\n", "  - id: new\n    title: New\n  - id: s0\n"),
        encoding="utf-8",
    )
    runner.reload()
    assert runner.step.id == "s2" and runner.index == 3
    path.write_text(LESSON.replace("minutes: 3", "minutes: lots"), encoding="utf-8")
    with pytest.raises(loader.LessonLoadError):
        runner.reload()
    assert runner.step.id == "s2"  # the old lesson is kept


def test_example_lesson_runs_to_its_end():
    from iddsanatomy.paths import data_dir

    cat = catalog_from_manifest(DATA / "lessons_manifest.json")
    r = LessonRunner.load(data_dir("lessons") / "example_orientation.yaml", SceneState(), cat)
    r.start()
    while r.next():
        pass
    assert r.finished and r.state.fluoro_open and r.state.carm.level == "L3-L4"
    assert r.state.variant is None  # the last step resets the obese patient


def test_every_shipped_lesson_runs_to_its_end():
    from iddsanatomy.lessons.names import default_catalog
    from iddsanatomy.paths import data_dir

    lib = loader.discover(data_dir("lessons"), default_catalog())
    assert lib.lessons
    for entry in lib.lessons:
        r = LessonRunner(entry.item, SceneState(), default_catalog(), entry.path)
        r.start()
        while r.next():
            pass
        assert r.finished, entry.path


def test_carm_level_is_centred_with_an_anatomy(tmp_path):
    from viewer_fixtures import make_anatomy

    from iddsanatomy.fluoro.pose import level_centre_lps
    from iddsanatomy.lessons.names import catalog_from_anatomy

    anatomy = make_anatomy()
    path = tmp_path / "c.yaml"
    head = LESSON.split("groups:")[0]
    steps = "steps:\n  - {id: a, title: A, scene: {carm: {preset: ap, level: L4}}}\n"
    steps += "  - {id: b, title: B, scene: {carm: {preset: ap, level: L3-L4}}}\n"
    path.write_text(head + steps, encoding="utf-8")
    r = LessonRunner.load(path, SceneState(), catalog_from_anatomy(anatomy), anatomy)
    r.start()
    expected = level_centre_lps(anatomy, "L4")
    assert r.state.carm.centre_lps == pytest.approx(tuple(expected))
    assert r.state.carm.centre_lps[2] == pytest.approx(-40.0, abs=15)  # L4 sits at z = -40
    r.next()  # an interspace: midway between the two vertebrae's centres
    mid = (level_centre_lps(anatomy, "L3") + level_centre_lps(anatomy, "L4")) / 2
    assert r.state.carm.centre_lps == pytest.approx(tuple(mid))
