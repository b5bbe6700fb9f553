"""``lessons render``: every step to PNG (3D and fluoro) and an HTML handout."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest
from viewer_fixtures import make_anatomy

LESSON = textwrap.dedent(
    """\
    schema_version: 1
    id: handout
    title: Handout lesson
    summary: Two 3D steps and a fluoroscopy step.
    objectives: [Read a handout]
    minutes: 3
    references: [Saifuddin 1998.]
    start_scene:
      visible: [L3, L4, disc.L3-L4]
      camera: posterior
    steps:
      - id: one
        title: Bones
        text: "The **vertebrae**."
      - id: two
        title: Window
        scene: {show: [interlaminar.L3-L4], highlight: [interlaminar.L3-L4], camera: left}
        question:
          id: q
          type: single_choice
          prompt: Which?
          options: [{text: This one, correct: true}, {text: That one}]
      - id: shot
        title: AP shot
        scene: {carm: {preset: ap, level: L4}, fluoro_open: true}
    """
)


@pytest.fixture
def lesson_file(tmp_path):
    p = tmp_path / "handout.yaml"
    p.write_text(LESSON, encoding="utf-8")
    return p


def test_handout_html_without_pictures(lesson_file, tmp_path):
    from iddsanatomy.lessons.handout import render_handout

    rep = render_handout(
        lesson_file, tmp_path / "out", anatomy_for=lambda v: make_anatomy(), view=None, fluoro=None
    )
    text = rep.html.read_text(encoding="utf-8")
    assert rep.n_images == 0
    assert "<h1>Handout lesson</h1>" in text and "<strong>vertebrae</strong>" in text
    assert text.count("<section>") == 4  # three steps and the references
    assert "<li>This one</li>" in text and "Saifuddin 1998." in text


def test_missing_anatomy_is_a_note_not_a_crash(lesson_file, tmp_path):
    from iddsanatomy.errors import DataNotFoundError
    from iddsanatomy.lessons.handout import render_handout

    def no_anatomy(variant):
        raise DataNotFoundError("no meshes")

    rep = render_handout(
        lesson_file, tmp_path / "out", anatomy_for=no_anatomy, view=None, fluoro=None
    )
    assert rep.html.exists() and any("no anatomy" in n for n in rep.notes)


@pytest.mark.render
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_handout_renders_every_step(lesson_file, tmp_path):
    """The DRR display of the synthetic anatomy warns about NaN outside the body (fluoro's)."""
    from PIL import Image

    from iddsanatomy.lessons.handout import render_handout

    anatomy = make_anatomy()
    rep = render_handout(
        lesson_file, tmp_path / "out", size=(400, 300), anatomy_for=lambda v: anatomy
    )
    assert rep.notes == []
    names = [p.name for p in rep.images]
    assert names == ["01_one_3d.png", "02_two_3d.png", "03_shot_3d.png", "03_shot_fluoro.png"]
    for p in rep.images:
        a = np.asarray(Image.open(p))
        assert a.std() > 10, f"{p.name} is blank"
    assert np.asarray(Image.open(rep.images[0])).shape == (300, 400, 3)
    html = rep.html.read_text(encoding="utf-8")
    assert re.findall(r'<img src="([^"]+)"', html) == names
    # step two highlights the window: the 3D pictures of steps one and two differ
    one, two = (np.asarray(Image.open(p), dtype=float) for p in rep.images[:2])
    assert np.abs(one - two).mean() > 1
