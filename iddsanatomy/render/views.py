"""Camera presets for the named views, and camera interpolation for smooth transitions.

Pure numpy (no VTK): a :class:`CameraPose` is position, focal point and view-up in LPS mm, and
:func:`pose_for_view` frames a bounding box from one of :data:`iddsanatomy.scene.NAMED_VIEWS`.

Directions are "from the focal point towards the camera" in LPS (+x patient left, +y posterior,
+z superior). The posterior view is the prone patient seen from above: the camera sits at +y,
the head is up on screen and the patient's right is on the viewer's right, as the operator
sees the back when standing at the patient's side looking towards the head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iddsanatomy.errors import ValidationError
from iddsanatomy.scene import NAMED_VIEWS

VIEW_ANGLE_DEG = 30.0  # vertical field of view of the perspective camera


def _dir(az_deg: float) -> tuple[float, float, float]:
    """A horizontal direction: 0° = posterior (+y), +az towards the patient's left (+x)."""
    a = math.radians(az_deg)
    return (math.sin(a), math.cos(a), 0.0)


_SUPERIOR = (0.0, 0.0, 1.0)
_ANTERIOR = (0.0, -1.0, 0.0)

# name -> (direction from focal point to camera, view-up), LPS
VIEW_DIRECTIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "posterior": (_dir(0), _SUPERIOR),
    "anterior": (_dir(180), _SUPERIOR),
    "left": (_dir(90), _SUPERIOR),
    "right": (_dir(-90), _SUPERIOR),
    "oblique_left_30": (_dir(30), _SUPERIOR),
    "oblique_right_30": (_dir(-30), _SUPERIOR),
    "oblique_left_45": (_dir(45), _SUPERIOR),
    "oblique_right_45": (_dir(-45), _SUPERIOR),
    "cranial": ((0.0, 0.0, 1.0), _ANTERIOR),  # looking down the axis, anterior at the top
    "caudal": ((0.0, 0.0, -1.0), _ANTERIOR),
}
assert set(VIEW_DIRECTIONS) == set(NAMED_VIEWS)

VIEW_TITLES = {
    "posterior": "Posterior",
    "anterior": "Anterior",
    "left": "Left lateral",
    "right": "Right lateral",
    "oblique_left_30": "Left oblique 30°",
    "oblique_right_30": "Right oblique 30°",
    "oblique_left_45": "Left oblique 45°",
    "oblique_right_45": "Right oblique 45°",
    "cranial": "Cranial (axial)",
    "caudal": "Caudal (axial)",
}


