"""Signed-distance modelling: primitives, smooth blends and a marching-cubes mesher.

Bones are built as signed distance fields (negative inside, positive outside, millimetres) that
are evaluated on a grid and turned into a triangle mesh with :func:`skimage.measure.marching_cubes`.
A single scalar field meshed by marching cubes is watertight, consistently oriented and free of
self-intersections by construction, which is why every bone is one field and not a union of meshes.

Every primitive is a plain function of points ``p`` ((n, 3) float, mm) returning ``(n,)`` float
distances. Several primitives return *bounds* rather than exact Euclidean distances (scaled
ellipsoids, smooth blends); the zero level set is exact, and the distances stay within a small
factor of the true ones near the surface, which is all that smooth blending and face labelling need.

The smooth minimum is the polynomial one (Quilez, "smooth minimum", 2013): the blend radius ``k``
is in millimetres and fillets two shapes over a band of about ``k``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Field = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------
# blends
# --------------------------------------------------------------------------------------------
def smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two distance arrays with blend radius ``k`` (mm)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth maximum (smooth intersection) with blend radius ``k`` (mm)."""
    return -smin(-a, -b, k)


def smooth_union(k: float, *fields: np.ndarray) -> np.ndarray:
    """Smooth union of any number of distance arrays, folded left to right."""
    out = fields[0]
    for f in fields[1:]:
        out = smin(out, f, k)
    return out


def smooth_difference(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """``a`` minus ``b`` with a fillet of radius ``k`` (mm) along the cut."""
    return smax(a, -b, k)


# --------------------------------------------------------------------------------------------
# frames
# --------------------------------------------------------------------------------------------
def rot_z(deg: float) -> np.ndarray:
    """3x3 rotation about +z by ``deg`` degrees (right-handed)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(deg: float) -> np.ndarray:
    """3x3 rotation about +x by ``deg`` degrees (right-handed)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    """3x3 rotation about +y by ``deg`` degrees (right-handed)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def frame_from_axes(u, v=None) -> np.ndarray:
    """3x3 rotation whose columns are an orthonormal frame with first axis along ``u``.

    The second axis is ``v`` made orthogonal to ``u`` (or any perpendicular when ``v`` is None).
    """
    u = np.asarray(u, float)
    u = u / np.linalg.norm(u)
    if v is None:
        v = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    v = np.asarray(v, float) - np.dot(v, u) * u
    v = v / np.linalg.norm(v)
    w = np.cross(u, v)
    return np.column_stack([u, v, w])


def to_local(p: np.ndarray, origin, rot: np.ndarray | None = None) -> np.ndarray:
    """Express points in a frame with the given ``origin`` and axes (columns of ``rot``)."""
    q = p - np.asarray(origin, float)
    return q if rot is None else q @ rot


# --------------------------------------------------------------------------------------------
# primitives (points already in the primitive's local frame unless stated)
# --------------------------------------------------------------------------------------------
def sphere(p: np.ndarray, centre, radius: float) -> np.ndarray:
    """Exact distance to a sphere."""
    return np.linalg.norm(p - np.asarray(centre, float), axis=-1) - radius


def ellipsoid(p: np.ndarray, radii) -> np.ndarray:
    """Distance bound to an axis-aligned ellipsoid centred at the origin (Quilez's estimate)."""
    r = np.asarray(radii, float)
    k0 = np.linalg.norm(p / r, axis=-1)
    k1 = np.linalg.norm(p / (r * r), axis=-1)
    return np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, 1e-9), -np.min(r))


def ellipse2(x: np.ndarray, y: np.ndarray, a, b) -> np.ndarray:
    """Distance bound to an ellipse with semi-axes ``a`` (x) and ``b`` (y); arrays allowed."""
    k0 = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    k1 = np.sqrt((x / (a * a)) ** 2 + (y / (b * b)) ** 2)
    return np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, 1e-9), -np.minimum(a, b))


def round_box(p: np.ndarray, half, radius: float = 0.0) -> np.ndarray:
    """Exact distance to an axis-aligned box with half-extents ``half`` and edge radius."""
    q = np.abs(p) - (np.asarray(half, float) - radius)
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(np.max(q, axis=-1), 0.0)
    return outside + inside - radius


