"""Threading a catheter through the needle into the epidural or intrathecal space.

The catheter leaves the needle tip and follows the space it is in: the dorsal subarachnoid
space (between the back of the sac and the cord or cauda equina) when intrathecal, a line just
behind the dura's posterior surface when epidural (the posterior epidural space the Tuohy opens
onto). The sac is measured by slicing the dura, CSF and neural meshes with axial planes, once per
anatomy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iddsanatomy.anatomy.model import Anatomy
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.analysis import NeedleAnalysis, analyser_for

#: Length over which the catheter bends from the needle's tip onto the path of the space (mm).
TRANSITION_MM = 10.0
#: The posterior epidural path lies this far behind the dura (mm): inside the posterior epidural
#: space, whose depth is a few mm at L3–L4 (REFERENCE §11).
EPIDURAL_OFFSET_MM = 1.5
#: Drawn diameter of the catheter: a 20 G epidural catheter is ≈0.9 mm across [TU].
CATHETER_DIAMETER_MM = 0.9
SLICE_STEP_MM = 2.0


@dataclass(frozen=True, eq=False)  # holds arrays: equality is identity
class Catheter:
    """A threaded catheter.

    Attributes
    ----------
    space : {"intrathecal", "epidural"}
    direction : {"cephalad", "caudad"}
    length_mm : float
        Length threaded past the needle tip.
    polyline_lps : (n, 3) float, mm
        From the needle tip to the catheter tip.
    tip_level : str or None
        ``"T12.lower"`` or ``"L1-L2"`` (a disc).
    truncated : bool
        The space ended before the whole length was threaded (the rest would coil).
    """

    space: str
    direction: str
    length_mm: float
    polyline_lps: np.ndarray
    tip_level: str | None
    truncated: bool = False

    @property
    def tip_lps(self) -> np.ndarray:
        return self.polyline_lps[-1]

    @property
    def threaded_mm(self) -> float:
        """Arc length of the polyline (equals ``length_mm`` unless truncated)."""
        return float(np.linalg.norm(np.diff(self.polyline_lps, axis=0), axis=1).sum())


def _sections(mesh, heights):
    """For each height: the section's segments as (m, 2, 2) world x, y (or None if empty)."""
    from trimesh.intersections import mesh_multiplane

    lines, to_3d, _faces = mesh_multiplane(mesh, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], heights)
    out = []
    for seg2d, tf in zip(lines, to_3d, strict=True):
        if len(seg2d) < 3:
            out.append(None)
            continue
        flat = np.asarray(seg2d, dtype=float).reshape(-1, 2)
        xyz = np.column_stack([flat, np.zeros(len(flat)), np.ones(len(flat))]) @ tf.T
        out.append(xyz[:, :2].reshape(-1, 2, 2))
    return out


def _back_at(seg, x: float) -> float | None:
    """The most posterior y where the section's segments cross the vertical line at ``x``."""
    if seg is None:
        return None
    x0, x1 = seg[:, 0, 0] - x, seg[:, 1, 0] - x
    cross = (x0 * x1 <= 0) & (x0 != x1)
    if not cross.any():
        return None
    u = x0[cross] / (x0[cross] - x1[cross])
    return float((seg[cross, 0, 1] + u * (seg[cross, 1, 1] - seg[cross, 0, 1])).max())


class SacPaths:
    """The intrathecal and posterior epidural paths of one anatomy, from caudal to cranial.

    Slices the sac with axial planes every ``step_mm``. Intrathecal: midway between the back
    wall of the CSF and the back of the cord, conus or cauda equina (the dorsal subarachnoid
    space, where a catheter threaded from behind runs), or the sac's centre where no neural
    structure lies. Epidural: just behind the dura's back wall in the midline.
    """

    def __init__(self, anatomy: Anatomy, step_mm: float = SLICE_STEP_MM):
        def mesh_of(*ids):
            for sid in ids:
                s = anatomy.structures.get(sid)
                if s is not None and s.ok:
                    return s.mesh
            return None

        dura = mesh_of("dura", "dural_sac", "thecal_sac", "csf")
        csf = mesh_of("csf", "dura", "dural_sac", "thecal_sac")
        if dura is None:
            raise GeometryError("the anatomy has no dura or CSF mesh for a catheter to follow")
        import trimesh

        neural = [
            s.mesh
            for s in anatomy.structures.values()
            if s.ok
            and s.tissue == "neural"
            and s.parent is None
            and not s.id.startswith(("nerve_root", "root."))
        ]
        neural_mesh = trimesh.util.concatenate(neural) if neural else None
        lo, hi = dura.bounds[0, 2], dura.bounds[1, 2]
        heights = np.arange(lo + step_mm / 2, hi, step_mm)
        s_dura = _sections(dura, heights)
        s_csf = _sections(csf, heights)
        s_neural = (
            _sections(neural_mesh, heights) if neural_mesh is not None else [None] * len(heights)
        )
        it, ep = [], []
        for z, sd, sc, sn in zip(heights, s_dura, s_csf, s_neural, strict=True):
            if sd is None or sc is None:
                continue
            mid = sc.mean(axis=1)
            w = np.linalg.norm(sc[:, 1] - sc[:, 0], axis=1)
            # perimeter-weighted centre: the area centre for the sac's near-elliptic sections
            c = (mid * w[:, None]).sum(axis=0) / w.sum()
            back_csf = _back_at(sc, c[0])
            back_dura = _back_at(sd, c[0])
            if back_csf is None or back_dura is None:
                continue
            back_neural = _back_at(sn, c[0])
            floor = back_neural if back_neural is not None and back_neural < back_csf else c[1]
            it.append([c[0], (back_csf + floor) / 2, z])
            ep.append([c[0], back_dura + EPIDURAL_OFFSET_MM, z])
        if len(it) < 2:
            raise GeometryError("could not slice the dural sac into a path (too few sections)")
        self.paths = {"intrathecal": np.array(it), "epidural": np.array(ep)}

    def path(self, space: str) -> np.ndarray:
        """(n, 3) float, mm: the path of ``space`` from caudal to cranial."""
        return self.paths[space]


