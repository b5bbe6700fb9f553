"""Question models: used inline in a lesson step (``question:``) and in banks under ``lessons/``.

Every question has an ``id``, a ``type`` (which picks the model), a Markdown ``prompt`` and an
optional ``scene`` to show while it is answered. Grading lives in :mod:`iddsanatomy.quiz.grading`.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from iddsanatomy.lessons.scene_spec import (
    CArmSpec,
    SceneSpec,
    Strict,
    StructureRef,
    VariantSpec,
)

#: Interspaces a trial needle may use, top to bottom (CURRICULUM: between L1 and S1; T12–L1 is
#: included so that a trainee can choose it wrongly).
INTERSPACES = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
Interspace = Literal[INTERSPACES]  # type: ignore[valid-type]
ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class _OneOrList:
    """JSON Schema for a list an author may also write as one item (``answer: L4``)."""

    def __get_pydantic_json_schema__(self, core_schema, handler):
        js = handler(core_schema)
        return {"anyOf": [js.get("items", {}), js]}


OneOrList = (BeforeValidator(_as_list), _OneOrList())


class Option(Strict):
    """One answer of a choice question."""

    id: str = Field(
        "",  # filled in as a, b, c… by the question when left out
        pattern=ID_PATTERN,
        description="Stable id stored with the answer (default: a, b, c… in file order).",
        examples=["a"],
    )
    text: str = Field(
        ...,
        min_length=1,
        description="What the trainee reads (Markdown).",
        examples=["The conus medullaris"],
    )
    correct: bool = Field(False, description="Whether choosing it is right.", examples=[True])
    explanation: str = Field(
        "",
        description="Why it is right or wrong, shown as feedback for this option.",
        examples=["The cord ends at L1–L2 in most adults (Saifuddin 1998)."],
    )


class QuestionBase(Strict):
    id: str = Field(
        ...,
        pattern=ID_PATTERN,
        description="Unique id within the lesson or bank.",
        examples=["q-conus-level"],
    )
    prompt: str = Field(
        ...,
        min_length=1,
        description="The question (Markdown).",
        examples=["Where does the spinal cord usually end?"],
    )
    points: float = Field(1.0, gt=0, le=100, description="Weight in the total score.", examples=[1])
    explanation: str = Field(
        "",
        description="Shown after answering, whatever the answer (Markdown, with citations).",
        examples=["Saifuddin 1998: mean lower third of L1."],
    )
    tags: list[str] = Field(
        default_factory=list, description="Topics, for review lists.", examples=[["conus"]]
    )
    scene: SceneSpec | None = Field(
        None,
        description="What the 3D view shows while the question is answered.",
        examples=[{"camera": "posterior"}],
    )


class _ChoiceBase(QuestionBase):
    options: list[Option] = Field(
        ...,
        min_length=2,
        description="The answers to choose from.",
        examples=[[{"text": "L1–L2", "correct": True}, {"text": "T10"}]],
    )
    shuffle: bool = Field(
        True, description="Show the options in a seeded random order.", examples=[True]
    )

    @model_validator(mode="before")
    @classmethod
    def _default_option_ids(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("options"), list):
            opts = []
            for i, o in enumerate(data["options"]):
                if isinstance(o, dict) and "id" not in o and i < 26:
                    o = {"id": string.ascii_lowercase[i], **o}
                opts.append(o)
            data = {**data, "options": opts}
        return data

    @field_validator("options")
    @classmethod
    def _unique_ids(cls, v: list[Option]) -> list[Option]:
        seen = [o.id for o in v]
        dup = sorted({i for i in seen if seen.count(i) > 1})
        if dup:
            raise ValueError(f"option ids must be unique; repeated: {', '.join(dup)}")
        return v

    def option(self, option_id: str) -> Option:
        for o in self.options:
            if o.id == option_id:
                return o
        raise KeyError(option_id)


class SingleChoice(_ChoiceBase):
    """One right answer among several, each with its own explanation."""

    type: Literal["single_choice"] = Field(description="Question type.", examples=["single_choice"])

    @field_validator("options")
    @classmethod
    def _exactly_one(cls, v: list[Option]) -> list[Option]:
        n = sum(o.correct for o in v)
        if n != 1:
            raise ValueError(f"a single_choice question needs exactly one correct option, has {n}")
        return v


class MultipleChoice(_ChoiceBase):
    """Several right answers; partial credit for right picks minus wrong picks."""

    type: Literal["multiple_choice"] = Field(
        description="Question type.", examples=["multiple_choice"]
    )

    @field_validator("options")
    @classmethod
    def _at_least_one(cls, v: list[Option]) -> list[Option]:
        if not any(o.correct for o in v):
            raise ValueError("a multiple_choice question needs at least one correct option")
        return v


class Identify(QuestionBase):
    """ "Click the L4 left pedicle": graded by the id of the structure (or part) picked in 3D."""

    type: Literal["identify"] = Field(description="Question type.", examples=["identify"])
    answer: Annotated[list[StructureRef], *OneOrList] = Field(
        ...,
        min_length=1,
        description="Accepted ids or patterns (one is enough).",
        examples=[["L4.pedicle.left"]],
    )


class FindOnFluoro(QuestionBase):
    """ "Click the L3–L4 interlaminar space" on a DRR: graded by where the click falls in the
    target's projection."""

    type: Literal["find_on_fluoro"] = Field(
        description="Question type.", examples=["find_on_fluoro"]
    )
    target: Annotated[list[StructureRef], *OneOrList] = Field(
        ...,
        min_length=1,
        description="Structure(s) whose projection counts as a hit.",
        examples=[["interlaminar.L3-L4"]],
    )
    carm: CArmSpec = Field(..., description="The C-arm pose of the image.", examples=["ap"])
    variant: VariantSpec | None = Field(
        None, description="The patient (default anatomy when left out).", examples=["obese"]
    )
    tolerance_px: float = Field(
        0.0,
        ge=0,
        le=50,
        description="A click this close (pixels) to the target still counts.",
        examples=[4],
    )


