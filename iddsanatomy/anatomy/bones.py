"""The other bones: sacrum with coccyx, 11th and 12th ribs, posterior iliac crests.

All are signed-distance solids meshed by marching cubes (:mod:`iddsanatomy.anatomy.sdf`), with
a part label per face and named landmarks, returned as :class:`BoneMesh`.

Frames (LPS-aligned: +x left, +y posterior, +z superior):

* sacrum: origin at the centre of the S1 superior endplate, z along the endplate normal; the
  sacrum runs caudally and curves posteriorly (sacral kyphosis).
* ribs: the frame of their vertebra (12th: T12; 11th: a T11 frame, i.e. the T12 frame moved up
  by one motion segment). The head sits at the vertebra's ``costal_facet`` landmark.
* iliac crest: the sacrum frame. The crest is placed for the default sacral slope
  (:data:`DEFAULT_SACRAL_SLOPE_DEG`) so that, once the sacrum is posed at that slope, the crest
  vertex lies 38 mm cranial to the centre of the sacral base (Okamoto 2020, REF §7/§12 [R]).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from iddsanatomy.anatomy import sdf
from iddsanatomy.anatomy.bone_params import vertebra_params
from iddsanatomy.anatomy.vertebra import BoneMesh, build_vertebra
from iddsanatomy.errors import ValidationError

__all__ = [
    "DEFAULT_SACRAL_SLOPE_DEG",
    "SACRUM_PARTS",
    "BoneMesh",
    "build_iliac_crest",
    "build_rib",
    "build_sacrum",
    "lps_from_sacrum_default",
]

#: REF §6 Vialle 2005 [TU]: adult sacral slope ≈40° standing.
DEFAULT_SACRAL_SLOPE_DEG = 40.0

SACRUM_PARTS: tuple[str, ...] = (
    "s1_body",
    "ala.left",
    "ala.right",
    "lateral_mass",
    "superior_articular_process.left",
    "superior_articular_process.right",
    "s1_lamina",
    "median_crest",
    "dorsal_foramina",
    "sacral_hiatus",
    "coccyx",
)

# Sacrum numbers (mm). REF §7: S1 endplate ≈45–50 wide × 33–35 deep [TU], nearly flat [R];
# sacral height 98.0 (Oman Med J, female sacra [R]); interauricular distance 108.7 [R];
# S1 dorsal foramen 23.5 mm from the midline, width 8.5 [R] (Korean J Pain 2023);
# hiatus apex at S4 in 80 % [R]. Shape numbers marked [shape] are ours.
_S1_WIDTH = 47.0
_S1_DEPTH = 34.0
_S1_HEIGHT = 24.0  # [shape] S1 body height along the sacral axis
_SACRAL_LENGTH = 98.0
_ALA_HALF_SPAN = 54.0  # ≈ interauricular 108.7 / 2 [R]
_FORAMEN_OFFSET = 23.5
_FORAMEN_RADIUS = 4.25
_SACRAL_BEND_DEG = 45.0  # [shape] total sacral kyphosis (anterior concavity) from S1 to the apex
_SACRAL_START_DEG = 15.0  # [shape] the upper sacrum leans back from the S1 endplate normal
_SEGMENT_PITCH = _SACRAL_LENGTH / 5.0  # S1..S5, equal segments [shape]
_CANAL_S1_WIDTH = 30.0  # [shape] triangular sacral canal at S1
_CANAL_S1_DEPTH = 14.0  # [shape]


def _curve(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anterior-column centre line of the sacrum at arc length ``s`` (mm) from S1 mid-body.

    Returns points (n, 3) and unit tangents (n, 3) pointing caudally. The line starts along -z
    and bends posteriorly at a constant rate (sacral kyphosis).
    """
    s = np.atleast_1d(np.asarray(s, float))
    kappa = np.radians(_SACRAL_BEND_DEG) / _SACRAL_LENGTH
    phi = kappa * s
    # integrate (sin(phi) posterior, -cos(phi) down)
    y = (1.0 - np.cos(phi)) / kappa
    z = -np.sin(phi) / kappa
    start = np.array([0.0, 0.0, -_S1_HEIGHT / 2.0])
    pts = start + np.column_stack([np.zeros_like(s), y, z])
    tan = np.column_stack([np.zeros_like(s), np.sin(phi), -np.cos(phi)])
    return pts, tan


