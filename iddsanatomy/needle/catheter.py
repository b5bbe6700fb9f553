"""Threading a catheter through the needle into the epidural or intrathecal space.

The catheter leaves the needle tip and follows the space it is in: the centreline of the dural
sac when intrathecal, a line just behind the dura's posterior surface when epidural (the
posterior epidural space the Tuohy opens onto). The sac is measured by slicing the dura (or CSF)
mesh with axial planes, once per anatomy.
"""

from __future__ import annotations

import itertools
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


@dataclass(frozen=True)
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


class SacPaths:
    """The intrathecal (sac centre) and posterior epidural paths of one anatomy, bottom to top."""

    def __init__(self, anatomy: Anatomy, step_mm: float = SLICE_STEP_MM):
        sac = None
        for sid in ("dura", "csf", "dural_sac", "thecal_sac"):
            s = anatomy.structures.get(sid)
            if s is not None and s.ok:
                sac = s.mesh
                break
        if sac is None:
            raise GeometryError("the anatomy has no dura or CSF mesh for a catheter to follow")
        from trimesh.intersections import mesh_multiplane

        lo, hi = sac.bounds[0, 2], sac.bounds[1, 2]
        heights = np.arange(lo + step_mm / 2, hi, step_mm)
        lines, to_3d, _faces = mesh_multiplane(sac, [0.0, 0.0, 0.0], [0.0, 0.0, 1.0], heights)
        centre, post = [], []
        for z, seg2d, tf in zip(heights, lines, to_3d, strict=True):
            if len(seg2d) < 3:
                continue
            flat = np.asarray(seg2d, dtype=float).reshape(-1, 2)
            xyz = np.column_stack([flat, np.zeros(len(flat)), np.ones(len(flat))]) @ tf.T
            seg = xyz[:, :2].reshape(-1, 2, 2)  # (m, 2, 2): world x, y of each segment
            mid = seg.mean(axis=1)
            w = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)
            # perimeter-weighted centre: the area centre for the sac's near-elliptic sections
            c = (mid * w[:, None]).sum(axis=0) / w.sum()
            # the back wall: where the section's segments cross the vertical line x = c_x
            x0, x1 = seg[:, 0, 0] - c[0], seg[:, 1, 0] - c[0]
            cross = (x0 * x1 <= 0) & (x0 != x1)
            if not cross.any():
                continue
            u = x0[cross] / (x0[cross] - x1[cross])
            y_hits = seg[cross, 0, 1] + u * (seg[cross, 1, 1] - seg[cross, 0, 1])
            y_back = y_hits.max()
            centre.append([c[0], c[1], z])
            post.append([c[0], y_back + EPIDURAL_OFFSET_MM, z])
        if len(centre) < 2:
            raise GeometryError("could not slice the dural sac into a path (too few sections)")
        self.paths = {"intrathecal": np.array(centre), "epidural": np.array(post)}

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
            "a catheter can be threaded only from the epidural space or CSF; the tip is in "
            f"{analysis.tip_structure or 'no structure'}"
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
    """A tube along the catheter, for the 3D view and the DRR (``trimesh.Trimesh``, LPS mm)."""
    import trimesh

    pts = catheter.polyline_lps
    parts = []
    for a, b in itertools.pairwise(pts):
        if np.linalg.norm(b - a) < 1e-6:
            continue
        parts.append(
            trimesh.creation.cylinder(radius=diameter_mm / 2, segment=[a, b], sections=sections)
        )
    parts.append(trimesh.creation.icosphere(1, radius=diameter_mm / 2).apply_translation(pts[-1]))
    return trimesh.util.concatenate(parts)
