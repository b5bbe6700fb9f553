"""Needle types: gauge, outer diameter, length and tip, as data.

Sizes (REFERENCE §16): spinal needles 18–27 G and epidural needles 14–20 G, 50–150 mm (UMLS/ECRI
device concepts [S]); the standard spinal needle is 3.5 inch (≈90 mm), with 5- and 7-inch
(127 and 178 mm) needles for obese patients (*AJNR* 2016 [R]); the adult Tuohy is 16–18 G, 17 G
standard, 8–9 cm, 12–15 cm for a high BMI [S]; its blunt bevel has a 15–30° curve [S] and the
catheter leaves the tip at ≈45° [S]. An IDDS trial uses a 17 G Tuohy (REFERENCE §16 [S]).

Outer diameters are the nominal regular-wall figures of ISO 9626:2016 Table 1 (17 G 1.473 mm,
18 G 1.270 mm, 22 G 0.711 mm, 25 G 0.514 mm) [TU: standard table, not in REFERENCE].
"""

from __future__ import annotations

from dataclasses import dataclass

from iddsanatomy.anatomy.model import suggest
from iddsanatomy.errors import ValidationError

#: Nominal outer diameter (mm) by gauge, ISO 9626:2016 Table 1 (regular wall) [TU].
OUTER_DIAMETER_MM: dict[int, float] = {17: 1.473, 18: 1.270, 22: 0.711, 25: 0.514}

#: Lengths offered: 3.5, 5 and 7 inch (REFERENCE §16, *AJNR* 2016 [R]).
LENGTHS_MM: tuple[int, ...] = (90, 127, 178)

TIPS = ("quincke", "pencil_point", "tuohy")

#: Curve of the Tuohy tip, degrees (REFERENCE §16: "blunt bevel with a 15–30° curve" [S]).
TUOHY_CURVE_DEG = 20.0
#: Angle of a Quincke cutting bevel to the shaft, degrees [TU: typical ≈15–20°, not in REFERENCE].
QUINCKE_BEVEL_DEG = 18.0


@dataclass(frozen=True)
class NeedleType:
    """One needle: ``spinal-22G-quincke-90`` or ``tuohy-17G-90``.

    Attributes
    ----------
    id : str
    kind : str
        ``"spinal"`` or ``"tuohy"`` (an epidural needle).
    gauge : int
    tip : str
        One of :data:`TIPS`.
    outer_diameter_mm, length_mm : float
    """

    id: str
    kind: str
    gauge: int
    tip: str
    outer_diameter_mm: float
    length_mm: float

    @property
    def display_name(self) -> str:
        tip = {"quincke": "Quincke", "pencil_point": "pencil-point", "tuohy": "Tuohy"}[self.tip]
        if self.kind == "tuohy":
            return f"{self.gauge} G Tuohy, {self.length_mm:g} mm"
        return f"{self.gauge} G spinal ({tip}), {self.length_mm:g} mm"


def _build() -> dict[str, NeedleType]:
    out: dict[str, NeedleType] = {}
    for length in LENGTHS_MM:
        for gauge in (22, 25):
            for tip in ("quincke", "pencil_point"):
                nid = f"spinal-{gauge}G-{tip.replace('_', '-')}-{length}"
                out[nid] = NeedleType(
                    nid, "spinal", gauge, tip, OUTER_DIAMETER_MM[gauge], float(length)
                )
        for gauge in (17, 18):
            nid = f"tuohy-{gauge}G-{length}"
            out[nid] = NeedleType(nid, "tuohy", gauge, "tuohy", OUTER_DIAMETER_MM[gauge], length)
    return out


#: Every needle the simulator offers, by id.
NEEDLE_TYPES: dict[str, NeedleType] = _build()

#: The needle of an IDDS trial (REFERENCE §16: 17 G Tuohy [S]).
DEFAULT_NEEDLE = "tuohy-17G-90"


def needle_type(needle_id: str) -> NeedleType:
    """The :class:`NeedleType` called ``needle_id``; :class:`ValidationError` if unknown."""
    try:
        return NEEDLE_TYPES[needle_id]
    except (KeyError, TypeError):
        raise ValidationError(
            f"unknown needle type {needle_id!r}{suggest(str(needle_id), NEEDLE_TYPES)}; "
            f"expected one of {', '.join(NEEDLE_TYPES)}"
        ) from None