def sac_paths(anatomy: Anatomy) -> SacPaths:
    """The cached :class:`SacPaths` of ``anatomy`` (kept on the anatomy object)."""
    p = getattr(anatomy, "_needle_sac_paths", None)
    if p is None:
        p = SacPaths(anatomy)
        anatomy._needle_sac_paths = p
    return p


def _arc(path: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path, axis=0), axis=1))])


def _at(path: np.ndarray, arc: np.ndarray, s: float) -> np.ndarray:
    return np.array([np.interp(s, arc, path[:, i]) for i in range(3)])


def thread_catheter(
    anatomy: Anatomy,
    analysis: NeedleAnalysis,
    length_mm: float,
    direction: str = "cephalad",
) -> Catheter:
    """Thread a catheter ``length_mm`` from the needle tip of ``analysis``, ``direction``.

    Raises :class:`GeometryError` unless the tip is in the epidural space or in CSF.
    """
    if direction not in ("cephalad", "caudad"):
        raise ValidationError(f"direction must be 'cephalad' or 'caudad', got {direction!r}")
    try:
        length = float(length_mm)
    except (TypeError, ValueError):
        raise ValidationError(f"length_mm must be a number, got {length_mm!r}") from None
    if not np.isfinite(length) or length <= 0 or length > 1000:
        raise ValidationError(f"length_mm must be in (0, 1000] mm, got {length_mm!r}")
    if analysis.in_epidural_space:
        space = "epidural"
    elif analysis.tip_tissue == "csf":
        space = "intrathecal"
    else:
        raise GeometryError(
            "a catheter can be threaded only from the epidural space or CSF; the tip is in the "
            + (
                analyser_for(anatomy).display_name(analysis.tip_structure)
                if analysis.tip_structure
                else "air (outside the body)"
            )
        )
    path = sac_paths(anatomy).path(space)
    arc = _arc(path)
    tip = np.asarray(analysis.tip_lps, dtype=float)
    # where the needle tip projects onto the path
    seg_a, seg_b = path[:-1], path[1:]
    ab = seg_b - seg_a
    u = np.clip(np.einsum("ij,ij->i", tip - seg_a, ab) / np.einsum("ij,ij->i", ab, ab), 0, 1)
    foot = seg_a + u[:, None] * ab
    j = int(np.argmin(np.linalg.norm(foot - tip, axis=1)))
    s0 = arc[j] + u[j] * np.linalg.norm(ab[j])
    sign = 1.0 if direction == "cephalad" else -1.0
    end = arc[-1] if sign > 0 else 0.0
    s1 = s0 + sign * TRANSITION_MM
    if (end - s1) * sign < 0:
        s1 = end
    pts = [tip, _at(path, arc, s1)]
    left = length - float(np.linalg.norm(pts[1] - tip))
    truncated = False
    if left < 0:
        # shorter than the bend: stay on the straight line from the tip towards the path
        pts[1] = tip + (pts[1] - tip) * (length / np.linalg.norm(pts[1] - tip))
    else:
        s_goal = s1 + sign * left
        if (end - s_goal) * sign < 0:
            s_goal, truncated = end, True
        inner = arc[(arc - s1) * sign > 0]
        inner = inner[(s_goal - inner) * sign > 0]
        inner = inner if sign > 0 else inner[::-1]
        pts.extend(_at(path, arc, s) for s in inner)
        pts.append(_at(path, arc, s_goal))
    poly = np.array(pts)
    level = analyser_for(anatomy).levels.label(poly[-1])
    return Catheter(space, direction, length, poly, level, truncated)


def catheter_mesh(
    catheter: Catheter, diameter_mm: float = CATHETER_DIAMETER_MM, sections: int = 10
):
    """A closed tube along the catheter, for the 3D view and the DRR (``trimesh.Trimesh``, mm).

    Rings at every polyline vertex, perpendicular to the local direction, carried from one to
    the next by parallel transport so that the tube does not twist.
    """
    import trimesh

    from iddsanatomy.needle.mesh import _tube_arrays

    pts = np.asarray(catheter.polyline_lps, dtype=float)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(pts, axis=0), axis=1) > 1e-6])
    pts = pts[keep]
    if len(pts) < 2:
        raise GeometryError("the catheter has no length to draw")
    seg = np.diff(pts, axis=0)
    seg /= np.linalg.norm(seg, axis=1)[:, None]
    tangents = np.vstack([seg[:1], seg[:-1] + seg[1:], seg[-1:]])
    tangents /= np.linalg.norm(tangents, axis=1)[:, None]
    r = diameter_mm / 2
    th = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    helper = np.array([1.0, 0.0, 0.0]) if abs(tangents[0, 0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(tangents[0], helper)
    u /= np.linalg.norm(u)
    rings = []
    for k, t in enumerate(tangents):
        if k:
            u = u - (u @ t) * t  # parallel transport: keep u perpendicular, no twist
            u /= np.linalg.norm(u)
        w = np.cross(t, u)
        rings.append(pts[k] + r * (np.cos(th)[:, None] * u + np.sin(th)[:, None] * w))
    v, f = _tube_arrays(rings, pts[0], pts[-1])
    return trimesh.Trimesh(v, f, process=False)
