"""Frames, transforms and units.

One patient frame for everything: **LPS, millimetres**, as DICOM and ITK use it:

* +x points to the patient's **left**,
* +y points **posterior** (towards the back),
* +z points **superior** (towards the head).

A prone patient on the table therefore has +y pointing up at the ceiling, and the "posterior view"
looks along -y. Transforms are 4x4 float arrays named ``<to>_from_<from>`` (``lps_from_l3``,
``detector_from_lps``) so that chains read right to left:
``pixel_from_lps = pixel_from_detector @ detector_from_lps``. Points say their frame in their name
(``entry_lps``); angles and lengths say their unit (``tilt_deg``, ``depth_mm``).
"""

from __future__ import annotations

import numpy as np

LEFT = np.array([1.0, 0.0, 0.0])
POSTERIOR = np.array([0.0, 1.0, 0.0])
SUPERIOR = np.array([0.0, 0.0, 1.0])


def identity() -> np.ndarray:
    """Return the 4x4 identity transform."""
    return np.eye(4)


def translation(offset_mm) -> np.ndarray:
    """4x4 transform that translates by ``offset_mm`` ((3,) float, mm)."""
    t = np.eye(4)
    t[:3, 3] = np.asarray(offset_mm, dtype=float)
    return t


def rotation(axis, angle_deg: float, centre=None) -> np.ndarray:
    """4x4 right-handed rotation by ``angle_deg`` about ``axis`` through ``centre`` (mm).

    Parameters
    ----------
    axis : (3,) float
        Rotation axis; need not be unit length.
    angle_deg : float
        Angle in degrees, counter-clockwise looking down the axis towards its origin.
    centre : (3,) float, mm, optional
        A point on the axis; the origin by default.
    """
    axis = np.asarray(axis, dtype=float)
    n = np.linalg.norm(axis)
    if not np.isfinite(angle_deg) or n == 0:
        raise ValueError(
            f"rotation needs a finite angle and a non-zero axis, got {angle_deg}, {axis}"
        )
    x, y, z = axis / n
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    r = np.array(
        [
            [c + x * x * (1 - c), x * y * (1 - c) - z * s, x * z * (1 - c) + y * s],
            [y * x * (1 - c) + z * s, c + y * y * (1 - c), y * z * (1 - c) - x * s],
            [z * x * (1 - c) - y * s, z * y * (1 - c) + x * s, c + z * z * (1 - c)],
        ]
    )
    t = np.eye(4)
    t[:3, :3] = r
    if centre is not None:
        centre = np.asarray(centre, dtype=float)
        t[:3, 3] = centre - r @ centre
    return t


def apply(transform: np.ndarray, points) -> np.ndarray:
    """Apply a 4x4 ``transform`` to ``points`` ((n, 3) or (3,) float) and return the same shape."""
    p = np.asarray(points, dtype=float)
    flat = p.reshape(-1, 3)
    out = flat @ transform[:3, :3].T + transform[:3, 3]
    return out.reshape(p.shape)


def apply_direction(transform: np.ndarray, vectors) -> np.ndarray:
    """Rotate direction ``vectors`` ((n, 3) or (3,)) by the linear part of ``transform``."""
    v = np.asarray(vectors, dtype=float)
    return (v.reshape(-1, 3) @ transform[:3, :3].T).reshape(v.shape)


def unit(v) -> np.ndarray:
    """Return ``v`` scaled to unit length; raises ValueError on a zero or non-finite vector."""
    v = np.asarray(v, dtype=float)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"cannot normalise {v}")
    return v / n


def frame(origin_lps, x_axis, y_axis) -> np.ndarray:
    """4x4 ``lps_from_local`` for a frame at ``origin_lps`` with x and (approximate) y axes.

    The y axis is orthogonalised against x; z = x × y.
    """
    x = unit(x_axis)
    y = np.asarray(y_axis, dtype=float)
    y = unit(y - x * (y @ x))
    z = np.cross(x, y)
    t = np.eye(4)
    t[:3, 0], t[:3, 1], t[:3, 2], t[:3, 3] = x, y, z, np.asarray(origin_lps, dtype=float)
    return t
