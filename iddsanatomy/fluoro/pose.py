"""The virtual C-arm: pose, presets and projection matrices (LPS mm).

Geometry
--------
The beam runs from the X-ray **source** through the **centre** (isocentre) to the **detector**.
Its direction is set by two angles:

* ``orbital_deg`` — rotation about the patient's long (z) axis. 0° is the AP view of a prone
  patient, which is really PA: the source is under the table (anterior), the detector above the
  back, the beam points +y. Positive angles swing the detector towards the patient's **left**
  (a left oblique: the view that opens the left facets and "scotty dog"); 90° is a lateral with the
  detector on the patient's left, −90° on the right.
* ``cranial_tilt_deg`` — cranio-caudal angulation. Positive: the central ray (and so the
  detector) points towards the head; negative is a caudal tilt.

Beam direction ``d = cos(tilt)·(sin(orbital), cos(orbital), 0) + sin(tilt)·(0, 0, 1)``.

The image is shown as seen from behind the detector, as on the monitor of a prone patient's
C-arm: rows run along ``v`` (towards the feet, projected on the detector) and columns along
``u = d × v`` (see :attr:`CArmPose.image_axes_lps`). In AP, ``u`` is the patient's right: the
patient's **left is on the image left** and the head is up — the posterior view of a physician
standing at the patient's back. In the lateral (detector on the left) posterior is on the right.

Frames and matrices
-------------------
``detector_from_lps`` (4x4, rigid, right-handed): origin at the detector centre, x = u (image
right), y = v (image down), z = −d (from the detector back towards the source: the direction the
viewer of the monitor looks in); the source sits at (0, 0, +SID).
``pixel_from_detector`` (3x4, projective) and ``pixel_from_lps = pixel_from_detector @
detector_from_lps`` (3x4): homogeneous pixel coordinates (column, row, 1) with integer values at
pixel centres, (0, 0) the top-left pixel; ``image[row, col]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from iddsanatomy.errors import GeometryError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

    from iddsanatomy.anatomy.model import Anatomy

#: Source-to-image distance (mm): a typical mobile C-arm is 980–1000 mm.
DEFAULT_SID_MM = 1000.0
#: Source-to-isocentre distance (mm): about 60–65 % of the SID on mobile C-arms (teaching value).
DEFAULT_SOURCE_TO_CENTRE_MM = 620.0
#: Detector side (mm): a 12-inch image intensifier / 30 cm flat panel.
DEFAULT_DETECTOR_MM = 300.0
DEFAULT_PIXELS = 512

#: Named presets: (orbital_deg, cranial_tilt_deg).
PRESETS: dict[str, tuple[float, float]] = {
    "ap": (0.0, 0.0),
    "lateral": (90.0, 0.0),
    "lateral_right": (-90.0, 0.0),
    "oblique_left_15": (15.0, 0.0),
    "oblique_right_15": (-15.0, 0.0),
    "oblique_left_30": (30.0, 0.0),
    "oblique_right_30": (-30.0, 0.0),
    "oblique_left_45": (45.0, 0.0),
    "oblique_right_45": (-45.0, 0.0),
}
PRESET_ALIASES = {"pa": "ap", "oblique30": "oblique_left_30", "oblique45": "oblique_left_45"}


@dataclass(frozen=True)
class CArmPose:
    """Where the C-arm is and what its detector is like. Frozen: assign a new pose to change it.

    Parameters
    ----------
    orbital_deg : float
        Left (+) / right (−) oblique angle about the patient's long axis; 0 = AP (PA beam).
    cranial_tilt_deg : float
        Cranial (+) / caudal (−) angulation of the central ray.
    centre_lps : (3,) float, mm
        Isocentre: the point on the central ray at ``source_to_centre_mm`` from the source.
    sid_mm : float
        Source-to-image (detector) distance.
    source_to_centre_mm : float
        Source-to-isocentre distance; magnification at the centre is ``sid / source_to_centre``.
    detector_mm : float
        Side of the square detector.
    pixels : int
        Pixels per side of the image.
    level : str or None
        The level the pose was centred on, if any (for labels only).
    """

    orbital_deg: float = 0.0
    cranial_tilt_deg: float = 0.0
    centre_lps: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sid_mm: float = DEFAULT_SID_MM
    source_to_centre_mm: float = DEFAULT_SOURCE_TO_CENTRE_MM
    detector_mm: float = DEFAULT_DETECTOR_MM
    pixels: int = DEFAULT_PIXELS
    level: str | None = None

    def __post_init__(self):
        c = np.asarray(self.centre_lps, dtype=float)
        if c.shape != (3,) or not np.all(np.isfinite(c)):
            raise ValidationError(f"CArmPose.centre_lps must be 3 finite mm values, got {c}")
        object.__setattr__(self, "centre_lps", tuple(float(v) for v in c))
        for name in ("orbital_deg", "cranial_tilt_deg"):
            if not math.isfinite(getattr(self, name)):
                raise ValidationError(f"CArmPose.{name} must be finite, got {getattr(self, name)}")
        if not -89.0 <= self.cranial_tilt_deg <= 89.0:
            raise ValidationError(
                f"CArmPose.cranial_tilt_deg must lie in [-89, 89] degrees, got "
                f"{self.cranial_tilt_deg}"
            )
        if not (0 < self.source_to_centre_mm < self.sid_mm):
            raise ValidationError(
                f"CArmPose needs 0 < source_to_centre_mm ({self.source_to_centre_mm}) < sid_mm "
                f"({self.sid_mm})"
            )
        if not self.detector_mm > 0:
            raise ValidationError(f"CArmPose.detector_mm must be > 0, got {self.detector_mm}")
        if not (isinstance(self.pixels, int | np.integer) and 8 <= self.pixels <= 4096):
            raise ValidationError(f"CArmPose.pixels must be an int in [8, 4096], got {self.pixels}")

    # --- derived geometry -------------------------------------------------------------------

    @property
    def beam_direction(self) -> np.ndarray:
        """(3,) float: unit vector from the source towards the detector."""
        o, t = np.radians(self.orbital_deg), np.radians(self.cranial_tilt_deg)
        return np.array([np.cos(t) * np.sin(o), np.cos(t) * np.cos(o), np.sin(t)])

    @property
    def image_axes_lps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit vectors (u, v, d): image right, image down, beam direction (LPS)."""
        d = self.beam_direction
        down = np.array([0.0, 0.0, -1.0])
        v = down - d * (down @ d)
        v /= np.linalg.norm(v)  # |tilt| <= 89° keeps this well defined
        u = np.cross(d, v)
        return u, v, d

    @property
    def source_lps(self) -> np.ndarray:
        """(3,) float, mm: the focal spot."""
        return np.asarray(self.centre_lps) - self.beam_direction * self.source_to_centre_mm

    @property
    def detector_centre_lps(self) -> np.ndarray:
        """(3,) float, mm: the centre of the detector face."""
        return self.source_lps + self.beam_direction * self.sid_mm

    @property
    def pixel_mm(self) -> float:
        """Pixel pitch at the detector (mm)."""
        return self.detector_mm / self.pixels

    @property
    def magnification(self) -> float:
        """Geometric magnification of an object at the isocentre."""
        return self.sid_mm / self.source_to_centre_mm

    def detector_from_lps(self) -> np.ndarray:
        """4x4 rigid transform from LPS to the detector frame (see module docstring)."""
        u, v, d = self.image_axes_lps
        r = np.stack([u, v, -d])
        t = np.eye(4)
        t[:3, :3] = r
        t[:3, 3] = -r @ self.detector_centre_lps
        return t

    def pixel_from_detector(self) -> np.ndarray:
        """3x4 perspective projection from the detector frame to homogeneous pixels."""
        f = 1.0 / self.pixel_mm
        c = (self.pixels - 1) / 2.0
        # A detector-frame point (x, y, z) lies at depth SID − z from the source; the ray through
        # it meets the detector plane (z = 0) at (x, y) * SID / (SID − z).
        k = np.array([[f, 0.0, c], [0.0, f, c], [0.0, 0.0, 1.0]])
        p = np.array(
            [
                [self.sid_mm, 0.0, 0.0, 0.0],
                [0.0, self.sid_mm, 0.0, 0.0],
                [0.0, 0.0, -1.0, self.sid_mm],
            ]
        )
        return k @ p

    def pixel_from_lps(self) -> np.ndarray:
        """3x4 projection from LPS mm to homogeneous pixel coordinates (col, row, 1)."""
        return self.pixel_from_detector() @ self.detector_from_lps()

    def project(self, points_lps) -> np.ndarray:
        """Pixel coordinates ((n, 2) float, col/row, pixel centres at integers) of points.

        Points behind the source give NaN.
        """
        p = np.asarray(points_lps, dtype=float)
        flat = p.reshape(-1, 3)
        h = np.c_[flat, np.ones(len(flat))] @ self.pixel_from_lps().T
        with np.errstate(divide="ignore", invalid="ignore"):
            out = h[:, :2] / h[:, 2:3]
        out[h[:, 2] <= 0] = np.nan
        return out.reshape(*p.shape[:-1], 2)

    def detector_mm_from_pixel(self, pixels) -> np.ndarray:
        """Detector-plane coordinates (mm from the centre, (n, 2)) of pixel coordinates."""
        c = (self.pixels - 1) / 2.0
        return (np.asarray(pixels, dtype=float) - c) * self.pixel_mm

    def with_(self, **changes) -> CArmPose:
        """A copy with some fields changed (validated)."""
        return replace(self, **changes)