@dataclass(frozen=True)
class CameraPose:
    """A perspective camera in LPS mm."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    up: tuple[float, float, float]

    @property
    def direction(self) -> np.ndarray:
        """(3,) float: unit vector from the focal point to the camera."""
        d = np.subtract(self.position, self.focal_point)
        return d / np.linalg.norm(d)

    @property
    def distance(self) -> float:
        return float(np.linalg.norm(np.subtract(self.position, self.focal_point)))


def pose_for_view(
    view: str,
    bounds: tuple[float, float, float, float, float, float],
    zoom: float = 1.0,
    view_angle_deg: float = VIEW_ANGLE_DEG,
    aspect: float = 1.0,
) -> CameraPose:
    """The camera that shows ``bounds`` (xmin, xmax, ymin, ymax, zmin, zmax; mm) from ``view``.

    The whole bounding sphere fits in the smaller of the two fields of view; ``zoom`` > 1
    moves closer.
    """
    if view not in VIEW_DIRECTIONS:
        from iddsanatomy.anatomy.model import suggest

        raise ValidationError(
            f"unknown view {view!r}; expected one of {', '.join(NAMED_VIEWS)}"
            f"{suggest(view, NAMED_VIEWS)}"
        )
    direction, up = VIEW_DIRECTIONS[view]
    return frame_bounds(direction, up, bounds, zoom, view_angle_deg, aspect)


def frame_bounds(
    direction,
    up,
    bounds,
    zoom: float = 1.0,
    view_angle_deg: float = VIEW_ANGLE_DEG,
    aspect: float = 1.0,
    margin: float = 1.08,
) -> CameraPose:
    """Look along ``-direction`` with ``up`` at ``bounds`` so that its box just fills the view.

    The eight corners are projected on the screen axes: a tall spine seen from behind fills
    the window's height, not the diagonal of its bounding sphere. ``aspect`` is width/height.
    """
    if zoom <= 0:
        raise ValidationError(f"camera zoom must be > 0, got {zoom}")
    b = np.asarray(bounds, dtype=float).reshape(3, 2)
    centre = b.mean(axis=1)
    d = np.asarray(direction, dtype=float)
    d = d / np.linalg.norm(d)
    u = np.asarray(up, dtype=float)
    u = u - np.dot(u, d) * d
    u = u / np.linalg.norm(u)
    r = np.cross(u, d)  # screen right
    corners = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]]) - centre
    half_w = max(float(np.abs(corners @ r).max()), 1.0) * margin
    half_h = max(float(np.abs(corners @ u).max()), 1.0) * margin
    depth = float(np.abs(corners @ d).max())
    tan_v = math.tan(math.radians(view_angle_deg) / 2.0)
    distance = max(half_h / tan_v, half_w / (tan_v * max(aspect, 1e-3))) + depth
    distance /= zoom
    position = centre + distance * d
    return CameraPose(tuple(float(v) for v in position), tuple(float(v) for v in centre), tuple(u))


def refocus(pose: CameraPose, bounds, aspect: float = 1.0, margin: float = 1.6) -> CameraPose:
    """Keep the viewing direction of ``pose`` and frame ``bounds`` (focus on a selection).

    The margin leaves the neighbours in view: a trainee focusing on L4 still sees L3 and L5.
    """
    b = np.asarray(bounds, dtype=float).reshape(3, 2)
    half = np.maximum((b[:, 1] - b[:, 0]) / 2.0, 5.0)  # never closer than a 10 mm box
    centre = b.mean(axis=1)
    grown = np.stack([centre - half, centre + half], axis=1).ravel()
    return frame_bounds(pose.direction, pose.up, grown, 1.0, VIEW_ANGLE_DEG, aspect, margin)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    dot = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if dot > 0.9995:
        v = a + t * (b - a)
        return v / np.linalg.norm(v)
    if dot < -0.9995:  # opposite: turn about any perpendicular axis
        perp = np.cross(a, [0.0, 0.0, 1.0])
        if np.linalg.norm(perp) < 1e-6:
            perp = np.cross(a, [1.0, 0.0, 0.0])
        perp /= np.linalg.norm(perp)
        ang = math.pi * t
        return a * math.cos(ang) + perp * math.sin(ang)
    omega = math.acos(dot)
    return (math.sin((1 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


def interpolate(a: CameraPose, b: CameraPose, t: float) -> CameraPose:
    """The pose a fraction ``t`` in [0, 1] of the way from ``a`` to ``b``.

    Direction and up turn on the sphere (slerp), the distance changes geometrically and the
    focal point linearly, so a transition orbits rather than cutting through the anatomy.
    """
    t = float(np.clip(t, 0.0, 1.0))
    if t == 0.0:
        return a
    if t == 1.0:
        return b
    focal = (1 - t) * np.asarray(a.focal_point) + t * np.asarray(b.focal_point)
    direction = _slerp(a.direction, b.direction, t)
    distance = a.distance ** (1 - t) * b.distance**t
    up = _slerp(np.asarray(a.up, float), np.asarray(b.up, float), t)
    up = up - np.dot(up, direction) * direction  # keep up perpendicular to the view
    n = np.linalg.norm(up)
    up = up / n if n > 1e-6 else np.asarray(b.up, float)
    return CameraPose(tuple(focal + distance * direction), tuple(focal), tuple(up))


def ease(t: float) -> float:
    """Smoothstep easing for camera transitions."""
    t = float(np.clip(t, 0.0, 1.0))
    return t * t * (3 - 2 * t)