def _sweep(knots: np.ndarray, half_w: np.ndarray, half_d: np.ndarray, k: float = 2.0):
    """Field of a tube through ``knots`` ((m, 3)) with elliptic section (half-width along x,
    half-depth in the sagittal plane), linearly varying between knots."""

    def f(p):
        out = None
        for i in range(len(knots) - 1):
            d = sdf.elliptic_capsule(
                p,
                knots[i],
                knots[i + 1],
                (half_w[i], half_w[i + 1]),
                (half_d[i], half_d[i + 1]),
                up=(0.0, 1.0, 0.0),
            )
            out = d if out is None else sdf.smin(out, d, k)
        return out

    return f


def _sacrum_model():
    s_knots = np.linspace(0.0, _SACRAL_LENGTH - _S1_HEIGHT / 2, 7)
    centre, tang = _curve(s_knots)
    normal_post = np.column_stack(
        [np.zeros(len(s_knots)), np.cos(np.arcsin(tang[:, 1])), tang[:, 1]]
    )
    frac = s_knots / s_knots[-1]

    def s1_body(p):
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        d_xy = sdf.superellipse2(x, y, _S1_WIDTH / 2, _S1_DEPTH / 2, np.where(y > 0, 3.0, 2.2))
        dz = np.maximum(z, -z - _S1_HEIGHT)
        return sdf.smax(d_xy, dz, 2.0)

    # the lateral mass: a wide, flattened tube tapering to the apex
    lm_w = 44.0 * (1 - frac) ** 1.2 + 7.0
    lm_d = 16.0 * (1 - frac) + 5.0
    lm_centre = centre + normal_post * (8.0 * (1 - frac) + 2.0)[:, None]
    lateral_mass = _sweep(lm_centre, lm_w, lm_d, 3.0)

    def ala(side):
        c = np.array([side * 33.0, 2.0, -10.0])

        def f(p):
            q = p - c
            return sdf.ellipsoid(q, (22.0, 20.0, 13.0))

        return f

    # posterior arch of S1
    vp = vertebra_params("L5")
    sap = {}
    for side, name in ((1, "left"), (-1, "right")):
        th = np.radians(53.0)  # REF §3d L5–S1 ≈53° [TU]
        t = np.array([side * np.sin(th), np.cos(th), 0.0])
        nl = np.array([side * np.cos(th), -np.sin(th), 0.0])
        c = np.array([side * 22.0, _S1_DEPTH / 2 + 16.0, 6.0]) + nl * 3.0
        rot = np.column_stack([t, nl, np.cross(t, nl)])
        sap[name] = lambda p, c=c, rot=rot: sdf.round_box(
            sdf.to_local(p, c, rot), (8.0, 3.0, 9.0), 2.5
        )
    del vp

    def s1_lamina(p):
        c = np.array([0.0, _S1_DEPTH / 2 + _CANAL_S1_DEPTH + 3.0, -10.0])
        return sdf.round_box(p - c, (22.0, 3.5, 9.0), 3.0)

    crest_knots = centre[:5] + normal_post[:5] * (np.array([38.0, 34.0, 28.0, 22.0, 16.0]))[:, None]
    median_crest = _sweep(crest_knots, np.full(5, 4.0), np.full(5, 5.0), 2.0)

    # cutters
    canal_knots = centre + normal_post * (_S1_DEPTH / 2 + _CANAL_S1_DEPTH / 2 - 2.0 * frac)[:, None]
    canal = _sweep(
        canal_knots, _CANAL_S1_WIDTH / 2 * (1 - 0.65 * frac), _CANAL_S1_DEPTH / 2 * (1 - 0.6 * frac)
    )
    f_s, f_t = _curve(
        np.array([10.0, 10 + _SEGMENT_PITCH, 10 + 2 * _SEGMENT_PITCH, 10 + 3 * _SEGMENT_PITCH])
    )
    foramina_pts = []
    for i in range(4):
        off = _FORAMEN_OFFSET * (1 - 0.12 * i)
        for side in (1, -1):
            foramina_pts.append((f_s[i] + np.array([side * off, 0.0, 0.0]), f_t[i]))

    def foramina(p):
        out = None
        for c, t in foramina_pts:
            # a cylinder along the posterior normal through the lateral mass
            nrm = np.array([0.0, -t[2], t[1]])
            q = p - c
            along = q @ nrm
            radial = np.linalg.norm(q - along[:, None] * nrm, axis=1)
            d = radial - _FORAMEN_RADIUS * (1 - 0.08 * len(foramina_pts) / 8)
            out = d if out is None else np.minimum(out, d)
        return out

    hiatus_c, hiatus_t = _curve(np.array([3.6 * _SEGMENT_PITCH]))

    def hiatus(p):
        # removes the dorsal wall of the canal from S4 down (REF §7: apex at S4 in 80 %)
        q = p - hiatus_c[0]
        along = q @ hiatus_t[0]
        nrm = np.array([0.0, -hiatus_t[0][2], hiatus_t[0][1]])
        back = q @ nrm
        return np.maximum.reduce([np.abs(q[:, 0]) - 6.0, -along, 4.0 - back])

    coccyx_s = np.linspace(_SACRAL_LENGTH - _S1_HEIGHT / 2 + 2.0, _SACRAL_LENGTH + 18.0, 4)
    cc_c, _ = _curve(coccyx_s)
    coccyx = _sweep(
        cc_c + np.array([0.0, 4.0, 0.0]),
        np.array([9.0, 7.0, 5.0, 3.0]),
        np.array([5.0, 4.5, 4.0, 3.0]),
        2.0,
    )

    parts = {
        "s1_body": s1_body,
        "ala.left": ala(1),
        "ala.right": ala(-1),
        "lateral_mass": lateral_mass,
        "superior_articular_process.left": sap["left"],
        "superior_articular_process.right": sap["right"],
        "s1_lamina": s1_lamina,
        "median_crest": median_crest,
        "dorsal_foramina": lambda p: np.abs(foramina(p)) + 0.5,
        "sacral_hiatus": lambda p: np.abs(hiatus(p)) + 0.5,
        "coccyx": coccyx,
    }

    def field(p):
        v = {
            k: parts[k](p)
            for k in (
                "s1_body",
                "ala.left",
                "ala.right",
                "lateral_mass",
                "superior_articular_process.left",
                "superior_articular_process.right",
                "s1_lamina",
                "median_crest",
                "coccyx",
            )
        }
        solid = sdf.smooth_union(
            4.0, v["s1_body"], v["ala.left"], v["ala.right"], v["lateral_mass"]
        )
        solid = sdf.smooth_union(
            3.0,
            solid,
            v["s1_lamina"],
            v["superior_articular_process.left"],
            v["superior_articular_process.right"],
            v["median_crest"],
        )
        solid = sdf.smin(solid, v["coccyx"], 1.5)
        solid = sdf.smooth_difference(solid, canal(p), 1.0)
        solid = sdf.smooth_difference(solid, foramina(p), 1.0)
        solid = sdf.smooth_difference(solid, hiatus(p), 1.0)
        # the S1 endplate is the top of the sacrum (REF §7: nearly flat)
        return solid

    model = sdf.PartModel(parts, whole=field)
    landmarks = {
        "s1_superior_endplate_centre": np.zeros(3),
        "promontory": np.array([0.0, -_S1_DEPTH / 2, 0.0]),
        "s1_superior_endplate_posterior": np.array([0.0, _S1_DEPTH / 2, 0.0]),
        "s1_canal_centre": np.array([0.0, _S1_DEPTH / 2 + _CANAL_S1_DEPTH / 2, -8.0]),
    }
    for i, name in enumerate(("s1_level", "s2_level", "s3_level", "s4_level", "s5_level")):
        c, _ = _curve(np.array([_SEGMENT_PITCH * i]))
        landmarks[name] = c[0]
    landmarks["hiatus_apex"] = hiatus_c[0] + np.array([0.0, 10.0, 0.0])
    landmarks["coccyx_tip"] = cc_c[-1]
    return model, landmarks