def capsule(p: np.ndarray, a, b, radius) -> np.ndarray:
    """Distance to a capsule from ``a`` to ``b``; ``radius`` may be (r_a, r_b) for a cone."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    ab = b - a
    t = np.clip(((p - a) @ ab) / np.dot(ab, ab), 0.0, 1.0)
    r = np.asarray(radius, float)
    rad = r if r.ndim == 0 else r[0] + (r[1] - r[0]) * t
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=-1) - rad


def elliptic_capsule(p: np.ndarray, a, b, half_w, half_h, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Segment ``a``→``b`` swept by an ellipse (half-width ``half_w`` across, ``half_h`` along
    ``up``); the ends are half-ellipsoids. ``half_w``/``half_h`` may be (start, end) pairs.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    axis = b - a
    length = np.linalg.norm(axis)
    rot = frame_from_axes(axis, np.cross(up, axis))  # u along axis, v across, w ~ up
    q = to_local(p, a, rot)
    t = np.clip(q[:, 0] / length, 0.0, 1.0)
    hw = np.asarray(half_w, float)
    hh = np.asarray(half_h, float)
    rw = hw if hw.ndim == 0 else hw[0] + (hw[1] - hw[0]) * t
    rh = hh if hh.ndim == 0 else hh[0] + (hh[1] - hh[0]) * t
    du = q[:, 0] - t * length
    ru = np.minimum(rw, rh)
    pts = np.column_stack([du / ru, q[:, 1] / rw, q[:, 2] / rh])
    k0 = np.linalg.norm(pts, axis=-1)
    k1 = np.sqrt((du / ru**2) ** 2 + (q[:, 1] / rw**2) ** 2 + (q[:, 2] / rh**2) ** 2)
    return np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, 1e-9), -np.minimum(rw, rh))


def plane(p: np.ndarray, point, normal) -> np.ndarray:
    """Signed distance to a plane (positive on the side the normal points to)."""
    n = np.asarray(normal, float)
    n = n / np.linalg.norm(n)
    return (p - np.asarray(point, float)) @ n


# --------------------------------------------------------------------------------------------
# meshing
# --------------------------------------------------------------------------------------------
def evaluate_grid(
    field: Field, lo, hi, spacing: float, chunk: int = 400_000
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``field`` on a regular grid covering [lo, hi] (mm) with one cell of margin.

    Returns
    -------
    values : (nx, ny, nz) float
        Field values.
    origin : (3,) float, mm
        Position of grid sample (0, 0, 0).
    """
    lo = np.asarray(lo, float) - 2 * spacing
    hi = np.asarray(hi, float) + 2 * spacing
    shape = np.ceil((hi - lo) / spacing).astype(int) + 1
    axes = [lo[i] + spacing * np.arange(shape[i]) for i in range(3)]
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    pts = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])
    out = np.empty(len(pts))
    for s in range(0, len(pts), chunk):
        out[s : s + chunk] = field(pts[s : s + chunk])
    return out.reshape(shape), lo


