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
# S1 pedicle/ala thickness 12–20 [S]; hiatus apex at S4 in 80 % [R]. [shape] numbers are ours.
_S1_WIDTH = 47.0
_S1_DEPTH = 34.0
_SACRAL_LENGTH = 98.0  # along the pelvic surface, promontory to apex
_ALA_HALF_SPAN = 54.0  # ≈ interauricular 108.7 / 2 [R]
_FORAMEN_OFFSET = (23.5, 21.0, 17.0, 12.5)  # S1 [R]; lower ones converge [shape]
_FORAMEN_RADIUS = (4.25, 3.8, 3.2, 2.5)  # S1 width 8.5 [R]; lower ones smaller [shape]
_SACRAL_BEND_DEG = 45.0  # [shape] sacral kyphosis: the pelvic surface is concave
_SACRAL_START_DEG = 27.0  # [shape] the pelvic surface of S1 leans back from the endplate normal,
#                           so that the promontory-apex chord runs about along that normal
_SEGMENT_PITCH = _SACRAL_LENGTH / 5.0  # S1..S5 [shape]
_CANAL_S1 = (30.0, 14.0)  # [shape] width, depth of the sacral canal at S1
_HIATUS_S = 3.4 * _SEGMENT_PITCH  # REF §7: apex of the hiatus at S4 [R]
_COCCYX_LENGTH = 28.0  # [shape]
# profiles along the pelvic surface (arc length s, mm) [shape]
_S_KNOTS = np.array([0.0, 12.0, 35.0, 55.0, 75.0, 92.0, 98.0])
_HALF_WIDTH = np.array([48.0, 54.0, 50.0, 34.0, 20.0, 12.0, 9.0])
_THICKNESS = np.array([54.0, 52.0, 40.0, 28.0, 18.0, 12.0, 10.0])  # midline, pelvic to dorsal
_BODY_T = np.array([34.0, 32.0, 24.0, 17.0, 11.0, 7.0, 6.0])  # anterior column (bodies)
_RC = _SACRAL_LENGTH / np.radians(_SACRAL_BEND_DEG)  # radius of the pelvic-surface arc
_PHI0 = np.radians(_SACRAL_START_DEG)
_P0 = np.array([0.0, -_S1_DEPTH / 2, 0.0])  # promontory
_TAN0 = np.array([0.0, np.sin(_PHI0), -np.cos(_PHI0)])
_CENTRE = _P0 - _RC * np.array([0.0, np.cos(_PHI0), np.sin(_PHI0)])