@lru_cache(maxsize=4)
def _sacrum_cached(resolution_mm: float) -> BoneMesh:
    model, landmarks = _sacrum_model()
    lo = np.array([-_ALA_HALF_SPAN - 10, -_S1_DEPTH / 2 - 10, -_SACRAL_LENGTH - 40])
    hi = np.array([_ALA_HALF_SPAN + 10, 90.0, 22.0])
    mesh = sdf.mesh_field(model.field, lo, hi, resolution_mm)
    labels = model.labels(mesh.triangles_center)
    return BoneMesh(mesh, labels, SACRUM_PARTS, landmarks, {})


def build_sacrum(resolution_mm: float = 0.8) -> BoneMesh:
    """The sacrum (S1–S5) with the coccyx, in the sacrum frame (see module docstring).

    Parts: ``SACRUM_PARTS``. Landmarks: ``promontory``, ``s1_superior_endplate_centre``,
    ``s1_level`` … ``s5_level`` (centre of each segment's anterior column), ``hiatus_apex``,
    ``coccyx_tip``, ``s1_canal_centre``.
    """
    _check_res(resolution_mm)
    return _copy(_sacrum_cached(float(resolution_mm)))


# --------------------------------------------------------------------------------------------
# ribs
# --------------------------------------------------------------------------------------------
RIB_PARTS: tuple[str, ...] = ("head", "shaft")