# --- presets -------------------------------------------------------------------------------


def level_centre_lps(anatomy: Anatomy, level: str) -> np.ndarray:
    """The isocentre for a level: the origin of its frame (vertebral body centre), or for an
    interspace (``L3-L4``) the point midway between its two vertebrae's centres.

    Raises
    ------
    GeometryError
        If the anatomy has no frame for ``level``.
    """
    frames = getattr(anatomy, "lps_from_level", {}) or {}
    if level in frames:
        return np.asarray(frames[level], dtype=float)[:3, 3].copy()
    upper, _, lower = level.partition("-")
    if upper in frames and lower in frames:
        a = np.asarray(frames[upper], dtype=float)[:3, 3]
        b = np.asarray(frames[lower], dtype=float)[:3, 3]
        return (a + b) / 2
    from iddsanatomy.anatomy.model import suggest

    raise GeometryError(
        f"the anatomy has no frame for level {level!r}{suggest(level, frames)}; "
        f"levels with frames: {sorted(frames)}"
    )


def preset(name: str, anatomy: Anatomy | None = None, level: str | None = None, **kw) -> CArmPose:
    """A named pose (``ap``, ``lateral``, ``oblique_left_30`` …) centred on ``level``.

    ``square_<level>`` (e.g. ``square_L5``) squares that level's superior endplate.
    Extra keyword arguments (``pixels``, ``sid_mm`` …) go to :class:`CArmPose`.
    """
    key = PRESET_ALIASES.get(name.lower(), name.lower())
    if key.startswith("square_"):
        if anatomy is None:
            raise ValidationError(f"preset {name!r} needs an anatomy")
        return square_endplates(anatomy, name.split("_", 1)[1].upper(), **kw)
    if key not in PRESETS:
        from iddsanatomy.anatomy.model import suggest

        raise ValidationError(
            f"unknown C-arm preset {name!r}{suggest(key, PRESETS)}; known: "
            f"{', '.join(PRESETS)}, square_<LEVEL>"
        )
    orbital, tilt = PRESETS[key]
    if level is not None and anatomy is not None:
        kw.setdefault("centre_lps", tuple(level_centre_lps(anatomy, level)))
    return CArmPose(orbital_deg=orbital, cranial_tilt_deg=tilt, level=level, **kw)


