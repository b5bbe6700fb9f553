"""NeedlePose: where a needle enters, which way it points and how deep it is — validated data.

Angles follow the clinical habit of naming the projected angle in each plane: the *cephalad*
angle is the needle's tilt towards the head seen from the side (sagittal projection; negative is
caudad) and the *medial* angle is its tilt towards the midline seen from the feet (axial
projection; negative is lateral), both measured from a reference axis pointing into the patient:
the anterior axis (-y in LPS, "perpendicular to the back" of a prone patient) by default, or the
inward skin normal at the entry point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.needles import NeedleType, needle_type

#: Into the prone patient's back: anterior, -y in LPS.
ANTERIOR = (0.0, -1.0, 0.0)
SIDES = ("left", "right")
MAX_ANGLE_DEG = 80.0


def _finite_vector(name: str, value) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise GeometryError(f"{name} must be 3 numbers (LPS mm), got {value!r}") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)):
        raise GeometryError(f"{name} must be 3 finite numbers (LPS mm), got {value!r}")
    return v


def _angle(name: str, value) -> float:
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise GeometryError(f"{name} must be a number of degrees, got {value!r}") from None
    if not math.isfinite(a):
        raise GeometryError(f"{name} must be a finite number of degrees, got {value!r}")
    if abs(a) >= MAX_ANGLE_DEG:
        raise GeometryError(
            f"{name} = {a:g}° is too steep; expected an angle between -{MAX_ANGLE_DEG:g}° and "
            f"{MAX_ANGLE_DEG:g}° from the reference axis"
        )
    return a


def _axes(side: str | None, axis) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Inward axis, cephalad axis and medial axis (None in the midline) orthogonal to it."""
    a = _finite_vector("reference axis", axis)
    n = np.linalg.norm(a)
    if n == 0:
        raise GeometryError("the reference axis must not be zero")
    a = a / n
    up = np.array([0.0, 0.0, 1.0]) - a[2] * a
    if np.linalg.norm(up) < 1e-6:
        raise GeometryError("the reference axis must not point along the spine (±z)")
    up /= np.linalg.norm(up)
    if side is None:
        return a, up, None
    if side not in SIDES:
        raise ValidationError(f"side must be 'left' or 'right' (patient's side), got {side!r}")
    # medial = towards the midline: from the patient's left (+x) that is -x
    m = np.array([-1.0 if side == "left" else 1.0, 0.0, 0.0])
    m = m - (m @ a) * a - (m @ up) * up
    return a, up, m / np.linalg.norm(m)


def direction_from_angles(
    cephalad_deg: float = 0.0,
    medial_deg: float = 0.0,
    side: str | None = None,
    axis=ANTERIOR,
) -> np.ndarray:
    """Unit direction of a needle tilted ``cephalad_deg`` and ``medial_deg`` from ``axis``.

    Parameters
    ----------
    cephalad_deg : float, degrees
        Projected angle towards the head in the sagittal plane (negative: caudad).
    medial_deg : float, degrees
        Projected angle towards the midline in the axial plane (negative: lateral).
    side : {"left", "right"} or None
        The patient's side of the entry point. None (the midline): ``medial_deg`` then tilts
        towards the patient's left (+x), as :func:`angles_from_direction` reports it.
    axis : (3,) float
        Reference axis pointing into the patient (anterior by default, or the inward skin normal).

    Returns
    -------
    (3,) float
        Unit vector, LPS.
    """
    c = _angle("cephalad angle", cephalad_deg)
    m = _angle("medial angle", medial_deg)
    a, up, med = _axes(side, axis)
    if med is None:  # midline: the second angle tilts towards the patient's left (+x)
        med = np.array([1.0, 0.0, 0.0]) - a[0] * a - up[0] * up
        med /= np.linalg.norm(med)
    d = a + math.tan(math.radians(c)) * up + math.tan(math.radians(m)) * med
    return d / np.linalg.norm(d)


def angles_from_direction(direction, side: str | None = None, axis=ANTERIOR) -> tuple[float, float]:
    """(cephalad_deg, medial_deg) of ``direction``: the inverse of :func:`direction_from_angles`.

    In the midline (``side=None``) the second angle is towards the patient's **left** (+x).
    """
    d = _finite_vector("direction", direction)
    a, up, med = _axes(side, axis)
    if med is None:
        med = np.array([1.0, 0.0, 0.0]) - (a[0] * a) - (up[0] * up)
        med /= np.linalg.norm(med)
    along = d @ a
    return (
        math.degrees(math.atan2(d @ up, along)),
        math.degrees(math.atan2(d @ med, along)),
    )


