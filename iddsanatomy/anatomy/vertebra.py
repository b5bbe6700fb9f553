"""Parametric lumbar (and T12) vertebrae as signed-distance solids with labelled parts.

Each vertebra is one signed distance field: a vertebral body with a waist, a squared-off
posterior wall and concave endplates (Wang 2012, REF §1), elliptic pedicles converging medially
(REF §2), laminae as sloped plates meeting at the spinous-process base at the bilateral laminar
angle (Wang 2024, REF §3b), a near-horizontal plate-like spinous process with a bulbous tip,
transverse processes, curved superior articular processes whose joint faces look posteromedially
and inferior articular processes that face anterolaterally, at the facet angles of REF §3d. The
parts are blended with polynomial smooth minima and meshed with marching cubes
(:mod:`iddsanatomy.anatomy.sdf`); every face is labelled with the part whose field is smallest at
its centroid.

Local frame (LPS-aligned): +x patient left, +y posterior, +z superior; origin at the centre of the
vertebral body at mid-height; the endplates are (nearly) perpendicular to z.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from iddsanatomy.anatomy import sdf
from iddsanatomy.anatomy.bone_params import LEVELS, VertebraParams, vertebra_params
from iddsanatomy.errors import ValidationError

__all__ = ["VERTEBRA_PARTS", "BoneMesh", "build_vertebra", "vertebra_model", "vertebra_params"]

VERTEBRA_PARTS: tuple[str, ...] = (
    "body",
    "pedicle.left",
    "pedicle.right",
    "lamina.left",
    "lamina.right",
    "spinous_process",
    "transverse_process.left",
    "transverse_process.right",
    "superior_articular_process.left",
    "superior_articular_process.right",
    "inferior_articular_process.left",
    "inferior_articular_process.right",
)


@dataclass(frozen=True)
class BoneMesh:
    """A bone: one watertight mesh with a part label per face and named landmarks.

    Attributes
    ----------
    mesh : trimesh.Trimesh
        Watertight, outward normals, mm, in the bone's local frame.
    face_labels : (n_faces,) int
        Index into ``part_names`` for every face.
    part_names : tuple of str
        Names of the parts (``"body"``, ``"pedicle.left"``, ...).
    landmarks : dict[str, (3,) float]
        Named points in the local frame, mm.
    measures : dict[str, float]
        Named scalar sizes (``canal_half_width_mm``, ...), mm.
    """

    mesh: object
    face_labels: np.ndarray
    part_names: tuple[str, ...]
    landmarks: dict[str, np.ndarray]
    measures: dict[str, float] = field(default_factory=dict)

    def part_mesh(self, name: str):
        """The faces of one part as a separate (open) trimesh."""
        idx = self.part_names.index(name)
        return self.mesh.submesh([np.nonzero(self.face_labels == idx)[0]], append=True)


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Derived key points of one vertebra (mm, local frame, left side, x > 0)."""

    y_wall: float  # posterior body wall
    y_canal_back: float  # posterior canal boundary in the midline
    z_ped: float  # pedicle axis height
    ped_mid: np.ndarray
    ped_dir: np.ndarray
    ped_a: np.ndarray
    ped_b: np.ndarray  # pars / articular pillar end of the pedicle
    lam_e1: np.ndarray  # along the lamina, midline -> lateral
    lam_n: np.ndarray  # lamina normal, pointing posteriorly
    lam_up: np.ndarray  # lamina "height" direction (superior and anterior)
    lam_centre: np.ndarray
    lam_half: np.ndarray  # half length, half thickness, half height
    sp_base: np.ndarray
    sp_tip: np.ndarray
    tp_root: np.ndarray
    tp_tip: np.ndarray
    sap_joint: np.ndarray  # a point on the SAP joint surface
    iap_joint: np.ndarray


