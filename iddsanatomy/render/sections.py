"""Cross-section planes through a level: sagittal, coronal, axial or oblique (pure numpy).

A :class:`~iddsanatomy.scene.ClipPlane` removes what lies on its +normal side. The defaults are
chosen so that the default camera for each kind looks at the cut face:

- sagittal: removes the patient's left half (+x); look from the left (``left`` view);
- coronal: removes the posterior half (+y); look from behind (``posterior``);
- axial: removes everything above (+z); look from above (``cranial``);
- oblique: like axial but tilted with the level's own craniocaudal axis (its endplate plane),
  so the cut follows the lordosis; without a level frame, tilted 20° about x.
"""

from __future__ import annotations

import re

import numpy as np

from iddsanatomy.errors import ValidationError
from iddsanatomy.scene import ClipPlane

SECTION_KINDS = ("sagittal", "coronal", "axial", "oblique")
SECTION_VIEWS = {
    "sagittal": "left",
    "coronal": "posterior",
    "axial": "cranial",
    "oblique": "cranial",
}
_NORMALS = {"sagittal": (1.0, 0.0, 0.0), "coronal": (0.0, 1.0, 0.0), "axial": (0.0, 0.0, 1.0)}
_INTERSPACE = re.compile(r"^([A-Z][a-z]?\d*)-([A-Z][a-z]?\d*)$")


def _mesh_centre(anatomy, sid: str) -> np.ndarray | None:
    s = anatomy.structures.get(sid)
    if s is None or s.mesh is None:
        return None
    return np.asarray(s.mesh.bounds, dtype=float).mean(axis=0)


def level_centre(anatomy, level: str) -> np.ndarray:
    """(3,) float, mm: where a level (``L3``) or interspace (``L3-L4``) is, in LPS.

    A level: the origin of its frame, else the centre of its bone. An interspace: the centre of
    its interlaminar window (where the needle goes), else its disc, else the midpoint of the
    two levels.
    """
    m = _INTERSPACE.match(level)
    if m:
        for sid in (f"interlaminar.{level}", f"disc.{level}"):
            c = _mesh_centre(anatomy, sid)
            if c is not None:
                return c
        return (level_centre(anatomy, m.group(1)) + level_centre(anatomy, m.group(2))) / 2.0
    frame = anatomy.lps_from_level.get(level)
    if frame is not None:
        return np.asarray(frame, dtype=float)[:3, 3].copy()
    c = _mesh_centre(anatomy, level)
    if c is not None:
        return c
    raise ValidationError(f"no level {level!r} in this anatomy (no frame and no bone of that id)")


def _level_axis(anatomy, level: str) -> np.ndarray | None:
    m = _INTERSPACE.match(level)
    names = [m.group(1), m.group(2)] if m else [level]
    axes = [
        np.asarray(anatomy.lps_from_level[n], dtype=float)[:3, 2]
        for n in names
        if n in anatomy.lps_from_level
    ]
    if not axes:
        return None
    a = np.mean(axes, axis=0)
    return a / np.linalg.norm(a)


def section_plane(
    anatomy, kind: str, level: str | None = None, offset_mm: float = 0.0
) -> ClipPlane:
    """The clipping plane of ``kind`` through ``level``, moved ``offset_mm`` along its normal.

    Without a level the plane passes through the centre of all loaded structures.
    """
    if kind not in SECTION_KINDS:
        raise ValidationError(f"unknown section kind {kind!r}; expected one of {SECTION_KINDS}")
    if level:
        origin = level_centre(anatomy, level)
    else:
        boxes = [np.asarray(s.mesh.bounds) for s in anatomy.structures.values() if s.ok]
        if not boxes:
            raise ValidationError("cannot place a section: the anatomy has no loaded structure")
        allb = np.vstack(boxes)
        origin = (allb.min(axis=0) + allb.max(axis=0)) / 2.0
    if kind == "oblique":
        axis = _level_axis(anatomy, level) if level else None
        if axis is None:
            t = np.radians(20.0)
            axis = np.array([0.0, -np.sin(t), np.cos(t)])
        normal = axis
    else:
        normal = np.asarray(_NORMALS[kind])
    origin = origin + offset_mm * normal
    return ClipPlane(tuple(float(v) for v in origin), tuple(float(v) for v in normal), kind)


def parse_clip(spec: str, anatomy) -> ClipPlane:
    """``"sagittal:L3-L4"``, ``"axial:L4:5"`` (5 mm up) or ``"coronal"`` → :class:`ClipPlane`."""
    parts = spec.split(":")
    kind = parts[0]
    level = parts[1] if len(parts) > 1 and parts[1] else None
    try:
        offset = float(parts[2]) if len(parts) > 2 else 0.0
    except ValueError:
        raise ValidationError(
            f"clip {spec!r}: the offset after the second ':' must be a number of mm"
        ) from None
    return section_plane(anatomy, kind, level, offset)