# REF §12 Aubert 1981 [R]: 12th rib usually 11 cm long, 1–1.5 cm wide, costo-lumbar angle 45°.
_RIB12_LENGTH = 110.0
_RIB12_WIDTH = 12.0
_COSTOLUMBAR_DEG = 45.0
_RIB11_LENGTH = 190.0  # [TU] the 11th rib is longer and curves around the flank


def _rib_points(number: int, side: int, length: float, head: np.ndarray) -> np.ndarray:
    n = max(int(length / 8.0), 3)
    s = np.linspace(0.0, length, n + 1)
    a = np.radians(_COSTOLUMBAR_DEG if number == 12 else 60.0)
    # lateral and down at the costo-lumbar angle from the vertical (AP view), first backwards
    # and then forwards around the flank (the 11th more so)
    bend = 0.0 if number == 12 else 1.6
    theta = np.radians(25.0) - bend * s / max(length, 1.0)  # posterior sweep angle in axial plane
    dx = np.sin(a) * np.cos(theta)
    dy = np.sin(a) * np.sin(theta) * 0.9
    dz = -np.cos(a) * np.ones_like(s)
    steps = np.column_stack([dx, dy, dz])
    steps /= np.linalg.norm(steps, axis=1)[:, None]
    ds = np.diff(s, prepend=0.0)
    pts = head + np.cumsum(steps * ds[:, None], axis=0)
    pts[:, 0] = head[0] + side * (pts[:, 0] - head[0])
    return pts


@lru_cache(maxsize=16)
def _rib_cached(number: int, side: int, length: float, resolution_mm: float) -> BoneMesh:
    t12 = build_vertebra("T12", 1.6)
    head = t12.landmarks["costal_facet.left"].copy()
    head[0] += 4.0  # the head's centre sits just lateral of the facet surface
    if number == 11:
        head[2] += 33.0  # one motion segment up: T12 height + T11–T12 disc [shape]
    pts = _rib_points(number, 1, length, head)
    pts[:, 0] = side * pts[:, 0]
    w = np.linspace(_RIB12_WIDTH / 2, 2.5, len(pts))
    t = np.linspace(3.0, 1.5, len(pts))
    shaft = _sweep(pts, t, w, 2.0)

    def head_f(p):
        return sdf.sphere(p, pts[0], 6.0)

    model = sdf.PartModel(
        {"head": head_f, "shaft": shaft}, combine=lambda v: sdf.smin(v["head"], v["shaft"], 3.0)
    )
    lo = pts.min(0) - 12.0
    hi = pts.max(0) + 12.0
    mesh = sdf.mesh_field(model.field, lo, hi, resolution_mm)
    labels = model.labels(mesh.triangles_center)
    return BoneMesh(
        mesh, labels, RIB_PARTS, {"head": pts[0], "tip": pts[-1]}, {"length_mm": length}
    )


def build_rib(
    number: int, side: str, length_mm: float | None = None, resolution_mm: float = 0.8
) -> BoneMesh:
    """The 11th or 12th rib of one side, in its vertebra's frame.

    Parameters
    ----------
    number : int
        11 or 12.
    side : str
        "left" or "right".
    length_mm : float, optional
        Length along the rib; default 110 mm for the 12th (Aubert 1981, REF §12 [R]) and
        190 mm for the 11th [TU]. Short (< 50 mm) ribs model hypoplasia; 0 is not allowed (an
        absent rib is simply not built).
    """
    if number not in (11, 12):
        raise ValidationError(f"rib number must be 11 or 12, got {number!r}")
    if side not in ("left", "right"):
        raise ValidationError(f"rib side must be 'left' or 'right', got {side!r}")
    length = (
        float(length_mm)
        if length_mm is not None
        else (_RIB12_LENGTH if number == 12 else _RIB11_LENGTH)
    )
    if not (15.0 <= length <= 260.0):
        raise ValidationError(f"rib length_mm must be within 15–260 mm, got {length_mm}")
    _check_res(resolution_mm)
    return _copy(_rib_cached(number, 1 if side == "left" else -1, length, float(resolution_mm)))


# --------------------------------------------------------------------------------------------
# iliac crest
# --------------------------------------------------------------------------------------------
ILIAC_PARTS: tuple[str, ...] = ("iliac_crest", "ilium", "posterior_superior_iliac_spine")
_CREST_ABOVE_BASE = 38.0  # Okamoto 2020, REF §7/§12 [R]: 3.8 ± 0.8 cm