def _layout(pr: VertebraParams) -> _Layout:
    d2 = pr.body_depth / 2.0
    y_wall = d2
    y_cb = y_wall + pr.canal_depth
    z_ped = pr.body_hp / 2.0 - pr.pedicle_height / 2.0 - 1.0
    a = np.radians(pr.pedicle_transverse_deg)
    sg = np.radians(pr.pedicle_sagittal_deg)
    ped_dir = np.array([np.sin(a) * np.cos(sg), np.cos(a) * np.cos(sg), -np.sin(sg)])
    ped_mid = np.array([pr.canal_width / 2 + pr.pedicle_width / 2, y_wall + 3.0, z_ped])
    ped_a = ped_mid - 10.0 * ped_dir
    ped_b = ped_mid + (pr.pedicle_length - 10.0) * ped_dir

    beta = np.radians((180.0 - pr.laminar_angle_deg) / 2.0)
    tau = np.radians(pr.lamina_sagittal_deg)
    e1 = np.array([np.cos(beta), -np.sin(beta), 0.0])
    n0 = np.array([np.sin(beta), np.cos(beta), 0.0])
    # the plate leans: going up it moves anteriorly, so its lower edge is the most posterior
    up = np.cos(tau) * np.array([0.0, 0.0, 1.0]) - np.sin(tau) * n0
    n = np.cross(up, e1)
    if n[1] < 0:
        n = -n
    lam_len = ped_b[0] + 3.0
    lam_half = np.array(
        [lam_len / 2.0 / np.cos(beta), pr.lamina_thickness / 2, pr.lamina_height / 2]
    )
    z_lc = pr.lamina_top_z - pr.lamina_height / 2 * np.cos(tau)
    mid0 = np.array([0.0, y_cb + pr.lamina_thickness / 2, z_lc])
    lam_centre = mid0 + e1 * (lam_half[0] - 1.0 / np.cos(beta))

    sp_base = np.array([0.0, y_cb + 2.0, pr.sp_centre_z])
    tilt = np.radians(pr.sp_tilt_deg)
    sp_len_axis = pr.sp_length - (sp_base[1] - y_wall)
    sp_tip = sp_base + sp_len_axis * np.array([0.0, np.cos(tilt), -np.sin(tilt)])

    tp_root = np.array([ped_b[0] - 2.0, ped_b[1] - 6.0, z_ped + 1.0])
    tp_len = pr.tp_span / 2 - tp_root[0]
    tp_tip = tp_root + np.array(
        [
            tp_len,
            tp_len * np.tan(np.radians(pr.tp_back_deg)),
            tp_len * np.tan(np.radians(pr.tp_up_deg)),
        ]
    )
    sap_joint = np.array([ped_b[0] + 1.0, ped_b[1] + 4.0, 0.0])
    iap_joint = np.array([pr.facet_half_gap, ped_b[1] + 6.0, 0.0])
    return _Layout(
        y_wall,
        y_cb,
        z_ped,
        ped_mid,
        ped_dir,
        ped_a,
        ped_b,
        e1,
        n,
        up,
        lam_centre,
        lam_half,
        sp_base,
        sp_tip,
        tp_root,
        tp_tip,
        sap_joint,
        iap_joint,
    )


def _mirror(v: np.ndarray, side: int) -> np.ndarray:
    return v * np.array([side, 1.0, 1.0])


def _body_field(pr: VertebraParams):
    w2, d2 = pr.body_width / 2.0, pr.body_depth / 2.0
    ha, hp = pr.body_ha, pr.body_hp

    def f(p):
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        hh = 0.5 * (ha + (hp - ha) * np.clip((y + d2) / (2 * d2), 0.0, 1.0))
        zr = np.clip(z / hh, -1.0, 1.0)
        s = 1.0 - pr.body_waist * (1.0 - zr * zr)
        n = np.where(y > 0, pr.body_squareness_posterior, 2.2)
        d_xy = sdf.superellipse2(x / s, y / s, w2, d2, n) * s
        cf = pr.endplate_central_fraction
        rho2 = (x / (cf * w2)) ** 2 + (y / (cf * d2)) ** 2
        dish = np.where(rho2 < 1.0, (1.0 - rho2) ** 2, 0.0)
        top = z - (hh - pr.endplate_concavity_superior * dish)
        bot = -z - (hh - pr.endplate_concavity_inferior * dish)
        return sdf.smax(d_xy, np.maximum(top, bot), pr.rim_radius)

    return f


def _oriented_box(centre, axes, half, radius):
    rot = np.column_stack(axes)

    def f(p):
        return sdf.round_box(sdf.to_local(p, centre, rot), half, radius)

    return f


def _ecapsule(a, b, half_w, half_h):
    def f(p):
        return sdf.elliptic_capsule(p, a, b, half_w, half_h)

    return f


