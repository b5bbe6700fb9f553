"""What a lesson step (or a question) asks the scene to show: the YAML ``scene:`` block.

Pydantic v2 models with ``extra="forbid"`` and a description and an example on every field; the
loader turns their errors into located messages. Names (structure ids, presets, views) are
checked against the registries passed in the validation *context* (``catalog``, ``groups``), so
the same models validate a file's shape alone (no context) or its names too (``lessons check``).

A field a step leaves out keeps its value from the previous step; ``null`` clears it.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetJsonSchemaHandler,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema

from iddsanatomy.errors import LessonError
from iddsanatomy.lessons import names
from iddsanatomy.scene import NAMED_VIEWS

Vec3 = tuple[float, float, float]


class Strict(BaseModel):
    """Base: unknown fields are errors, values are frozen once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _or_string(
    handler: GetJsonSchemaHandler, core_schema: CoreSchema, string: dict[str, Any]
) -> dict[str, Any]:
    """JSON Schema for a model that a YAML author may also write as one word."""
    return {"anyOf": [string, handler(core_schema)]}


def _check_structure_ref(value: str, info: ValidationInfo) -> str:
    ctx = info.context or {}
    catalog = ctx.get("catalog")
    if catalog is not None:
        problem = catalog.problem(value, ctx.get("groups"))
        if problem:
            raise ValueError(problem)
    return value


def _check_finite(v: Vec3) -> Vec3:
    if not all(math.isfinite(x) for x in v):
        raise ValueError(f"every coordinate must be a finite number of mm, got {list(v)}")
    return v


def _check_direction(v: Vec3) -> Vec3:
    _check_finite(v)
    if math.sqrt(sum(x * x for x in v)) < 1e-9:
        raise ValueError("a direction cannot be the zero vector")
    return v


StructureRef = Annotated[
    str,
    AfterValidator(_check_structure_ref),
    Field(
        description="A structure id, a glob pattern over ids, or a group (@bone, @name).",
        examples=["L3.pedicle.left", "L*.pedicle.*", "@bone"],
    ),
]
PointLPS = Annotated[Vec3, AfterValidator(_check_finite)]
Direction = Annotated[Vec3, AfterValidator(_check_direction)]
LabelSet = Literal["levels", "ribs", "interlaminar"]
ViewName = Literal[NAMED_VIEWS]  # type: ignore[valid-type]


