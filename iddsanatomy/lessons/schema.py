"""The lesson file format, ``schema_version: 1``.

A lesson is metadata plus a list of steps; each step has Markdown text, a scene (see
:mod:`iddsanatomy.lessons.scene_spec`) and optionally a question (see
:mod:`iddsanatomy.quiz.models`). ``lessons/README.md`` is the author's guide to these models, and
``iddsanatomy lessons schema`` exports them as JSON Schema for editor completion.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from iddsanatomy.lessons.scene_spec import SceneSpec, Strict, StructureRef
from iddsanatomy.quiz.models import ID_PATTERN, Question, QuestionBank

SCHEMA_VERSION = 1


class Step(Strict):
    """One screen of a lesson: text, a scene, and optionally a question."""

    id: str = Field(
        ...,
        pattern=ID_PATTERN,
        description="Unique step id in this lesson (kept across edits).",
        examples=["count-from-t12"],
    )
    title: str = Field(
        ...,
        min_length=1,
        max_length=120,
        description="Shown in the step list.",
        examples=["Count down from the lowest rib"],
    )
    text: str = Field(
        "",
        description="What the trainee reads (Markdown). Cite facts: (Saifuddin 1998).",
        examples=["The conus usually ends at the lower third of L1 (Saifuddin 1998)."],
    )
    image: str | None = Field(
        None,
        description="A picture beside the text: a path relative to the lesson's folder, inside it.",
        examples=["images/loss_of_resistance.png"],
    )
    reset: bool = Field(
        False,
        description="Start from the lesson's start scene instead of the previous step's scene.",
        examples=[True],
    )
    scene: SceneSpec = Field(
        default_factory=SceneSpec,
        description="What changes in the scene at this step (left-out fields carry over).",
        examples=[{"camera": "posterior", "highlight": ["interlaminar.L3-L4"]}],
    )
    question: Question | None = Field(
        None,
        description="A question or task for this step (see the quiz question types).",
        examples=[{"id": "q1", "type": "identify", "prompt": "Click L4", "answer": "L4"}],
    )

    @field_validator("image")
    @classmethod
    def _inside_folder(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        p = PurePosixPath(v.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
            raise ValueError(f"{v!r} must be a relative path inside the lesson's folder")
        folder = (info.context or {}).get("folder")
        if folder is not None:
            full = (folder / p).resolve()
            if not full.is_relative_to(folder.resolve()):
                raise ValueError(f"{v!r} resolves outside the lesson's folder ({full})")
            if not full.is_file():
                raise ValueError(f"image file {v!r} does not exist in {folder}")
        return v


class Lesson(Strict):
    """A lesson file."""

    schema_version: Literal[1] = Field(
        ..., description="Version of the lesson format; 1.", examples=[1]
    )
    kind: Literal["lesson"] = Field(
        "lesson", description="Marks the file as a lesson.", examples=["lesson"]
    )
    id: str = Field(
        ...,
        pattern=ID_PATTERN,
        description="Unique lesson id; progress is stored under it, so keep it stable.",
        examples=["orientation"],
    )
    title: str = Field(
        ...,
        min_length=1,
        max_length=120,
        description="Shown in the library.",
        examples=["Finding your way around the lumbar spine"],
    )
    summary: str = Field(
        ...,
        min_length=1,
        description="One or two sentences for the library.",
        examples=["Levels, landmarks and the interlaminar spaces."],
    )
    objectives: list[str] = Field(
        ...,
        min_length=1,
        description="What the trainee can do afterwards (one per line).",
        examples=[["Name L1–L5 and the sacrum in 3D"]],
    )
    audience: str = Field(
        "", description="Who it is for.", examples=["Pain fellows before their first IDDS trial"]
    )
    minutes: int = Field(
        ..., ge=1, le=240, description="Estimated time to complete, minutes.", examples=[10]
    )
    authors: list[str] = Field(
        default_factory=list, description="Who wrote it.", examples=[["A. Teacher"]]
    )
    references: list[str] = Field(
        default_factory=list,
        description="Citations for the facts in the text.",
        examples=[["Saifuddin A et al. Spine 1998;23(13):1452-6."]],
    )
    version: str = Field("1.0", description="The lesson's own version.", examples=["1.2"])
    groups: dict[str, list[StructureRef]] = Field(
        default_factory=dict,
        description="Named groups of structures, used as @name in scenes.",
        examples=[{"lumbar": ["L1", "L2", "L3", "L4", "L5"]}],
    )
    start_scene: SceneSpec = Field(
        default_factory=SceneSpec,
        description="The scene before the first step, and what reset: true returns to.",
        examples=[{"visible": ["@bone"], "camera": "posterior"}],
    )
    steps: list[Step] = Field(
        ...,
        min_length=1,
        description="The steps, in order.",
        examples=[[{"id": "intro", "title": "Introduction", "text": "…"}]],
    )

    @field_validator("groups")
    @classmethod
    def _group_names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        import re

        for name in v:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", name):
                raise ValueError(f"group name {name!r} must be a word (letters, digits, _ -)")
        return v

    def step_index(self, step_id: str) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        raise KeyError(step_id)


def json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) that accepts a lesson or a question bank, for editor completion."""
    lesson = Lesson.model_json_schema(mode="validation")
    bank = QuestionBank.model_json_schema(mode="validation")
    defs = {**lesson.pop("$defs", {}), **bank.pop("$defs", {})}
    defs["Lesson"] = lesson
    defs["QuestionBank"] = bank
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://iddsanatomy.invalid/schema/lesson-v1.json",
        "title": "iddsanatomy lesson or question bank, schema_version 1",
        "anyOf": [{"$ref": "#/$defs/Lesson"}, {"$ref": "#/$defs/QuestionBank"}],
        "$defs": defs,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
