"""Soft tissue of the default anatomy: discs, neural axis, dura, ligaments, fat, muscle, skin.

Most soft tissue follows the spinal canal, so it is modelled in *canal coordinates*: a smooth
centre line through the canal of every vertebra (a cubic spline through A1's ``canal_centre``
landmarks, posed in LPS) gives for any point ``p`` its arc length ``s`` along the canal (mm, up),
its offset ``v`` along the posterior normal (mm, +posterior) and its lateral offset ``x`` (LPS x).
Each structure is a signed distance field written in those coordinates from the per-level
numbers of :mod:`soft_params`, meshed by marching cubes, and trimmed with robust booleans
(manifold3d) against the bones and the structures that take precedence over it, so that no
soft tissue overlaps a bone and each disc's surface *is* its endplates.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy import sdf
from iddsanatomy.anatomy import soft_params as sp
from iddsanatomy.anatomy.variant import position_units

# --------------------------------------------------------------------------------------------
# mesh helpers
# --------------------------------------------------------------------------------------------


def to_manifold(mesh):
    """A manifold3d solid from a watertight trimesh."""
    import manifold3d as m3d

    return m3d.Manifold(
        m3d.Mesh(
            vert_properties=np.asarray(mesh.vertices, dtype=np.float32),
            tri_verts=np.asarray(mesh.faces, dtype=np.uint32),
        )
    )


def from_manifold(man):
    """A trimesh from a manifold3d solid (watertight, outward normals)."""
    import trimesh

    m = man.to_mesh()
    return trimesh.Trimesh(
        np.asarray(m.vert_properties[:, :3], dtype=float), np.asarray(m.tri_verts), process=False
    )


def subtract(mesh, cutters, min_volume_mm3: float = 1.0, keep_largest: bool = False):
    """``mesh`` minus the union of ``cutters`` (trimeshes), dropping crumbs below "
    "``min_volume_mm3``."""
    if mesh is None or len(mesh.faces) == 0:
        return mesh
    man = to_manifold(mesh)
    lo, hi = mesh.bounds
    for c in cutters:
        if c is None:
            continue
        clo, chi = c.bounds
        if np.any(clo > hi) or np.any(chi < lo):
            continue  # cannot touch
        man = man - (c if not hasattr(c, "faces") else to_manifold(c))
    out = from_manifold(man)
    return clean_components(out, min_volume_mm3, keep_largest)


def signed_volume(mesh) -> float:
    """Signed volume (mm³) by the divergence theorem (no warnings on degenerate pieces)."""
    t = mesh.triangles
    return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def clean_components(mesh, min_volume_mm3: float = 1.0, keep_largest: bool = False):
    """Drop tiny pieces (booleans leave crumbs); optionally keep only the largest piece."""
    import trimesh

    if len(mesh.faces) == 0:
        return mesh
    parts = mesh.split(only_watertight=False)
    if len(parts) <= 1:
        return mesh
    vols = np.array([abs(signed_volume(p)) for p in parts])
    if keep_largest:
        return parts[int(np.argmax(vols))]
    keep = [p for p, v in zip(parts, vols, strict=True) if v >= min_volume_mm3]
    return trimesh.util.concatenate(keep) if keep else mesh


def _mesh(field, lo, hi, spacing, keep_largest=True):
    m = sdf.mesh_field(field, lo, hi, spacing, keep_largest=keep_largest)
    return m


def simplify(mesh, tolerance_mm: float):
    """A copy with fewer triangles that stays within ``tolerance_mm`` of ``mesh`` (manifold3d).

    Marching cubes makes many more triangles than the shape needs; manifold3d's simplification
    merges them while keeping the solid watertight. A mesh that is not watertight is returned
    unchanged (it cannot become a manifold solid).
    """
    if mesh is None or len(mesh.faces) == 0 or not mesh.is_watertight:
        return mesh
    out = from_manifold(to_manifold(mesh).simplify(float(tolerance_mm)))
    return out if len(out.faces) else mesh


#: How far the interspinous ligaments reach into the supraspinous ligament (mm) [shape].
ISL_SSL_OVERLAP_MM = 0.6

#: Surface tolerance of the shipped full-detail meshes and of the coarse level of detail (mm).
FULL_TOLERANCE_MM = 0.05
COARSE_TOLERANCE_MM = 0.4


def decimate(mesh, _target_faces: int = 0, tolerance_mm: float = COARSE_TOLERANCE_MM):
    """The coarse level of detail of ``mesh`` (for camera motion)."""
    return simplify(mesh, tolerance_mm)


