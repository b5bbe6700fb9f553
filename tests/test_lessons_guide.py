"""lessons/README.md: the authoring guide is complete, current, and its examples pass the check."""

from __future__ import annotations

import re
from pathlib import Path

from iddsanatomy.lessons import loader
from iddsanatomy.lessons.names import catalog_from_manifest
from iddsanatomy.lessons.reference import END, START, reference_markdown
from iddsanatomy.paths import data_dir

GUIDE = data_dir("lessons") / "README.md"
DATA = Path(__file__).parent / "data"


def test_field_reference_is_current():
    text = GUIDE.read_text(encoding="utf-8")
    current = text[text.index(START) : text.index(END) + len(END)] + "\n"
    assert current == reference_markdown(), "run: python -m iddsanatomy.lessons.reference"


def test_guide_names_every_preset_question_type_and_view():
    from iddsanatomy.anatomy.variant import preset_names
    from iddsanatomy.quiz.models import QUESTION_TYPES
    from iddsanatomy.scene import NAMED_VIEWS

    prose = GUIDE.read_text(encoding="utf-8").split(START)[0]
    for name in (*preset_names(), *QUESTION_TYPES, *NAMED_VIEWS):
        assert name in prose, name


def test_the_guides_example_lesson_passes_the_check(tmp_path):
    """An instructor with only the guide can write a lesson with a fluoro step, a variant and a
    question that passes ``lessons check``."""
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"## A complete small lesson.*?```yaml\n(.*?)```", text, re.S).group(1)
    assert "carm:" in block and "variant:" in block and "question:" in block
    path = tmp_path / "level-counting.yaml"
    path.write_text(block, encoding="utf-8")
    cat = catalog_from_manifest(DATA / "lessons_manifest.json")
    assert loader.check_file(path, cat) == []