class ChooseLevel(QuestionBase):
    """A case and a choice of interspaces, graded with a rationale for every option."""

    type: Literal["choose_level"] = Field(description="Question type.", examples=["choose_level"])
    variant: VariantSpec = Field(
        ...,
        description="The patient of the case.",
        examples=[{"preset": "prior L4-L5 laminectomy"}],
    )
    options: list[Interspace] = Field(
        default_factory=lambda: list(INTERSPACES[1:]),
        min_length=2,
        description="Interspaces offered.",
        examples=[["L2-L3", "L3-L4", "L4-L5"]],
    )
    correct: Annotated[list[Interspace], *OneOrList] = Field(
        ...,
        min_length=1,
        description="Interspaces that are acceptable answers.",
        examples=[["L3-L4"]],
    )
    rationale: dict[Interspace, str] = Field(
        ...,
        description="Why each offered interspace is or is not a good choice.",
        examples=[{"L3-L4": "Below the conus, intact skin, not operated."}],
    )

    @model_validator(mode="after")
    def _consistent(self) -> ChooseLevel:
        missing = [c for c in self.correct if c not in self.options]
        if missing:
            raise ValueError(f"correct lists {', '.join(missing)} which options does not offer")
        no_why = [o for o in self.options if o not in self.rationale]
        if no_why:
            raise ValueError(f"rationale must explain every option; missing: {', '.join(no_why)}")
        return self


class NeedleGoal(Strict):
    """What a successful needle placement achieves."""

    space: Literal["epidural", "intrathecal"] = Field(
        ..., description="Where the tip must end.", examples=["intrathecal"]
    )
    levels: Annotated[list[Interspace], *OneOrList] = Field(
        ...,
        min_length=1,
        description="Interspaces the needle may pass through.",
        examples=[["L3-L4"]],
    )
    bone_contact_allowed: bool = Field(
        False, description="Whether touching bone on the way still passes.", examples=[False]
    )
    max_redirections: int = Field(
        2, ge=0, le=20, description="Most redirections allowed.", examples=[2]
    )
    avoid: list[StructureRef] = Field(
        default_factory=list,
        description="Structures the needle must not touch.",
        examples=[["conus"]],
    )


class PlaceNeedle(QuestionBase):
    """Place the needle to reach a goal; graded by the needle analysis."""

    type: Literal["place_needle"] = Field(description="Question type.", examples=["place_needle"])
    goal: NeedleGoal = Field(
        ...,
        description="What counts as success.",
        examples=[{"space": "intrathecal", "levels": ["L3-L4"]}],
    )
    variant: VariantSpec | None = Field(
        None, description="The patient (default anatomy when left out).", examples=["obese"]
    )


class Numeric(QuestionBase):
    """A number with a tolerance: "skin-to-epidural depth in cm"."""

    type: Literal["numeric"] = Field(description="Question type.", examples=["numeric"])
    answer: float = Field(..., description="The right value.", examples=[5.7])
    tolerance: float = Field(
        ...,
        ge=0,
        description="Accepted absolute error (same unit); the bound counts as right.",
        examples=[0.5],
    )
    unit: str = Field("", description="Unit shown beside the input box.", examples=["cm"])


Question = Annotated[
    SingleChoice | MultipleChoice | Identify | FindOnFluoro | ChooseLevel | PlaceNeedle | Numeric,
    Field(discriminator="type"),
]
QUESTION_TYPES = (
    "single_choice",
    "multiple_choice",
    "identify",
    "find_on_fluoro",
    "choose_level",
    "place_needle",
    "numeric",
)


class QuestionBank(Strict):
    """A file of questions a quiz draws from (``lessons/banks/*.yaml``)."""

    schema_version: Literal[1] = Field(
        ..., description="Version of this file format; 1.", examples=[1]
    )
    kind: Literal["bank"] = Field(
        "bank", description="Marks the file as a question bank.", examples=["bank"]
    )
    id: str = Field(
        ..., pattern=ID_PATTERN, description="Unique bank id.", examples=["lumbar-basics"]
    )
    title: str = Field(
        ..., min_length=1, description="Shown in the quiz list.", examples=["Lumbar anatomy basics"]
    )
    description: str = Field(
        "", description="What the bank covers.", examples=["Levels, conus, layers."]
    )
    authors: list[str] = Field(
        default_factory=list, description="Who wrote it.", examples=[["A. Teacher"]]
    )
    questions: list[Question] = Field(
        ...,
        min_length=1,
        description="The questions.",
        examples=[[{"id": "q1", "type": "numeric", "prompt": "…", "answer": 5, "tolerance": 1}]],
    )