class CameraSpec(Strict):
    """A named view, or an explicit camera. Write ``camera: posterior`` for a named view."""

    view: ViewName | None = Field(
        None,
        description="A named view; the renderer frames the visible anatomy from that side.",
        examples=["posterior"],
    )
    position_lps: PointLPS | None = Field(
        None,
        description="Explicit camera position, LPS millimetres (needs focal_point_lps).",
        examples=[[0.0, 600.0, 0.0]],
    )
    focal_point_lps: PointLPS | None = Field(
        None,
        description="The point the camera looks at, LPS millimetres.",
        examples=[[0.0, 0.0, 0.0]],
    )
    up: Direction | None = Field(
        None, description="View-up direction (LPS); default superior.", examples=[[0.0, 0.0, 1.0]]
    )
    zoom: float = Field(
        1.0,
        gt=0.1,
        le=10.0,
        description="Zoom factor over the framed view (1 = fit).",
        examples=[1.5],
    )
    focus: StructureRef | None = Field(
        None,
        description="Frame this structure instead of everything visible.",
        examples=["L3"],
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"view": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        return _or_string(handler, core_schema, {"enum": list(NAMED_VIEWS)})

    @model_validator(mode="after")
    def _one_kind(self) -> CameraSpec:
        explicit = self.position_lps is not None or self.focal_point_lps is not None
        if explicit and self.view is not None:
            raise ValueError("give either view or position_lps + focal_point_lps, not both")
        if explicit and (self.position_lps is None or self.focal_point_lps is None):
            raise ValueError("an explicit camera needs both position_lps and focal_point_lps")
        if not explicit and self.view is None:
            raise ValueError("give a view (e.g. posterior) or position_lps + focal_point_lps")
        return self


class ClipSpec(Strict):
    """A cutting plane; what lies on the side the normal points to is removed."""

    kind: Literal["sagittal", "coronal", "axial", "oblique", "custom"] = Field(
        "sagittal",
        description="sagittal removes the patient's left (+x), coronal the posterior (+y), "
        "axial the superior (+z) half; oblique/custom need a normal.",
        examples=["sagittal"],
    )
    origin_lps: PointLPS = Field(
        (0.0, 0.0, 0.0), description="A point on the plane, LPS mm.", examples=[[0.0, 0.0, 0.0]]
    )
    normal: Direction | None = Field(
        None,
        description="Plane normal (LPS); defaults to the kind's axis.",
        examples=[[1.0, 0.0, 0.0]],
    )

    @model_validator(mode="after")
    def _normal_for_custom(self) -> ClipSpec:
        if self.kind in ("oblique", "custom") and self.normal is None:
            raise ValueError(f"a {self.kind} clip needs a normal, e.g. normal: [1, 0, 1]")
        return self

    def plane_normal(self) -> Vec3:
        axes = {"sagittal": (1.0, 0.0, 0.0), "coronal": (0.0, 1.0, 0.0), "axial": (0.0, 0.0, 1.0)}
        return self.normal if self.normal is not None else axes[self.kind]


class VariantSpec(Strict):
    """A patient: a preset, optionally with fields changed. ``variant: obese`` names a preset."""

    preset: str | None = Field(
        None, description="A patient preset name to start from.", examples=["obese"]
    )
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="PatientVariant fields that override the preset (bmi, posture, conus_level…).",
        examples=[{"bmi": 35, "conus_level": "L2.upper"}],
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"preset": data}
        if isinstance(data, dict) and "fields" not in data:
            # ``variant: {preset: obese, bmi: 45}``: every key but preset is a variant field
            rest = {k: v for k, v in data.items() if k != "preset"}
            return {"preset": data.get("preset"), "fields": rest}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        presets = {"enum": list(names.patient_presets())}
        flat = {
            "type": "object",
            "description": "preset plus PatientVariant fields (bmi, posture, conus_level, …)",
            "properties": {"preset": presets},
            "additionalProperties": True,
        }
        return {"anyOf": [presets, flat, handler(core_schema)]}

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is None:
            return v
        known = names.patient_presets()
        if v not in known:
            raise ValueError(f"unknown patient preset {v!r}{names.suggest(v, known)}")
        return v

    @model_validator(mode="after")
    def _valid_variant(self) -> VariantSpec:
        if self.fields:
            self.build()  # raises ValueError naming the bad field
        return self

    def build(self) -> Any:
        """The :class:`~iddsanatomy.anatomy.variant.PatientVariant` (this spec without one)."""
        try:
            from iddsanatomy.anatomy import variant as v
        except ImportError:
            return self
        import pydantic

        base: dict[str, Any] = {}
        if self.preset is not None:
            base = v.preset(self.preset).model_dump()
        merged = {**base, **self.fields}
        if self.preset is not None and "name" not in self.fields and self.fields:
            merged["name"] = f"{self.preset} (modified)"
        try:
            return v.PatientVariant(**merged)
        except pydantic.ValidationError as exc:
            msgs = []
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"]) or "variant"
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    allowed = list(v.PatientVariant.model_fields)
                    msg = f"unknown variant field{names.suggest(str(err['loc'][-1]), allowed)}"
                msgs.append(f"{loc}: {msg}")
            raise ValueError("; ".join(msgs)) from None


