"""Realism check: generated vertebrae against real ones (similarity ICP + surface distance).

The reference is the mean L2–L5 of the Clouthier 2023 statistical shape model (CT of 87
patients; ``shared/realmeshes/clouthier_ssm``, MIT). Only this module reads it, only to score the
generator; nothing here feeds the generator.

Metric: each generated vertebra is aligned to its real counterpart by a similarity transform
(rotation, translation, uniform scale) found by ICP from several starting poses; then points are
sampled evenly on both surfaces and the distance from each sample to the *other surface* is
computed (exact point-to-triangle distance). The mean symmetric surface distance is the mean over
both sample sets, the 95th percentile likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iddsanatomy.errors import DataNotFoundError, MeshLoadError, ValidationError

REAL_LEVELS: tuple[str, ...] = ("L2", "L3", "L4", "L5")


@dataclass(frozen=True)
class ComparisonRow:
    """One level's result: mean and 95th-percentile symmetric surface distance (mm) and the
    uniform scale applied to the generated vertebra."""

    level: str
    mean_mm: float
    p95_mm: float
    scale: float

    def __iter__(self):
        return iter((self.level, self.mean_mm, self.p95_mm, self.scale))


def load_clouthier(reference_dir) -> dict:
    """The four real mean vertebrae as trimeshes in LPS mm, keyed "L2".."L5".

    The files' frame is +x anterior, +z superior, y lateral (SOURCE.md); converted here to
    LPS (+x left, +y posterior, +z superior) with a proper rotation: x_lps = y, y_lps = -x.
    """
    import trimesh

    d = Path(reference_dir)
    vpath, fpath = d / "meanMesh_vertices.csv", d / "meanMesh_faces.csv"
    for p in (vpath, fpath):
        if not p.is_file():
            raise DataNotFoundError(f"Clouthier reference mesh file missing: {p}")
    try:
        v = np.loadtxt(vpath, delimiter=",", dtype=float)
        f = np.loadtxt(fpath, delimiter=",", dtype=np.int64) - 1
    except ValueError as exc:
        raise MeshLoadError("clouthier_ssm", str(d), f"not a vertex/face CSV pair: {exc}") from exc
    v_lps = np.column_stack([v[:, 1], -v[:, 0], v[:, 2]])
    mesh = trimesh.Trimesh(v_lps, f, process=False)
    parts = mesh.split(only_watertight=False)
    if len(parts) != 4:
        raise MeshLoadError(
            "clouthier_ssm", str(vpath), f"expected 4 connected vertebrae, found {len(parts)}"
        )
    parts = sorted(parts, key=lambda m: -m.centroid[2])  # L2 highest
    return dict(zip(REAL_LEVELS, parts, strict=True))


def _umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> np.ndarray:
    """4x4 similarity minimising sum |s R src + t - dst|^2 (Umeyama 1991), no reflection."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    r = u @ np.diag(d) @ vt
    var_s = (xs**2).sum() / len(src)
    s = (sig * d).sum() / var_s if with_scale else 1.0
    m = np.eye(4)
    m[:3, :3] = s * r
    m[:3, 3] = mu_d - s * r @ mu_s
    return m