def _part_fields(pr: VertebraParams) -> dict:
    lay = _layout(pr)
    parts = {"body": _body_field(pr)}
    for side, name in ((1, "left"), (-1, "right")):
        m = lambda v, s=side: _mirror(np.asarray(v, float), s)  # noqa: E731

        parts[f"pedicle.{name}"] = _ecapsule(
            m(lay.ped_a), m(lay.ped_b), pr.pedicle_width / 2, pr.pedicle_height / 2
        )
        e1, n, up = m(lay.lam_e1), m(lay.lam_n), m(lay.lam_up)
        if side < 0:
            n = n  # mirrored vectors keep their meaning; only handedness flips
        parts[f"lamina.{name}"] = _oriented_box(m(lay.lam_centre), (e1, n, up), lay.lam_half, 2.0)

        parts[f"transverse_process.{name}"] = _ecapsule(
            m(lay.tp_root),
            m(lay.tp_tip),
            (pr.tp_thickness / 2, pr.tp_thickness / 2 * 0.8),
            (pr.tp_height / 2, pr.tp_height / 2 * 0.7),
        )
        # superior articular process: a plate whose medial face is the joint surface,
        # oriented at the facet angle to the sagittal plane (REF §3d)
        th = np.radians(pr.sap_facet_deg)
        t = m(np.array([np.sin(th), np.cos(th), 0.0]))  # joint line, posterior-lateral
        nl = m(np.array([np.cos(th), -np.sin(th), 0.0]))  # away from the joint (lateral)
        sap_h = (pr.sap_top_z - lay.z_ped) / 2
        c = m(lay.sap_joint) + nl * 3.0 + np.array([0.0, 0.0, lay.z_ped + sap_h])
        parts[f"superior_articular_process.{name}"] = _oriented_box(
            c, (t, nl, np.array([0.0, 0.0, 1.0])), np.array([8.0, 3.0, sap_h]), 2.5
        )
        th = np.radians(pr.iap_facet_deg)
        t = m(np.array([np.sin(th), np.cos(th), 0.0]))
        nl = m(np.array([np.cos(th), -np.sin(th), 0.0]))
        iap_top = lay.lam_centre[2] - 2.0
        iap_h = (iap_top - pr.iap_bottom_z) / 2
        c = m(lay.iap_joint) - nl * 3.5 + np.array([0.0, 0.0, pr.iap_bottom_z + iap_h])
        parts[f"inferior_articular_process.{name}"] = _oriented_box(
            c, (t, nl, np.array([0.0, 0.0, 1.0])), np.array([7.0, 3.5, iap_h]), 3.0
        )

    sp_axis = lay.sp_tip - lay.sp_base
    sp_len = np.linalg.norm(sp_axis)
    sp_u = sp_axis / sp_len
    sp_c = (lay.sp_base + lay.sp_tip) / 2
    sp_plate = _oriented_box(
        sp_c,
        (np.array([1.0, 0.0, 0.0]), sp_u, np.cross([1.0, 0.0, 0.0], sp_u)),
        np.array([pr.sp_thickness / 2, sp_len / 2, pr.sp_height / 2]),
        2.5,
    )
    tip_c = lay.sp_tip - 5.0 * sp_u

    def sp(p):
        bulb = sdf.ellipsoid(p - tip_c, (pr.sp_tip_thickness / 2, 6.0, pr.sp_height / 2 * 0.95))
        return sdf.smin(sp_plate(p), bulb, 3.0)

    parts["spinous_process"] = sp
    return {k: parts[k] for k in VERTEBRA_PARTS}, lay


def vertebra_model(
    level: str, params: VertebraParams | None = None
) -> tuple[sdf.PartModel, _Layout]:
    """The part-labelled signed distance model of one vertebra (not meshed)."""
    pr = params if params is not None else vertebra_params(level)
    parts, lay = _part_fields(pr)
    canal_cy = lay.y_wall + pr.canal_depth / 2

    def combine(v):
        arch = sdf.smooth_union(
            3.0,
            v["pedicle.left"],
            v["pedicle.right"],
            v["lamina.left"],
            v["lamina.right"],
            v["superior_articular_process.left"],
            v["superior_articular_process.right"],
            v["inferior_articular_process.left"],
            v["inferior_articular_process.right"],
            v["transverse_process.left"],
            v["transverse_process.right"],
        )
        arch = sdf.smin(arch, v["spinous_process"], 3.0)
        return sdf.smin(v["body"], arch, 2.5)

    def canal(p):
        return sdf.ellipse2(p[:, 0], p[:, 1] - canal_cy, pr.canal_width / 2, pr.canal_depth / 2)

    model = sdf.PartModel(parts, combine, cut=canal, cut_radius=1.0)
    return model, lay


def _bounds(pr: VertebraParams, lay: _Layout) -> tuple[np.ndarray, np.ndarray]:
    x = max(pr.tp_span / 2, pr.body_width / 2) + 8
    lo = np.array([-x, -pr.body_depth / 2 - 6, min(pr.iap_bottom_z, -pr.body_ha / 2) - 8])
    hi = np.array([x, pr.body_depth / 2 + pr.sp_length + 10, max(pr.sap_top_z, pr.body_hp / 2) + 8])
    return lo, hi