class CArmSpec(Strict):
    """A C-arm pose: a preset and/or angles. ``carm: ap`` names a preset."""

    preset: str | None = Field(
        None, description="A C-arm preset (ap, lateral, oblique_left_30…).", examples=["ap"]
    )
    orbital_deg: float | None = Field(
        None,
        ge=-180,
        le=180,
        description="Oblique angle about the long axis, degrees; + swings the detector to the "
        "patient's left; 0 = AP, 90 = lateral. Overrides the preset's.",
        examples=[20.0],
    )
    cranial_tilt_deg: float | None = Field(
        None,
        ge=-60,
        le=60,
        description="Cranial (+) / caudal (−) tilt of the central ray, degrees.",
        examples=[-10.0],
    )
    level: str | None = Field(
        None,
        description="Centre the beam on this vertebra or interspace.",
        examples=["L3", "L3-L4"],
    )
    centre_lps: PointLPS | None = Field(
        None, description="Explicit isocentre, LPS mm (instead of level).", examples=[[0, 0, 0]]
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"preset": data} if isinstance(data, str) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        return _or_string(handler, core_schema, {"enum": list(names.carm_presets())})

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is None:
            return v
        known = names.carm_presets()
        if v not in known:
            raise ValueError(f"unknown C-arm preset {v!r}{names.suggest(v, known)}")
        return v

    @field_validator("level")
    @classmethod
    def _known_level(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from iddsanatomy.anatomy.model import LEVELS

        spaces = [f"{a}-{b}" for a, b in itertools.pairwise(LEVELS)]
        if v not in LEVELS and v not in spaces:
            raise ValueError(
                f"unknown level {v!r}{names.suggest(v, [*LEVELS, *spaces])}; "
                "expected a vertebra (L3) or an interspace (L3-L4)"
            )
        return v

    def build(self, anatomy: Any = None) -> Any:
        """A fluoro ``CArmPose`` when ``iddsanatomy.fluoro.pose`` exists, else this spec.

        With an ``anatomy``, a pose given a ``level`` is centred on that level.
        """
        try:
            from iddsanatomy.fluoro import pose as fp
        except ImportError:
            return self
        orbital, tilt = 0.0, 0.0
        if self.preset is not None:
            key = fp.PRESET_ALIASES.get(self.preset, self.preset)
            orbital, tilt = fp.PRESETS[key]
        if self.orbital_deg is not None:
            orbital = self.orbital_deg
        if self.cranial_tilt_deg is not None:
            tilt = self.cranial_tilt_deg
        kw: dict[str, Any] = {"orbital_deg": orbital, "cranial_tilt_deg": tilt, "level": self.level}
        if self.centre_lps is not None:
            kw["centre_lps"] = self.centre_lps
        elif self.level is not None and anatomy is not None:
            centre = _level_centre(fp, anatomy, self.level)
            if centre is not None:
                kw["centre_lps"] = centre
        return fp.CArmPose(**kw)


def _level_centre(fp: Any, anatomy: Any, level: str) -> tuple[float, float, float] | None:
    """The fluoro module's centre of a vertebra, or midway between two for an interspace;
    ``None`` when the anatomy lacks it (the pose then stays at the origin but names the level)."""
    try:
        return tuple(float(x) for x in fp.level_centre_lps(anatomy, level))
    except Exception:
        pass
    if "-" not in level:
        return None
    try:
        a, b = (fp.level_centre_lps(anatomy, p) for p in level.split("-", 1))
    except Exception:
        return None
    return tuple(float((x + y) / 2) for x, y in zip(a, b, strict=True))


def _check_needle_type(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        from iddsanatomy.needle.needles import NEEDLE_TYPES
    except ImportError:
        return v
    if v not in NEEDLE_TYPES:
        raise ValueError(f"unknown needle type {v!r}{names.suggest(v, NEEDLE_TYPES)}")
    return v


class NeedleSpec(Strict):
    """A needle placed by the lesson. ``needle: trainee`` lets the trainee place it instead."""

    entry_lps: PointLPS = Field(
        ..., description="Skin entry point, LPS mm.", examples=[[0.0, 85.0, -20.0]]
    )
    target_lps: PointLPS = Field(
        ..., description="A point the needle aims at, LPS mm.", examples=[[0.0, 20.0, -15.0]]
    )
    depth_mm: float | None = Field(
        None,
        ge=0,
        le=200,
        description="How far the needle is advanced past the skin, mm; default: to the target.",
        examples=[55.0],
    )
    needle_type: str | None = Field(
        None,
        description="A needle id (spinal-22G-quincke-90, tuohy-17G-90, …); default: the tool's.",
        examples=["spinal-22G-pencil-point-90"],
    )

    @model_validator(mode="after")
    def _distinct(self) -> NeedleSpec:
        if all(abs(a - b) < 1e-9 for a, b in zip(self.entry_lps, self.target_lps, strict=True)):
            raise ValueError("entry_lps and target_lps are the same point")
        return self

    @field_validator("needle_type")
    @classmethod
    def _known_needle(cls, v: str | None) -> str | None:
        return _check_needle_type(v)

    def build(self) -> Any:
        """A :class:`iddsanatomy.needle.pose.NeedlePose` (this spec while that module is missing).

        The depth defaults to the entry–target distance, limited to the needle's length.
        """
        try:
            from iddsanatomy.needle.pose import NeedlePose
        except ImportError:
            return self
        entry, target = self.entry_lps, self.target_lps
        direction = tuple(t - e for e, t in zip(entry, target, strict=True))
        length = math.sqrt(sum(d * d for d in direction))
        kw: dict[str, Any] = {"entry_lps": entry, "direction": direction}
        if self.needle_type is not None:
            kw["needle_type"] = self.needle_type
        probe = NeedlePose(**kw)
        depth = length if self.depth_mm is None else self.depth_mm
        return probe.with_depth(min(depth, probe.needle.length_mm))


#: The interspaces a planned needle may go through (the lumbar ones the variants know).
INTERSPACES = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
Interspace = Literal[INTERSPACES]  # type: ignore[valid-type]


class NeedlePlanError(LessonError):
    """A planned needle has no clear path on the patient shown.

    The lesson goes on: the runner shows the step without the needle and reports this error
    (``LessonRunner.needle_problem``); ``iddsanatomy lessons check`` lists it.
    """


class CatheterSpec(Strict):
    """A catheter threaded through a planned needle from the space its tip is in."""

    length_mm: float = Field(
        ...,
        gt=0,
        le=300,
        description="How far the catheter is threaded past the needle tip, mm.",
        examples=[40.0],
    )
    direction: Literal["cephalad", "caudad"] = Field(
        "cephalad",
        description="Which way the catheter goes along the canal (the bevel faces that way).",
        examples=["cephalad"],
    )


class NeedlePlanSpec(Strict):
    """A needle as a clinician plans it: interspace, approach, side and target space.

    Resolved when the step is shown, on the anatomy of the patient the step shows, by the needle
    path finder (:func:`iddsanatomy.needle.find_path`), so it stays right when the anatomy or
    the patient changes.
    """

    interspace: Interspace = Field(
        ...,
        description="The interlaminar space the needle goes through.",
        examples=["L3-L4"],
    )
    approach: Literal["midline", "paramedian"] = Field(
        ...,
        description="midline: between the spinous processes; paramedian: Miller's entry 1 cm "
        "lateral, aimed medially and cephalad.",
        examples=["paramedian"],
    )
    side: Literal["left", "right"] | None = Field(
        None,
        description="The side of a paramedian entry (default left); not for a midline one.",
        examples=["left"],
    )
    target: Literal["epidural", "intrathecal"] = Field(
        ...,
        description="Where the tip goes: the epidural space, or the CSF (intrathecal).",
        examples=["intrathecal"],
    )
    needle_type: str | None = Field(
        None,
        description="A needle id (spinal-22G-quincke-90, tuohy-17G-90, …); default: the tool's.",
        examples=["tuohy-17G-90"],
    )
    depth: Literal["target"] | Annotated[float, Field(gt=0, le=200)] = Field(
        "target",
        description="How far the needle is advanced: 'target' (just into the target space) or "
        "a depth in mm along the planned path (e.g. to stop in the ligamentum flavum).",
        examples=["target", 40.0],
    )

    catheter: CatheterSpec | None = Field(
        None,
        description="A catheter threaded through the needle once its tip is in the target "
        "space (needs depth: target).",
        examples=[{"length_mm": 40, "direction": "cephalad"}],
    )

    @field_validator("needle_type")
    @classmethod
    def _known_needle(cls, v: str | None) -> str | None:
        return _check_needle_type(v)

    @field_validator("depth", mode="before")
    @classmethod
    def _one_depth_message(cls, v: Any) -> Any:
        # one message for both forms, rather than one per branch of the union
        if v == "target":
            return v
        ok = isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 200
        if not ok:
            raise ValueError(
                f"depth must be 'target' or a number of mm greater than 0 and at most 200, "
                f"got {v!r}"
            )
        return float(v)

    @model_validator(mode="after")
    def _side_only_paramedian(self) -> NeedlePlanSpec:
        if self.side is not None and self.approach == "midline":
            raise ValueError(
                "side applies only to a paramedian approach; remove side or write "
                "approach: paramedian"
            )
        if self.catheter is not None and self.depth != "target":
            raise ValueError(
                "a catheter is threaded from the target space: it needs depth: target "
                f"(the needle is stopped at {self.depth:g} mm)"
            )
        return self

    def describe(self) -> str:
        """``"paramedian (left) L3-L4 needle to the intrathecal space"``."""
        side = f" ({self.side or 'left'})" if self.approach == "paramedian" else ""
        return f"{self.approach}{side} {self.interspace} needle to the {self.target} space"

    def build(self, anatomy: Any) -> Any:
        """The :class:`~iddsanatomy.needle.pose.NeedlePose` on ``anatomy``.

        Raises
        ------
        NeedlePlanError
            When the path finder finds no clear path (bone or nerve in the way) on this
            anatomy, naming the plan and the patient.
        """
        from iddsanatomy.errors import GeometryError
        from iddsanatomy.errors import ValidationError as IddsValidationError
        from iddsanatomy.needle.needles import DEFAULT_NEEDLE
        from iddsanatomy.needle.planning import find_path

        try:
            plan = find_path(
                anatomy,
                self.interspace,
                self.approach,
                side=self.side or "left",
                target=self.target,
                needle=self.needle_type or DEFAULT_NEEDLE,
            )
        except (GeometryError, IddsValidationError, KeyError) as exc:
            variant = getattr(anatomy, "variant", None)
            who = getattr(variant, "name", None) or "average adult"
            raise NeedlePlanError(
                f"the planned {self.describe()} cannot be placed on this patient ({who}): "
                f"{exc}; try another interspace, approach or side, or use entry_lps + target_lps"
            ) from exc
        if self.depth == "target":
            return plan.pose
        return plan.pose.with_depth(min(float(self.depth), plan.pose.needle.length_mm))

    def build_catheter(self, anatomy: Any, pose: Any) -> Any:
        """The :class:`~iddsanatomy.needle.catheter.Catheter` threaded through ``pose`` (the
        placed needle) on ``anatomy``, or ``None`` when the plan has none.

        Raises
        ------
        NeedlePlanError
            When the catheter cannot be threaded from where the tip is.
        """
        if self.catheter is None:
            return None
        from iddsanatomy.errors import IddsError
        from iddsanatomy.needle.analysis import analyse
        from iddsanatomy.needle.catheter import thread_catheter

        try:
            return thread_catheter(
                anatomy, analyse(anatomy, pose), self.catheter.length_mm, self.catheter.direction
            )
        except IddsError as exc:
            raise NeedlePlanError(
                f"the catheter of the planned {self.describe()} cannot be threaded: {exc}"
            ) from exc


#: Keys that mark a needle written as coordinates (the rest is a plan).
_COORDINATE_KEYS = ("entry_lps", "target_lps", "depth_mm")


def _needle_kind(v: Any) -> str:
    """Which needle form a value is: the tag names the model (the loader reads it so)."""
    if isinstance(v, NeedleSpec) or (isinstance(v, dict) and any(k in v for k in _COORDINATE_KEYS)):
        return "NeedleSpec"
    if isinstance(v, NeedlePlanSpec | dict):
        return "NeedlePlanSpec"
    return "Trainee"


NeedleChoice = Annotated[
    Annotated[NeedlePlanSpec, Tag("NeedlePlanSpec")]
    | Annotated[NeedleSpec, Tag("NeedleSpec")]
    | Annotated[Literal["trainee"], Tag("Trainee")],
    Discriminator(_needle_kind),
]


class SceneSpec(Strict):
    """The scene a step shows. Every field is optional: left out, it keeps the previous value."""

    camera: CameraSpec | None = Field(
        None, description="Where the 3D view looks from.", examples=["posterior"]
    )
    visible: list[StructureRef] | None = Field(
        None,
        description="Exactly these structures are shown (replaces what was shown).",
        examples=[["@bone", "dura"]],
    )
    show: list[StructureRef] = Field(
        default_factory=list,
        description="Add these to what is shown (after visible).",
        examples=[["ligamentum_flavum.L3-L4"]],
    )
    hide: list[StructureRef] = Field(
        default_factory=list,
        description="Remove these from what is shown (after show).",
        examples=[["skin"]],
    )
    highlight: list[StructureRef] | None = Field(
        None,
        description="Highlight these structures or parts ([] clears).",
        examples=[["L3.pedicle.left", "L3.pedicle.right"]],
    )
    select: StructureRef | None = Field(
        None, description="The selected structure (shown in the info box).", examples=["conus"]
    )
    opacity: dict[StructureRef, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None,
        description="Opacity 0–1 per structure, pattern or group; merged with the previous.",
        examples=[{"skin": 0.2, "@muscle": 0.3}],
    )
    labels: list[LabelSet] | None = Field(
        None, description="Label sets drawn in 3D ([] clears).", examples=[["levels"]]
    )
    clip: ClipSpec | None = Field(
        None, description="A cutting plane (null removes it).", examples=[{"kind": "sagittal"}]
    )
    variant: VariantSpec | None = Field(
        None,
        description="The patient: a preset name, or preset + fields (null: default anatomy).",
        examples=["obese", {"preset": "average adult", "conus_level": "L2.upper"}],
    )
    carm: CArmSpec | None = Field(
        None,
        description="C-arm pose for the fluoroscopy view (null: none).",
        examples=["ap", {"preset": "ap", "level": "L3-L4", "cranial_tilt_deg": 8}],
    )
    fluoro_open: bool | None = Field(
        None, description="Whether the fluoroscopy panel is open.", examples=[True]
    )
    needle: NeedleChoice | None = Field(
        None,
        description="A planned needle (interspace, approach, target: placed on the patient "
        "shown), a fixed one (entry_lps + target_lps), 'trainee' (the trainee places it) or "
        "null (no needle).",
        examples=[
            {"interspace": "L3-L4", "approach": "midline", "target": "intrathecal"},
            "trainee",
            {"entry_lps": [0, 85, -20], "target_lps": [0, 20, -15]},
        ],
    )
    message: str | None = Field(
        None, description="A short line for the status bar.", examples=["Count down from T12."]
    )

    @field_validator("needle", mode="before")
    @classmethod
    def _needle_word(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "trainee":
            raise ValueError(
                f"{v!r} is not a needle; use 'trainee', null, a plan (interspace, approach, "
                "target) or entry_lps + target_lps" + names.suggest(v, ["trainee"])
            )
        return v
