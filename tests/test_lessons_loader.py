"""Lesson loader: every broken field gives a located message (mutator tests, as napari's manifest).

Each case takes a valid lesson, breaks one thing, and asserts the problem's file, line, field,
what was expected and, for names, the suggestion.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iddsanatomy.lessons import loader
from iddsanatomy.lessons.names import catalog_from_manifest

DATA = Path(__file__).parent / "data"

VALID = textwrap.dedent(
    """\
    schema_version: 1
    id: tiny
    title: Tiny lesson
    summary: A lesson for the tests.
    objectives: [Find L3]
    minutes: 5
    groups:
      lumbar: [L1, L2, L3, L4, L5]
    start_scene:
      visible: ["@lumbar"]
      camera: posterior
    steps:
      - id: one
        title: Step one
        text: Hello
        scene:
          highlight: [L3.pedicle.left]
          variant: obese
          carm: {preset: ap, level: L3-L4}
          needle: trainee
      - id: two
        title: Step two
        scene:
          show: [conus]
          opacity: {dura: 0.5}
        question:
          id: q1
          type: single_choice
          prompt: Where?
          options:
            - {text: L1, correct: true}
            - {text: L4}
    """
)


#: A planned needle with every field, broken one field at a time by the mutations below.
PLAN = "{interspace: L3-L4, approach: paramedian, side: left, target: intrathecal, depth: target}"


@pytest.fixture(scope="module")
def catalog():
    return catalog_from_manifest(DATA / "lessons_manifest.json")


def write(tmp_path: Path, text: str, name: str = "lesson.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the text")


def problems(tmp_path, text, catalog):
    return loader.check_file(write(tmp_path, text), catalog)


def test_valid_lesson_loads(tmp_path, catalog):
    lesson = loader.load_lesson(write(tmp_path, VALID), catalog)
    assert [s.id for s in lesson.steps] == ["one", "two"]
    assert lesson.steps[1].question.options[0].id == "a"  # default option ids in file order


# (find, replace, field, message fragment, expected fragment, example or suggestion fragment)
MUTATIONS = [
    ("schema_version: 1", "schema_version: 2", "schema_version", "2 is not allowed", "1", ""),
    ("id: tiny", "id: Tiny Lesson", "id", "String should match pattern", "Unique lesson id", ""),
    ("minutes: 5", "minutes: 500", "minutes", "less than or equal to 240", "Estimated", "10"),
    ("minutes: 5", "minutes: five", "minutes", "valid integer", "Estimated time", "minutes: 10"),
    (
        "title: Tiny lesson",
        "titel: Tiny lesson",
        "titel",
        "unknown field 'titel'",
        "one of the fields",
        "did you mean 'title'",
    ),
    (
        "camera: posterior",
        "camera: posterio",
        "start_scene.camera.view",
        "'posterio' is not",
        "one of: posterior",
        "did you mean 'posterior'",
    ),
    (
        "highlight: [L3.pedicle.left]",
        "highlight: [L3.pedicle.lef]",
        "steps[0].scene.highlight[0]",
        "unknown structure id 'L3.pedicle.lef'",
        "",
        "did you mean 'L3.pedicle.left'",
    ),
    (
        "highlight: [L3.pedicle.left]",
        "highlight: [L9.*]",
        "steps[0].scene.highlight[0]",
        "pattern 'L9.*' matches no structure id",
        "",
        "",
    ),
    (
        'visible: ["@lumbar"]',
        'visible: ["@lumbr"]',
        "start_scene.visible[0]",
        "unknown group '@lumbr'",
        "",
        "did you mean '@lumbar'",
    ),
    (
        "variant: obese",
        "variant: obeese",
        "steps[0].scene.variant.preset",
        "unknown patient preset 'obeese'",
        "",
        "did you mean 'obese'",
    ),
    (
        "variant: obese",
        "variant: {preset: obese, bmi: 90}",
        "steps[0].scene.variant",
        "bmi",
        "patient",
        "",
    ),
    (
        "variant: obese",
        "variant: {preset: obese, bmy: 30}",
        "steps[0].scene.variant",
        "unknown variant field",
        "",
        "did you mean 'bmi'",
    ),
    (
        "carm: {preset: ap, level: L3-L4}",
        "carm: {preset: aap}",
        "steps[0].scene.carm.preset",
        "unknown C-arm preset 'aap'",
        "",
        "did you mean 'ap'",
    ),
    (
        "carm: {preset: ap, level: L3-L4}",
        "carm: {preset: ap, level: L3L4}",
        "steps[0].scene.carm.level",
        "unknown level 'L3L4'",
        "",
        "L3-L4",
    ),
    (
        "carm: {preset: ap, level: L3-L4}",
        "carm: {preset: ap, cranial_tilt_deg: 75}",
        "steps[0].scene.carm.cranial_tilt_deg",
        "less than or equal to 60",
        "Cranial",
        "",
    ),
    (
        "needle: trainee",
        "needle: trainer",
        "steps[0].scene.needle",
        "'trainer' is not a needle",
        "",
        "did you mean 'trainee'",
    ),
    (
        "needle: trainee",
        "needle: {entry_lps: [0, 80, 0]}",
        "steps[0].scene.needle.target_lps",
        "required field 'target_lps' is missing",
        "aims at",
        "target_lps: [0.0, 20.0, -15.0]",
    ),
    # planned needles: each field of the plan broken on its own
    (
        "needle: trainee",
        "needle: " + PLAN.replace("L3-L4", "L3-L5"),
        "steps[0].scene.needle.interspace",
        "'L3-L5' is not allowed",
        "one of: T12-L1, L1-L2",
        "did you mean 'L4-L5', 'L3-L4'",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("paramedian", "paramedial"),
        "steps[0].scene.needle.approach",
        "'paramedial' is not allowed",
        "one of: midline, paramedian",
        "did you mean 'paramedian'",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("side: left", "side: up"),
        "steps[0].scene.needle.side",
        "'up' is not allowed",
        "one of: left, right",
        "side: left",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("paramedian, ", "midline, "),
        "steps[0].scene.needle",
        "side applies only to a paramedian approach",
        "A planned needle",
        "approach: midline",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("target: intrathecal", "target: csf"),
        "steps[0].scene.needle.target",
        "'csf' is not allowed",
        "one of: epidural, intrathecal",
        "target: intrathecal",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace(", target: intrathecal", ""),
        "steps[0].scene.needle.target",
        "required field 'target' is missing",
        "Where the tip goes",
        "target: intrathecal",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("target: intrathecal", "taget: intrathecal"),
        "steps[0].scene.needle.taget",
        "unknown field 'taget'",
        "interspace, approach, side, target",
        "did you mean 'target'",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("depth: target", "depth: deep"),
        "steps[0].scene.needle.depth",
        "depth must be 'target' or a number of mm",
        "'target' (just into the target space)",
        "got 'deep'",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("depth: target", "depth: 250"),
        "steps[0].scene.needle.depth",
        "at most 200, got 250",
        "a depth in mm",
        "depth: target",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("depth: target", "needle_type: tuohy-17G"),
        "steps[0].scene.needle.needle_type",
        "unknown needle type 'tuohy-17G'",
        "A needle id",
        "did you mean 'tuohy-17G-90'",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("depth: target", "depth: 30, catheter: {length_mm: 40}"),
        "steps[0].scene.needle",
        "a catheter is threaded from the target space: it needs depth: target",
        "A planned needle",
        "stopped at 30 mm",
    ),
    (
        "needle: trainee",
        "needle: " + PLAN.replace("depth: target", "catheter: {length_mm: 40, direction: up}"),
        "steps[0].scene.needle.catheter.direction",
        "'up' is not allowed",
        "one of: cephalad, caudad",
        "direction: cephalad",
    ),
    (
        "opacity: {dura: 0.5}",
        "opacity: {dura: 1.5}",
        "steps[1].scene.opacity.dura",
        "less than or equal to 1",
        "",
        "",
    ),
    (
        "- id: two",
        "- id: one",
        "steps[1].id",
        "step id 'one' is used twice (first on line 13)",
        "unique step id",
        "",
    ),
    (
        "type: single_choice",
        "type: single_choise",
        "steps[1].question.type",
        "unknown question type 'single_choise'",
        "one of: single_choice",
        "single_choice",
    ),
    (
        "- {text: L1, correct: true}",
        "- {text: L1}",
        "steps[1].question.options",
        "exactly one correct option, has 0",
        "",
        "",
    ),
    (
        "- {text: L4}",
        "- {text: L4, explain: no}",
        "steps[1].question.options[1].explain",
        "unknown field 'explain'",
        "",
        "did you mean 'explanation'",
    ),
]


@pytest.mark.parametrize(
    ("find", "replace", "field", "message", "expected", "hint"),
    MUTATIONS,
    ids=[m[1] for m in MUTATIONS],
)
def test_mutation_gives_located_message(
    tmp_path, catalog, find, replace, field, message, expected, hint
):
    assert find in VALID
    text = VALID.replace(find, replace, 1)
    probs = problems(tmp_path, text, catalog)
    matching = [p for p in probs if p.field == field]
    assert matching, f"no problem at {field}; got:\n" + "\n".join(p.format() for p in probs)
    p = matching[0]
    assert p.file.endswith("lesson.yaml")
    assert p.line == VALID[: VALID.index(find)].count("\n") + 1, p.format()
    assert message in p.message, p.format()
    assert expected in p.expected, p.format()
    assert hint in p.message + p.example, p.format()
    formatted = p.format()
    assert formatted.startswith(f"{p.file}:{p.line}:{p.column}: {field}: ")


def test_unknown_field_example_shows_the_field_it_resembles(tmp_path, catalog):
    text = VALID.replace("minutes: 5", "minuts: 5")
    (p,) = [p for p in problems(tmp_path, text, catalog) if p.field == "minuts"]
    assert p.example == "minutes: 10" and "did you mean 'minutes'" in p.message


def test_missing_required_fields_named_at_parent(tmp_path, catalog):
    text = VALID.replace("summary: A lesson for the tests.\n", "")
    (p,) = problems(tmp_path, text, catalog)
    assert p.field == "summary" and "required field 'summary' is missing" in p.message
    assert p.line == 1 and p.example.startswith("summary:")


def test_every_problem_is_reported_at_once(tmp_path, catalog):
    text = VALID.replace("minutes: 5", "minutes: 0").replace("camera: posterior", "camera: top")
    fields = {p.field for p in problems(tmp_path, text, catalog)}
    assert {"minutes", "start_scene.camera.view"} <= fields


def test_yaml_syntax_error_has_position(tmp_path, catalog):
    text = VALID.replace("title: Step one", "title: [Step one")
    (p,) = problems(tmp_path, text, catalog)
    assert "YAML syntax error" in p.message and p.line >= line_of(VALID, "title: Step one")


def test_duplicate_key_is_an_error(tmp_path, catalog):
    text = VALID.replace("minutes: 5\n", "minutes: 5\nminutes: 6\n")
    (p,) = problems(tmp_path, text, catalog)
    assert "written twice" in p.message and p.line == line_of(text, "minutes: 6")


def test_file_over_1mb_refused_unread(tmp_path, catalog):
    text = VALID + "#" + "x" * 1_000_001 + "\n"
    (p,) = problems(tmp_path, text, catalog)
    assert "MB" in p.message and "refused" in p.message


def test_alias_bomb_refused(tmp_path, catalog):
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        bomb.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    text = "\n".join(bomb) + "\n"
    (p,) = problems(tmp_path, text, catalog)
    assert "alias" in p.message and "refused" in p.message


def test_recursive_alias_refused(tmp_path, catalog):
    (p,) = problems(tmp_path, "a: &x [1, *x]\n", catalog)
    assert "refers to itself" in p.message


def test_python_tags_are_not_executed(tmp_path, catalog):
    text = VALID.replace(
        "summary: A lesson for the tests.",
        "summary: !!python/object/apply:os.system ['echo hacked']",
    )
    (p,) = problems(tmp_path, text, catalog)
    assert "YAML" in p.message and "python/object" in p.message


def test_empty_and_non_mapping_files(tmp_path, catalog):
    (p,) = problems(tmp_path, "", catalog)
    assert "empty" in p.message
    (p,) = problems(tmp_path, "- a\n- b\n", catalog)
    assert "not a mapping" in p.message


def test_non_utf8_file(tmp_path, catalog):
    path = tmp_path / "l.yaml"
    path.write_bytes(b"title: \xff\xfe\n")
    (p,) = loader.check_file(path, catalog)
    assert "UTF-8" in p.message


@pytest.mark.parametrize("image", ["../secret.png", "/etc/passwd", "images/missing.png"])
def test_images_must_resolve_inside_the_folder(tmp_path, catalog, image):
    text = VALID.replace("text: Hello", f"text: Hello\n    image: {image}")
    (p,) = problems(tmp_path, text, catalog)
    assert p.field == "steps[0].image"
    assert "inside the lesson's folder" in p.message or "does not exist" in p.message


def test_image_inside_folder_is_fine(tmp_path, catalog):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"\x89PNG")
    text = VALID.replace("text: Hello", "text: Hello\n    image: images/a.png")
    assert problems(tmp_path, text, catalog) == []


def test_symlink_out_of_folder_refused(tmp_path, catalog):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"x")
    lesson_dir = tmp_path / "lesson"
    lesson_dir.mkdir()
    (lesson_dir / "link.png").symlink_to(outside)
    text = VALID.replace("text: Hello", "text: Hello\n    image: link.png")
    (p,) = loader.check_file(write(lesson_dir, text), catalog)
    assert "outside the lesson's folder" in p.message


def test_discovery_keeps_broken_lessons_with_errors(tmp_path, catalog):
    write(tmp_path, VALID, "a_good.yaml")
    write(
        tmp_path,
        VALID.replace("id: tiny", "id: other").replace("minutes: 5", "minutes: x"),
        "broken.yaml",
    )
    write(tmp_path, VALID, "dup.yaml")  # same id as a_good.yaml, found after it
    lib = loader.discover(tmp_path, catalog)
    assert [e.item.id for e in lib.lessons] == ["tiny"]
    broken = {e.path.name: e.problems for e in lib.broken}
    assert set(broken) == {"broken.yaml", "dup.yaml"}
    assert any("already used" in p.message for p in broken["dup.yaml"])
    assert any(p.field == "minutes" for p in broken["broken.yaml"])


def test_bank_loads_and_duplicate_question_ids(tmp_path, catalog):
    bank = textwrap.dedent(
        """\
        schema_version: 1
        kind: bank
        id: b
        title: B
        questions:
          - {id: q1, type: numeric, prompt: How deep, answer: 5, tolerance: 0.5}
          - {id: q1, type: identify, prompt: Click L3, answer: L3}
        """
    )
    (p,) = problems(tmp_path, bank, catalog)
    assert p.field == "questions[1].id" and "used twice" in p.message and p.line == 7


def test_without_catalog_names_are_not_checked(tmp_path):
    text = VALID.replace("highlight: [L3.pedicle.left]", "highlight: [nonsense]")
    assert loader.check_file(write(tmp_path, text), None) == []


def test_example_lesson_and_bank_pass_against_the_fixture_manifest(catalog):
    from iddsanatomy.paths import data_dir

    folder = data_dir("lessons")
    for path in (folder / "example_orientation.yaml", folder / "banks" / "example_bank.yaml"):
        assert loader.check_file(path, catalog) == [], path


def test_every_shipped_file_passes_against_the_shipped_manifest():
    """Shape always; structure ids too once ``meshes/manifest.json`` exists."""
    from iddsanatomy.lessons.names import default_catalog
    from iddsanatomy.paths import data_dir

    lib = loader.discover(data_dir("lessons"), default_catalog())
    assert not lib.broken, "\n".join(p.format() for e in lib.broken for p in e.problems)
    assert lib.lessons and lib.banks


def _field_paths(text: str) -> list[tuple[str, int]]:
    """Every mapping key of the document as (field path, line of the key)."""
    import yaml

    out: list[tuple[str, int]] = []

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                p = f"{path}.{k.value}" if path else k.value
                out.append((p, k.start_mark.line + 1))
                walk(v, p)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, f"{path}[{i}]")

    walk(yaml.compose(text), "")
    return out


def _set_value(data, path: str, value):
    import re

    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    for k in keys[:-1]:
        data = data[k]
    data[keys[-1]] = value


@pytest.mark.parametrize(("path", "line"), _field_paths(VALID), ids=lambda x: str(x))
def test_every_field_with_a_wrong_value_is_reported_where_it_is(tmp_path, catalog, path, line):
    """Break every field of the valid lesson in turn (a nested list is wrong for all of them):
    a problem names that field (or an element of it) and points into it."""
    import yaml

    data = yaml.safe_load(VALID)
    _set_value(data, path, [[["bad"]]])
    text = yaml.safe_dump(data, sort_keys=False)
    probs = problems(tmp_path, text, catalog)
    assert probs, path
    hits = [p for p in probs if p.field == path or p.field.startswith((path + ".", path + "["))]
    assert hits, f"{path}: " + "; ".join(p.format() for p in probs)
    bad_line = next(ln for p_, ln in _field_paths(text) if p_ == path)
    assert all(p.line >= bad_line for p in hits), [p.format() for p in hits]
    assert all(p.message for p in hits)


def _bank_text() -> str:
    from iddsanatomy.paths import data_dir

    return (data_dir("lessons") / "banks" / "example_bank.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(("path", "line"), _field_paths(_bank_text()), ids=lambda x: str(x))
def test_every_bank_field_with_a_wrong_value_is_reported(tmp_path, catalog, path, line):
    """The same for the example bank, which has one question of every type."""
    import yaml

    data = yaml.safe_load(_bank_text())
    _set_value(data, path, [[["bad"]]])
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    probs = problems(tmp_path, text, catalog)
    hits = [p for p in probs if p.field == path or p.field.startswith((path + ".", path + "["))]
    assert hits, f"{path}: " + "; ".join(p.format() for p in probs)
    key_line = next(ln for p_, ln in _field_paths(text) if p_ == path)
    assert all(p.line >= key_line for p in hits), [p.format() for p in hits]


def test_duplicate_question_id_across_steps_is_located(tmp_path, catalog):
    text = VALID.replace(
        "      needle: trainee\n",
        "      needle: trainee\n    question: {id: q1, type: identify, prompt: p, answer: L3}\n",
    )
    (p,) = problems(tmp_path, text, catalog)
    first = line_of(text, "question: {id: q1")
    assert p.field == "steps[1].question.id"
    assert f"used twice (first on line {first})" in p.message
    assert p.line == line_of(text, "      id: q1")