def evaluate_narrow_band(
    field: Field, lo, hi, spacing: float, coarse_factor: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`evaluate_grid` but evaluates the fine grid only near the surface.

    The field is first sampled on a grid ``coarse_factor`` times coarser; fine samples are then
    computed only inside coarse cells whose corner values could straddle zero (|value| below the
    coarse cell diagonal, which bounds the change of a field with gradient norm <= ~1). Other fine
    samples keep the sign of the nearest coarse sample, so the zero set is unchanged.
    """
    lo = np.asarray(lo, float) - 2 * spacing
    hi = np.asarray(hi, float) + 2 * spacing
    cs = spacing * coarse_factor
    n_coarse = np.ceil((hi - lo) / cs).astype(int) + 1
    shape = (n_coarse - 1) * coarse_factor + 1
    caxes = [lo[i] + cs * np.arange(n_coarse[i]) for i in range(3)]
    gx, gy, gz = np.meshgrid(*caxes, indexing="ij")
    cvals = field(np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])).reshape(n_coarse)
    # a coarse sample is "near" when the surface may pass within one coarse cell of it;
    # factor 1.5 leaves room for distance bounds that under-estimate the true distance
    near = np.abs(cvals) < 1.5 * cs * np.sqrt(3.0)
    # fill: nearest coarse value, repeated into blocks
    idx = [
        np.minimum((np.arange(shape[i]) + coarse_factor // 2) // coarse_factor, n_coarse[i] - 1)
        for i in range(3)
    ]
    values = cvals[np.ix_(idx[0], idx[1], idx[2])].copy()
    near_fine = near[np.ix_(idx[0], idx[1], idx[2])]
    fi = np.nonzero(near_fine)
    pts = np.column_stack(
        [lo[0] + spacing * fi[0], lo[1] + spacing * fi[1], lo[2] + spacing * fi[2]]
    )
    vals = np.empty(len(pts))
    chunk = 400_000
    for s in range(0, len(pts), chunk):
        vals[s : s + chunk] = field(pts[s : s + chunk])
    values[fi] = vals
    return values, lo


def mesh_field(
    field: Field,
    lo,
    hi,
    spacing: float,
    keep_largest: bool = True,
    narrow_band: bool = True,
):
    """Mesh the zero level set of ``field`` inside the box [lo, hi] (mm) with marching cubes.

    Parameters
    ----------
    field : callable
        (n, 3) float mm -> (n,) float signed distance (negative inside).
    lo, hi : (3,) float, mm
        A box that contains the whole solid.
    spacing : float, mm
        Grid spacing (the mesh resolution).
    keep_largest : bool
        Keep only the largest connected component (drops specks from blend artefacts).

    Returns
    -------
    trimesh.Trimesh
        Watertight, outward-facing triangle mesh in mm.
    """
    import trimesh
    from skimage.measure import marching_cubes

    if narrow_band:
        values, origin = evaluate_narrow_band(field, lo, hi, spacing)
    else:
        values, origin = evaluate_grid(field, lo, hi, spacing)
    # the grid border must be outside so that the surface closes
    values[0, :, :] = values[-1, :, :] = np.abs(values[0, :, :]).clip(min=spacing)
    values[:, 0, :] = values[:, -1, :] = np.abs(values[:, 0, :]).clip(min=spacing)
    values[:, :, 0] = values[:, :, -1] = np.abs(values[:, :, 0]).clip(min=spacing)
    verts, faces, _normals, _ = marching_cubes(
        values.astype(np.float32), level=0.0, spacing=(spacing,) * 3, allow_degenerate=False
    )
    verts = verts.astype(float) + origin
    # skimage orients triangles towards increasing values (outside); flip for outward normals
    mesh = trimesh.Trimesh(verts, faces[:, ::-1], process=True)
    if keep_largest:
        parts = mesh.split(only_watertight=False)
        if len(parts) > 1:
            mesh = max(parts, key=lambda m: len(m.faces))
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def superellipse2(x: np.ndarray, y: np.ndarray, a, b, n) -> np.ndarray:
    """First-order distance estimate to the superellipse ``|x/a|^n + |y/b|^n = 1``.

    ``n`` (>= 2, may be an array) squares the shape off: 2 is an ellipse, 4 a rounded rectangle.
    The estimate ``(F - 1) / |grad F|`` is exact on the curve and good within a few mm of it.
    """
    u = np.abs(x) / a + 1e-12
    v = np.abs(y) / b + 1e-12
    f = (u**n + v**n) ** (1.0 / n)
    grad = f ** (1.0 - n) * np.sqrt((u ** (n - 1) / a) ** 2 + (v ** (n - 1) / b) ** 2)
    return (f - 1.0) / np.maximum(grad, 1e-9)


# --------------------------------------------------------------------------------------------
# labelled bones
# --------------------------------------------------------------------------------------------
class PartModel:
    """A solid made of named parts: ``parts`` maps names to fields, ``combine`` blends them.

    Parameters
    ----------
    parts : dict[str, callable]
        Each (n, 3) mm -> (n,) signed distance of one anatomical part.
    combine : callable, optional
        dict[str, (n,) array] -> (n,) array: the whole bone's field from its parts (smooth
        unions). Parts are evaluated once per point and shared by ``combine``.
    cut : callable, optional
        (n, 3) mm -> (n,) field of material removed from the whole (canals, foramina), subtracted
        with a fillet of ``cut_radius`` mm.
    whole : callable, optional
        (n, 3) mm -> (n,) field of the whole bone, used instead of ``combine``/``cut`` when the
        blend is not a function of the part values alone.
    """

    def __init__(self, parts: dict[str, Field], combine=None, cut=None, cut_radius=1.0, whole=None):
        self.parts = parts
        self.names = tuple(parts)
        self.combine = combine
        self.cut = cut
        self.cut_radius = cut_radius
        self.whole = whole

    def part_values(self, p: np.ndarray) -> dict[str, np.ndarray]:
        """Every part's distance at points ``p`` ((n, 3) mm)."""
        return {k: f(p) for k, f in self.parts.items()}

    def field(self, p: np.ndarray) -> np.ndarray:
        """The whole solid's signed distance at ``p`` ((n, 3) mm)."""
        if self.whole is not None:
            return self.whole(p)
        out = self.combine(self.part_values(p))
        if self.cut is not None:
            out = smooth_difference(out, self.cut(p), self.cut_radius)
        return out

    def labels(self, p: np.ndarray) -> np.ndarray:
        """Index (into ``names``) of the nearest part at each point ((n,) int)."""
        vals = self.part_values(p)
        return np.argmin(np.stack([vals[k] for k in self.names], axis=1), axis=1)


