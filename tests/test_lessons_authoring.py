"""Author tools: "copy current scene as YAML" pastes back into a lesson and gives the same scene."""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml

from iddsanatomy.lessons import loader
from iddsanatomy.lessons.authoring import scene_as_yaml
from iddsanatomy.lessons.names import catalog_from_manifest
from iddsanatomy.lessons.runner import LessonRunner
from iddsanatomy.scene import Camera, ClipPlane, SceneState

DATA = Path(__file__).parent / "data"
HEAD = textwrap.dedent(
    """\
    schema_version: 1
    id: pasted
    title: Pasted
    summary: A step made by pasting a copied scene.
    objectives: [Paste]
    minutes: 1
    steps:
      - id: s
        title: S
    """
)


def _pasted_lesson(tmp_path, state):
    block = scene_as_yaml(state)
    indented = textwrap.indent(block, "    ")
    path = tmp_path / "pasted.yaml"
    path.write_text(HEAD + indented, encoding="utf-8")
    return path, block


def test_copied_scene_round_trips(tmp_path):
    from iddsanatomy.anatomy.variant import make_variant, preset
    from iddsanatomy.fluoro.pose import CArmPose
    from iddsanatomy.needle.pose import NeedlePose

    cat = catalog_from_manifest(DATA / "lessons_manifest.json")
    cases = [
        dict(variant=preset("obese"), camera=Camera(view="left", zoom=1.5)),
        dict(
            variant=make_variant(bmi=33.0, conus_level="L2.upper"),
            camera=Camera(
                view=None,
                position_lps=(10.0, 400.0, 5.0),
                focal_point_lps=(0, 0, 0),
                up=(0.0, 0.0, 1.0),
            ),
            carm=CArmPose(orbital_deg=15.0, cranial_tilt_deg=-8.0, level="L3-L4"),
            fluoro_open=True,
            needle=NeedlePose(
                entry_lps=(0.0, 80.0, -20.0), direction=(0.0, -1.0, 0.1), depth_mm=42.0
            ),
            needle_mode="fixed",
            clip=ClipPlane((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), "sagittal"),
            opacity={"skin": 0.25},
            highlighted=frozenset({"L3.pedicle.left"}),
            labels=frozenset({"levels"}),
        ),
    ]
    for extra in cases:
        state = SceneState(visible=frozenset({"L3", "L4", "dura"}), **extra)
        path, block = _pasted_lesson(tmp_path, state)
        assert yaml.safe_load(block)["scene"]  # plain YAML
        lesson = loader.load_lesson(path, cat)
        r = LessonRunner(lesson, SceneState(), cat)
        r.start()
        for name in (
            "visible",
            "highlighted",
            "opacity",
            "labels",
            "camera",
            "clip",
            "variant",
            "carm",
            "fluoro_open",
            "needle_mode",
        ):
            assert getattr(r.state, name) == getattr(state, name), (name, block)
        if state.needle is not None:
            got, want = r.state.needle, state.needle
            assert got.depth_mm == want.depth_mm
            assert (
                max(abs(a - b) for a, b in zip(got.direction, want.direction, strict=True)) < 1e-3
            )