@dataclass(frozen=True)
class NeedlePose:
    """A needle in the patient: entry point, direction, depth advanced and needle type.

    Frozen: make a new pose (:meth:`with_depth`, :meth:`advanced`, :meth:`with_direction`) and
    assign it (``state.needle = pose.advanced(1.0)``). Construction validates everything and
    raises :class:`GeometryError` / :class:`ValidationError`; whether the entry lies on the skin
    needs the anatomy and is checked by the constructors in :mod:`iddsanatomy.needle.analysis`.

    Attributes
    ----------
    entry_lps : (3,) float tuple, mm
        Skin entry point.
    direction : (3,) float tuple
        Unit vector from the entry towards the tip (normalised on construction).
    depth_mm : float
        Length of needle advanced past the skin, 0 … the needle's length.
    needle_type : str
        An id of :data:`iddsanatomy.needle.needles.NEEDLE_TYPES`.
    side : {"left", "right"} or None
        The side of the entry (paramedian) or None in the midline; used to name angles.
    """

    entry_lps: tuple[float, float, float]
    direction: tuple[float, float, float]
    depth_mm: float = 0.0
    needle_type: str = "tuohy-17G-90"
    side: str | None = None

    def __post_init__(self):
        needle = needle_type(self.needle_type)
        entry = _finite_vector("entry_lps", self.entry_lps)
        d = _finite_vector("direction", self.direction)
        n = np.linalg.norm(d)
        if n < 1e-9:
            raise GeometryError("direction must not be the zero vector")
        d = d / n
        try:
            depth = float(self.depth_mm)
        except (TypeError, ValueError):
            raise GeometryError(f"depth_mm must be a number, got {self.depth_mm!r}") from None
        if not math.isfinite(depth) or depth < 0 or depth > needle.length_mm + 1e-9:
            raise GeometryError(
                f"depth_mm = {self.depth_mm!r} is outside 0 … {needle.length_mm:g} mm "
                f"(the length of {needle.id})"
            )
        if self.side is not None and self.side not in SIDES:
            raise ValidationError(f"side must be 'left', 'right' or None, got {self.side!r}")
        object.__setattr__(self, "entry_lps", tuple(float(x) for x in entry))
        object.__setattr__(self, "direction", tuple(float(x) for x in d))
        object.__setattr__(self, "depth_mm", min(depth, needle.length_mm))

    @classmethod
    def from_angles(
        cls,
        entry_lps,
        cephalad_deg: float = 0.0,
        medial_deg: float = 0.0,
        *,
        needle_type: str = "tuohy-17G-90",
        depth_mm: float = 0.0,
        side: str | None = None,
        axis=ANTERIOR,
    ) -> NeedlePose:
        """A pose from the entry and the angles (see :func:`direction_from_angles`)."""
        d = direction_from_angles(cephalad_deg, medial_deg, side, axis)
        return cls(tuple(entry_lps), tuple(d), depth_mm, needle_type, side)

    @property
    def needle(self) -> NeedleType:
        return needle_type(self.needle_type)

    @property
    def entry(self) -> np.ndarray:
        """(3,) float, LPS mm."""
        return np.array(self.entry_lps)

    @property
    def unit_direction(self) -> np.ndarray:
        """(3,) float unit vector."""
        return np.array(self.direction)

    @property
    def tip_lps(self) -> np.ndarray:
        """(3,) float, LPS mm: the tip at the commanded depth."""
        return self.entry + self.depth_mm * self.unit_direction

    @property
    def hub_lps(self) -> np.ndarray:
        """(3,) float, LPS mm: the hub end of the shaft (a needle's length behind the tip)."""
        return self.tip_lps - self.needle.length_mm * self.unit_direction

    @property
    def outer_diameter_mm(self) -> float:
        return self.needle.outer_diameter_mm

    def angles_deg(self, axis=ANTERIOR) -> tuple[float, float]:
        """(cephalad_deg, medial_deg); in the midline the second is towards the left."""
        return angles_from_direction(self.direction, self.side, axis)

    def with_depth(self, depth_mm: float) -> NeedlePose:
        """The same needle advanced to ``depth_mm`` (clamped to 0 … length)."""
        d = float(depth_mm)
        if not math.isfinite(d):
            raise GeometryError(f"depth_mm must be finite, got {depth_mm!r}")
        return replace(self, depth_mm=min(max(d, 0.0), self.needle.length_mm))

    def advanced(self, step_mm: float) -> NeedlePose:
        """Advanced by ``step_mm`` (negative withdraws), clamped to 0 … length."""
        return self.with_depth(self.depth_mm + float(step_mm))

    def with_direction(self, direction) -> NeedlePose:
        return replace(self, direction=tuple(_finite_vector("direction", direction)))

    def with_angles(self, cephalad_deg: float, medial_deg: float, axis=ANTERIOR) -> NeedlePose:
        return replace(
            self, direction=tuple(direction_from_angles(cephalad_deg, medial_deg, self.side, axis))
        )

    def with_needle(self, needle_id: str) -> NeedlePose:
        needle = needle_type(needle_id)
        return replace(self, needle_type=needle.id, depth_mm=min(self.depth_mm, needle.length_mm))
