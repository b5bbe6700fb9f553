"""Ray casting through many closed meshes, and distances to groups of surfaces.

Every structure gets its own ray engine (an Embree scene through ``embreex`` when it is
installed, else trimesh's pure-python triangle intersector) so that surfaces shared by two
structures — common where neighbouring tissues are meshed from one field — are each found:
a single combined scene returns only one hit where two surfaces coincide.

Inside/outside along a line comes from the sign of ``normal · direction`` at each hit (closed
meshes with outward normals): entering hits have it negative, exiting ones positive. A counter
rather than a flag keeps overlapping shells of one structure right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

try:  # Embree is optional: it needs x86_64
    from embreex import rtcore_scene as _rtcs
    from embreex.mesh_construction import TriangleMesh as _EmbreeTriangles

    HAS_EMBREE = True
except ImportError:  # pragma: no cover - depends on the platform
    HAS_EMBREE = False

_EPS = 1e-4  # mm: step past a hit before casting again (skips the twin face on a shared edge)
_MAX_HITS = 256


def ray_boxes(origin, direction, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of one ray against many boxes.

    Parameters
    ----------
    origin, direction : (3,) float
    lo, hi : (n, 3) float
        Box corners.

    Returns
    -------
    t_in, t_out : (n,) float
        Ray parameters where the line enters and leaves each box (``t_in > t_out``: missed).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / np.where(direction == 0, 1e-300, direction)
        t1 = (lo - origin) * inv
        t2 = (hi - origin) * inv
    t_in = np.max(np.minimum(t1, t2), axis=1)
    t_out = np.min(np.maximum(t1, t2), axis=1)
    return t_in, t_out


class MeshCaster:
    """All hits of a line with one mesh: ray parameter, face and entering/exiting sign."""

    def __init__(self, mesh, engine: str = "auto"):
        self.mesh = mesh
        self.normals = np.asarray(mesh.face_normals, dtype=float)
        self.lo, self.hi = (np.asarray(b, dtype=float) for b in mesh.bounds)
        if engine == "auto":
            # without Embree (macOS arm64, Linux aarch64) a vectorised Möller–Trumbore over the
            # mesh: tens of ms per new line, fine for one needle (trimesh's own engine is far
            # slower on long oblique rays)
            engine = "embree" if HAS_EMBREE else "numpy"
        self.engine = engine
        if engine == "embree":
            if not HAS_EMBREE:
                raise RuntimeError("embreex is not installed")
            self._scene = _rtcs.EmbreeScene()
            # keep a reference: the scene reads this buffer
            self._tri = np.ascontiguousarray(mesh.triangles, dtype=np.float32)
            self._v0 = np.asarray(mesh.triangles[:, 0], dtype=float)
            _EmbreeTriangles(self._scene, self._tri)
        elif engine == "numpy":
            tri = np.asarray(mesh.triangles, dtype=float)
            self._v0 = tri[:, 0]
            self._e1 = tri[:, 1] - tri[:, 0]
            self._e2 = tri[:, 2] - tri[:, 0]
        elif engine == "triangle":
            from trimesh.ray.ray_triangle import RayMeshIntersector

            self._intersector = RayMeshIntersector(mesh)
        else:
            raise ValueError(
                f"unknown ray engine {engine!r}; expected auto, embree, numpy or triangle"
            )

    def hits(self, origin, direction, t_start: float, t_stop: float):
        """Hits with ``t_start <= t <= t_stop`` along ``origin + t·direction``.

        Returns
        -------
        t : (k,) float, mm
        faces : (k,) int
        sign : (k,) int
            -1 entering, +1 exiting, 0 grazing.
        """
        if self.engine == "embree":
            t_list, f_list = [], []
            o = np.asarray(origin, dtype=float) + t_start * np.asarray(direction, dtype=float)
            o32 = o.astype(np.float32).reshape(1, 3)
            d32 = np.asarray(direction, dtype=np.float32).reshape(1, 3)
            base = t_start
            span = t_stop - t_start
            for _ in range(_MAX_HITS):
                r = self._scene.run(o32, d32, output=1)
                if r["geomID"][0] < 0:
                    break
                t = float(r["tfar"][0])
                if t > span:
                    break
                t_list.append(base + t)
                f_list.append(int(r["primID"][0]))
                # cast again from just beyond the hit; origins stay near the hits (float32)
                base = base + t + _EPS
                span = t_stop - base
                o32 = (np.asarray(origin) + base * np.asarray(direction)).astype(np.float32)
                o32 = o32.reshape(1, 3)
            faces = np.array(f_list, dtype=np.int64)
            t_arr = np.array(t_list, dtype=float)
            if len(faces):
                # Embree works in float32: recompute t exactly on each hit face's plane
                d64 = np.asarray(direction, dtype=float)
                n = self.normals[faces]
                dn = n @ d64
                ok = np.abs(dn) > 1e-12
                num = np.einsum("ij,ij->i", self._v0[faces] - np.asarray(origin, float), n)
                t_arr = np.where(ok, num / np.where(ok, dn, 1.0), t_arr)
        elif self.engine == "numpy":
            t_arr, faces = _moller_trumbore(
                self._v0,
                self._e1,
                self._e2,
                np.asarray(origin, float),
                np.asarray(direction, float),
            )
            keep = (t_arr >= t_start) & (t_arr <= t_stop)
            t_arr, faces = t_arr[keep], faces[keep]
            order = np.argsort(t_arr, kind="stable")
            t_arr, faces = t_arr[order], faces[order]
            # one hit per crossing: drop the twin of a hit on a shared edge or vertex
            if len(t_arr) > 1:
                keep = np.concatenate([[True], np.diff(t_arr) > _EPS])
                t_arr, faces = t_arr[keep], faces[keep]
        else:
            o = np.asarray(origin, dtype=float).reshape(1, 3)
            d = np.asarray(direction, dtype=float).reshape(1, 3)
            idx_tri, _idx_ray, loc = self._intersector.intersects_id(
                o, d, multiple_hits=True, return_locations=True
            )
            t_arr = (np.asarray(loc).reshape(-1, 3) - o) @ d[0]
            faces = np.asarray(idx_tri, dtype=np.int64)
            keep = (t_arr >= t_start) & (t_arr <= t_stop)
            t_arr, faces = t_arr[keep], faces[keep]
            order = np.argsort(t_arr, kind="stable")
            t_arr, faces = t_arr[order], faces[order]
        dots = self.normals[faces] @ np.asarray(direction, dtype=float) if len(faces) else []
        sign = np.sign(np.round(np.asarray(dots, dtype=float), 9)).astype(int)
        return t_arr, faces, sign


def _moller_trumbore(v0, e1, e2, o, d):
    """Every triangle a line ``o + t d`` crosses: (t, face index), vectorised over triangles."""
    p = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, p)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = o - v0
    u = np.einsum("ij,ij->i", s, p) * inv
    q = np.cross(s, e1)
    v = (q @ d) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1)
    idx = np.nonzero(hit)[0]
    return t[idx], idx


def inside_intervals(t, faces, sign, t_end: float):
    """Intervals along the line where a closed mesh is entered, from its sorted hits.

    Returns a list of ``(t_enter, t_exit, entry_face)``. An interval left open (a missed exit,
    or a mesh with a hole) is closed at ``t_end``: the caller passes where the line leaves the
    mesh's bounding box, beyond which it is certainly outside.
    """
    out = []
    depth = 0
    start = None
    face0 = -1
    for ti, fi, si in zip(t, faces, sign, strict=True):
        if si < 0:
            depth += 1
            if depth == 1:
                start, face0 = float(ti), int(fi)
        elif si > 0 and depth > 0:
            depth -= 1
            if depth == 0:
                out.append((start, float(ti), face0))
    if depth > 0 and start is not None:
        out.append((start, float(t_end), face0))
    return out


def _closest_on_triangles(tri: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Distances from point ``p`` (3,) to triangles ``tri`` (k, 3, 3) (Ericson, *RTCD* §5.1.5)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.einsum("ij,ij->i", ab, ap), np.einsum("ij,ij->i", ac, ap)
    bp = p - b
    d3, d4 = np.einsum("ij,ij->i", ab, bp), np.einsum("ij,ij->i", ac, bp)
    cp = p - c
    d5, d6 = np.einsum("ij,ij->i", ab, cp), np.einsum("ij,ij->i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        q = a + ab * v[:, None] + ac * w[:, None]  # inside the face
        # edges
        vab = d1 / (d1 - d3)
        e_ab = a + ab * vab[:, None]
        wac = d2 / (d2 - d6)
        e_ac = a + ac * wac[:, None]
        wbc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        e_bc = b + (c - b) * wbc[:, None]
    q = np.where(((va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0))[:, None], e_bc, q)
    q = np.where(((vb <= 0) & (d2 >= 0) & (d6 <= 0))[:, None], e_ac, q)
    q = np.where(((vc <= 0) & (d1 >= 0) & (d3 <= 0))[:, None], e_ab, q)
    q = np.where(((d6 >= 0) & (d5 <= d6))[:, None], c, q)
    q = np.where(((d3 >= 0) & (d4 <= d3))[:, None], b, q)
    q = np.where(((d1 <= 0) & (d2 <= 0))[:, None], a, q)
    return np.linalg.norm(q - p, axis=1)


@dataclass
class SurfaceProximity:
    """Distance from a point to the union of some surfaces.

    A KD-tree over dense surface samples (each knows its face) finds candidate faces; the exact
    point–triangle distance to those candidates is returned, so the answer is exact unless the
    true nearest face has no sample among the ``k`` nearest (then it is within the sample
    spacing).
    """

    triangles: np.ndarray  # (m, 3, 3) float, all faces of the group
    tree: object  # scipy.spatial.cKDTree over samples
    sample_face: np.ndarray  # (n,) int index into triangles
    k: int = 12

    @classmethod
    def from_meshes(cls, meshes, spacing_mm: float = 1.5, max_samples: int = 250_000, seed=0):
        from scipy.spatial import cKDTree

        tris = np.concatenate([np.asarray(m.triangles, dtype=float) for m in meshes])
        area = (
            np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1) / 2
        )
        n_random = int(min(max_samples, area.sum() / spacing_mm**2))
        rng = np.random.default_rng(seed)
        faces = np.arange(len(tris))
        pts = [tris.mean(axis=1)]
        face_of = [faces]
        if n_random > 0 and area.sum() > 0:
            f = rng.choice(len(tris), size=n_random, p=area / area.sum())
            r1, r2 = rng.random(n_random), rng.random(n_random)
            s = np.sqrt(r1)
            u, v, w = 1 - s, s * (1 - r2), s * r2
            t = tris[f]
            pts.append(u[:, None] * t[:, 0] + v[:, None] * t[:, 1] + w[:, None] * t[:, 2])
            face_of.append(f)
        return cls(tris, cKDTree(np.concatenate(pts)), np.concatenate(face_of))

    def candidates(self, point) -> np.ndarray:
        """(k, 3, 3) float: the faces that may hold the point nearest ``point``."""
        _d, idx = self.tree.query(point, k=self.k)
        return self.triangles[np.unique(self.sample_face[np.atleast_1d(idx)])]

    def distance(self, point) -> float:
        p = np.asarray(point, dtype=float)
        return float(_closest_on_triangles(self.candidates(p), p).min())


def distances(groups, point) -> list[float | None]:
    """Distances from ``point`` to several :class:`SurfaceProximity` (None stays None).

    One vectorised point–triangle pass over every group's candidates: cheaper than one each.
    """
    p = np.asarray(point, dtype=float)
    cands = [None if g is None else g.candidates(p) for g in groups]
    present = [c for c in cands if c is not None]
    if not present:
        return [None] * len(groups)
    d = _closest_on_triangles(np.concatenate(present), p)
    out: list[float | None] = []
    start = 0
    for c in cands:
        if c is None:
            out.append(None)
        else:
            out.append(float(d[start : start + len(c)].min()))
            start += len(c)
    return out