def superior_endplate_normal(anatomy: Anatomy, level: str) -> np.ndarray:
    """Unit normal (LPS) of the superior endplate of ``level``, pointing cranially.

    Fitted to the bone's surface: the faces of the level's mesh within 14 mm of the superior
    endplate centre landmark whose normals lie within 35° of the level frame's z axis, weighted by
    area. Falls back to the frame's z axis when the anatomy has no mesh or landmark for it.
    """
    frame = np.asarray(anatomy.lps_from_level[level], dtype=float)
    z = frame[:3, 2] / np.linalg.norm(frame[:3, 2])
    centre = _endplate_centre(anatomy, level)
    structure = anatomy.structures.get(level)
    mesh = getattr(structure, "mesh", None)
    if centre is None or mesh is None:
        return z
    fc = mesh.triangles_center
    fn = mesh.face_normals
    sel = (np.linalg.norm(fc - centre, axis=1) < 14.0) & (fn @ z > np.cos(np.radians(35)))
    if sel.sum() < 10:
        return z
    n = (fn[sel] * mesh.area_faces[sel, None]).sum(axis=0)
    return n / np.linalg.norm(n)


def _endplate_centre(anatomy: Anatomy, level: str) -> np.ndarray | None:
    lm = getattr(anatomy, "landmarks_lps", {}) or {}
    for key in (
        f"{level}.superior_endplate_centre",
        f"{level}.endplate.superior",
        f"{level}.endplate_superior",
        f"{level}.superior_endplate",
        f"{level}.endplate.superior.centre",
    ):
        if key in lm:
            return np.asarray(lm[key], dtype=float)
    return None