def _landmarks(pr: VertebraParams, lay: _Layout) -> tuple[dict, dict]:
    d2 = pr.body_depth / 2
    ha2, hp2 = pr.body_ha / 2, pr.body_hp / 2
    hm = (pr.body_ha + pr.body_hp) / 4
    cc = np.array([0.0, lay.y_wall + pr.canal_depth / 2, lay.z_ped])
    lm = {
        "body_centre": np.zeros(3),
        "superior_endplate_centre": np.array([0.0, 0.0, hm - pr.endplate_concavity_superior]),
        "inferior_endplate_centre": np.array([0.0, 0.0, -hm + pr.endplate_concavity_inferior]),
        "superior_endplate_anterior": np.array([0.0, -d2, ha2]),
        "superior_endplate_posterior": np.array([0.0, d2, hp2]),
        "inferior_endplate_anterior": np.array([0.0, -d2, -ha2]),
        "inferior_endplate_posterior": np.array([0.0, d2, -hp2]),
        "canal_centre": cc,
        "canal_left": cc + np.array([pr.canal_width / 2, 0.0, 0.0]),
        "canal_right": cc - np.array([pr.canal_width / 2, 0.0, 0.0]),
        "canal_anterior": cc - np.array([0.0, pr.canal_depth / 2, 0.0]),
        "canal_posterior": cc + np.array([0.0, pr.canal_depth / 2, 0.0]),
        "pedicle_centre.left": lay.ped_mid.copy(),
        "pedicle_centre.right": _mirror(lay.ped_mid, -1),
        "transverse_tip.left": lay.tp_tip.copy(),
        "transverse_tip.right": _mirror(lay.tp_tip, -1),
    }
    return lm, {
        "canal_half_width_mm": pr.canal_width / 2,
        "canal_half_depth_mm": pr.canal_depth / 2,
    }


def _surface_landmarks(lm: dict, mesh, pr: VertebraParams, lay: _Layout) -> None:
    """Landmarks read off the mesh (tips and edges), so that they lie on the bone."""
    v = mesh.vertices
    mid = np.abs(v[:, 0]) < 2.0
    vm = v[mid]
    tip = vm[np.argmax(vm[:, 1])]
    lm["spinous_tip"] = tip
    near_tip = vm[vm[:, 1] > tip[1] - 6.0]
    lm["spinous_superior_edge_posterior"] = near_tip[np.argmax(near_tip[:, 2])]
    lm["spinous_inferior_edge_posterior"] = near_tip[np.argmin(near_tip[:, 2])]
    # lamina edges in the midline: the arch just behind the canal
    arch = vm[(vm[:, 1] > lay.y_canal_back - 1.0) & (vm[:, 1] < lay.y_canal_back + 8.0)]
    if len(arch):
        lm["lamina_superior_edge_midline"] = arch[np.argmax(arch[:, 2])]
        lm["lamina_inferior_edge_midline"] = arch[np.argmin(arch[:, 2])]


@lru_cache(maxsize=32)
def _build_cached(level: str, resolution_mm: float, params: VertebraParams) -> BoneMesh:
    model, lay = vertebra_model(level, params)
    lo, hi = _bounds(params, lay)
    mesh = sdf.mesh_field(model.field, lo, hi, resolution_mm)
    labels = model.labels(mesh.triangles_center)
    lm, measures = _landmarks(params, lay)
    _surface_landmarks(lm, mesh, params, lay)
    if params.costal_facet:
        # the 12th rib head articulates on the body just below the upper endplate, at the
        # pedicle root (T12 has a single full costal facet) [TU]
        cf = np.array(
            [params.body_width / 2 - 2.0, params.body_depth / 2 - 4.0, params.body_hp / 2 - 6.0]
        )
        lm["costal_facet.left"] = cf
        lm["costal_facet.right"] = _mirror(cf, -1)
    mesh.vertices.flags.writeable = False
    return BoneMesh(mesh, labels, VERTEBRA_PARTS, lm, measures)


def build_vertebra(
    level: str, resolution_mm: float = 0.7, params: VertebraParams | None = None
) -> BoneMesh:
    """Generate vertebra ``level`` (T12, L1–L5) as a labelled, watertight mesh.

    Parameters
    ----------
    level : str
        "T12", "L1", ..., "L5".
    resolution_mm : float
        Marching-cubes grid spacing; 0.7 gives ~40k triangles, 1.6 a coarse level of detail.
    params : VertebraParams, optional
        Shape parameters; the per-level defaults of :func:`vertebra_params` when omitted.

    Returns
    -------
    BoneMesh
        Mesh in the vertebra's local frame (mm), face labels, landmarks.
    """
    key = level.upper()
    if key not in LEVELS:
        raise ValidationError(f"vertebra level {level!r} is not modelled; expected one of {LEVELS}")
    if not (0.2 <= resolution_mm <= 5.0):
        raise ValidationError(f"resolution_mm must be within 0.2–5 mm, got {resolution_mm}")
    pr = params if params is not None else vertebra_params(key)
    bm = _build_cached(key, float(resolution_mm), pr)
    mesh = bm.mesh.copy()
    return BoneMesh(
        mesh,
        bm.face_labels.copy(),
        bm.part_names,
        {k: v.copy() for k, v in bm.landmarks.items()},
        dict(bm.measures),
    )
