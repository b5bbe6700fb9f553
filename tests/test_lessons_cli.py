"""``iddsanatomy lessons check|new|schema``: output, exit codes, start-up weight, JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iddsanatomy.cli import main

DATA = Path(__file__).parent / "data"
MANIFEST = str(DATA / "lessons_manifest.json")


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iddsanatomy", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.fixture
def examples():
    from iddsanatomy.paths import data_dir

    folder = data_dir("lessons")
    return [folder / "example_orientation.yaml", folder / "banks" / "example_bank.yaml"]


def test_check_clean_files_exit_0(examples, capsys):
    assert main(["lessons", "check", *map(str, examples), "--manifest", MANIFEST]) == 0
    err = capsys.readouterr().err
    assert "checked 2 files: no problems" in err


def test_check_broken_file_exit_1_with_location(tmp_path, examples, capsys):
    text = examples[0].read_text(encoding="utf-8").replace("camera: left", "camera: lefft")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "camera: lefft" in t)
    code = main(["lessons", "check", str(bad), str(examples[1]), "--manifest", MANIFEST])
    out, err = capsys.readouterr()
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{bad}:{line}:")
    assert ".scene.camera.view: 'lefft' is not allowed (did you mean 'left'" in first
    assert "    expected: " in out and "    example:  view: posterior" in out
    assert "checked 2 files: 1 problem in 1 file" in err


def test_check_missing_path_and_empty_folder(tmp_path, capsys):
    assert main(["lessons", "check", str(tmp_path / "nope.yaml"), "--manifest", MANIFEST]) == 1
    assert "no such file or folder" in capsys.readouterr().out
    assert main(["lessons", "check", str(tmp_path), "--manifest", MANIFEST]) == 1
    assert "holds no .yaml files" in capsys.readouterr().out


def test_check_imports_no_qt_vtk_or_trimesh(examples):
    code = (
        "import sys, json\n"
        "from iddsanatomy.cli import main\n"
        f"rc = main(['lessons', 'check', {str(examples[0])!r}, '-q', '--manifest', {MANIFEST!r}])\n"
        "heavy = ('PySide6', 'pyvista', 'pyvistaqt', 'vtkmodules', 'vtk', 'trimesh')\n"
        "print(json.dumps([rc, sorted(m for m in sys.modules if m.split('.')[0] in heavy)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rc, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert rc == 0 and heavy == []


def test_subprocess_exit_codes(tmp_path, examples):
    ok = run_cli("lessons", "check", str(examples[0]), "--manifest", MANIFEST)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = tmp_path / "b.yaml"
    bad.write_text("schema_version: 1\nid: x\n", encoding="utf-8")
    res = run_cli("lessons", "check", str(bad), "--manifest", MANIFEST)
    assert res.returncode == 1
    assert "required field 'title' is missing" in res.stdout


def test_new_writes_a_skeleton_that_passes_check(tmp_path, capsys):
    out = tmp_path / "counting-levels.yaml"
    assert main(["lessons", "new", "counting-levels", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.count("#") > 10  # commented
    assert yaml.safe_load(text)["id"] == "counting-levels"
    capsys.readouterr()
    assert main(["lessons", "check", str(out), "--manifest", MANIFEST]) == 0
    # never overwrites
    assert main(["lessons", "new", "counting-levels", "--out", str(out)]) == 1


def test_new_refuses_a_bad_id(tmp_path, capsys):
    assert main(["lessons", "new", "Bad Id", "--out", str(tmp_path / "x.yaml")]) == 1
    assert "must be lower-case" in capsys.readouterr().err


def test_schema_validates_every_shipped_file_and_rejects_typos(tmp_path):
    import jsonschema

    from iddsanatomy.lessons.loader import yaml_files
    from iddsanatomy.paths import data_dir

    out = tmp_path / "schema.json"
    assert main(["lessons", "schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = yaml_files([data_dir("lessons")])
    assert len(files) >= 2
    for f in files:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(doc))
        assert not errors, f"{f}: {errors[0].message} at {list(errors[0].absolute_path)}"
    doc = yaml.safe_load(files[0].read_text(encoding="utf-8"))
    doc["steps"][0]["titel"] = "typo"
    assert list(validator.iter_errors(doc)), "the schema must reject unknown fields"


def test_every_field_has_a_description():
    from iddsanatomy.lessons.schema import Lesson
    from iddsanatomy.quiz.models import QuestionBank

    seen: set[type] = set()

    def walk(model):
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
            for sub in _models_in(info.annotation):
                walk(sub)

    walk(Lesson)
    walk(QuestionBank)
    assert len(seen) > 10


def _models_in(tp):
    import typing

    from pydantic import BaseModel

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    for arg in typing.get_args(tp):
        yield from _models_in(arg)
