"""The curriculum (issue 10): the eight IDDS trial lessons load, play and keep their promises.

Content tier (core only): every lesson passes the check against the shipped structure ids, plays
end to end in a :class:`LessonRunner`, shows what it highlights and what it asks the trainee to
click, grades questions on the patient and C-arm the trainee is looking at, ends with at least
three self-assessment items with explanations, and cites a source next to every figure. Every
figure with a unit is checked against ``../shared/anatomy/REFERENCE.md`` when that file is present.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from iddsanatomy.lessons import loader, names
from iddsanatomy.lessons.runner import LessonRunner
from iddsanatomy.paths import shared_dir

LESSON_DIR = Path(__file__).resolve().parents[1] / "lessons"
CURRICULUM = sorted(LESSON_DIR.glob("0[1-9]_*.yaml"))
IDS = [p.stem for p in CURRICULUM]

#: A number with a unit: "14.0 ± 4.1 mm", "3.4–3.8 mm", "25.9° to 33.9°", "18.1 %", "49.9 mL".
NUM = r"\d+(?:\.\d+)?"
UNIT = r"(?:mm|cm|mL|°|%)"
FIGURE = re.compile(
    rf"(?<![\w.])({NUM})((?:\s*[°%]?\s*(?:±|–|-|to)\s*{NUM})*)\s*({UNIT})(?![A-Za-z])"
)
#: A citation in the text: a parenthesis that starts with a name and holds a year or a source
#: name, e.g. "(Saifuddin 1998)", "(Sci Rep 2022)", "(Lawrence, Reg Anesth Pain Med)".
PAREN = re.compile(r"\(([^()]+)\)")
YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")


@pytest.fixture(scope="session")
def meshes_dir(tmp_path_factory) -> Path:
    """The shipped ``meshes/``; while none is committed, a coarse set made by the project's own
    generator (the same ids and geometry at a lower resolution)."""
    from iddsanatomy.errors import DataNotFoundError
    from iddsanatomy.paths import data_dir

    try:
        folder = data_dir("meshes")
        if (folder / "manifest.json").is_file():
            return folder
    except DataNotFoundError:
        pass
    import warnings

    from iddsanatomy.anatomy.assembly import generate
    from iddsanatomy.anatomy.io import save_generated

    folder = tmp_path_factory.mktemp("meshes")
    with warnings.catch_warnings():  # trimesh's mass properties of open sheets warn; not ours
        warnings.simplefilter("ignore", RuntimeWarning)
        save_generated(generate(fast=True), folder)
    return folder


@pytest.fixture(scope="session")
def catalog(meshes_dir):
    return names.catalog_from_manifest(meshes_dir / "manifest.json")


@pytest.fixture(scope="module")
def lessons(catalog):
    return {p.stem: loader.load_lesson(p, catalog) for p in CURRICULUM}


def _question_texts(q) -> list[str]:
    out = [q.prompt, q.explanation]
    for o in getattr(q, "options", ()) or ():
        if hasattr(o, "text"):
            out += [o.text, o.explanation]
    out += list((getattr(q, "rationale", None) or {}).values())
    return [t for t in out if t]


def _blocks(lesson) -> list[tuple[str, str]]:
    """(where, text) for every step text and every question (prompt, options, rationale)."""
    out = []
    for s in lesson.steps:
        if s.text:
            out.append((f"{lesson.id}/{s.id}/text", s.text))
        if s.question is not None:
            out.append((f"{lesson.id}/{s.id}/question", "\n".join(_question_texts(s.question))))
    return out


def _figures(text: str) -> list[tuple[list[str], str, str]]:
    """([numbers], unit, matched text) for every figure with a unit in ``text``."""
    out = []
    for m in FIGURE.finditer(text):
        nums = [m.group(1), *re.findall(NUM, m.group(2))]
        out.append((nums, m.group(3), m.group(0)))
    return out


def _citations(text: str, references: list[str]) -> tuple[list[str], list[str]]:
    """Citations in ``text`` that match a reference, and citation-like ones that match none."""
    good, bad = [], []
    for m in PAREN.finditer(text):
        inner = m.group(1).strip()
        first = re.split(r"[\s,;]+", inner)[0]
        if not first or not first[0].isupper():
            continue
        year = YEAR.search(inner)
        hits = [r for r in references if first in r and (year is None or year.group(1) in r)]
        if hits:
            good.append(inner)
        elif year is not None:
            bad.append(inner)
    return good, bad


# --- the set of lessons ------------------------------------------------------------------------


def test_eight_numbered_lessons_with_unique_ids():
    assert len(CURRICULUM) == 8, [p.name for p in CURRICULUM]
    assert [p.name[:2] for p in CURRICULUM] == [f"{i:02d}" for i in range(1, 9)]
    ids = [loader.load_lesson(p, None).id for p in CURRICULUM]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", CURRICULUM, ids=IDS)
def test_lesson_passes_check_with_shipped_ids(path, catalog):
    problems = loader.check_file(path, catalog)
    assert problems == [], "\n".join(p.format() for p in problems)


@pytest.mark.parametrize("name", IDS)
def test_shape_six_to_fifteen_steps_ending_in_three_questions(lessons, name):
    lesson = lessons[name]
    steps = lesson.steps
    assert 6 <= len(steps) <= 15, len(steps)
    tail = steps[-3:]
    assert all(s.question is not None for s in tail), [s.id for s in tail]
    questions = [s.question for s in steps if s.question is not None]
    assert len({q.type for q in questions}) >= 2, "mix the question types"
    assert lesson.objectives and lesson.references and lesson.minutes >= 5


@pytest.mark.parametrize("name", IDS)
def test_every_answer_is_explained(lessons, name):
    for s in lessons[name].steps:
        q = s.question
        if q is None:
            continue
        if q.type in ("single_choice", "multiple_choice"):
            missing = [o.text for o in q.options if len(o.explanation.strip()) < 15]
            assert not missing, f"{s.id}: options without an explanation: {missing}"
        elif q.type == "choose_level":
            short = [k for k, v in q.rationale.items() if len(v.strip()) < 15]
            assert not short, f"{s.id}: thin rationale for {short}"
        else:
            assert len(q.explanation.strip()) >= 30, f"{s.id}: {q.type} needs an explanation"


@pytest.mark.parametrize("name", IDS)
def test_nearly_every_step_sets_the_scene(lessons, name):
    """The lessons are about 3D and fluoroscopic anatomy: the scene changes at almost every step."""
    steps = lessons[name].steps
    with_scene = [
        s
        for s in steps
        if s.scene.model_fields_set or (s.question is not None and s.question.scene is not None)
    ]
    assert len(with_scene) >= len(steps) - 2, [s.id for s in steps if s not in with_scene]


# --- playing the lessons --------------------------------------------------------------------


def _shown(ids_visible: frozenset[str], sid: str) -> bool:
    """Whether ``sid`` (a structure or a part such as ``L3.pedicle.left``) is on screen."""
    if sid in ids_visible:
        return True
    # a part id is shown when its bone is: L3.pedicle.left -> L3, rib12.left is its own structure
    return any(sid.startswith(v + ".") for v in ids_visible)


@pytest.mark.parametrize("name", IDS)
def test_plays_end_to_end_and_shows_what_it_names(lessons, catalog, name):
    lesson = lessons[name]
    runner = LessonRunner(lesson, catalog=catalog)
    seen = []
    runner.events.step_changed.connect(lambda i, step: seen.append(step.id))
    runner.start()
    while runner.next():
        pass
    assert runner.at_end and runner.finished
    assert seen == [s.id for s in lesson.steps]
    st = runner.state
    for i, step in enumerate(lesson.steps):
        runner.jump(i)
        where = f"{lesson.id}/{step.id}"
        assert st.visible, f"{where}: nothing is shown"
        hidden = [h for h in st.highlighted if not _shown(st.visible, h)]
        assert not hidden, f"{where}: highlights structures that are not shown: {sorted(hidden)}"
        if st.selected:
            assert _shown(st.visible, st.selected), f"{where}: selects a hidden structure"
        q = step.question
        if q is None:
            continue
        if q.type == "identify":
            answers = catalog.expand(q.answer, lesson.groups)
            assert any(_shown(st.visible, a) for a in answers), (
                f"{where}: the trainee cannot click {q.answer}: it is not shown"
            )
            assert not set(answers) & st.highlighted, f"{where}: the answer is highlighted"
        if q.type in ("find_on_fluoro", "choose_level", "place_needle") and q.variant is not None:
            assert st.variant == q.variant.build(), (
                f"{where}: the question is graded on another patient than the one shown"
            )
        if q.type == "find_on_fluoro":
            assert st.fluoro_open, f"{where}: a fluoroscopy question with the panel closed"
            assert st.carm == q.carm.build(), f"{where}: graded on another C-arm pose"
        if q.type == "place_needle":
            assert st.needle_mode == "trainee", f"{where}: the trainee cannot place the needle"


@pytest.mark.parametrize("name", IDS)
def test_scene_does_not_depend_on_the_path_taken(lessons, catalog, name):
    """Jumping backwards through the lesson gives the same scene as stepping forwards."""
    lesson = lessons[name]
    forward = LessonRunner(lesson, catalog=catalog)
    forward.start()
    ahead = [forward.scene_at(0)]
    while forward.next():
        ahead.append({k: getattr(forward.state, k) for k in ahead[0]})
    back = LessonRunner(lesson, catalog=catalog)
    for i in reversed(range(len(lesson.steps))):
        back.jump(i)
        assert {k: getattr(back.state, k) for k in ahead[0]} == ahead[i], lesson.steps[i].id


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_presets_and_poses_exist(lessons, name):
    presets = set(names.patient_presets())
    carms = set(names.carm_presets())

    def walk(spec):
        if spec is None:
            return
        v = getattr(spec, "variant", None)
        if v is not None and v.preset is not None:
            assert v.preset in presets, v.preset
        c = getattr(spec, "carm", None)
        if c is not None and c.preset is not None:
            assert c.preset in carms, c.preset

    lesson = lessons[name]
    walk(lesson.start_scene)
    for s in lesson.steps:
        walk(s.scene)
        if s.question is not None:
            walk(s.question.scene)
            walk(s.question)


# --- citations and figures -------------------------------------------------------------------


@pytest.mark.parametrize("name", IDS)
def test_every_figure_has_a_citation_nearby(lessons, name):
    """A number with mm/cm/mL/°/% sits in a text that cites one of the lesson's references, or
    that says the figure is approximate (a textbook value not checked against its source)."""
    lesson = lessons[name]
    problems = []
    for where, text in _blocks(lesson):
        figs = _figures(text)
        if not figs:
            continue
        good, _ = _citations(text, lesson.references)
        if not good and not re.search(r"approximate|estimate", text, re.I):
            problems.append(f"{where}: {[f[2] for f in figs]} without a citation")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", IDS)
def test_every_citation_is_in_the_references(lessons, name):
    lesson = lessons[name]
    bad = []
    for where, text in _blocks(lesson):
        bad += [f"{where}: ({c})" for c in _citations(text, lesson.references)[1]]
    assert not bad, "citations missing from references:\n" + "\n".join(bad)


def _reference_numbers() -> list[float]:
    root = shared_dir()
    if root is None or not (root / "anatomy" / "REFERENCE.md").is_file():
        pytest.skip("../shared/anatomy/REFERENCE.md is not present beside the checkout")
    text = (root / "anatomy" / "REFERENCE.md").read_text(encoding="utf-8")
    return [float(x) for x in re.findall(NUM, text)]


def _in_reference(value: str, ref: list[float]) -> bool:
    decimals = len(value.split(".")[1]) if "." in value else 0
    x = float(value)
    # a lesson may round a published figure (3.38 mm -> 3.4 mm) but not invent one
    return any(abs(round(y, decimals) - x) < 1e-9 for y in ref)


@pytest.mark.parametrize("name", IDS)
def test_every_figure_agrees_with_the_reference(lessons, name):
    ref = _reference_numbers()
    lesson = lessons[name]
    unknown = []
    for where, text in _blocks(lesson):
        for nums, unit, shown in _figures(text):
            unknown += [
                f"{where}: {n} {unit} in {shown!r}" for n in nums if not _in_reference(n, ref)
            ]
    assert not unknown, "figures not found in REFERENCE.md:\n" + "\n".join(unknown)


def test_figure_pattern_reads_ranges_and_plus_minus():
    """The figure finder itself, on hand-made text (so the citation tests can fail)."""
    text = (
        "14.0 ± 4.1 mm at L2; 3.4–3.8 mm thick; 25.9° to 33.9°; 18.1 % of films; L3–L4; 0–10 scale"
    )
    got = [(nums, unit) for nums, unit, _ in _figures(text)]
    assert got == [
        (["14.0", "4.1"], "mm"),
        (["3.4", "3.8"], "mm"),
        (["25.9", "33.9"], "°"),
        (["18.1"], "%"),
    ]
    refs = ["Saifuddin A et al. Spine 1998;23(13):1452-6.", "Sci Rep 2022, doi:10.1038/x."]
    assert _citations("ends at L1 (Saifuddin 1998)", refs) == (["Saifuddin 1998"], [])
    assert _citations("42.7 % (Sci Rep 2022)", refs) == (["Sci Rep 2022"], [])
    assert _citations("(Smith 2001)", refs) == ([], ["Smith 2001"])
    assert _citations("the sac (CSF)", refs) == ([], [])
    assert _in_reference("3.4", [3.38]) and not _in_reference("3.4", [3.46, 12.0])


# --- what the 3D view shows ---------------------------------------------------------------


#: Named views that look at a cut face: a sagittal clip removes the patient's left half (+x),
#: so its face is seen from the left; an axial clip removes the upper half, seen from above.
FACING = {
    "sagittal": {"left", "oblique_left_30", "oblique_left_45"},
    "axial": {"cranial", "oblique_left_30", "oblique_left_45", "posterior"},
}


@pytest.mark.parametrize("name", IDS)
def test_cut_faces_the_camera(lessons, catalog, name):
    """A step that cuts the anatomy looks at the cut, not at the untouched outside."""
    lesson = lessons[name]
    runner = LessonRunner(lesson, catalog=catalog)
    for i, step in enumerate(lesson.steps):
        scene = runner.scene_at(i)
        clip, cam = scene["clip"], scene["camera"]
        if clip is None:
            continue
        if cam.view is None:  # explicit camera: it must sit on the removed side of the plane
            towards = [p - f for p, f in zip(cam.position_lps, cam.focal_point_lps, strict=True)]
            dot = sum(t * n for t, n in zip(towards, clip.normal, strict=True))
            assert dot > 0, f"{step.id}: the camera looks at the uncut side"
            continue
        assert clip.kind in FACING, f"{step.id}: a {clip.kind} cut; extend this test"
        default = {"sagittal": (1.0, 0.0, 0.0), "axial": (0.0, 0.0, 1.0)}[clip.kind]
        assert tuple(clip.normal) == default, f"{step.id}: custom normal, extend this test"
        assert cam.view in FACING[clip.kind], f"{step.id}: {clip.kind} cut seen from {cam.view}"


def _needles(lessons, catalog):
    """(where, plan or None, variant, unplaced needle) for every step that draws a needle."""
    out = []
    for name in IDS:
        lesson = lessons[name]
        runner = LessonRunner(lesson, catalog=catalog)
        for i, step in enumerate(lesson.steps):
            plan, variant = runner.planned_needle(i)
            raw = runner._unplaced(i, True)
            if raw["needle_mode"] == "fixed":
                out.append((f"{lesson.id}/{step.id}", plan, variant, raw["needle"]))
    return out


def test_drawn_needles_are_plans_not_coordinates(lessons, catalog):
    """A needle given as LPS coordinates ends in bone or air as soon as the anatomy is
    regenerated or the patient changes; the curriculum says what a clinician would say."""
    needles = _needles(lessons, catalog)
    assert len(needles) >= 5
    fixed = [where for where, plan, _v, _n in needles if plan is None]
    assert not fixed, f"needles given as coordinates (write interspace/approach/target): {fixed}"


def _assert_in_target(where: str, plan, anatomy, pose) -> None:
    """The needle analysis agrees with the plan: through its interspace, no bone or nerve, the
    tip in the space the plan names (epidural fat, or the CSF)."""
    from iddsanatomy.needle.analysis import analyse

    a = analyse(anatomy, pose)
    assert not a.blocked and a.bone_contact is None, (
        f"{where}: touches {a.bone_contact.part_id if a.bone_contact else 'bone'}"
    )
    assert not a.neural_contacts, f"{where}: touches a nerve"
    assert a.interlaminar == plan.interspace, f"{where}: passes {a.interlaminar}"
    if plan.target == "epidural":
        assert a.in_epidural_space and a.tip_tissue == "fat", f"{where}: tip in {a.tip_structure}"
    else:
        assert a.intrathecal and a.tip_tissue == "csf", f"{where}: tip in {a.tip_structure}"
    if plan.needle_type is not None:
        assert pose.needle_type == plan.needle_type, where
    if plan.catheter is not None:
        from iddsanatomy.needle.catheter import thread_catheter

        cat = thread_catheter(anatomy, a, plan.catheter.length_mm, plan.catheter.direction)
        assert cat.space == plan.target and not cat.truncated, f"{where}: catheter {cat.space}"
        conus_z = anatomy.landmarks_lps["conus.tip"][2]
        # an intrathecal catheter tip stays below the conus (REFERENCE §16, Brown 2006)
        assert cat.tip_lps[2] < conus_z, f"{where}: the catheter tip passes the conus"


def test_planned_needles_reach_their_target_on_the_shipped_and_the_lessons_patient(
    lessons, catalog, anatomy
):
    """Every planned needle, placed on the shipped (default) anatomy and on the patient the
    step shows (obese, …), ends in the space the plan names without touching bone — judged by
    the needle analysis, not by coordinates, so it holds whatever meshes are committed."""
    from iddsanatomy.lessons.runner import patient_anatomies

    anatomy_for = patient_anatomies(anatomy)
    planned = [n for n in _needles(lessons, catalog) if n[1] is not None]
    assert planned
    variants = set()
    for where, plan, variant, _raw in planned:
        variants.add(getattr(variant, "name", None))
        for label, on in (("shipped anatomy", anatomy), ("lesson's patient", anatomy_for(variant))):
            _assert_in_target(f"{where} on the {label}", plan, on, plan.build(on))
    assert "obese" in variants, "a planned needle on a patient variant is checked"


def test_the_runner_shows_the_needle_placed_on_the_steps_patient(lessons, catalog, anatomy):
    """What the trainee sees is that placement: the runner's needle is the plan's pose on the
    patient of the step (the obese patient's needle is deeper than the average adult's, as the
    extra fat says it must be)."""
    from iddsanatomy.lessons.runner import patient_anatomies

    anatomy_for = patient_anatomies(anatomy)
    lesson = lessons["07_layers"]
    runner = LessonRunner(lesson, catalog=catalog, anatomy=anatomy, anatomy_for=anatomy_for)
    depth = {}
    for i, step in enumerate(lesson.steps):
        plan, variant = runner.planned_needle(i)
        if plan is None or plan.target != "epidural" or plan.approach != "midline":
            continue
        runner.jump(i)
        assert runner.needle_problem(i) is None
        assert runner.state.needle_mode == "fixed" and runner.state.needle is not None
        _assert_in_target(step.id, plan, anatomy_for(variant), runner.state.needle)
        depth[getattr(variant, "name", "default")] = runner.state.needle.depth_mm
    assert set(depth) == {"average adult", "obese"}, depth
    threaded = [
        i
        for i in range(len(lesson.steps))
        if getattr(runner.planned_needle(i)[0], "catheter", None)
    ]
    assert threaded, "a step threads a catheter through its planned needle"
    for i in threaded:
        runner.jump(i)
        cat = runner.state.catheter
        assert cat is not None and cat.space == runner.planned_needle(i)[0].target
        assert np.allclose(cat.polyline_lps[0], runner.state.needle.tip_lps, atol=1.0)
    runner.jump(threaded[-1] + 1)
    assert runner.state.catheter is None, "the catheter goes with the step's needle"
    assert depth["obese"] > depth["average adult"] + 5.0, depth


# --- the questions can be answered -----------------------------------------------------------


def _questions(lessons, kind):
    return [
        (f"{lessons[n].id}/{s.id}", s.question)
        for n in IDS
        for s in lessons[n].steps
        if s.question is not None and s.question.type == kind
    ]


def test_numeric_answers_follow_their_sources(lessons):
    """The keyed answers, recomputed by hand from the cited figures (REFERENCE §5, §11b)."""
    from iddsanatomy.quiz.grading import grade_numeric

    by_id = {q.id: q for _, q in _questions(lessons, "numeric")}
    ravi_bmi35_mm = 17.7966 + 0.9777 * 35  # Ravi 2011 regression
    assert grade_numeric(by_id["q-ravi-depth"], ravi_bmi35_mm).correct
    assert not grade_numeric(by_id["q-ravi-depth"], 17.7966 + 0.9777 * 40).correct
    assert grade_numeric(by_id["q-window-height"], 11.1).correct  # Sakçı 2018, L5
    assert not grade_numeric(by_id["q-window-height"], 14.0).correct  # that is L2


@pytest.fixture(scope="module")
def anatomy(meshes_dir):
    from iddsanatomy.anatomy.io import load_folder

    return load_folder(meshes_dir, None, coarse=False)


def _advance_to(anatomy, pose, space: str):
    """Advance ``pose`` 0.5 mm at a time until its tip is in ``space``; None if bone or a nerve
    comes first."""
    from iddsanatomy.needle import analysis as an

    for tenths in range(300, 900, 5):
        a = an.analyse(anatomy, pose.with_depth(tenths / 10))
        if a.blocked or a.tip_tissue == "neural":
            return None
        if (space == "intrathecal" and a.intrathecal) or (
            space == "epidural" and a.in_epidural_space
        ):
            return a
    return None


def test_place_needle_items_have_a_passing_answer(lessons, anatomy, catalog):
    """A trainee following the lesson can pass: a paramedian needle (Miller's entry give or take
    2 mm, the direction adjusted within 5–25° up and 5–20° in) reaches the goal; a steep needle
    that meets bone does not."""
    from iddsanatomy.needle import analysis as an
    from iddsanatomy.quiz.grading import grade_place_needle, outcome_from_analysis

    items = _questions(lessons, "place_needle")
    assert items
    for where, q in items:
        level = q.goal.levels[0]
        result = None
        ups, ins, sides = (15, 10, 20, 5, 25), (15, 10, 20, 5), (10, 8, 12)
        grid = [(u, i, x) for u in ups for i in ins for x in sides]
        for up_deg, in_deg, lateral_mm in grid:
            pose = an.paramedian_pose(
                anatomy,
                level,
                "left",
                cephalad_deg=up_deg,
                medial_deg=in_deg,
                lateral_mm=float(lateral_mm),
            )
            result = _advance_to(anatomy, pose, q.goal.space)
            if result is not None:
                break
        assert result is not None, f"{where}: no paramedian needle reaches the goal"
        assert grade_place_needle(q, outcome_from_analysis(result), catalog).correct, where
        steep = an.pose_at_skin(anatomy, pose.entry_lps, -30.0, 0.0, reference="posterior")
        bad = an.analyse(anatomy, steep.with_depth(80.0))
        assert not grade_place_needle(q, outcome_from_analysis(bad), catalog).correct, where


def test_fluoro_targets_are_in_the_field(lessons, anatomy):
    """Every find-on-fluoroscopy target projects inside the image of the item's C-arm pose."""
    from iddsanatomy.fluoro import pose as fp
    from iddsanatomy.quiz.grading import project_target

    items = _questions(lessons, "find_on_fluoro")
    assert len(items) >= 5
    for where, q in items:
        pose = q.carm.build(anatomy)  # as the lesson runner centres it on the level
        assert isinstance(pose, fp.CArmPose), where
        tri = project_target(anatomy, q, pose).reshape(-1, 2)
        assert len(tri), f"{where}: the target has no geometry"
        col, row = tri.mean(axis=0)
        margin = 0.1 * pose.pixels
        assert margin < col < pose.pixels - margin and margin < row < pose.pixels - margin, (
            f"{where}: target centre at ({col:.0f}, {row:.0f}) px, outside the field"
        )


@pytest.mark.parametrize("name", IDS)
def test_every_reference_is_cited(lessons, name):
    """No dead entries: each reference is cited somewhere in the lesson's text."""
    lesson = lessons[name]
    cited = [c for _, text in _blocks(lesson) for c in _citations(text, lesson.references)[0]]
    firsts = {re.split(r"[\s,;]+", c)[0] for c in cited}
    unused = [r for r in lesson.references if not any(f in r for f in firsts)]
    assert not unused, f"references never cited: {unused}"
