"""Patient variation: a frozen, validated description of how a patient differs from the default.

A :class:`PatientVariant` is pure data. ``load_anatomy(variant)`` turns it into geometry; this
module only validates it and derives the numbers the geometry needs (segmental lordosis per level,
extra subcutaneous fat for a BMI, the axial level of the conus tip, ...). Every figure says where it
comes from (``../shared/anatomy/REFERENCE.md`` section and source).

Levels along the spine are counted in *position units* as in Saifuddin 1998 and Kim 2003
(REFERENCE §8): every vertebral body has three thirds (``upper``, ``middle``, ``lower``) and every
disc is one unit, so a motion segment is four units. ``"L1.lower"`` is the lower third of L1,
``"L1-L2"`` the L1–L2 disc.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iddsanatomy.anatomy.model import suggest
from iddsanatomy.errors import ValidationError

#: Vertebrae from T11 down to S5, the order used for position units.
SPINE_ORDER = ("T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1", "S2", "S3", "S4", "S5")
LUMBAR_INTERSPACES = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
LUMBAR_LEVELS = ("L1", "L2", "L3", "L4", "L5")
THIRDS = ("upper", "middle", "lower")

Posture = Literal["standing", "prone", "prone_pillow", "supine", "lateral_flexed", "sitting_flexed"]

#: L1–S1 lordosis (Cobb, degrees) a posture gives by default.
POSTURE_LORDOSIS_DEG: dict[str, float] = {
    # 49.8 ± 11.2° standing: Asian Spine J 2019 (PMC6680033), 627 volunteers (REFERENCE §6) [R]
    "standing": 49.8,
    # 52.1° prone vs 49.3° supine on 3 T MRI: Int J Spine Surg 2025 (REFERENCE §6) [R]
    "prone": 52.1,
    # Relaxed recumbent 36.8 ± 13.2° (PMC6680033, REFERENCE §6) [R]; a pillow under the abdomen
    # flattens the prone lordosis towards it (no direct figure: modelling choice, §6 note).
    "prone_pillow": 36.8,
    "supine": 49.3,  # Int J Spine Surg 2025 (REFERENCE §6) [R]
    # Flexed lateral decubitus / sitting: "reduced toward ≈0–20°" [TU] (REFERENCE §6 note)
    "lateral_flexed": 10.0,
    "sitting_flexed": 10.0,
}

#: Share of the L1–S1 lordosis carried by each segment, standing, n = 324:
#: Sci Rep 2022, doi:10.1038/s41598-022-21840-x, Table 2 (REFERENCE §6) [R].
#: T12-L1 is not in the table; it is taken as 0 (the thoracolumbar junction is near straight).
SEGMENT_LORDOSIS_SHARE: dict[str, float] = {
    "T12-L1": 0.0,
    "L1-L2": 0.023,
    "L2-L3": 0.117,
    "L3-L4": 0.181,
    "L4-L5": 0.252,
    "L5-S1": 0.427,
}

#: Slope of skin-to-epidural depth with BMI: Depth (mm) = 17.7966 + 0.9777 × BMI,
#: Ravi KK et al. J Anaesth Clin Pharmacol 2011;27(1):39–42 (REFERENCE §11b) [R].
RAVI_INTERCEPT_MM = 17.7966
RAVI_SLOPE_MM_PER_BMI = 0.9777

#: The default anatomy's patient, the "average adult" preset: BMI 25, between the two volunteer
#: groups of REFERENCE §12 (BMI 21.6 and 25.9; PMC4323173) [R]. Ravi's regression then gives a
#: skin-to-epidural depth of 42.2 mm, inside Cha 2011's range at every level (§11b). The shipped
#: meshes are generated for this BMI (``softtissue.build_soft_tissue``), so the default anatomy
#: and the preset are the same patient.
DEFAULT_BMI = 25.0


def skin_to_epidural_mm(bmi: float) -> float:
    """Skin-to-epidural depth (mm) predicted for ``bmi`` by Ravi 2011 (REFERENCE §11b)."""
    return RAVI_INTERCEPT_MM + RAVI_SLOPE_MM_PER_BMI * bmi


def position_units(label: str) -> float:
    """Position of ``label`` in units down the spine from the top of T11 (REFERENCE §8 convention).

    ``"T12.upper"`` → 4, ``"T12.middle"`` → 5, ``"T12.lower"`` → 6, ``"T12-L1"`` → 7,
    ``"L1.upper"`` → 8, ... Raises :class:`ValidationError` on an unknown label.
    """
    if "-" in label:
        upper, lower = label.split("-", 1)
        if upper in SPINE_ORDER and lower in SPINE_ORDER:
            i = SPINE_ORDER.index(upper)
            if SPINE_ORDER.index(lower) == i + 1:
                return 4 * i + 3
    elif "." in label:
        level, third = label.split(".", 1)
        if level in SPINE_ORDER and third in THIRDS:
            return 4 * SPINE_ORDER.index(level) + THIRDS.index(third)
    examples = "'L1.lower', 'T12.middle', 'L1-L2' (a disc)"
    raise ValidationError(f"unknown spinal position {label!r}; expected e.g. {examples}")


def position_label(units: float) -> str:
    """The label of the position unit nearest to ``units`` (inverse of :func:`position_units`)."""
    u = round(units)
    u = min(max(u, 0), 4 * len(SPINE_ORDER) - 2)
    i, r = divmod(u, 4)
    if r == 3:
        return f"{SPINE_ORDER[i]}-{SPINE_ORDER[i + 1]}"
    return f"{SPINE_ORDER[i]}.{THIRDS[r]}"


#: Conus tip: mean lower third of L1, range middle third of T12 to upper third of L3
#: (Saifuddin 1998, n = 504; REFERENCE §8) [R].
CONUS_DEFAULT = "L1.lower"
CONUS_RANGE = ("T12.middle", "L3.upper")
#: Dural sac end: commonest upper third of S2; range L5–S1 disc to upper third of S3
#: (Binokay 2006, n = 743; REFERENCE §7) [R].
SAC_END_DEFAULT = "S2.upper"
SAC_END_RANGE = ("L5-S1", "S3.upper")


class PatientVariant(BaseModel):
    """How this patient differs from the default adult. Every field has a safe default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("average adult", description="A short name shown to the trainee.")
    posture: Posture = Field(
        "prone", description="Position on the table; sets the default lordosis (REFERENCE §6)."
    )
    lordosis_deg: float | None = Field(
        None,
        ge=-10,
        le=80,
        description="L1–S1 lordosis (Cobb, degrees); None takes the posture's value.",
    )
    bmi: float = Field(DEFAULT_BMI, ge=16, le=60, description="Body-mass index, kg/m².")
    scoliosis_cobb_deg: float = Field(0, ge=0, le=90, description="Coronal Cobb angle, degrees.")
    scoliosis_apex: str = Field("L2", description="Apical vertebra of the curve (T12–L4).")
    scoliosis_side: Literal["left", "right"] = Field(
        "right", description="Side of the curve's convexity."
    )
    apical_rotation_deg: float = Field(
        0,
        ge=0,
        le=45,
        description="Axial rotation of the apical vertebra, degrees (§14).",
    )
    conus_level: str = Field(CONUS_DEFAULT, description="Conus tip, e.g. 'L1.lower' or 'L1-L2'.")
    dural_sac_end: str = Field(SAC_END_DEFAULT, description="Dural sac end, e.g. 'S2.upper'.")
    rib12: Literal["normal", "short", "absent"] = Field(
        "normal", description="The 12th ribs: normal (~11 cm), short (< 5 cm) or absent (§12)."
    )
    transitional: Literal["none", "sacralised_L5", "lumbarised_S1"] = Field(
        "none", description="Lumbosacral transitional vertebra (REFERENCE §12)."
    )
    laminectomy_levels: tuple[str, ...] = Field(
        (), description="Interspaces operated by laminectomy, e.g. ['L4-L5']."
    )
    fusion_levels: tuple[str, ...] = Field(
        (), description="Interspaces fused with pedicle screws and rods, e.g. ['L4-L5']."
    )
    skin_lesion_levels: tuple[str, ...] = Field(
        (), description="Interspaces with broken or infected skin over them."
    )

    @field_validator("scoliosis_apex")
    @classmethod
    def _apex_is_a_level(cls, v: str) -> str:
        allowed = ("T12", "L1", "L2", "L3", "L4")
        if v not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}{suggest(v, allowed)}")
        return v

    @field_validator("laminectomy_levels", "fusion_levels", "skin_lesion_levels")
    @classmethod
    def _interspaces(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if item not in LUMBAR_INTERSPACES:
                raise ValueError(
                    f"{item!r} is not an interspace; expected one of "
                    f"{', '.join(LUMBAR_INTERSPACES)}{suggest(item, LUMBAR_INTERSPACES)}"
                )
        if len(set(v)) != len(v):
            raise ValueError("lists an interspace twice")
        return tuple(sorted(v, key=LUMBAR_INTERSPACES.index))

    @field_validator("conus_level")
    @classmethod
    def _conus_in_range(cls, v: str) -> str:
        return _check_range(v, CONUS_RANGE, "Saifuddin 1998")

    @field_validator("dural_sac_end")
    @classmethod
    def _sac_in_range(cls, v: str) -> str:
        return _check_range(v, SAC_END_RANGE, "Binokay 2006")

    @model_validator(mode="after")
    def _consistent(self) -> PatientVariant:
        if self.apical_rotation_deg > 0 and self.scoliosis_cobb_deg == 0:
            raise ValueError(
                "apical_rotation_deg > 0 needs a scoliosis (scoliosis_cobb_deg > 0): "
                "vertebral rotation without a curve is not modelled"
            )
        if self.transitional == "sacralised_L5" and (
            "L5-S1" in self.laminectomy_levels or "L5-S1" in self.fusion_levels
        ):
            raise ValueError("a sacralised L5 has no mobile L5–S1 level to operate on")
        return self

    @property
    def effective_lordosis_deg(self) -> float:
        """The L1–S1 lordosis this variant asks for (explicit, or the posture's)."""
        if self.lordosis_deg is not None:
            return self.lordosis_deg
        return POSTURE_LORDOSIS_DEG[self.posture]

    def segment_lordosis_deg(self) -> dict[str, float]:
        """Lordosis per segment (degrees), the total split by the Sci Rep 2022 shares (§6)."""
        total = self.effective_lordosis_deg
        return {seg: total * share for seg, share in SEGMENT_LORDOSIS_SHARE.items()}

    def extra_fat_mm(self, reference_bmi: float = DEFAULT_BMI) -> float:
        """Extra subcutaneous fat over the default patient: only fat grows with BMI.

        Bahk 1998 (REFERENCE §11b): the supraspinous-ligament-to-epidural depth does not depend on
        body size, so the whole change in skin-to-epidural depth (Ravi 2011 slope) is fat.
        """
        return RAVI_SLOPE_MM_PER_BMI * (self.bmi - reference_bmi)


def _check_range(v: str, rng: tuple[str, str], source: str) -> str:
    try:
        u = position_units(v)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None
    lo, hi = (position_units(r) for r in rng)
    if not lo <= u <= hi:
        raise ValueError(f"{v!r} is outside the published range {rng[0]} to {rng[1]} ({source})")
    return v


def make_variant(**fields) -> PatientVariant:
    """Build a variant, turning pydantic's errors into one :class:`ValidationError` that names
    every bad field, its value and what is allowed."""
    import pydantic

    try:
        return PatientVariant(**fields)
    except pydantic.ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "variant"
            value = err.get("input")
            lines.append(f"{loc} = {value!r}: {err['msg']}")
        raise ValidationError("invalid patient variant:\n  " + "\n  ".join(lines)) from None


_PRESETS_FILE = Path(__file__).with_name("presets.yaml")


@lru_cache(maxsize=1)
def _preset_table() -> dict[str, dict]:
    import yaml

    data = yaml.safe_load(_PRESETS_FILE.read_text(encoding="utf-8"))
    return {p["name"]: p for p in data["presets"]}


def preset_names() -> list[str]:
    """Names of the shipped presets, in file order."""
    return list(_preset_table())


def preset(name: str) -> PatientVariant:
    """The named preset as a validated variant; unknown names get suggestions."""
    table = _preset_table()
    if name not in table:
        raise ValidationError(f"unknown patient preset {name!r}{suggest(name, table)}")
    fields = {k: v for k, v in table[name].items() if k != "description"}
    for key in ("laminectomy_levels", "fusion_levels", "skin_lesion_levels"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return make_variant(**fields)


def preset_description(name: str) -> str:
    return _preset_table()[name].get("description", "")