def polygon2(u: np.ndarray, v: np.ndarray, verts) -> np.ndarray:
    """Exact signed distance to a simple polygon in the (u, v) plane (Quilez's formula).

    ``verts`` is (m, 2), in either winding order; negative inside.
    """
    vs = np.asarray(verts, float)
    p = np.column_stack([u, v])
    d = np.sum((p - vs[0]) ** 2, axis=1)
    sign = np.ones(len(p))
    m = len(vs)
    for i in range(m):
        a, b = vs[i], vs[i - 1]
        e = b - a
        w = p - a
        t = np.clip((w @ e) / np.dot(e, e), 0.0, 1.0)
        dist = w - t[:, None] * e
        d = np.minimum(d, np.sum(dist * dist, axis=1))
        c1 = p[:, 1] >= a[1]
        c2 = p[:, 1] < b[1]
        c3 = e[0] * w[:, 1] > e[1] * w[:, 0]
        flip = (c1 & c2 & c3) | (~c1 & ~c2 & ~c3)
        sign = np.where(flip, -sign, sign)
    return sign * np.sqrt(d)


def inset_convex_polygon(verts, r: float) -> np.ndarray:
    """Move every edge of a convex polygon ((m, 2), either winding) inwards by ``r``.

    ``polygon2(inset) - r`` is then the polygon with its corners rounded to radius ``r``.
    """
    v = np.asarray(verts, float)
    area2 = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
    sgn = 1.0 if area2 > 0 else -1.0  # counter-clockwise: the interior is on the left
    m = len(v)
    lines = []
    for i in range(m):
        a, b = v[i], v[(i + 1) % m]
        e = (b - a) / np.linalg.norm(b - a)
        inward = sgn * np.array([-e[1], e[0]])
        lines.append((a + r * inward, e))
    out = []
    for i in range(m):
        (p1, d1), (p2, d2) = lines[i - 1], lines[i]
        mat = np.column_stack([d1, -d2])
        t = np.linalg.solve(mat, p2 - p1)
        out.append(p1 + t[0] * d1)
    return np.array(out)


def arc_shell2(
    u: np.ndarray, v: np.ndarray, radius: float, thickness: float, start_deg: float, end_deg: float
) -> np.ndarray:
    """Distance bound to a circular arc band in the (u, v) plane centred at the origin.

    The band has mid-radius ``radius`` and full ``thickness``, and covers the polar angles from
    ``start_deg`` to ``end_deg`` (counter-clockwise, from +u) with round ends.
    """
    a0, a1 = np.radians(start_deg), np.radians(end_deg)
    mid = 0.5 * (a0 + a1)
    half = 0.5 * (a1 - a0)
    # rotate so that the arc is symmetric about +u
    c, s = np.cos(mid), np.sin(mid)
    x = c * u + s * v
    y = np.abs(-s * u + c * v)
    ang = np.arctan2(y, x)
    r = np.hypot(x, y)
    ring = np.abs(r - radius) - thickness / 2
    end = np.array([np.cos(half), np.sin(half)]) * radius
    cap = np.hypot(x - end[0], y - end[1]) - thickness / 2
    return np.where(ang <= half, ring, cap)