def lps_from_sacrum_default(sacral_slope_deg: float = DEFAULT_SACRAL_SLOPE_DEG) -> np.ndarray:
    """3x3 rotation taking sacrum-frame vectors to a posed frame at the given sacral slope.

    The S1 endplate faces up and forward: its normal (sacrum +z) becomes (0, -sin, cos).
    """
    return sdf.rot_x(sacral_slope_deg)


@lru_cache(maxsize=4)
def _iliac_cached(side: int, resolution_mm: float) -> BoneMesh:
    r = lps_from_sacrum_default()
    # crest knots in the posed frame, relative to the sacral base centre (mm) [shape]:
    # PSIS behind the upper sacrum, up and forward to the crest vertex, then forward
    posed = np.array(
        [
            [38.0, 62.0, -30.0],
            [48.0, 60.0, -5.0],
            [58.0, 45.0, 22.0],
            [64.0, 25.0, _CREST_ABOVE_BASE - 4.0],
            [67.0, 5.0, _CREST_ABOVE_BASE - 6.0],
            [70.0, -15.0, _CREST_ABOVE_BASE - 10.0],
        ]
    )
    # the vertex is the top of the tube (radius 6): put its centre 6 mm below the target
    posed[:, 2] += 0.0
    knots = posed @ r  # posed -> sacrum frame (r is orthonormal: inverse = transpose)
    knots[:, 0] *= side
    crest = _sweep(knots, np.full(len(knots), 6.0), np.full(len(knots), 6.0), 3.0)
    # the iliac blade hangs down from the crest towards the SI joint
    blade_c = (np.array([56.0 * side, 35.0, -5.0]) * np.array([1, 1, 1])) @ np.eye(3)
    blade_posed = np.array([side * 56.0, 35.0, -5.0])
    blade_c = blade_posed @ r
    nrm = np.array([side * 0.9, -0.2, 0.0]) @ r

    def blade(p):
        q = p - blade_c
        along_n = q @ (nrm / np.linalg.norm(nrm))
        return np.maximum(np.linalg.norm(q, axis=1) - 40.0, np.abs(along_n) - 4.0)

    psis_c = knots[0]

    def psis(p):
        return sdf.sphere(p, psis_c, 9.0)

    parts = {"iliac_crest": crest, "ilium": blade, "posterior_superior_iliac_spine": psis}
    model = sdf.PartModel(
        parts,
        combine=lambda v: sdf.smooth_union(
            4.0, v["iliac_crest"], v["ilium"], v["posterior_superior_iliac_spine"]
        ),
    )
    lo = np.minimum(knots.min(0), blade_c - 45.0) - 10.0
    hi = np.maximum(knots.max(0), blade_c + 45.0) + 10.0
    mesh = sdf.mesh_field(model.field, lo, hi, resolution_mm)
    labels = model.labels(mesh.triangles_center)
    vertex_posed = np.array([side * 64.0, 25.0, _CREST_ABOVE_BASE])
    lm = {"crest_vertex": vertex_posed @ r, "psis": psis_c}
    return BoneMesh(mesh, labels, ILIAC_PARTS, lm, {})


def build_iliac_crest(side: str, resolution_mm: float = 1.0) -> BoneMesh:
    """Posterior part of one ilium with its crest, in the sacrum frame.

    Placed for the default sacral slope so that the crest vertex is 38 mm cranial to the
    sacral base centre once posed (Okamoto 2020, REF §12 [R]); Tuffier's line then falls near
    L4–L5 (Kim 2003, REF §12 [R]). Landmarks: ``crest_vertex``, ``psis``.
    """
    if side not in ("left", "right"):
        raise ValidationError(f"iliac crest side must be 'left' or 'right', got {side!r}")
    _check_res(resolution_mm)
    return _copy(_iliac_cached(1 if side == "left" else -1, float(resolution_mm)))


# --------------------------------------------------------------------------------------------
def _check_res(resolution_mm: float) -> None:
    if not (0.2 <= resolution_mm <= 5.0):
        raise ValidationError(f"resolution_mm must be within 0.2–5 mm, got {resolution_mm}")


def _copy(bm: BoneMesh) -> BoneMesh:
    return BoneMesh(
        bm.mesh.copy(),
        bm.face_labels.copy(),
        bm.part_names,
        {k: np.asarray(v, float).copy() for k, v in bm.landmarks.items()},
        dict(bm.measures),
    )