# --------------------------------------------------------------------------------------------
# canal coordinates
# --------------------------------------------------------------------------------------------
class SpineCurve:
    """A smooth midline curve in the sagittal plane (x = 0) with arc length and normals.

    Parameters
    ----------
    knots_lps : (m, 3) float, mm
        Points bottom to top (x is ignored: the default spine is symmetric).
    step_mm : float
        Spacing of the dense samples.
    """

    def __init__(self, knots_lps: np.ndarray, step_mm: float = 0.5):
        from scipy.interpolate import CubicSpline
        from scipy.spatial import cKDTree

        k = np.asarray(knots_lps, float)[:, 1:]
        chord = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(k, axis=0), axis=1))]
        cs = CubicSpline(chord, k, bc_type="natural")
        t = np.linspace(0, chord[-1], int(chord[-1] / 0.1) + 1)
        dense = cs(t)
        arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))]
        n = int(arc[-1] / step_mm) + 1
        s = np.linspace(0.0, arc[-1], n)
        yz = np.column_stack([np.interp(s, arc, dense[:, 0]), np.interp(s, arc, dense[:, 1])])
        tan = np.gradient(yz, axis=0)
        tan /= np.linalg.norm(tan, axis=1)[:, None]
        self.s = s
        self.yz = yz
        self.tan = tan  # (ty, tz), pointing up the spine
        self.nrm = np.column_stack([tan[:, 1], -tan[:, 0]])  # posterior normal
        self.tree = cKDTree(yz)

    def coords(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, s, v) of points ``p`` ((n, 3) LPS mm)."""
        p = np.asarray(p, float)
        _, i = self.tree.query(p[:, 1:])
        d = p[:, 1:] - self.yz[i]
        s = self.s[i] + np.einsum("ij,ij->i", d, self.tan[i])
        v = np.einsum("ij,ij->i", d, self.nrm[i])
        return p[:, 0], s, v

    def point(self, s, v=0.0, x=0.0) -> np.ndarray:
        """LPS points at arc length ``s`` with posterior offset ``v`` and lateral ``x``."""
        s = np.atleast_1d(np.asarray(s, float))
        v = np.broadcast_to(np.asarray(v, float), s.shape)
        x = np.broadcast_to(np.asarray(x, float), s.shape)
        y = np.interp(s, self.s, self.yz[:, 0]) + v * np.interp(s, self.s, self.nrm[:, 0])
        z = np.interp(s, self.s, self.yz[:, 1]) + v * np.interp(s, self.s, self.nrm[:, 1])
        # linear extension beyond the ends
        lo, hi = self.s[0], self.s[-1]
        y = (
            y
            + np.where(s < lo, (s - lo) * self.tan[0, 0], 0)
            + np.where(s > hi, (s - hi) * self.tan[-1, 0], 0)
        )
        z = (
            z
            + np.where(s < lo, (s - lo) * self.tan[0, 1], 0)
            + np.where(s > hi, (s - hi) * self.tan[-1, 1], 0)
        )
        return np.column_stack([x, y, z])

    def s_of(self, p_lps) -> float:
        """Arc length of the point nearest to ``p_lps`` ((3,) mm)."""
        return float(self.coords(np.atleast_2d(p_lps))[1][0])

    def bounds(self, s_lo: float, s_hi: float, v_lo: float, v_hi: float, x_half: float):
        """An LPS box that holds the canal-coordinate box given."""
        ss = np.linspace(s_lo, s_hi, 60)
        pts = np.vstack([self.point(ss, v) for v in (v_lo, v_hi)])
        lo = pts.min(0)
        hi = pts.max(0)
        lo[0], hi[0] = -x_half, x_half
        return lo - 2.0, hi + 2.0


class Profile:
    """Piecewise-linear functions of arc length ``s`` from values at knots."""

    def __init__(self, s_knots, **values):
        self.s = np.asarray(s_knots, float)
        order = np.argsort(self.s)
        self.s = self.s[order]
        self.v = {k: np.asarray(v, float)[order] for k, v in values.items()}

    def __call__(self, name: str, s):
        return np.interp(s, self.s, self.v[name])


# --------------------------------------------------------------------------------------------
# level units (REF §8 convention: thirds of bodies and discs)
# --------------------------------------------------------------------------------------------
SPINE_ORDER = ("T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1", "S2", "S3", "S4", "S5")


def unit_table(
    landmarks: dict[str, np.ndarray], curve: SpineCurve
) -> tuple[np.ndarray, np.ndarray]:
    """(units, s) pairs: body tops/bottoms and sacral segment borders along the canal.

    Each vertebral body is three units (upper, middle, lower third) and each disc one unit,
    counted from the top of T11 as in :func:`iddsanatomy.anatomy.variant.position_units`.
    """
    units, svals = [], []
    for i, lv in enumerate(SPINE_ORDER):
        top = landmarks.get(f"{lv}.superior_endplate_centre")
        bot = landmarks.get(f"{lv}.inferior_endplate_centre")
        if top is not None and bot is not None:
            units += [4 * i, 4 * i + 3]
            svals += [curve.s_of(top), curve.s_of(bot)]
    # sacral segments: S1 from its endplate; S(k) starts halfway between the segment centres
    lv_pts = [landmarks.get(f"S1.s{k}_level") for k in range(1, 6)]
    if all(p is not None for p in lv_pts):
        s_c = [curve.s_of(p) for p in lv_pts]
        tops = [curve.s_of(landmarks["S1.s1_superior_endplate_centre"])]
        tops += [0.5 * (s_c[k - 1] + s_c[k]) for k in range(1, 5)]
        tops.append(s_c[4] - (s_c[3] - s_c[4]) / 2)
        for k in range(5):
            units.append(4 * (7 + k))
            svals.append(tops[k])
        units.append(4 * 12)
        svals.append(tops[5])
    order = np.argsort(units)
    return np.asarray(units, float)[order], np.asarray(svals, float)[order]


def s_at_units(units: float, table) -> float:
    u, s = table
    return float(np.interp(units, u, s))


def units_at_s(s: float, table) -> float:
    u, sv = table
    order = np.argsort(sv)
    return float(np.interp(s, sv[order], u[order]))


# --------------------------------------------------------------------------------------------
# tubes along polylines
# --------------------------------------------------------------------------------------------
def tubes_field(polylines: list[np.ndarray], radii: list[float], step: float = 0.2):
    """Union of round tubes along polylines ((k, 3) LPS mm), radius per tube; flat-ish ends."""
    from scipy.spatial import cKDTree

    pts, rad = [], []
    for line, r in zip(polylines, radii, strict=True):
        seg = np.diff(line, axis=0)
        for a, d in zip(line[:-1], seg, strict=True):
            n = max(int(np.linalg.norm(d) / step), 1)
            t = np.linspace(0, 1, n, endpoint=False)[:, None]
            pts.append(a + t * d)
            rad.append(np.full(n, r))
        pts.append(line[-1:])
        rad.append(np.array([r]))
    pts = np.vstack(pts)
    rad = np.concatenate(rad)
    tree = cKDTree(pts)

    def f(p):
        d, i = tree.query(p, k=1)
        return d - rad[i]

    return f, pts.min(0) - max(radii) - 2, pts.max(0) + max(radii) + 2


def canal_knots(landmarks: dict[str, np.ndarray]) -> tuple[list[np.ndarray], list[str]]:
    """Knots of the canal centre line, bottom to top, from LPS landmarks, with their names.

    S3 and S2 lie in the sacral canal (offset posteriorly from the sacral anterior-column points
    ``S1.s2_level`` … as A1's sacrum hollows its canal), S1 is ``S1.s1_canal_centre``, L5 … T12
    their ``canal_centre``, and "T11" extends the line 45 mm above T12 along T12's axis.
    """
    lv = [np.asarray(landmarks[f"S1.s{k}_level"], float) for k in range(1, 6)]
    can1 = np.asarray(landmarks["S1.s1_canal_centre"], float)
    off1 = float(np.linalg.norm(can1 - lv[0]))
    knots, names = [], []
    if all(f"S{k}.canal_centre" in landmarks for k in (1, 2, 3)):
        for k in (3, 2, 1):
            knots.append(np.asarray(landmarks[f"S{k}.canal_centre"], float))
            names.append(f"S{k}")
        return _lumbar_knots(landmarks, knots, names)
    for k in (3, 2):
        tvec = lv[k] - lv[k - 2]
        tvec = tvec / np.linalg.norm(tvec)
        nvec = np.array([0.0, -tvec[2], tvec[1]])
        if nvec[1] < 0:
            nvec = -nvec
        frac = k / 5.0
        knots.append(lv[k - 1] + nvec * (off1 - 2.0 * frac))
        names.append(f"S{k}")
    knots.append(can1)
    names.append("S1")
    return _lumbar_knots(landmarks, knots, names)


def _lumbar_knots(landmarks, knots, names):
    below = "S1"
    for level in ("L5", "L4", "L3", "L2", "L1", "T12"):
        seg = f"{level}-{below}"
        if f"{seg}.canal_centre" in landmarks:  # centred in the interspace by the generator
            knots.append(np.asarray(landmarks[f"{seg}.canal_centre"], float))
            names.append(seg)
        knots.append(np.asarray(landmarks[f"{level}.canal_centre"], float))
        names.append(level)
        below = level
    axis = np.asarray(landmarks["T12.superior_endplate_centre"], float) - np.asarray(
        landmarks["T12.inferior_endplate_centre"], float
    )
    knots.append(knots[-1] + 45.0 * axis / np.linalg.norm(axis))
    names.append("T11")
    return knots, names


def canal_curve(landmarks: dict[str, np.ndarray]) -> SpineCurve:
    """The canal centre line of an anatomy from its landmarks (see :func:`canal_knots`)."""
    return SpineCurve(np.asarray(canal_knots(landmarks)[0]))


def _canal_half_depth(name: str, sac_fit) -> float:
    """Half the canal depth (mm) at a named knot (a vertebra's parameter or the sacral fit)."""
    from iddsanatomy.anatomy.bone_params import vertebra_params

    if name in sac_fit:
        return float(sac_fit[name][2])
    return vertebra_params(name).canal_depth / 2


def _fit_sacral_canal(
    sacrum, start, direction, sacrum_from_lps=None, step_mm: float = 5.0, max_mm: float = 110.0
):
    """Follow the canal from the L5 canal centre down into the sacrum, measuring it on the mesh.

    From each point, rays along ±x and along ± the sagittal normal find the canal walls on the
    sacrum mesh; where both pairs are found (inside the sacral canal) the point moves to the middle
    of the chords and the direction follows the canal. Returns the centre, half-width and
    half-depth (mm) at three stations 0, 20 and 40 mm below the canal's entry into the sacrum,
    as ``{"S1": ..., "S2": ..., "S3": ...}``. The marching does not depend on A1's internal
    sacrum parameters, only on its surface.
    """
    from iddsanatomy.anatomy.measure import first_hit

    p = np.asarray(start, float).copy()
    t = np.asarray(direction, float) / np.linalg.norm(direction)
    found: list[tuple[np.ndarray, float, float]] = []
    travelled = 0.0
    while travelled < max_mm:
        p = p + step_mm * t
        travelled += step_mm
        n = np.array([0.0, t[2], -t[1]])
        if n[1] < 0:
            n = -n
        below_s1 = sacrum_from_lps is None or geometry.apply(sacrum_from_lps, p)[2] < -3.0
        fp, fa = first_hit(sacrum, p, n), first_hit(sacrum, p, -n)
        fl, fr = first_hit(sacrum, p, (1.0, 0, 0)), first_hit(sacrum, p, (-1.0, 0, 0))
        # inside the canal: walls all round, and below the S1 endplate (not between the S1
        # articular processes above it)
        if not below_s1 or not all(np.isfinite(v) and v < 30.0 for v in (fp, fa, fl, fr)):
            if found:
                break  # left the canal (the hiatus)
            continue
        c = p + n * (fp - fa) / 2 + np.array([(fl - fr) / 2, 0.0, 0.0])
        if found:
            t_new = c - found[-1][0]
            t = 0.5 * t + 0.5 * t_new / np.linalg.norm(t_new)
            t /= np.linalg.norm(t)
        found.append((c, (fl + fr) / 2, (fp + fa) / 2))
        p = c
    if not found:
        raise RuntimeError("could not find the sacral canal on the sacrum mesh")
    arc = np.r_[0.0, np.cumsum([np.linalg.norm(b[0] - a[0]) for a, b in itertools.pairwise(found)])]
    out = {}
    for name, at in (("S1", 3.0), ("S2", 23.0), ("S3", 43.0)):
        j = int(np.argmin(np.abs(arc - min(at, arc[-1]))))
        out[name] = found[j]
    return out


def ray_entry(origin, direction, t_max: float, surface_v, back: SpineCurve, step: float = 0.05):
    """Distance (mm) along ``origin + t·direction`` at which the ray first passes in front of the
    surface ``v = surface_v(s)`` of the back coordinates ``back`` (NaN if it never does)."""
    t = np.arange(0.0, float(t_max), step)
    _, s, v = back.coords(np.asarray(origin, float) + t[:, None] * np.asarray(direction, float))
    gap = v - surface_v(s)
    inside = gap <= 0.0
    if not inside.any():
        return float("nan")
    i = int(np.argmax(inside))
    if i == 0:
        return 0.0
    return float(t[i - 1] + step * gap[i - 1] / (gap[i - 1] - gap[i]))


def smooth_skin_profile(
    floor_base,
    floor_extra: float,
    s_knots,
    b_knots,
    s_lo: float,
    s_hi: float,
    step_mm: float = 0.5,
    iterations: int = 40,
):
    """The skin's profile along the back: smooth, through the wanted knots, over the floor.

    Parameters
    ----------
    floor_base : callable
        ``s -> v`` (mm): the front of the supraspinous ligament along the back curve. The skin
        must stay ``floor_extra`` behind it (ligament, thinnest fat and skin thickness).
    floor_extra : float
        mm added to ``floor_base`` to make the floor ``F(s)``.
    s_knots, b_knots : sequence of float
        Arc lengths (mm, increasing) and the profile wanted there (mm): where each interspace's
        midline needle path must cross the skin for Ravi's depth.
    s_lo, s_hi : float
        The range of arc length to tabulate (mm).
    step_mm : float
        Grid step (mm).
    iterations : int
        Calibration passes.

    Returns
    -------
    s, b : ndarray
        The grid and the profile on it. ``b`` is a Gaussian-smoothed curve (no kinks, no steps),
        ``b ≥ F − 0.1 mm`` everywhere (the spinous tips never come through), and ``b`` passes
        within 0.1 mm of every knot whose wish lies above the floor there; where it does not
        (Ravi's line asks for less than the thinnest fat), the profile rests on the floor.

    Notes
    -----
    The profile is ``smooth(F) + offset``, where the offset is a Gaussian-smoothed
    piecewise-linear function of the knots (constant beyond the end knots); a smooth upper
    envelope (repeated ``max`` with the floor and Gaussian smoothing) lifts it over the spinous
    tips, and the knot values of the offset are corrected until the profile meets the wishes.
    Every step is a smoothing of continuous functions, so the result is C∞ at the grid's scale,
    unlike an offset interpolated between knots and added to the bumpy ligament line.
    """
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    if s_hi <= s_lo:
        raise ValueError(f"smooth_skin_profile: s_hi ({s_hi}) must exceed s_lo ({s_lo})")
    sk = np.asarray(s_knots, float)
    bk = np.asarray(b_knots, float)
    if sk.shape != bk.shape or (len(sk) > 1 and np.any(np.diff(sk) <= 0)):
        raise ValueError(
            f"smooth_skin_profile: knots must be matching increasing sequences, got s={sk}, b={bk}"
        )
    s = np.arange(s_lo, s_hi + step_mm, step_mm)
    floor = np.asarray(floor_base(s), float) + floor_extra
    sig_base = sp.SKIN_BASE_SMOOTH_MM / step_mm
    sig_off = sp.SKIN_OFFSET_SMOOTH_MM / step_mm
    sig_env = sp.SKIN_ENVELOPE_SMOOTH_MM / step_mm
    base = gaussian_filter1d(floor, sig_base, mode="nearest")
    if len(sk) == 0:
        offset_k = np.array([sp.MIN_FAT_MM + 6.0])
        sk_use = np.array([0.5 * (s_lo + s_hi)])
    else:
        offset_k = bk - np.interp(sk, s, base)
        sk_use = sk
    f_at_k = np.interp(sk, s, floor) if len(sk) else np.zeros(0)
    margin = 0.1

    # the floor rounded: dilated by the rounding scale, then Gaussian-smoothed, then lifted by
    # whatever the smoothing left below the floor (so the tips never come through the skin)
    half = max(round(sig_env), 1)

    def rounded(f):
        return gaussian_filter1d(maximum_filter1d(f, 2 * half + 1), sig_env, mode="nearest")

    floor_s = rounded(floor)
    for _ in range(20):
        deficit = np.maximum(floor + margin - floor_s, 0.0)
        if not np.any(deficit > 0.02):
            break
        floor_s = floor_s + rounded(deficit)

    def profile(off_k):
        off = np.interp(s, sk_use, off_k) if len(sk_use) > 1 else np.full_like(s, off_k[0])
        b = base + gaussian_filter1d(off, sig_off, mode="nearest")
        return sdf.smax(b, floor_s, sp.SKIN_FLOOR_BLEND_MM)

    want = np.maximum(bk, np.interp(sk, s, floor_s) + 0.1) if len(sk) else bk

    b = profile(offset_k)
    if len(sk):
        lowest = f_at_k - np.interp(sk, s, base) - 15.0
        for _ in range(iterations):
            r = want - np.interp(sk, s, b)
            if np.all(np.abs(r) < 0.03):
                break
            offset_k = np.maximum(offset_k + r, lowest)
            b = profile(offset_k)
    return s, b


# --------------------------------------------------------------------------------------------
# the builder
# --------------------------------------------------------------------------------------------
def _lps(frames, level, p):
    return geometry.apply(frames[level], p)


def build_soft_tissue(layout, bones_local, parts, landmarks, fast=False, log=print, t0=None):
    """Build every soft-tissue structure.

    Parameters
    ----------
    layout : assembly.SpineLayout
    bones_local : dict
        Level -> BoneMesh in its local frame (T12 … L5, ``S1`` the sacrum).
    parts : dict
        The bone Parts already built (LPS meshes), by id.
    landmarks : dict
        Bone landmarks in LPS (``L3.canal_centre`` …).

    Returns
    -------
    list of Part, dict of landmarks, dict of info
    """
    from iddsanatomy.anatomy.assembly import COLORS, Part
    from iddsanatomy.anatomy.bone_params import vertebra_params
    from iddsanatomy.anatomy.variant import CONUS_DEFAULT, SAC_END_DEFAULT

    t0 = t0 if t0 is not None else time.perf_counter()
    frames = layout.lps_from_level
    f = 1.6 if fast else 1.0  # resolution factor
    out: list[Part] = []
    lms: dict[str, np.ndarray] = {}
    info: dict = {}

    def done(name):
        log(f"[build] {name} ({time.perf_counter() - t0:.1f} s)")

    bone_meshes = {k: p.mesh for k, p in parts.items() if p.tissue == "bone" and p.parent is None}
    vert_mesh = {lv: bone_meshes[lv] for lv in sp.VERTEBRAE}
    vert_mesh["S1"] = bone_meshes["sacrum"]
    spine_bones = [vert_mesh[k] for k in (*sp.VERTEBRAE, "S1")]
    all_bones = list(bone_meshes.values())
    all_bones_man = None

    def bones_union():
        nonlocal all_bones_man
        if all_bones_man is None:
            import manifold3d as m3d

            all_bones_man = m3d.Manifold.batch_boolean(
                [to_manifold(m) for m in all_bones], m3d.OpType.Add
            )
        return all_bones_man

    # ---------------------------------------------------------------- discs
    for seg, d in layout.discs.items():
        upper, lower = d.upper, d.lower
        u_from_lps = np.linalg.inv(frames[upper])
        l_from_lps = np.linalg.inv(frames[lower])
        pu = vertebra_params(upper)
        if lower == "S1":
            sac = bones_local["S1"].mesh.vertices
            top = sac[(sac[:, 2] > -3.0) & (np.abs(sac[:, 1]) < 25)]
            w2_l = float(np.percentile(np.abs(top[:, 0]), 99.5))
            ys = top[np.abs(top[:, 0]) < 5, 1]
            d2_l, yc_l = float((ys.max() - ys.min()) / 2), float((ys.max() + ys.min()) / 2)
            sup_l = np.eye(4)
        else:
            pl = vertebra_params(lower)
            w2_l, d2_l, yc_l = pl.body_width / 2, pl.body_depth / 2, 0.0
            from iddsanatomy.anatomy.assembly import _endplate_frames

            sup_l, _ = _endplate_frames(pl)
        from iddsanatomy.anatomy.assembly import _endplate_frames

        _, inf_u = _endplate_frames(pu)
        sup_l_from_lps = np.linalg.inv(sup_l) @ l_from_lps
        inf_u_from_lps = np.linalg.inv(inf_u) @ u_from_lps
        gap = 0.5 * (d.anterior_mm + d.posterior_mm)

        from iddsanatomy.anatomy.vertebra import vertebra_model

        body_u = vertebra_model(upper)[0].parts["body"]
        body_l = None if lower == "S1" else vertebra_model(lower)[0].parts["body"]

        def disc_field(
            p,
            a=sup_l_from_lps,
            b=inf_u_from_lps,
            gap=gap,
            body_u=body_u,
            body_l=body_l,
            l_from_sup=sup_l,
            u_from_inf=inf_u,
            w2_l=w2_l,
            d2_l=d2_l,
            yc_l=yc_l,
        ):
            ql = geometry.apply(a, p)
            qu = geometry.apply(b, p)
            zl = ql[:, 2]  # height above the lower endplate's rim plane
            zu = qu[:, 2]  # height relative to the upper inferior rim plane (< 0 in the disc)
            t = np.clip(zl / np.maximum(zl - zu, 1e-6), 0.0, 1.0)
            # each body's own outline, read 3 mm inside the bone from its endplate rim plane
            # (waist, squareness and the concave posterior wall all come from A1's field)
            ql3 = ql.copy()
            ql3[:, 2] = -3.0
            qu3 = qu.copy()
            qu3[:, 2] = 3.0
            if body_l is not None:
                dl = body_l(geometry.apply(l_from_sup, ql3))
            else:
                dl = sdf.superellipse2(ql[:, 0], ql[:, 1] - yc_l, w2_l, d2_l, 2.6)
            du = body_u(geometry.apply(u_from_inf, qu3))
            outline = (1 - t) * dl + t * du
            mid = np.clip(zl / max(gap, 1e-3), 0.0, 1.0)
            bulge = sp.DISC_BULGE_MM * 4 * mid * (1 - mid)
            into_bone = np.maximum(0.0, -zl) + np.maximum(0.0, zu)
            outline = outline - bulge + into_bone
            slab = np.maximum(-zl - 2.5, zu - 2.5)
            return np.maximum(outline, slab)

        c = 0.5 * (frames[upper][:3, 3] + frames[lower][:3, 3])
        r = max(pu.body_width, 2 * w2_l) / 2 + 6
        lo, hi = c - r, c + r
        raw = _mesh(disc_field, lo, hi, 0.8 * f)
        disc = subtract(raw, [vert_mesh[upper], vert_mesh[lower]], keep_largest=True)
        out.append(
            Part(
                f"disc.{seg}",
                "disc",
                f"{seg} intervertebral disc",
                "The fibrocartilage cushion between two vertebral bodies; it lies in front of "
                "the canal, so a midline needle never meets it.",
                disc,
                None,
                seg,
                COLORS["disc"],
            )
        )
    done("discs")

    # ---------------------------------------------------------------- canal curve and profiles
    knots, names = canal_knots(landmarks)
    # the sacral canal is measured on the sacrum mesh (ray casts from the estimated centre), so
    # that the dura follows A1's canal whatever its shape; stored as S1/S2/S3.canal_centre
    l5c = np.asarray(landmarks["L5.canal_centre"], float)
    l5_axis = frames["L5"][:3, 2]
    sac_fit = _fit_sacral_canal(vert_mesh["S1"], l5c, -l5_axis, np.linalg.inv(frames["S1"]))
    for name, (centre, _hw, _hd) in sac_fit.items():
        knots[names.index(name)] = centre
        lms[f"{name}.canal_centre"] = centre
    # an extra knot in each interspace, centred front-to-back between the disc (and the bodies'
    # corners) and the laminae, so that the canal line follows the lumbosacral bend instead of
    # cutting across a corner
    discs = {p.id[5:]: p.mesh for p in out if p.tissue == "disc"}
    inter = {}
    for i in range(len(names) - 1, 0, -1):
        lower, upper = names[i - 1], names[i]
        if upper not in sp.VERTEBRAE:
            continue
        seg = f"{upper}-{lower}"
        if seg not in discs:
            continue
        import trimesh

        from iddsanatomy.anatomy.measure import first_hit

        walls = trimesh.util.concatenate([vert_mesh[upper], vert_mesh[lower], discs[seg]])
        c = 0.5 * (knots[i - 1] + knots[i])
        t = knots[i] - knots[i - 1]
        t /= np.linalg.norm(t)
        n = np.array([0.0, t[2], -t[1]])
        if n[1] < 0:
            n = -n
        fa = first_hit(walls, c, -n)
        # the window behind is open (only ligament), so place the canal by its front wall (the
        # disc and the bodies' posterior corners) at the neighbours' mean depth
        hd_i = 0.5 * (_canal_half_depth(names[i - 1], sac_fit) + _canal_half_depth(upper, sac_fit))
        if np.isfinite(fa) and fa < 30:
            c = c - n * fa + n * hd_i
            inter[seg] = (i, c, hd_i)
    for seg, (i, c, _hd) in sorted(inter.items(), key=lambda kv: -kv[1][0]):
        knots.insert(i, c)
        names.insert(i, seg)
        lms[f"{seg}.canal_centre"] = c
    hw, hd, tap, tw = [], [], [], []
    for name in names:
        if "-" in name:  # interspace knot: sizes between its two vertebrae (filled in below)
            hw.append(np.nan)
            hd.append(inter[name][2])
            tap.append(np.nan)
            tw.append(np.nan)
        elif name in sp.VERTEBRAE or name == "T11":
            pr = vertebra_params(name if name != "T11" else "T12")
            hw.append(pr.canal_width / 2)
            hd.append(pr.canal_depth / 2)
            key = name if name != "T11" else "T12"
            tap.append(sp.THECAL_AP_MM[key])
            tw.append(sp.THECAL_WIDTH_MM[key])
        else:  # sacral canal, as measured on the mesh
            _c, hw_s, hd_s = sac_fit[name]
            hw.append(hw_s)
            hd.append(hd_s)
            # the sac fills the sacral canal less tightly than the lumbar one (more fat) [shape]
            tap.append(min(sp.THECAL_AP_MM["S1"], 2 * hd_s - 5.0))
            tw.append(min(sp.THECAL_WIDTH_MM["S1"], 2 * hw_s - 5.0))
    curve = SpineCurve(np.asarray(knots))
    s_k = [curve.s_of(k) for k in knots]
    for arr in (hw, tap, tw):  # interspace knots take the mean of their neighbours
        for i, name in enumerate(names):
            if "-" in name:
                arr[i] = 0.5 * (arr[i - 1] + arr[i + 1])
    prof = Profile(s_k, hw=hw, hd=hd, tap=tap, tw=tw)
    s_level = dict(zip(names, s_k, strict=True))
    s_top = s_level["T11"] - 5.0
    table = unit_table(landmarks, curve)

    # ---------------------------------------------------------------- dura, CSF, cord
    s_end = s_at_units(position_units(SAC_END_DEFAULT) + 0.5, table)
    s_tip = s_at_units(position_units(CONUS_DEFAULT) + 0.5, table)
    taper_end = 14.0

    def v_dura_centre(s):
        return -prof("hd", s) + sp.ANTERIOR_EPIDURAL_MM + prof("tap", s) / 2

    # The sac must stay inside the bony canal whatever the bones' exact shape (lateral recesses,
    # the sacral canal's triangle): measure the free space around the sac's axis on the bone
    # meshes every 2 mm and shrink the sac's half-axes to leave 1 mm (laterally) and 0.8 mm
    # (front and back) of clearance.
    import trimesh

    from iddsanatomy.anatomy.measure import first_hit

    spine = trimesh.util.concatenate(spine_bones)
    s_fit = np.arange(s_end - 2.0, s_top + 2.0, 2.0)
    a_fit = prof("tw", s_fit) / 2
    b_fit = prof("tap", s_fit) / 2
    for i, si in enumerate(s_fit):
        c0 = curve.point(si, v_dura_centre(si))[0]
        j = min(max(np.searchsorted(curve.s, si), 0), len(curve.s) - 1)
        nrm = np.array([0.0, curve.nrm[j, 0], curve.nrm[j, 1]])
        lat = []
        for dv in (-0.5 * b_fit[i], 0.0, 0.5 * b_fit[i]):
            o = c0 + dv * nrm
            lat += [first_hit(spine, o, (1.0, 0, 0)), first_hit(spine, o, (-1.0, 0, 0))]
        ap = [first_hit(spine, c0, nrm), first_hit(spine, c0, -nrm)]
        if np.isfinite(lat).any():
            a_fit[i] = min(a_fit[i], np.nanmin(lat) - 1.0)
        if np.isfinite(ap).any():
            b_fit[i] = min(b_fit[i], np.nanmin(ap) - 0.8)
    # no sudden waists: a running minimum over ±4 mm, then a running mean
    a_fit = np.minimum.reduce([np.roll(a_fit, k) for k in (-2, -1, 0, 1, 2)])
    b_fit = np.minimum.reduce([np.roll(b_fit, k) for k in (-2, -1, 0, 1, 2)])
    a_fit = np.maximum(np.convolve(np.pad(a_fit, 2, mode="edge"), np.ones(5) / 5, "valid"), 2.0)
    b_fit = np.maximum(np.convolve(np.pad(b_fit, 2, mode="edge"), np.ones(5) / 5, "valid"), 1.5)
    info["sac_fit_min_half_width_mm"] = float(a_fit.min())

    def dura_axes(s, inset=0.0):
        a = np.interp(s, s_fit, a_fit) - inset
        b = np.interp(s, s_fit, b_fit) - inset
        k = np.sqrt(np.clip((s - s_end) / taper_end, 0.0, 1.0))
        return a * k, b * k

    def sac_field(inset):
        def fld(p):
            x, s, v = curve.coords(p)
            a, b = dura_axes(s, inset)
            e = sdf.ellipse2(x, v - v_dura_centre(s), np.maximum(a, 0.05), np.maximum(b, 0.05))
            return np.maximum(np.maximum(e, (s_end + inset) - s), s - (s_top - inset))

        return fld

    lo, hi = curve.bounds(s_end - 3, s_top + 3, -12, 12, 14)
    dura = _mesh(sac_field(0.0), lo, hi, 0.6 * f)
    csf = _mesh(sac_field(sp.DURA_THICKNESS_MM), lo, hi, 0.6 * f)
    out.append(
        Part(
            "dura",
            "dura",
            "dural sac (thecal sac)",
            "The tough tube of dura mater around the cord, the cauda equina and the CSF; it ends "
            "near S2. The needle tip is intrathecal once it is inside.",
            dura,
            None,
            None,
            COLORS["dura"],
        )
    )
    out.append(
        Part(
            "csf",
            "csf",
            "cerebrospinal fluid (subarachnoid space)",
            "The fluid-filled space inside the dura where intrathecal drugs are delivered; free "
            "flow of CSF confirms the needle is inside it.",
            csf,
            None,
            None,
            COLORS["csf"],
        )
    )
    done("dura and CSF")

    cord_a, cord_b = sp.CORD_WIDTH_MM / 2, sp.CORD_DEPTH_MM / 2
    s_cs = s_tip + sp.CONUS_TAPER_MM
    fil_r = sp.FILUM_DIAMETER_MM / 2

    def cord_axes(s):
        k = np.clip((s - s_tip) / sp.CONUS_TAPER_MM, 0.0, 1.0)
        k = np.sqrt(k)  # rounded, bullet-like conus
        return np.maximum(cord_a * k, fil_r), np.maximum(cord_b * k, fil_r)

    def cord_field(s_lo, s_hi):
        def fld(p):
            x, s, v = curve.coords(p)
            a, b = cord_axes(s)
            e = sdf.ellipse2(x, v - v_dura_centre(s), a, b)
            return np.maximum(np.maximum(e, s_lo - s), s - s_hi)

        return fld

    lo, hi = curve.bounds(s_cs - 1, s_top - 1, -8, 8, 7)
    cord = _mesh(cord_field(s_cs, s_top - 1.0), lo, hi, 0.5 * f)
    lo, hi = curve.bounds(s_tip - 2, s_cs + 2, -8, 8, 7)
    conus = _mesh(cord_field(s_tip - 0.5, s_cs), lo, hi, 0.4 * f)

    def filum_field(p):
        x, s, v = curve.coords(p)
        e = np.hypot(x, v - v_dura_centre(s)) - fil_r
        return np.maximum(np.maximum(e, (s_end + 3.0) - s), s - (s_tip + 1.0))

    lo, hi = curve.bounds(s_end, s_tip + 2, -8, 8, 3)
    filum = _mesh(filum_field, lo, hi, 0.3 * f)
    out += [
        Part(
            "spinal_cord",
            "neural",
            "spinal cord",
            "The lower spinal cord (lumbar enlargement), inside the dura above the conus. A "
            "needle must never reach it.",
            cord,
            None,
            None,
            COLORS["neural"],
        ),
        Part(
            "conus",
            "neural",
            "conus medullaris",
            "The tapered end of the spinal cord, usually behind the lower third of L1; "
            "intrathecal access is made well below it (L2–L3 or lower).",
            conus,
            None,
            None,
            COLORS["neural"],
        ),
        Part(
            "filum_terminale",
            "neural",
            "filum terminale",
            "A thin fibrous thread that continues from the conus tip to the end of the dural sac.",
            filum,
            None,
            None,
            COLORS["neural"],
        ),
    ]
    tip_pt = curve.point(s_tip, v_dura_centre(s_tip))[0]
    end_pt = curve.point(s_end, v_dura_centre(s_end))[0]
    lms["conus.tip"] = tip_pt
    lms["dural_sac.end"] = end_pt
    done("cord, conus, filum")

    # ---------------------------------------------------------------- roots
    root_levels = ("L1", "L2", "L3", "L4", "L5", "S1", "S2", "S3")
    exit_pts: dict[tuple[str, int], np.ndarray] = {}
    cauda_lines, cauda_r = [], []
    nerve_lines: dict[tuple[str, int], np.ndarray] = {}
    cr = sp.CAUDA_ROOT_DIAMETER_MM / 2
    # Each root runs down the sac in its own lane: a point on an ellipse inside the dura at a
    # fixed angle from the posterior midline. The roots that leave first (L1–L4) take the outer
    # lanes and the lower ones (L5–S3) the inner lanes, so a root turning out to its foramen
    # never crosses a root still in the sac, and no two roots touch (a bundle, not a rod).
    # (x, v) of each lane from the sac's centre, mm [shape]: packed so that any two lanes are
    # ≥ 1.9 mm apart (root 1.5 mm) and each lies inside the sac wherever its root still runs
    # (S2/S3 down to the tapered end); the outer lanes' roots leave first.
    lanes = {
        "L1": (0, (6.6, -1.6)),
        "L2": (0, (6.2, 1.8)),
        "L3": (0, (4.4, 3.4)),
        "L4": (0, (4.6, -3.0)),
        "L5": (1, (3.9, -0.3)),
        "S1": (1, (2.6, 1.6)),
        "S2": (1, (2.0, -1.2)),
        "S3": (1, (0.9, 2.3)),
    }

    def lane(s, rl, side):
        _ring, (lx, lv) = lanes[rl]
        a_, b_ = dura_axes(s, sp.DURA_THICKNESS_MM)
        # where the sac is narrower than the lanes were packed for, pull the root towards the
        # sac's axis just enough to keep it inside the CSF (neighbours may then touch)
        big_a = np.maximum(a_ - cr - 0.3, 1e-3)
        big_b = np.maximum(b_ - cr - 0.3, 1e-3)
        k = np.minimum(1.0, 1.0 / np.maximum(np.hypot(lx / big_a, lv / big_b), 1e-9))
        return side * lx * k, v_dura_centre(s) + lv * k

    for k, rl in enumerate(root_levels):
        ring, (lx, lv) = lanes[rl]
        phi = np.arctan2(lx, lv)  # lane direction from the sac's centre, from posterior
        for side in (1, -1):
            # outer roots leave the cord above the conus, inner ones from its taper
            j = k if ring == 0 else k - 4
            s0 = (s_cs + 8.0 - 3.0 * j) if ring == 0 else (s_tip + 11.0 - 3.0 * j)
            a0, b0 = cord_axes(s0)
            # leave from just outside the cord surface (roots inside it would fuse there)
            x0 = side * (a0 + cr + 0.2) * np.sin(phi)
            v0 = v_dura_centre(s0) + (b0 + cr + 0.2) * np.cos(phi)
            if ring == 1:  # the inner roots start in their lanes, beside the thin conus
                x0, v0 = lane(s0, rl, side)
            if rl in ("S2", "S3"):
                s1 = s_end + 14.0  # end above the sac's taper
                x1, v1 = lane(s1, rl, side)
            else:
                if rl == "S1":
                    fpt = _lps(frames, "S1", np.array([side * 14.0, 18.0, -10.0]))
                else:
                    pr = vertebra_params(rl)
                    ped = bones_local[rl].landmarks["pedicle_centre.left"]
                    loc = np.array(
                        [side * (ped[0] + 1.0), ped[1] - 3.0, ped[2] - pr.pedicle_height / 2 - 3.5]
                    )
                    fpt = _lps(frames, rl, loc)
                s_f = curve.s_of(fpt)
                s1 = max(s_f + 9.0, s_end + 22.0)  # leave the sac above its taper
                a1, b1 = dura_axes(s1)
                # leave the sac straight out from the lane (a radial path crosses no lane)
                lx1, lv1 = lane(s1, rl, side)
                x1 = side * (a1 - cr - 1.0) * np.sin(phi)
                v1 = v_dura_centre(s1) + (b1 - cr - 1.0) * np.cos(phi)
                if abs(x1) < abs(lx1):  # no room to move out: leave the sac from the lane
                    x1, v1 = lx1, lv1
                exit_pts[(rl, side)] = fpt
            # from the cord into the lane over 8 mm, down the lane, out to the wall over 10 mm
            s_in = s0 - (8.0 if ring == 0 else 0.5)
            s_out = min(s1 + 10.0, s_in - 1.0)
            ss = np.r_[s0, np.linspace(s_in, s_out, max(int((s_in - s_out) / 3.0), 2)), s1]
            xs, vs = lane(ss, rl, side)
            xs = np.asarray(xs, float).copy()
            vs = np.asarray(vs, float).copy()
            xs[0], vs[0] = x0, v0
            xs[-1], vs[-1] = x1, v1
            line = curve.point(ss, vs, xs)
            cauda_lines.append(line)
            cauda_r.append(cr)
            if (rl, side) in exit_pts:
                fpt = exit_pts[(rl, side)]
                start = line[-3]
                last = line[-1]
                outward = np.array([side * 0.8, -0.35, -0.5])
                outward /= np.linalg.norm(outward)
                far = fpt + (30.0 if rl != "S1" else 4.0) * outward
                mid = 0.5 * (last + fpt)
                nerve_lines[(rl, side)] = np.vstack([start, last, mid, fpt, far])
    fld, lo, hi = tubes_field(cauda_lines, cauda_r)
    cauda = _mesh(fld, lo, hi, 0.35 * f, keep_largest=False)
    cauda = clean_components(cauda, 2.0)
    out.append(
        Part(
            "cauda_equina",
            "neural",
            "cauda equina",
            "The bundle of lumbar and sacral nerve roots floating in the CSF below the conus; "
            "they move aside from a slowly advanced needle.",
            cauda,
            None,
            None,
            COLORS["neural"],
        )
    )
    info["cauda_equina_roots"] = len(cauda.split(only_watertight=False))
    for (rl, side), line in nerve_lines.items():
        sname = "left" if side > 0 else "right"
        rr = sp.ROOT_DIAMETER_MM[rl] / 2
        fld, lo, hi = tubes_field([line], [rr])
        raw = _mesh(fld, lo, hi, 0.5 * f)
        level_for = rl if rl != "S1" else "S1"
        cut = subtract(raw, [vert_mesh[level_for], vert_mesh.get(_below(rl))], keep_largest=True)
        out.append(
            Part(
                f"nerve_root.{rl}.{sname}",
                "neural",
                f"{rl} {sname} nerve root",
                f"The {rl} spinal nerve root leaving the dural sac and the canal through the "
                f"intervertebral foramen below the {rl} pedicle."
                if rl != "S1"
                else "The S1 nerve root leaving the dural sac towards the first sacral foramen.",
                cut,
                None,
                rl,
                COLORS["neural"],
            )
        )
    done("cauda equina and nerve roots")

    # ---------------------------------------------------------------- posterior midline landmarks
    # lamina edges in the midline, from the meshes: arch vertices just behind the canal
    lam_top, lam_bot = {}, {}
    lamina_parts = ("lamina.left", "lamina.right", "spinous_process", "s1_lamina")
    for level, m in vert_mesh.items():
        bone = parts[level if level != "S1" else "sacrum"]
        keep = np.isin(
            bone.face_labels,
            [i for i, pid in enumerate(bone.part_ids) if pid.split(".", 1)[1] in lamina_parts],
        )
        if level == "S1":  # the sacrum's arch labels are coarse: use its whole surface
            keep[:] = True
        pts = m.triangles_center[keep]
        x, s, v = curve.coords(pts)
        band = (np.abs(x) < 3.0) & (v > prof("hd", s) - 1.0) & (v < prof("hd", s) + 8.0)
        if level == "S1":
            band &= s > s_level["S1"] - 25
        if np.any(band):
            lam_top[level] = float(s[band].max())
            lam_bot[level] = float(s[band].min())
    # The back: superficial layers (supraspinous ligament, fat, skin, the fascia over the muscles)
    # follow a smooth "back curve" through the spinous tips and the median sacral crest rather than
    # the canal, whose lordosis-to-kyphosis bend at S1 would fold surfaces offset 5 cm behind it.
    sac_v = vert_mesh["S1"].vertices
    xs_, ss_, vs_ = curve.coords(sac_v)
    crest_pts = []
    for s_c in (s_level["S1"] - 8.0, s_level["S2"], s_level["S3"]):
        m_ = (np.abs(xs_) < 4.0) & (np.abs(ss_ - s_c) < 4.0)
        if np.any(m_):
            crest_pts.append(sac_v[m_][np.argmax(vs_[m_])])
    if crest_pts:
        lms["S1.median_crest_top"] = crest_pts[0].copy()
    tips = [
        np.asarray(landmarks[f"{lv}.spinous_tip"], float)
        for lv in ("L5", "L4", "L3", "L2", "L1", "T12")
    ]
    top_axis = frames["T12"][:3, 2]
    back_knots = [*crest_pts[::-1], *tips, tips[-1] + 45.0 * top_axis]
    back_knots = [np.array([0.0, k[1], k[2]]) for k in back_knots]
    first_dir = back_knots[0] - back_knots[1]
    first_dir /= np.linalg.norm(first_dir)
    bk = np.asarray([back_knots[0] + 40.0 * first_dir, *back_knots])
    # a gentle curve (cubic y(z) fitted to the tips), so that surfaces 5 cm in front of it or
    # behind it never fold where the spine bends at the lumbosacral junction
    coef = np.polyfit(bk[:, 2], bk[:, 1], 3)
    zz = np.linspace(bk[:, 2].min(), bk[:, 2].max(), 14)
    back = SpineCurve(np.column_stack([np.zeros_like(zz), np.polyval(coef, zz), zz]))
    # the supraspinous line: the midline bony envelope in back coordinates, smoothed
    allv = np.vstack([m.vertices for m in vert_mesh.values()])
    xb, sb, vb = back.coords(allv)
    sel = np.abs(xb) < 4.0
    s_bins = np.arange(back.s[0] - 20.0, back.s[-1] + 20.0, 2.0)
    env = np.full(len(s_bins), -np.inf)
    idx = np.clip(np.searchsorted(s_bins, sb[sel]), 0, len(s_bins) - 1)
    np.maximum.at(env, idx, vb[sel])
    env_f = np.where(np.isfinite(env), env, -1e9)
    ssl_front = np.maximum(0.0, env_f + 0.3)
    kern = np.ones(7) / 7
    ssl_front = np.convolve(np.pad(ssl_front, 3, mode="edge"), kern, mode="valid")
    ssl_front = np.maximum(ssl_front, env_f + 0.3)

    ssl_t = sp.SSL_THICKNESS_MM
    s_skin_lo = back.s_of(lms.get("S1.median_crest_top", back.point(back.s[0])[0])) - 45.0
    s_skin_hi = back.s_of(curve.point(s_top)[0])

    def v_ssl(s):
        """Front (anterior surface) of the supraspinous ligament: over the spinous tips."""
        return np.interp(s, s_bins, ssl_front)

    def lateral(x):
        ax = np.sqrt(x * x + 4.0) - 2.0  # |x| rounded within ~2 mm: a soft midline furrow
        bump = np.exp(-(((ax - 38.0) / 26.0) ** 2)) - np.exp(-((38.0 / 26.0) ** 2))
        return 5.0 * bump - 0.0022 * x * x

    # ---------------------------------------------------------------- ligamentum flavum & window
    lf_meshes = {}
    pairs = list(
        zip(
            ("T12", "L1", "L2", "L3", "L4", "L5"), ("L1", "L2", "L3", "L4", "L5", "S1"), strict=True
        )
    )
    for upper, lower in pairs:
        seg = f"{upper}-{lower}"
        t_lf = sp.LF_THICKNESS_MM[seg]
        ang = 0.5 * (
            vertebra_params(upper).laminar_angle_deg
            + vertebra_params(lower if lower != "S1" else "L5").laminar_angle_deg
        )
        beta = np.radians((180.0 - ang) / 2.0)
        s_lo_w = lam_top[lower]
        s_hi_w = lam_bot[upper]
        log(f"[build] {seg}: laminae {s_hi_w - s_lo_w:.1f} mm apart in the midline")
        if s_hi_w - s_lo_w < 2.0:  # overlapping laminae (an extreme shape): keep a thin window
            mid_ = 0.5 * (s_lo_w + s_hi_w)
            s_lo_w, s_hi_w = mid_ - 1.0, mid_ + 1.0

        def lf_field(p, beta=beta, t_lf=t_lf, s_lo_w=s_lo_w, s_hi_w=s_hi_w):
            x, s, v = curve.coords(p)
            vcb = prof("hd", s)
            dn = ((v - vcb) + np.abs(x) * np.tan(beta)) * np.cos(beta)
            ramp = np.clip((s - s_hi_w) / 4.0, 0.0, 1.0)
            d_lo = -1.0 - (t_lf - 1.0) * ramp
            d_hi = (t_lf - 1.0) - (t_lf - 1.0) * ramp
            slab = np.maximum(d_lo - dn, dn - d_hi)
            fx = np.abs(x) - (prof("hw", s) + 1.0)
            fs = np.maximum((s_lo_w - 1.0) - s, s - (s_hi_w + 10.0))
            return np.maximum(np.maximum(slab, fx), fs)

        lo, hi = curve.bounds(s_lo_w - 3, s_hi_w + 12, -10, 14, 20)
        raw = _mesh(lf_field, lo, hi, 0.5 * f)
        lf = subtract(raw, [vert_mesh[upper], vert_mesh[lower]], keep_largest=True)
        lf_meshes[seg] = lf
        out.append(
            Part(
                f"ligamentum_flavum.{seg}",
                "ligament",
                f"{seg} ligamentum flavum",
                "Two yellow elastic leaflets that meet in the midline and close the interlaminar "
                "window; the loss of resistance is felt as the needle leaves them for the "
                "epidural space.",
                lf,
                None,
                seg,
                COLORS["ligament"],
            )
        )
        # interlaminar window region
        if upper != "T12":

            def win_field(p, s_lo_w=s_lo_w, s_hi_w=s_hi_w):
                x, s, v = curve.coords(p)
                vcb = prof("hd", s)
                fv = np.maximum((vcb - 1.0) - v, v - (vcb + 7.0))
                fx = np.abs(x) - prof("hw", s)
                fs = np.maximum((s_lo_w - 0.5) - s, s - (s_hi_w + 0.5))
                return np.maximum(np.maximum(fv, fx), fs)

            lo, hi = curve.bounds(s_lo_w - 2, s_hi_w + 2, -4, 14, 18)
            raw = _mesh(win_field, lo, hi, 0.6 * f)
            win = subtract(raw, [vert_mesh[upper], vert_mesh[lower]], keep_largest=True)
            out.append(
                Part(
                    f"interlaminar.{seg}",
                    "region",
                    f"{seg} interlaminar window",
                    f"The gap between the laminae of {upper} and {lower}, closed by the "
                    f"ligamentum flavum: the bony window a midline or paramedian needle must pass "
                    f"through.",
                    win,
                    None,
                    seg,
                    COLORS["region"],
                )
            )
            s_c = 0.5 * (s_lo_w + s_hi_w)
            lms[f"{seg}.interlaminar_centre"] = curve.point(s_c, prof("hd", s_c) + 1.0)[0]
        info.setdefault("window_s", {})[seg] = (s_lo_w, s_hi_w)
    done("ligamenta flava and interlaminar windows")

    # ---------------------------------------------------------------- skin depth (calibrated)
    # The skin is placed here, on the bones just built, along the measurement module's midline
    # needle path of every interspace (measure.midline_ray), so that the skin-to-epidural depth
    # is Ravi 2011's for the default BMI (REF §11b) and still is when the bones change. The
    # deep layers are not stretched or squeezed to help: the supraspinous ligament lies on the
    # spinous tips (it cannot sink below them), so the ISL+SSL length on the path is what the
    # bones make it; it is logged and kept in the manifest beside Lawrence's (REF §10).
    from iddsanatomy.anatomy.measure import hits, midline_ray
    from iddsanatomy.anatomy.variant import DEFAULT_BMI, skin_to_epidural_mm

    lm_all = {**landmarks, **lms}
    paths = {}
    for upper, lower in pairs[1:]:
        seg = f"{upper}-{lower}"
        o, d = midline_ray(lm_all, upper, lower)
        t_lf = hits(lf_meshes[seg], o, d)
        if len(t_lf) < 2:
            log(f"[build] {seg}: the midline path misses the ligamentum flavum; not calibrated")
            continue
        paths[seg] = (o, d, float(t_lf[0]), float(t_lf[1]))

    deep_info: dict[str, dict[str, float]] = {}
    for seg, (o, d, t_back, t_epi) in paths.items():
        # Lawrence's ISL+SSL length (REF §10) on this path: from the ligament's back surface,
        # which lies on the spinous tips, to the ligamentum flavum; the bones decide it
        t_ssl = ray_entry(o, d, t_back, lambda s: v_ssl(s) + ssl_t, back)
        deep_info[seg] = {
            "isl_ssl_mm": round(t_back - t_ssl, 2),
            "ssl_to_epidural_mm": round(t_epi - t_ssl, 2),
        }
        log(
            f"[build] {seg}: ISL+SSL {t_back - t_ssl:.1f} mm on the midline path (Lawrence "
            f"median {sp.ISL_LENGTH_MM[0]}, IQR {sp.ISL_LENGTH_MM[1]}–{sp.ISL_LENGTH_MM[2]})"
        )

    def v_fascia(s, x):
        return v_ssl(s) + ssl_t + lateral(x)

    sed_mm = skin_to_epidural_mm(DEFAULT_BMI)
    # Where the skin should cross each path: Ravi's depth in front of the epidural space, or the
    # thinnest fat over the ligaments where Ravi's line asks for less. In back coordinates the
    # skin is ``v = B(s) + lateral(x)``, and so is the thinnest-fat floor
    # ``F(s) = v_ssl + ssl_t + MIN_FAT + SKIN``: one smooth profile ``B`` does for every x.
    floor_extra = ssl_t + sp.MIN_FAT_MM + sp.SKIN_THICKNESS_MM
    skin_knots = []  # (s on the back curve, wanted B there)
    for seg, (o, d, _t_back, t_epi) in paths.items():
        x_p, s_p, v_p = (float(c[0]) for c in back.coords((o + (t_epi - sed_mm) * d)[None]))
        fat_on_path = v_p - sp.SKIN_THICKNESS_MM - float(v_fascia(s_p, x_p))
        skin_knots.append((s_p, v_p - float(lateral(x_p)), seg))
        if fat_on_path < sp.MIN_FAT_MM:
            log(
                f"[build] {seg}: Ravi's {sed_mm:.1f} mm at BMI {DEFAULT_BMI} leaves "
                f"{fat_on_path:.1f} mm of fat; the skin stays {sp.MIN_FAT_MM} mm of fat out"
            )
    skin_knots.sort()
    s_grid, b_grid = smooth_skin_profile(
        v_ssl,
        floor_extra,
        [k[0] for k in skin_knots],
        [k[1] for k in skin_knots],
        s_skin_lo - 60.0,
        s_skin_hi + 60.0,
    )
    from scipy.interpolate import CubicSpline

    skin_profile = CubicSpline(s_grid, b_grid, extrapolate=True)

    def v_skin(s, x):
        """Outer skin surface: one smooth profile along the back plus the lateral shape."""
        return skin_profile(np.clip(s, s_grid[0], s_grid[-1])) + lateral(x)

    for s_p, _b, seg in skin_knots:
        # the fat the smooth skin leaves on each path (the manifest keeps it beside Lawrence's)
        fat = float(skin_profile(s_p)) - sp.SKIN_THICKNESS_MM - (float(v_ssl(s_p)) + ssl_t)
        deep_info.setdefault(seg, {})["fat_on_path_mm"] = round(fat, 2)
    info["habitus"] = {
        "bmi": DEFAULT_BMI,
        "skin_to_epidural_mm": round(sed_mm, 2),
        "interspaces": deep_info,
    }

    # ---------------------------------------------------------------- interspinous & supraspinous
    isl_meshes = []
    for upper, lower in pairs:
        seg = f"{upper}-{lower}"
        s_u, s_d = s_level[upper], s_level[lower]
        t_lf = sp.LF_THICKNESS_MM[seg]

        def isl_field(p, s_u=s_u, s_d=s_d, t_lf=t_lf):
            x, s, v = curve.coords(p)
            _, sb_, vb_ = back.coords(p)
            v0 = prof("hd", s) + t_lf - 1.5
            # depth fraction between the ligamentum flavum and the supraspinous line
            d_front = v - v0
            # up into the supraspinous ligament by ISL_SSL_OVERLAP_MM: both meshes are
            # simplified afterwards, and a needle must not find a gap of air between them
            d_back = v_ssl(sb_) + ISL_SSL_OVERLAP_MM - vb_
            tt = np.clip(d_front / np.maximum(d_front + d_back, 1.0), 0.0, 1.0)
            w = sp.ISL_WIDTH_MM
            half = 0.5 * (
                (1 - tt) ** 2 * w["anterior"]
                + 2 * tt * (1 - tt) * (2 * w["middle"] - 0.5 * (w["anterior"] + w["posterior"]))
                + tt**2 * w["posterior"]
            )
            fx = np.abs(x) - half
            fv = np.maximum(v0 - v, -d_back)
            fs = np.maximum(s_d - s, s - s_u)
            return np.maximum(np.maximum(fx, fv), fs)

        lo, hi = curve.bounds(s_d - 2, s_u + 2, 0, 60, 8)
        raw = _mesh(isl_field, lo, hi, 0.6 * f)
        isl = subtract(raw, [vert_mesh[upper], vert_mesh[lower], lf_meshes[seg]], keep_largest=True)
        isl_meshes.append(isl)
        out.append(
            Part(
                f"interspinous_ligament.{seg}",
                "ligament",
                f"{seg} interspinous ligament",
                "The thin sheet between two spinous processes; a midline needle passes through "
                "it (about 3 cm) before it meets the ligamentum flavum.",
                isl,
                None,
                seg,
                COLORS["ligament"],
            )
        )

    s_ssl_lo = back.s_of(lms.get("S1.median_crest_top", back.point(back.s[0])[0])) - 15.0
    s_ssl_hi = back.s_of(landmarks["T12.spinous_tip"]) + 5.0

    def ssl_field(p):
        x, s, v = back.coords(p)
        fx = np.abs(x) - sp.SSL_HALF_WIDTH_MM
        fv = np.maximum(v_ssl(s) - v, v - (v_ssl(s) + ssl_t))
        fs = np.maximum(s_ssl_lo - s, s - s_ssl_hi)
        return np.maximum(np.maximum(fx, fv), fs)

    lo, hi = back.bounds(s_ssl_lo - 3, s_ssl_hi + 3, -15, 20, 8)
    raw = _mesh(ssl_field, lo, hi, 0.6 * f)
    ssl = subtract(raw, spine_bones, keep_largest=True)
    out.append(
        Part(
            "supraspinous_ligament",
            "ligament",
            "supraspinous ligament",
            "The cord that runs over the tips of the spinous processes, just under the "
            "subcutaneous fat.",
            ssl,
            None,
            None,
            COLORS["ligament"],
        )
    )
    done("interspinous and supraspinous ligaments")

    # ---------------------------------------------------------------- posterior epidural fat
    def epi_field(p):
        x, s, v = curve.coords(p)
        e = sdf.ellipse2(x, v, prof("hw", s), prof("hd", s) + 1.0)
        fv = v_dura_centre(s) - v
        fs = np.maximum((s_level["S1"] - 12.0) - s, s - (s_level["T12"] + 4.0))
        return np.maximum(np.maximum(e, fv), fs)

    lo, hi = curve.bounds(s_level["S1"] - 14, s_level["T12"] + 6, -6, 14, 18)
    raw = _mesh(epi_field, lo, hi, 0.6 * f)
    epi = subtract(raw, [*spine_bones, dura, *lf_meshes.values()], min_volume_mm3=5.0)
    out.append(
        Part(
            "epidural_fat",
            "fat",
            "posterior epidural fat",
            "Fat in the posterior epidural space between the ligamentum flavum and the dura, a "
            "few millimetres deep; the Tuohy tip sits here after loss of resistance.",
            epi,
            None,
            None,
            COLORS["fat"],
        )
    )
    done("epidural fat")

    # ---------------------------------------------------------------- muscles
    s_mf_hi = s_level["L1"] + 10.0
    s_mf_lo = s_level["S3"]
    s_es_hi = s_top
    s_es_lo = s_level["S2"]

    def floor_v(s, x):
        hwv = prof("hw", s)
        ramp = np.clip((np.abs(x) - hwv) / 10.0, 0.0, 1.0)
        return prof("hd", s) + 2.5 - ramp * 14.0

    def muscle_field(side, x_in, x_out, s_lo_m, s_hi_m, extra_floor=0.0):
        def fld(p):
            x, s, v = curve.coords(p)
            _, sb_, vb_ = back.coords(p)
            xs = side * x
            # the muscle narrows towards its lower end, where it becomes tendon on the sacrum
            taper = 0.45 * (x_out - x_in) * np.clip((s_lo_m + 40.0 - s) / 40.0, 0.0, 1.0)
            # a belly: widest at mid-length, narrower towards the thorax [shape]
            t_len = np.clip((s - s_lo_m) / max(s_hi_m - s_lo_m, 1.0), 0.0, 1.0)
            belly = 1.0 - 0.3 * np.clip((t_len - 0.55) / 0.45, 0.0, 1.0) ** 1.5
            x_edge = x_in + (x_out - taper - x_in) * belly
            fx = np.maximum(x_in - xs, xs - x_edge)
            fv = np.maximum((floor_v(s, x) - extra_floor) - v, vb_ - (v_fascia(sb_, x) - 0.3))
            fs = np.maximum(s_lo_m - s, s - s_hi_m)
            # rounded bellies rather than boxes: generous fillets between the bounding faces
            return sdf.smax(sdf.smax(fx, fs, 6.0), fv, 6.0)

        return fld

    soft_cut = [*lf_meshes.values(), *isl_meshes, ssl]
    muscles = {}
    for side, sname in ((1, "left"), (-1, "right")):
        for mid, name, x_in, x_out, slo, shi, desc, extra in (
            (
                "multifidus",
                "multifidus",
                1.0,
                30.0,
                s_mf_lo,
                s_mf_hi,
                "The deepest back muscle, packed against the spinous processes and laminae; a "
                "paramedian needle crosses it.",
                0.0,
            ),
            (
                "erector_spinae",
                "erector spinae",
                30.0,
                sp.ERECTOR_LATERAL_MM,
                s_es_lo,
                s_es_hi,
                "The long column of back muscle (iliocostalis and longissimus) lateral to "
                "multifidus.",
                6.0,
            ),
        ):
            fld = muscle_field(side, x_in, x_out, slo, shi, extra)
            lo, hi = curve.bounds(slo - 3, shi + 3, -25, 90, sp.ERECTOR_LATERAL_MM + 5)
            if side > 0:
                lo[0] = x_in - 3
            else:
                hi[0] = -x_in + 3
            raw = _mesh(fld, lo, hi, 1.3 * f)
            man = to_manifold(raw) - bones_union()
            for c in soft_cut:
                man = man - to_manifold(c)
            mm = clean_components(from_manifold(man), keep_largest=True)
            muscles[f"{mid}.{sname}"] = mm
            out.append(
                Part(
                    f"{mid}.{sname}",
                    "muscle",
                    f"{sname} {name}",
                    desc,
                    mm,
                    None,
                    None,
                    COLORS["muscle"],
                )
            )
    done("muscles")

    # ---------------------------------------------------------------- subcutaneous fat and skin
    xw = sp.SKIN_HALF_WIDTH_MM

    def layer_field(inner, outer):
        def fld(p):
            x, s, v = back.coords(p)
            fv = np.maximum(inner(s, x) - v, v - outer(s, x))
            fx = np.abs(x) - xw
            fs = np.maximum(s_skin_lo - s, s - s_skin_hi)
            return np.maximum(np.maximum(fv, fx), fs)

        return fld

    lo, hi = back.bounds(s_skin_lo - 3, s_skin_hi + 3, -60, 25, xw + 3)
    lo[1] -= 60  # the back curves forwards laterally
    fat = _mesh(
        layer_field(v_fascia, lambda s, x: v_skin(s, x) - sp.SKIN_THICKNESS_MM), lo, hi, 1.2 * f
    )
    fat = from_manifold(to_manifold(fat) - bones_union())
    fat = clean_components(fat, keep_largest=True)
    skin = _mesh(
        layer_field(lambda s, x: v_skin(s, x) - sp.SKIN_THICKNESS_MM, v_skin), lo, hi, 0.9 * f
    )
    out.append(
        Part(
            "subcutaneous_fat",
            "fat",
            "subcutaneous fat",
            "The fat under the skin; its thickness is what changes most with body weight and "
            "makes needles longer in obese patients.",
            fat,
            None,
            None,
            COLORS["fat"],
        )
    )
    out.append(
        Part(
            "skin",
            "skin",
            "skin of the lower back",
            "The skin of the lower back from the lowest ribs to the sacrum, where the needle "
            "enters.",
            skin,
            None,
            None,
            COLORS["skin"],
        )
    )
    done("fat and skin")

    from iddsanatomy.anatomy.measure import first_hit, midline_ray

    lm_all = {**landmarks, **lms}
    for upper, lower in pairs[1:]:
        seg = f"{upper}-{lower}"
        o, d = midline_ray(lm_all, upper, lower)
        t = first_hit(skin, o, d)
        if np.isfinite(t):
            lms[f"{seg}.skin_midline"] = o + t * d
    info["canal_curve"] = {"s_top": s_top, "s_end": s_end, "s_tip": s_tip}
    info["curve"] = curve
    info["unit_table"] = table
    return out, lms, info


def _below(level: str) -> str | None:
    order = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
    if level not in order:
        return None
    i = order.index(level)
    return order[i + 1] if i + 1 < len(order) else None