def _apply(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ m[:3, :3].T + m[:3, 3]


def similarity_icp(
    src_pts: np.ndarray, dst_pts: np.ndarray, init: np.ndarray, iterations: int = 60
) -> tuple[np.ndarray, float]:
    """Symmetric similarity ICP of point set ``src_pts`` onto ``dst_pts`` from ``init`` (4x4).

    Each iteration pairs every source point with its nearest target point and every target point
    with its nearest source point (this symmetric pairing stops scale from collapsing), and solves
    for the best similarity. Returns the transform and the final mean pair distance (mm).
    """
    from scipy.spatial import cKDTree

    tree_d = cKDTree(dst_pts)
    m = init.copy()
    prev = np.inf
    err = np.inf
    for _ in range(iterations):
        s = _apply(m, src_pts)
        tree_s = cKDTree(s)
        d1, i1 = tree_d.query(s)
        d2, i2 = tree_s.query(dst_pts)
        a = np.vstack([src_pts, src_pts[i2]])
        b = np.vstack([dst_pts[i1], dst_pts])
        m = _umeyama(a, b)
        err = 0.5 * (d1.mean() + d2.mean())
        if abs(prev - err) < 1e-4:
            break
        prev = err
    return m, err


def _rot(axis: int, deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.eye(3)
    r[i, i] = c
    r[j, j] = c
    r[i, j] = -s
    r[j, i] = s
    return r


def align(generated, real, n_points: int = 6000, seed: int = 0) -> np.ndarray:
    """4x4 similarity that maps ``generated`` (trimesh) onto ``real`` (trimesh).

    Starting poses: centroids matched, scale from the RMS radius, and rotations about the
    left-right axis (lordotic tilt of the real vertebra) of -30..30° plus a 180° turn about z
    (front-back ambiguity of principal axes); the best ICP result wins.
    """
    rng = np.random.default_rng(seed)
    src = _even_samples(generated, n_points, rng)
    dst = _even_samples(real, n_points, rng)
    cs, cd = src.mean(0), dst.mean(0)
    s0 = np.sqrt(((dst - cd) ** 2).sum(1).mean() / ((src - cs) ** 2).sum(1).mean())
    best, best_err = None, np.inf
    for flip in (0.0, 180.0):
        for tilt in (-30.0, -15.0, 0.0, 15.0, 30.0):
            r = _rot(0, tilt) @ _rot(2, flip)
            m = np.eye(4)
            m[:3, :3] = s0 * r
            m[:3, 3] = cd - s0 * r @ cs
            m, err = similarity_icp(src, dst, m, iterations=40)
            if err < best_err:
                best, best_err = m, err
    best, _ = similarity_icp(src, dst, best, iterations=80)
    return best


def _even_samples(mesh, n: int, rng) -> np.ndarray:
    """``n`` points spread evenly by area over the surface (seeded, deterministic)."""
    import trimesh

    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=int(rng.integers(0, 2**31 - 1)))
    return np.asarray(pts)


def surface_distance(a, b, n_points: int = 20000, seed: int = 1) -> tuple[float, float]:
    """Mean and 95th percentile of the symmetric surface distance between meshes (mm)."""
    import trimesh

    rng = np.random.default_rng(seed)
    pa = _even_samples(a, n_points, rng)
    pb = _even_samples(b, n_points, rng)
    _, da, _ = trimesh.proximity.closest_point(b, pa)
    _, db, _ = trimesh.proximity.closest_point(a, pb)
    d = np.concatenate([da, db])
    return float(d.mean()), float(np.percentile(d, 95))


def compare_level(level: str, real_mesh, generated=None, resolution_mm: float = 0.9):
    """Align the generated ``level`` to ``real_mesh`` and measure; returns (row, aligned mesh)."""
    from iddsanatomy.anatomy.vertebra import build_vertebra

    gen = generated if generated is not None else build_vertebra(level, resolution_mm).mesh
    m = align(gen, real_mesh)
    moved = gen.copy()
    moved.apply_transform(m)
    mean, p95 = surface_distance(moved, real_mesh)
    scale = float(np.cbrt(np.linalg.det(m[:3, :3])))
    return ComparisonRow(level, mean, p95, scale), moved


def compare_vertebrae(reference_dir, resolution_mm: float = 0.9) -> list[ComparisonRow]:
    """Compare generated L2–L5 with the Clouthier mean L2–L5 in ``reference_dir``.

    Returns
    -------
    list of ComparisonRow
        (level, mean_mm, p95_mm, scale) per level, L2 to L5.
    """
    real = load_clouthier(reference_dir)
    return [compare_level(lv, real[lv], resolution_mm=resolution_mm)[0] for lv in REAL_LEVELS]


def format_table(rows) -> str:
    """A plain-text table of comparison rows."""
    lines = [f"{'level':<6}{'mean mm':>9}{'p95 mm':>9}{'scale':>8}"]
    for r in rows:
        lines.append(f"{r.level:<6}{r.mean_mm:>9.2f}{r.p95_mm:>9.2f}{r.scale:>8.3f}")
    return "\n".join(lines)


#: The [shape] parameters that :func:`tune_level` may move (step sizes, mm or degrees). The
#: literature numbers (body, pedicle, canal, laminar and facet angles) are never tuned.
TUNABLE_STEPS: dict[str, float] = dict(
    body_waist=0.03, body_waist_power=0.3, body_waist_depth_share=0.2,
    body_squareness_anterior=0.3, body_squareness_posterior=0.4, body_posterior_concavity=0.8,
    rim_radius=0.6, pedicle_length=2.0, pedicle_top_gap=1.0, lamina_sagittal_deg=4.0,
    lamina_top_z=1.5, lamina_top_lateral_z=1.5, lamina_bottom_z=1.5, sp_length=2.0,
    sp_top_base_z=1.5, sp_top_tip_z=1.5, sp_tip_height=1.5, sp_bottom_z=1.5, sp_bottom_y=2.0,
    sp_base_bottom_z=1.5, sp_half_thickness_top=0.4, sp_half_thickness_bottom=0.5,
    sp_bulb_radius=0.8, tp_height=1.0, tp_thickness=0.8, tp_root_y=1.5, tp_z=1.5,
    tp_back_deg=3.0, tp_up_deg=3.0, tp_span=3.0, sap_joint_x=1.0, sap_joint_y=1.0,
    iap_joint_x=1.0, iap_joint_y=1.0, iap_radius=0.6, sap_joint_radius=0.6, sap_thickness=0.8,
    sap_top_z=1.5, sap_arc_deg=15.0, sap_post_gap_deg=10.0, iap_top_z=2.0, iap_bottom_z=1.5,
    mammillary_radius=0.8,
)  # fmt: skip


#: The [shape] parameters that shape the interlaminar window, the interspinous gap and the facet
#: joints (whose table both partners share). :func:`tune_level` can hold them fixed, so that a
#: tuning for realism cannot close the windows that the morphometry (Sakçı 2018, REF §5) opens.
WINDOW_PARAMS: frozenset[str] = frozenset(
    {
        "lamina_sagittal_deg", "lamina_top_z", "lamina_top_lateral_z", "lamina_bottom_z",
        "sp_top_base_z", "sp_top_tip_z", "sp_tip_height", "sp_bottom_z", "sp_base_bottom_z",
        "sap_joint_x", "sap_joint_y", "iap_joint_x", "iap_joint_y", "iap_radius",
        "sap_joint_radius", "sap_top_z", "iap_top_z", "iap_bottom_z",
    }
)  # fmt: skip


def tune_level(
    level: str, reference_dir, rounds: int = 2, log=print, hold: frozenset[str] = frozenset()
) -> dict:
    """Coordinate descent on the [shape] parameters of one level against its real counterpart.

    This is how the per-level shape numbers in ``bone_params._SHAPE`` were found (developer
    tool; minutes per level). The real mesh only scores candidates: the generator never reads
    it. The cost is the symmetric mean distance plus 0.15 x its 95th percentile, on dense
    samples, with the similarity alignment refreshed after every round. Parameters named in
    ``hold`` (for example :data:`WINDOW_PARAMS`) keep their values.

    Returns
    -------
    dict
        The changed parameters, name -> value.
    """
    unknown = set(hold) - set(TUNABLE_STEPS)
    if unknown:
        raise ValidationError(
            f"tune_level: hold names {sorted(unknown)}, which are not tunable; expected names "
            f"from compare.TUNABLE_STEPS, e.g. {sorted(WINDOW_PARAMS)[:3]}"
        )
    import dataclasses

    import trimesh
    from scipy.spatial import cKDTree

    from iddsanatomy.anatomy import sdf
    from iddsanatomy.anatomy.bone_params import vertebra_params
    from iddsanatomy.anatomy.vertebra import _bounds, vertebra_model

    real = load_clouthier(reference_dir)[level]
    rs, _ = trimesh.sample.sample_surface(real, 30000, seed=1)
    tree_r = cKDTree(rs)

    def mesh_of(pr):
        model, lay = vertebra_model(level, pr)
        lo, hi = _bounds(pr, lay)
        return sdf.mesh_field(model.field, lo, hi, 1.0)

    def cost(pr, m):
        g = mesh_of(pr)
        g.apply_transform(m)
        gs, _ = trimesh.sample.sample_surface(g, 30000, seed=2)
        d = np.concatenate([tree_r.query(gs)[0], cKDTree(gs).query(rs)[0]])
        return d.mean() + 0.15 * np.percentile(d, 95)

    start = vertebra_params(level)
    pr = start
    m = align(mesh_of(pr), real, n_points=5000)
    best = cost(pr, m)
    steps = {k: v for k, v in TUNABLE_STEPS.items() if k not in hold}
    for r in range(rounds):
        for k, st in steps.items():
            for sgn in (1.0, -1.0):
                cand = dataclasses.replace(pr, **{k: getattr(pr, k) + sgn * st})
                try:
                    c = cost(cand, m)
                except Exception:  # a candidate that does not mesh is simply worse
                    continue
                if c < best - 1e-4:
                    best, pr = c, cand
                    break
        m = align(mesh_of(pr), real, n_points=5000)
        best = cost(pr, m)
        log(f"{level} round {r}: cost {best:.3f}")
        steps = {k: v * 0.7 for k, v in steps.items()}
    return {
        k: round(float(getattr(pr, k)), 3)
        for k in TUNABLE_STEPS
        if getattr(pr, k) != getattr(start, k)
    }
