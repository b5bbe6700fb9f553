"""Vertebral levels of points: position units along the spine (REFERENCE §8 convention).

Every vertebral body has three thirds and every disc is one unit (four units per motion segment),
as in Saifuddin 1998 and Kim 2003. A point's level is read in the frame of the vertebra beside it,
as a radiologist reads a sagittal MRI: perpendicular to that vertebra's endplates. The fused
sacral segments are split into four units each in the same way (thirds plus the fused junction).
"""

from __future__ import annotations

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy.model import Anatomy
from iddsanatomy.anatomy.variant import SPINE_ORDER, position_label

_VERTEBRAE = ("T12", "L1", "L2", "L3", "L4", "L5")


def _intervals(anatomy: Anatomy) -> list[tuple[float, float, float, float, np.ndarray]]:
    """(unit_top, unit_bottom, z_top_local, z_bottom_local, level_from_lps) spans, top to bottom.

    Each vertebral body spans 3 units between its superior and inferior endplate centres; each
    disc spans 1 unit between the endplates of its two vertebrae (read in the upper vertebra's
    frame for its upper half and the lower one's for its lower half: here, simply the upper).
    """
    lm = anatomy.landmarks_lps
    spans = []
    for level in _VERTEBRAE:
        if level not in anatomy.lps_from_level:
            continue
        lfl = np.linalg.inv(anatomy.lps_from_level[level])
        sup = geometry.apply(lfl, lm[f"{level}.superior_endplate_centre"])[2]
        inf = geometry.apply(lfl, lm[f"{level}.inferior_endplate_centre"])[2]
        u0 = 4.0 * SPINE_ORDER.index(level)
        spans.append((u0, u0 + 3.0, sup, inf, lfl))
        below = SPINE_ORDER[SPINE_ORDER.index(level) + 1]
        key = (
            f"{below}.superior_endplate_centre"
            if below != "S1"
            else "S1.s1_superior_endplate_centre"
        )
        if key in lm:
            nxt = geometry.apply(lfl, lm[key])[2]
            spans.append((u0 + 3.0, u0 + 4.0, inf, nxt, lfl))
    # sacral segments: S1..S4 between successive segment landmarks, in the sacrum frame
    if "S1" in anatomy.lps_from_level:
        sfl = np.linalg.inv(anatomy.lps_from_level["S1"])
        tops = [lm.get(f"S1.s{i}_level") for i in range(1, 6)]
        for i in range(4):
            if tops[i] is None or tops[i + 1] is None:
                break
            z0 = geometry.apply(sfl, tops[i])[2]
            z1 = geometry.apply(sfl, tops[i + 1])[2]
            u0 = 4.0 * SPINE_ORDER.index(f"S{i + 1}")
            spans.append((u0, u0 + 4.0, z0, z1, sfl))
    return spans


def position_of_point(anatomy: Anatomy, point_lps) -> float:
    """Position units (float) of ``point_lps`` down the spine; see module docstring."""
    p = np.asarray(point_lps, float)
    spans = _intervals(anatomy)
    for u0, u1, z0, z1, lfl in spans:
        z = geometry.apply(lfl, p)[2]
        if min(z0, z1) <= z <= max(z0, z1):
            return u0 + (u1 - u0) * (z0 - z) / (z0 - z1)
    # outside every span: extrapolate from the nearest end
    u0, u1, z0, z1, lfl = spans[0]
    z = geometry.apply(lfl, p)[2]
    if z > z0:
        return u0 - (z - z0) / abs(z0 - z1) * (u1 - u0)
    u0, u1, z0, z1, lfl = spans[-1]
    z = geometry.apply(lfl, p)[2]
    return u1 + (z1 - z) / abs(z0 - z1) * (u1 - u0)


def level_label_of_point(anatomy: Anatomy, point_lps) -> str:
    """``"L1.lower"``-style label of the position unit that holds ``point_lps``."""
    return position_label(np.floor(position_of_point(anatomy, point_lps)))


def point_on_curve_at_position(anatomy: Anatomy, curve_lps: np.ndarray, units: float) -> np.ndarray:
    """The point of a (n, 3) polyline (top to bottom) that lies at ``units`` (bisection)."""
    curve = np.asarray(curve_lps, float)
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])

    def at(t):
        return np.array([np.interp(t, s, curve[:, k]) for k in range(3)])

    lo, hi = 0.0, s[-1]
    if position_of_point(anatomy, at(lo)) > units or position_of_point(anatomy, at(hi)) < units:
        raise ValueError(f"position {units} is not on the curve")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if position_of_point(anatomy, at(mid)) < units:
            lo = mid
        else:
            hi = mid
    return at(0.5 * (lo + hi))