def _bent(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bent coordinates of points: arc length ``s`` along the pelvic surface from the
    promontory (caudal positive) and height ``n`` above it (dorsal positive), mm."""
    qy = p[:, 1] - _CENTRE[1]
    qz = p[:, 2] - _CENTRE[2]
    r = np.hypot(qy, qz)
    a0 = np.arctan2(np.sin(_PHI0), np.cos(_PHI0))
    ang = np.arctan2(qz, qy)
    # moving caudally the polar angle decreases from a0
    s = _RC * (a0 - ang)
    return s, r - _RC


def _curve(s) -> tuple[np.ndarray, np.ndarray]:
    """Points on the pelvic-surface midline at arc length ``s`` and the dorsal unit normals."""
    s = np.atleast_1d(np.asarray(s, float))
    ang = _PHI0 - s / _RC
    radial = np.column_stack([np.zeros_like(s), np.cos(ang), np.sin(ang)])
    return _CENTRE + _RC * radial, radial


def _at(s, n, x=0.0) -> np.ndarray:
    c, r = _curve(s)
    return (c + r * np.asarray(n, float).reshape(-1, 1) + np.array([x, 0.0, 0.0]))[0]


def _profile(s: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.interp(s, _S_KNOTS, values)


def _sweep(knots: np.ndarray, half_w, half_d, k: float = 2.0, up=(0.0, 1.0, 0.0)):
    """Field of a tube through ``knots`` ((m, 3) mm) with an elliptic section: ``half_w`` across
    (horizontal) and ``half_d`` along ``up``, varying linearly between knots."""
    half_w = np.broadcast_to(np.asarray(half_w, float), (len(knots),))
    half_d = np.broadcast_to(np.asarray(half_d, float), (len(knots),))

    def f(p):
        out = None
        for i in range(len(knots) - 1):
            d = sdf.elliptic_capsule(
                p,
                knots[i],
                knots[i + 1],
                (half_w[i], half_w[i + 1]),
                (half_d[i], half_d[i + 1]),
                up=up,
            )
            # k = 0: a plain union; a smooth one bulges at every joint of a straight tube
            out = d if out is None else sdf.smin(out, d, k)
        return out

    return f


def _sacrum_fields():
    l5 = vertebra_params("L5")
    jx, jy_rel, jr = l5.iap_joint_x, l5.iap_joint_y, l5.iap_radius
    # L5 stands on S1 (posterior walls aligned): its IAP axis in the sacrum frame
    joint = np.array([jx, _S1_DEPTH / 2 + jy_rel])
    th = np.radians(l5.iap_facet_deg)
    t0, t1 = np.sin(th), np.cos(th)
    sap_t = 5.0  # [shape]
    gap = l5.facet_gap

    def main(p):
        s, n = _bent(p)
        x = p[:, 0]
        hw = _profile(s, _HALF_WIDTH)
        th_mid = _profile(s, _THICKNESS)
        xr = np.clip(np.abs(x) / hw, 0.0, 1.0)
        thick = th_mid * (1.0 - 0.35 * xr**2)
        d = sdf.superellipse2(x, n - thick / 2, hw, thick / 2, 2.6)
        # caudal end rounded; cranial end: the S1 endplate (flat, REF §7) and lower alae and arch
        z_top = np.where(n < _BODY_T[0], 0.0, -6.0)
        z_top = z_top - np.clip(np.abs(x) - 24.0, 0.0, None) * 0.25
        top = p[:, 2] - z_top
        d = sdf.smax(d, top, 2.0)
        return sdf.smax(d, s - _SACRAL_LENGTH, 3.0)

    def canal(p):
        s, n = _bent(p)
        k = np.clip(s / _SACRAL_LENGTH, 0.0, 1.0)
        w = _CANAL_S1[0] / 2 * (1.0 - 0.65 * k)
        dpt = _CANAL_S1[1] / 2 * (1.0 - 0.55 * k)
        nc = _profile(s, _BODY_T) + dpt
        # triangular-ish: wider anteriorly
        widen = 1.0 - 0.35 * np.clip((n - nc) / dpt, -1.0, 1.0)
        d = sdf.ellipse2(p[:, 0], n - nc, w * widen, dpt)
        return sdf.smax(d, s - (_SACRAL_LENGTH + 5.0), 1.0)

    fs = np.array([(i + 1) * _SEGMENT_PITCH for i in range(4)])

    def foramina(p):
        s, _ = _bent(p)
        out = np.full(len(p), 1e9)
        for i, si in enumerate(fs):
            for side in (1.0, -1.0):
                d = np.hypot(p[:, 0] - side * _FORAMEN_OFFSET[i], s - si) - _FORAMEN_RADIUS[i]
                out = np.minimum(out, d)
        return out

    def hiatus(p):
        s, n = _bent(p)
        nc = _profile(s, _BODY_T)
        w = _CANAL_S1[0] / 2 * (1.0 - 0.65 * np.clip(s / _SACRAL_LENGTH, 0, 1))
        return np.maximum.reduce([np.abs(p[:, 0]) - w, _HIATUS_S - s, nc + 2.0 - n])

    def crest(p):
        s, n = _bent(p)
        th_mid = _profile(s, _THICKNESS)
        # tubercles of the fused spinous processes on a low ridge
        bump = 1.5 * np.cos(2 * np.pi * s / _SEGMENT_PITCH) ** 2
        d = np.maximum.reduce([np.abs(p[:, 0]) - 3.5, n - (th_mid + 3.0 + bump), th_mid - 3.0 - n])
        d = sdf.smax(d, np.maximum(6.0 - s, s - (_HIATUS_S - 4.0)), 2.0)
        # the first tubercle stays below the S1 lamina's upper border (L5–S1 window)
        return sdf.smax(d, p[:, 2] + 8.0, 2.0)

    def sap(side):
        # [shape] from the S1 lamina up beside the L5 IAP; the tip 2 mm above the endplate (the
        # lumbar SAP tips stand ~5 mm above theirs; lower here to clear the L5 lamina)
        zc0, zc1 = -8.0, 2.0

        def f(p):
            x = side * p[:, 0] - joint[0]
            y = p[:, 1] - joint[1]
            u = x * t0 + y * t1
            v = -x * t1 + y * t0
            shell = np.abs(sdf.ellipse2(u, v, jr * 1.25, jr) - (gap + sap_t / 2)) - sap_t / 2
            phi = np.degrees(np.arctan2(v, u)) % 360.0
            d_ang = np.radians(np.maximum(175.0 - phi, phi - 345.0)) * np.hypot(u, v)
            d2 = sdf.smax(shell, d_ang, 1.0)
            dz = np.abs(p[:, 2] - 0.5 * (zc0 + zc1)) - 0.5 * (zc1 - zc0)
            return sdf.smax(d2, dz, 2.5)

        return f

    cs = np.linspace(_SACRAL_LENGTH - 4.0, _SACRAL_LENGTH + _COCCYX_LENGTH, 5)
    cpts = np.array([_at(si, 5.0) for si in cs])

    def coccyx(p):
        out = None
        radii = np.array([5.5, 5.0, 4.5, 3.5, 2.5])
        for i in range(len(cpts) - 1):
            d = sdf.capsule(p, cpts[i], cpts[i + 1], (radii[i], radii[i + 1]))
            out = d if out is None else sdf.smin(out, d, 1.5)
        return out

    saps = {"left": sap(1.0), "right": sap(-1.0)}

    def whole(p):
        d = main(p)
        d = sdf.smin(d, crest(p), 2.0)
        d = sdf.smin(d, np.minimum(saps["left"](p), saps["right"](p)), 3.0)
        d = sdf.smin(d, coccyx(p), 2.0)
        d = sdf.smooth_difference(d, canal(p), 1.0)
        d = sdf.smooth_difference(d, foramina(p), 0.8)
        return sdf.smooth_difference(d, hiatus(p), 1.0)

    return (
        whole,
        dict(canal=canal, foramina=foramina, hiatus=hiatus, crest=crest, saps=saps, coccyx=coccyx),
        joint,
    )


def _sacrum_labels(points: np.ndarray, f: dict) -> np.ndarray:
    s, n = _bent(points)
    x = points[:, 0]
    idx = {name: i for i, name in enumerate(SACRUM_PARTS)}
    lab = np.full(len(points), idx["lateral_mass"])
    body_t = _profile(s, _BODY_T)
    lab[(np.abs(x) >= 24.0) & (s < 30.0) & (x > 0)] = idx["ala.left"]
    lab[(np.abs(x) >= 24.0) & (s < 30.0) & (x < 0)] = idx["ala.right"]
    lab[(np.abs(x) < 24.0) & (s < 26.0) & (n < body_t + 1.0)] = idx["s1_body"]
    lab[(np.abs(x) < 22.0) & (s < 22.0) & (n > body_t + _CANAL_S1[1] - 1.0)] = idx["s1_lamina"]
    lab[
        (np.abs(f["crest"](points)) < 1.0)
        | ((np.abs(x) < 5.0) & (s > 6.0) & (s < _HIATUS_S) & (n > _profile(s, _THICKNESS) - 0.5))
    ] = idx["median_crest"]
    for side, name in ((1, "left"), (-1, "right")):
        lab[(f["saps"][name](points) < 0.8) & (side * x > 0)] = idx[
            f"superior_articular_process.{name}"
        ]
    lab[np.abs(f["foramina"](points)) < 1.0] = idx["dorsal_foramina"]
    lab[(np.abs(f["hiatus"](points)) < 1.2) & (s > _HIATUS_S - 3.0)] = idx["sacral_hiatus"]
    lab[s > _SACRAL_LENGTH + 1.0] = idx["coccyx"]
    return lab


@lru_cache(maxsize=4)
def _sacrum_cached(resolution_mm: float) -> BoneMesh:
    whole, fields, joint = _sacrum_fields()
    curve, _ = _curve(np.linspace(0.0, _SACRAL_LENGTH + _COCCYX_LENGTH + 5, 20))
    lo = np.array([-_ALA_HALF_SPAN - 8, curve[:, 1].min() - 12, curve[:, 2].min() - 15])
    hi = np.array([_ALA_HALF_SPAN + 8, curve[:, 1].max() + 70, 22.0])
    mesh = sdf.mesh_field(whole, lo, hi, resolution_mm)
    labels = _sacrum_labels(mesh.triangles_center, fields)
    lm = {
        "s1_superior_endplate_centre": np.zeros(3),
        "promontory": _P0.copy(),
        "s1_superior_endplate_posterior": np.array([0.0, _S1_DEPTH / 2, 0.0]),
        "s1_canal_centre": _at(8.0, _BODY_T[0] + _CANAL_S1[1] / 2),
        "s1_lamina_superior_edge_midline": np.array(
            [0.0, _at(8.0, _BODY_T[0] + _CANAL_S1[1])[1] + 2.0, -6.0]
        ),
        "hiatus_apex": _at(_HIATUS_S, float(_profile(np.array([_HIATUS_S]), _BODY_T)[0]) + 4.0),
        "coccyx_tip": _at(_SACRAL_LENGTH + _COCCYX_LENGTH + 2.5, 5.0),
        "l5_s1_facet_axis.left": np.array([joint[0], joint[1], 0.0]),
        "l5_s1_facet_axis.right": np.array([-joint[0], joint[1], 0.0]),
    }
    for i in range(5):
        bt = float(_profile(np.array([(i + 0.5) * _SEGMENT_PITCH]), _BODY_T)[0])
        lm[f"s{i + 1}_level"] = _at((i + 0.5) * _SEGMENT_PITCH, bt / 2)
        lm[f"s{i + 1}_top"] = _at(i * _SEGMENT_PITCH, bt / 2)
    return BoneMesh(mesh, labels, SACRUM_PARTS, lm, {"sacral_length_mm": _SACRAL_LENGTH})


def build_sacrum(resolution_mm: float = 1.0) -> BoneMesh:
    """The sacrum (S1–S5) with the coccyx, in the sacrum frame (see module docstring).

    Parts: ``SACRUM_PARTS``. Landmarks: ``promontory``, ``s1_superior_endplate_centre``,
    ``s1_level`` … ``s5_level`` (centre of each segment's anterior column) and ``s1_top`` …
    ``s5_top`` (the cranial boundary of each segment), ``hiatus_apex``, ``coccyx_tip``,
    ``s1_canal_centre``, ``s1_lamina_superior_edge_midline``, ``l5_s1_facet_axis.left/right``.
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


_RIB_HEAD_RADIUS = 6.0  # [shape]


def trimesh_closest(mesh, point):
    """Closest surface point of ``mesh`` to ``point`` ((3,) mm): (point, distance, triangle)."""
    import trimesh

    c, d, tri = trimesh.proximity.closest_point(mesh, np.asarray(point, float)[None, :])
    return c[0], float(d[0]), int(tri[0])


def _rib_points(number: int, side: int, length: float, head: np.ndarray) -> np.ndarray:
    n = max(int(length / 12.0), 3)
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
    t12 = build_vertebra("T12", 1.2)
    facet = t12.landmarks["costal_facet.left"]
    # the head rests on the facet: its centre one radius plus a joint space off the surface
    closest, _, tri = trimesh_closest(t12.mesh, facet)
    normal = t12.mesh.face_normals[tri]
    head = closest + normal * (_RIB_HEAD_RADIUS + 1.0)
    if number == 11:
        head[2] += 33.0  # one motion segment up: T12 height + T11–T12 disc [shape]
    pts = _rib_points(number, 1, length, head)
    pts[:, 0] = side * pts[:, 0]
    w = np.linspace(_RIB12_WIDTH / 2, 2.5, len(pts))
    t = np.linspace(3.0, 1.5, len(pts))
    shaft = _sweep(pts, t, w, 0.0, up=(0.0, 0.0, 1.0))

    def head_f(p):
        return sdf.sphere(p, pts[0], _RIB_HEAD_RADIUS)

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
    number: int, side: str, length_mm: float | None = None, resolution_mm: float = 1.0
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


def _plate_field(outline: np.ndarray, thickness: float):
    """A curved plate bounded by the closed polygon ``outline`` ((m, 3) mm) that passes through
    its vertices: the best-fit plane plus an inverse-distance-weighted bending of the normal
    offsets, extruded by ``thickness``."""
    c = outline.mean(0)
    _, _, vt = np.linalg.svd(outline - c)
    e1, e2, nrm = vt
    uv = np.column_stack([(outline - c) @ e1, (outline - c) @ e2])
    h = (outline - c) @ nrm

    def f(p):
        q = p - c
        u, v, w = q @ e1, q @ e2, q @ nrm
        d2 = sdf.polygon2(u, v, uv)
        dist2 = (u[:, None] - uv[None, :, 0]) ** 2 + (v[:, None] - uv[None, :, 1]) ** 2 + 1.0
        wts = 1.0 / dist2**1.5
        hh = (wts @ h) / wts.sum(1)
        return sdf.smax(d2, np.abs(w - hh) - thickness / 2, 2.0)

    return f


def _resample(knots: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length along the polyline ``knots``."""
    seg = np.linalg.norm(np.diff(knots, axis=0), axis=1)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    u = np.linspace(0.0, t[-1], n)
    return np.column_stack([np.interp(u, t, knots[:, i]) for i in range(3)])


# Posterior half of the iliac crest and the wing below it, in the posed frame (sacrum posed at
# the default sacral slope; origin at the sacral base centre; x lateral) [shape]. The crest
# runs from the posterior superior iliac spine up, out and forward to its highest point and on
# towards the tubercle; the wing hangs from it to the sacroiliac joint, staying lateral of the
# sacrum's auricular surface (sacral half span 54 mm). The highest point of the crest is 38 mm
# above the sacral base centre (Okamoto 2020, REF §12 [R]).
_CREST_RADIUS = 6.0
_CREST_POSED = np.array(
    [
        [40.0, 58.0, -32.0],
        [52.0, 52.0, -12.0],
        [68.0, 42.0, 10.0],
        [85.0, 27.0, 25.0],
        [100.0, 8.0, _CREST_ABOVE_BASE - _CREST_RADIUS - 2.0],
        [110.0, -12.0, _CREST_ABOVE_BASE - _CREST_RADIUS],
        [116.0, -32.0, _CREST_ABOVE_BASE - _CREST_RADIUS - 3.0],
        [119.0, -48.0, 24.0],
    ]
)
_WING_LOWER_POSED = np.array(
    [
        [44.0, 52.0, -48.0],
        [58.0, 35.0, -45.0],
        [60.0, 15.0, -38.0],
        [62.0, -5.0, -32.0],
        [68.0, -25.0, -30.0],
        [78.0, -45.0, -28.0],
    ]
)


@lru_cache(maxsize=4)
def _iliac_cached(side: int, resolution_mm: float) -> BoneMesh:
    r = lps_from_sacrum_default()
    mirror = np.array([side, 1.0, 1.0])
    crest_posed = _resample(_CREST_POSED, 9) * mirror
    lower_posed = _resample(_WING_LOWER_POSED, 9) * mirror
    crest_k = crest_posed @ r  # posed -> sacrum frame (row vectors: v_s = v_p @ R)
    crest = _sweep(crest_k, _CREST_RADIUS, _CREST_RADIUS, 0.0, up=(0.0, 0.0, 1.0))
    wing = _plate_field(np.vstack([crest_posed, lower_posed[::-1]]) @ r, 5.0)
    psis_c = crest_k[0] + np.array([0.0, 3.0, 0.0]) @ r

    def psis(p):
        return sdf.sphere(p, psis_c, 8.0)

    parts = {"iliac_crest": crest, "ilium": wing, "posterior_superior_iliac_spine": psis}
    model = sdf.PartModel(
        parts,
        combine=lambda v: sdf.smooth_union(
            4.0, v["iliac_crest"], v["ilium"], v["posterior_superior_iliac_spine"]
        ),
    )
    pts = np.vstack([crest_k, lower_posed @ r])
    lo = pts.min(0) - 15.0
    hi = pts.max(0) + 15.0
    mesh = sdf.mesh_field(model.field, lo, hi, resolution_mm)
    labels = model.labels(mesh.triangles_center)
    # the crest vertex: the mesh's highest point once posed
    posed_z = mesh.vertices @ r[2]
    lm = {"crest_vertex": np.asarray(mesh.vertices[np.argmax(posed_z)], float), "psis": psis_c}
    return BoneMesh(mesh, labels, ILIAC_PARTS, lm, {})


def build_iliac_crest(side: str, resolution_mm: float = 1.3) -> BoneMesh:
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