def square_endplates(anatomy: Anatomy, level: str, orbital_deg: float = 0.0, **kw) -> CArmPose:
    """The pose that shows ``level``'s superior endplate as a single line.

    The ray from the source through the endplate centre ``e`` must lie in the endplate plane
    (normal ``n``); the beam diverges, so the *central* ray (through the isocentre ``c``) is not
    quite parallel to the plane. With ``d = cos t · h + sin t · z`` (``h`` the horizontal beam
    direction for ``orbital_deg``) and the source at ``c − d·SOD``:
    ``(e − c)·n + SOD (d·n) = 0``, i.e. ``A cos t + B sin t = C`` with ``A = h·n``, ``B = n_z``,
    ``C = −(e − c)·n / SOD``; of its two solutions the one nearest the parallel-beam answer
    ``tan t = −A / B`` is taken.
    """
    n = superior_endplate_normal(anatomy, level)
    o = np.radians(orbital_deg)
    h = np.array([np.sin(o), np.cos(o), 0.0])
    a_, b_ = float(h @ n), float(n[2])
    t_parallel = np.arctan2(-a_, b_)
    kw.setdefault("centre_lps", tuple(level_centre_lps(anatomy, level)))
    sod = kw.get("source_to_centre_mm", DEFAULT_SOURCE_TO_CENTRE_MM)
    e = _endplate_centre(anatomy, level)
    t = t_parallel
    if e is not None:
        c_ = -float((e - np.asarray(kw["centre_lps"], dtype=float)) @ n) / sod
        r = np.hypot(a_, b_)
        if abs(c_) < r:
            phi = np.arctan2(b_, a_)
            candidates = [phi + np.arccos(c_ / r), phi - np.arccos(c_ / r)]
            wrapped = [np.angle(np.exp(1j * (x - t_parallel))) for x in candidates]
            t = t_parallel + min(wrapped, key=abs)
    tilt = float(np.degrees(t))
    return CArmPose(orbital_deg=orbital_deg, cranial_tilt_deg=tilt, level=level, **kw)


# --- the C-arm drawn in 3D ------------------------------------------------------------------


def carm_geometry(pose: CArmPose) -> dict[str, trimesh.Trimesh]:
    """Meshes (LPS mm) of the source housing, the beam cone and the detector, for the 3D view.

    Returns
    -------
    dict
        ``source`` (a small box at the focal spot), ``cone`` (the pyramid from the focal spot to
        the detector corners, open), ``detector`` (a thin box, its face on the detector plane).
    """
    import trimesh

    u, v, d = pose.image_axes_lps
    s = pose.source_lps
    dc = pose.detector_centre_lps
    half = pose.detector_mm / 2
    rot = np.eye(4)
    rot[:3, 0], rot[:3, 1], rot[:3, 2] = u, v, d

    src = trimesh.creation.box(extents=(120.0, 120.0, 80.0))
    t = rot.copy()
    t[:3, 3] = s - d * 40.0
    src.apply_transform(t)

    det = trimesh.creation.box(extents=(pose.detector_mm + 40, pose.detector_mm + 40, 60.0))
    t = rot.copy()
    t[:3, 3] = dc + d * 30.0
    det.apply_transform(t)

    signs = ((-1, -1), (1, -1), (1, 1), (-1, 1))
    corners = np.array([dc + a * u * half + b * v * half for a, b in signs])
    verts = np.vstack([s, corners])
    faces = np.array([[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 1]])
    cone = trimesh.Trimesh(verts, faces, process=False)
    return {"source": src, "cone": cone, "detector": det}
