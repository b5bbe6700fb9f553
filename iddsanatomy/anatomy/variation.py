"""Turn a :class:`~iddsanatomy.anatomy.variant.PatientVariant` into geometry.

The default anatomy is generated once; a variant is applied to it as a chain of cheap stages, so a
trainee can drag a slider and see the patient change:

1. **pose** (posture/lordosis, scoliosis): one rigid transform per vertebra (``new_from_default``),
   composed down the chain from the sacrum, which stays on the table. Bones move rigidly with their
   level; soft tissue that spans levels (dura, cord, ligaments, muscle) follows by linear blend
   skinning along the spine, with per-vertex weights computed once per anatomy and cached. Skin and
   subcutaneous fat follow the posture but not a scoliosis: the spine turns under the skin, so
   the canal's true midline is no longer under the skin's midline (CURRICULUM, "Scoliosis").
2. **habitus** (BMI): the subcutaneous fat thickens and the skin moves out with it; the deep layers
   do not change (Bahk 1998, REFERENCE §11b).
3. **neural** (conus level, dural sac end): the cord/conus/filum and the sac are stretched along
   the canal so their ends fall at the requested position units.
4. **surgery and variants** (laminectomy, fusion, skin lesions, 12th rib, transitional vertebra):
   structures are removed, cut (manifold3d booleans) or added.

Meshes are never modified in place: every stage makes new ``trimesh.Trimesh`` objects.
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import replace

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy.model import Anatomy, Structure
from iddsanatomy.anatomy.variant import PatientVariant

#: Vertebrae that can move, top to bottom; the sacrum (S1) stays fixed on the table.
MOBILE_LEVELS = ("T12", "L1", "L2", "L3", "L4", "L5")
CHAIN = (*MOBILE_LEVELS, "S1")
#: Structures that lie over the spine and do not turn with a scoliosis.
SURFACE_IDS = ("skin", "subcutaneous_fat")
#: Posterior offset of a segment's centre of rotation from the midpoint of the two vertebral
#: body centres: the instantaneous axis of flexion lies in the posterior disc (REFERENCE §5 [D]).
AXIS_POSTERIOR_MM = 6.0


def sagittal_angle_deg(z_lower, z_upper) -> float:
    """Lordosis (degrees) between two vertebral z axes: positive when the upper one leans back.

    This is minus the signed angle about +x (patient's left) from ``z_lower`` to ``z_upper``.
    """
    u = np.asarray(z_lower, float)[1:]
    v = np.asarray(z_upper, float)[1:]
    # 2D vectors in the (y, z) plane; rotation about +x takes (y, z) -> (y cos - z sin, ...).
    cross_x = u[0] * v[1] - u[1] * v[0]
    return -float(np.degrees(np.arctan2(cross_x, u @ v)))


def segment_angles_deg(lps_from_level: dict[str, np.ndarray]) -> dict[str, float]:
    """Sagittal angle of each segment (``"L4-L5"``) from the per-level frames."""
    out = {}
    for upper, lower in itertools.pairwise(CHAIN):
        if upper in lps_from_level and lower in lps_from_level:
            out[f"{upper}-{lower}"] = sagittal_angle_deg(
                lps_from_level[lower][:3, 2], lps_from_level[upper][:3, 2]
            )
    return out


def pose_transforms(
    lps_from_level: dict[str, np.ndarray],
    delta_lordosis_deg: dict[str, float],
    scoliosis: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """``new_from_default`` per level for a change of segmental lordosis (and a scoliosis).

    Parameters
    ----------
    lps_from_level : dict of (4, 4) float
        The default anatomy's per-vertebra frames (origin at the body centre).
    delta_lordosis_deg : dict
        Extra lordosis per segment (``"L4-L5"``), degrees; negative flexes.
    scoliosis : dict of (4, 4) float, optional
        Per-level scoliosis transforms applied after the sagittal pose.
    """
    out = {"S1": np.eye(4)}
    below = "S1"
    for level in reversed(MOBILE_LEVELS):
        if level not in lps_from_level:
            continue
        seg = f"{level}-{below}"
        o_up = lps_from_level[level][:3, 3]
        o_dn = lps_from_level[below][:3, 3] if below in lps_from_level else o_up
        centre = 0.5 * (o_up + o_dn) + np.array([0.0, AXIS_POSTERIOR_MM, 0.0])
        # More lordosis leans the upper vertebra back: a rotation about -x (see sagittal_angle_deg).
        rot = geometry.rotation((-1.0, 0.0, 0.0), delta_lordosis_deg.get(seg, 0.0), centre)
        out[level] = out[below] @ rot
        below = level
    if scoliosis:
        for level, t in scoliosis.items():
            if level in out:
                out[level] = t @ out[level]
    return out


def scoliosis_transforms(
    variant: PatientVariant, lps_from_level: dict[str, np.ndarray], half_span_levels: float = 2.5
) -> dict[str, np.ndarray]:
    """Per-level transforms of a single lumbar curve (translation, coronal tilt, axial rotation).

    The lateral deviation is a half cosine over ``±half_span_levels`` vertebrae around the apex:
    ``x(s) = A cos(pi s / 2H)``. The end vertebrae tilt by ``atan(A pi / 2H)`` each way, so the Cobb
    angle between them is ``2 atan(A pi / 2H)``, which fixes ``A``. Axial rotation peaks at the apex
    (``apical_rotation_deg``) and falls off with the same profile; the vertebral bodies turn towards
    the convexity and the spinous processes towards the concavity (REFERENCE §14).
    """
    if variant.scoliosis_cobb_deg <= 0:
        return {}
    apex = lps_from_level[variant.scoliosis_apex][:3, 3]
    levels = [lv for lv in MOBILE_LEVELS if lv in lps_from_level]
    spacing = np.mean(
        [
            np.linalg.norm(lps_from_level[a][:3, 3] - lps_from_level[b][:3, 3])
            for a, b in itertools.pairwise(levels)
        ]
    )
    h = half_span_levels * spacing
    amplitude = (2 * h / np.pi) * np.tan(np.radians(variant.scoliosis_cobb_deg) / 2)
    convex = -1.0 if variant.scoliosis_side == "right" else 1.0  # patient's right is -x in LPS
    out = {}
    for level in levels:
        origin = lps_from_level[level][:3, 3]
        s = (origin[2] - apex[2]) / h
        if abs(s) >= 1:
            continue
        phase = np.pi * s / 2
        dx = convex * amplitude * np.cos(phase)
        tilt_deg = np.degrees(np.arctan(-convex * amplitude * np.pi / (2 * h) * np.sin(phase)))
        # Bodies turn to the convexity: the anterior body moves to the convex side.
        axial_deg = convex * variant.apical_rotation_deg * np.cos(phase)
        t = geometry.translation((dx, 0, 0))
        t = t @ geometry.rotation((0, 1, 0), tilt_deg, origin)
        t = t @ geometry.rotation((0, 0, 1), axial_deg, origin)
        out[level] = t
    return out


class SpineSkin:
    """Per-vertex blend weights of a mesh along the spine (computed once, reused per pose).

    Each vertex takes the two vertebral frames that bracket it along z (the default frames'
    origins) and a linear weight between them; above T12 or below S1 it follows the end frame.
    """

    def __init__(self, vertices_lps: np.ndarray, lps_from_level: dict[str, np.ndarray]):
        self.levels = [lv for lv in CHAIN if lv in lps_from_level]
        z = np.array([lps_from_level[lv][2, 3] for lv in self.levels])  # descending
        order = np.argsort(z)
        zs = z[order]
        v = np.asarray(vertices_lps, float)
        k = np.clip(np.searchsorted(zs, v[:, 2]) - 1, 0, len(zs) - 2)
        w = np.clip((v[:, 2] - zs[k]) / (zs[k + 1] - zs[k]), 0.0, 1.0)
        self.lo = order[k]
        self.hi = order[k + 1]
        self.w = w

    def apply(self, vertices_lps: np.ndarray, transforms: dict[str, np.ndarray]) -> np.ndarray:
        # measured fastest of three vectorisations (per-vertex 3x3 gather, per-level products,
        # dense weights) on this machine
        eye = np.eye(4)
        stack = np.stack([transforms.get(lv, eye) for lv in self.levels])
        v = np.asarray(vertices_lps, float)
        a = np.einsum("nij,nj->ni", stack[self.lo, :3, :3], v) + stack[self.lo, :3, 3]
        b = np.einsum("nij,nj->ni", stack[self.hi, :3, :3], v) + stack[self.hi, :3, 3]
        return a + (b - a) * self.w[:, None]


def structure_level_frame(structure: Structure) -> str | None:
    """The vertebra a rigid structure moves with (``L3`` for ``L3`` and its parts), else None."""
    level = structure.level
    if structure.tissue in ("bone", "metal") and level in CHAIN:
        return level
    return None


def moved(structure: Structure, vertices: np.ndarray, coarse_vertices=None) -> Structure:
    """A copy of ``structure`` whose mesh (and coarse mesh) have new vertices, same faces."""
    import trimesh

    mesh = trimesh.Trimesh(vertices=vertices, faces=structure.mesh.faces, process=False)
    coarse = None
    if structure.coarse is not None and coarse_vertices is not None:
        coarse = trimesh.Trimesh(
            vertices=coarse_vertices, faces=structure.coarse.faces, process=False
        )
    return replace(structure, mesh=mesh, coarse=coarse)


def _skinned(s: Structure, transforms, base_frames, cache, sid) -> Structure:
    key = (sid, "skin")
    if key not in cache:
        cache[key] = SpineSkin(s.mesh.vertices, base_frames)
    coarse_v = None
    if s.coarse is not None:
        ckey = (sid, "coarse")
        if ckey not in cache:
            cache[ckey] = SpineSkin(s.coarse.vertices, base_frames)
        coarse_v = cache[ckey].apply(s.coarse.vertices, transforms)
    return moved(s, cache[key].apply(s.mesh.vertices, transforms), coarse_v)


def _is_identity(t: np.ndarray) -> bool:
    return bool(np.allclose(t, np.eye(4)))


def repose(
    base: Anatomy,
    transforms: dict[str, np.ndarray],
    cache: dict,
    surface_transforms: dict[str, np.ndarray] | None = None,
) -> Anatomy:
    """Apply per-level ``new_from_default`` transforms to every structure of ``base``.

    ``surface_transforms`` (posture only, no scoliosis) move the skin and subcutaneous fat;
    by default they are ``transforms``.
    """
    surface_transforms = transforms if surface_transforms is None else surface_transforms
    out: dict[str, Structure] = {}
    for sid, s in base.structures.items():
        if not s.ok:
            out[sid] = s
            continue
        rigid = structure_level_frame(s)
        if rigid is not None:
            t = transforms.get(rigid, np.eye(4))
            out[sid] = s if _is_identity(t) else _rigid(s, t)
            continue
        chosen = surface_transforms if sid in SURFACE_IDS else transforms
        out[sid] = _skinned(s, chosen, base.lps_from_level, cache, sid)
    frames = {lv: transforms.get(lv, np.eye(4)) @ f for lv, f in base.lps_from_level.items()}
    landmarks = {}
    for name, p in base.landmarks_lps.items():
        prefix = name.split(".", 1)[0]
        ends = prefix.split("-")
        if len(ends) == 2 and all(e in transforms for e in ends):
            # an interspace's landmark moves halfway between its two vertebrae
            landmarks[name] = 0.5 * sum(geometry.apply(transforms[e], p) for e in ends)
            continue
        t = transforms.get(prefix)
        landmarks[name] = geometry.apply(t, p) if t is not None else p
    return Anatomy(out, landmarks, frames, base.variant, dict(base.info))


def _rigid(s: Structure, t: np.ndarray) -> Structure:
    import trimesh

    mesh = trimesh.Trimesh(
        vertices=geometry.apply(t, s.mesh.vertices), faces=s.mesh.faces, process=False
    )
    coarse = None
    if s.coarse is not None:
        coarse = trimesh.Trimesh(
            vertices=geometry.apply(t, s.coarse.vertices), faces=s.coarse.faces, process=False
        )
    return replace(s, mesh=mesh, coarse=coarse)


# --------------------------------------------------------------------------------------------
# stage 2: habitus
# --------------------------------------------------------------------------------------------
#: How far in front of the vertebral bodies the body's axis lies, for the outward direction in
#: which the subcutaneous fat grows (a modelling choice: the back's surface is what matters).
BODY_AXIS_ANTERIOR_MM = 80.0


def outward_directions(
    vertices_lps: np.ndarray, lps_from_level: dict[str, np.ndarray]
) -> np.ndarray:
    """Unit directions (n, 3) in which the body surface grows: radial from the body's axis.

    On the midline of the back this is +y (posterior), so a midline needle sees exactly the
    thickness added.
    """
    y_axis = np.mean([f[1, 3] for f in lps_from_level.values()]) - BODY_AXIS_ANTERIOR_MM
    d = np.zeros_like(vertices_lps)
    d[:, 0] = vertices_lps[:, 0]
    d[:, 1] = vertices_lps[:, 1] - y_axis
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return d / np.maximum(n, 1e-9)


def _midline_ray(anatomy: Anatomy, upper: str, lower: str) -> tuple[np.ndarray, np.ndarray]:
    """The measurement module's midline needle path of an interspace (origin, unit direction)."""
    from iddsanatomy.anatomy import measure

    return measure.midline_ray(anatomy.landmarks_lps, upper, lower)


class HabitusRig:
    """How the skin and subcutaneous fat move with BMI (computed once per default anatomy).

    The skin moves out as a whole; the fat's outer surface (the vertices that touch the skin)
    moves with it and its inner surface stays on the muscle and ligaments (Bahk 1998: only the
    subcutaneous tissue changes with body size; REFERENCE §11b).

    How far: the default anatomy's skin-to-epidural depth is measured on the midline of every
    interspace (L1–L2 … L5–S1) and the fat at each is made as thick as it must be for the depth to
    follow Ravi 2011 (``17.7966 + 0.9777 × BMI`` mm), blended along the spine between
    interspaces with a smoothstep (:func:`knot_blend`, so the moved skin has no crease at a path).
    Re-posing keeps vertex order, so everything found here holds for every pose.

    Where Ravi's line asks for thinner fat than there is, each vertex stops when the fat under it
    is :data:`~iddsanatomy.anatomy.soft_params.MIN_FAT_MM` thick (the fat under every vertex is
    measured once, by a ray along the direction it moves in): a lean back drapes over the
    spinous tips instead of passing through them, and the depth on the path stays above Ravi's.
    """

    def __init__(self, anatomy: Anatomy, skin_id: str = "skin", fat_id: str = "subcutaneous_fat"):
        from iddsanatomy.anatomy import measure
        from iddsanatomy.anatomy import soft_params as sp

        self.skin_id, self.fat_id = skin_id, fat_id
        self.min_fat_mm = sp.MIN_FAT_MM
        skin_mesh = anatomy[skin_id].mesh
        frames = anatomy.lps_from_level
        z_knots, sed, segs, lines = [], [], [], []
        for upper, lower in itertools.pairwise(CHAIN[1:]):
            seg = f"{upper}-{lower}"
            if f"{seg}.interlaminar_centre" not in anatomy.landmarks_lps:
                continue
            try:
                d = measure.midline_depths(anatomy, upper, lower)
            except (KeyError, ValueError):
                continue
            if np.isfinite(d.get("skin_to_epidural", np.nan)):
                # the knot sits where that midline ray meets the skin
                origin, direction = _midline_ray(anatomy, upper, lower)
                t = measure.first_hit(skin_mesh, origin, direction)
                z_knots.append(float((origin + t * direction)[2]))
                lines.append((origin + t * direction, direction))
                segs.append((upper, lower))
                sed.append(float(d["skin_to_epidural"]))
        order = np.argsort(z_knots)
        self.segs = [segs[i] for i in order]
        self.z_knots = np.asarray(z_knots)[order]
        self.lines = [lines[i] for i in order]
        self.sed_mm = np.asarray(sed)[order]
        self.meshes = {}
        fat_mesh = anatomy[fat_id].mesh
        for sid in (skin_id, fat_id):
            st = anatomy[sid]
            for kind, mesh in (("mesh", st.mesh), ("coarse", st.coarse)):
                if mesh is None:
                    continue
                v = np.asarray(mesh.vertices)
                if sid == fat_id:
                    # the fat's outer sheet (normals facing out, under the skin) moves fully, its
                    # inner sheet (on muscle, ligament and bone) stays; the thin side walls blend
                    facing = np.einsum(
                        "ij,ij->i", mesh.vertex_normals, outward_directions(v, frames)
                    )
                    weight = np.clip(0.5 + facing / 0.6, 0.0, 1.0)
                else:
                    weight = np.ones(len(v))
                u = self.knot_coordinate(v)
                direction = self._directions(anatomy, v, u)
                fat_under = fat_thickness_along(fat_mesh, v, direction)
                self.meshes[(sid, kind)] = (weight, u, fat_under)

    def knot_coordinate(self, vertices: np.ndarray) -> np.ndarray:
        """Where each vertex lies between the interspaces' midline needle paths: ``k`` on the
        ``k``-th path (sorted from the bottom), fractional between two (sagittal plane).

        Blending by this coordinate rather than by height keeps a midline needle's whole path
        at its own interspace's value, however far out the skin moves.
        """
        n_k = len(self.lines)
        if n_k == 0:
            return np.zeros(len(vertices))
        yz = np.asarray(vertices, float)[:, 1:]
        signed = np.empty((n_k, len(yz)))
        for k, (point, direction) in enumerate(self.lines):
            normal = np.array([-direction[2], direction[1]])  # in-plane normal of the path
            if normal[1] < 0:
                normal = -normal  # positive towards the head
            signed[k] = (yz - point[1:]) @ normal
        above = (signed >= 0).sum(axis=0)  # how many paths lie below the vertex
        k = np.clip(above - 1, 0, max(n_k - 2, 0))
        if n_k == 1:
            return np.zeros(len(yz))
        idx = np.arange(len(yz))
        s0, s1 = signed[k, idx], signed[k + 1, idx]
        frac = np.where(np.abs(s0 - s1) > 1e-9, s0 / (s0 - s1), 0.0)
        return np.clip(k + frac, 0.0, n_k - 1.0)

    def extra_mm(self, bmi: float, u: np.ndarray) -> np.ndarray:
        """Fat to add (mm, negative removes) at knot coordinates ``u``, before the minimum."""
        from iddsanatomy.anatomy.variant import skin_to_epidural_mm

        if len(self.z_knots) == 0:
            return np.zeros_like(u)
        extra = skin_to_epidural_mm(bmi) - self.sed_mm
        return knot_blend(u, extra)

    def _directions(self, anatomy: Anatomy, v: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Unit directions (n, 3) in which the vertices move: back along each interspace's
        midline needle path (so that a midline needle sees exactly the thickness added), tipped
        sideways on the flanks."""
        post_knots = np.array(
            [-_midline_ray(anatomy, up, lo)[1] for up, lo in self.segs], float
        ).reshape(-1, 3)
        if len(post_knots) == 0:
            return outward_directions(v, anatomy.lps_from_level)
        direction = np.column_stack([knot_blend(u, post_knots[:, k]) for k in range(3)])
        direction[:, 0] = outward_directions(v, anatomy.lps_from_level)[:, 0]
        return direction / np.linalg.norm(direction, axis=1, keepdims=True)

    def apply(self, anatomy: Anatomy, bmi: float) -> Anatomy:
        structures = dict(anatomy.structures)
        for sid in (self.skin_id, self.fat_id):
            st = anatomy[sid]
            new = {}
            for kind in ("mesh", "coarse"):
                mesh = getattr(st, kind)
                if mesh is None or (sid, kind) not in self.meshes:
                    continue
                weight, u, fat_under = self.meshes[(sid, kind)]
                v = np.asarray(mesh.vertices)
                direction = self._directions(anatomy, v, u)
                # thin no further than the minimum fat; never push the skin out to reach it
                floor = -np.maximum(fat_under - self.min_fat_mm, 0.0)
                extra = np.maximum(self.extra_mm(bmi, u), floor)
                new[kind] = v + (weight * extra)[:, None] * direction
            structures[sid] = moved(st, new["mesh"], new.get("coarse"))
        return Anatomy(
            structures,
            dict(anatomy.landmarks_lps),
            anatomy.lps_from_level,
            anatomy.variant,
            dict(anatomy.info),
        )


def knot_blend(u: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values at knot coordinates ``u`` blended between the knots' ``values`` with a smoothstep.

    ``u`` is :meth:`HabitusRig.knot_coordinate` (``k`` on the ``k``-th path, fractional between,
    clipped at the ends). Between knots ``k`` and ``k + 1`` the weight of the upper one is
    ``3t² − 2t³`` (``t`` the fraction), whose slope is zero at both knots: the blend has no kink
    at a path even though ``u`` itself changes its rate there, so the skin moved by it keeps a
    continuous slope along the back (linear interpolation left a crease at every interspace).
    """
    values = np.asarray(values, float)
    u = np.asarray(u, float)
    if len(values) == 0:
        raise ValueError("knot_blend: no knot values to blend")
    if len(values) == 1:
        return np.full(u.shape, values[0])
    u = np.clip(u, 0.0, len(values) - 1.0)
    k = np.minimum(np.floor(u).astype(int), len(values) - 2)
    t = u - k
    w = t * t * (3.0 - 2.0 * t)
    return (1.0 - w) * values[k] + w * values[k + 1]


def fat_thickness_along(fat_mesh, vertices: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Thickness (mm) of the fat layer on the line through each vertex along its direction.

    A ray from outside the skin (``+3 mm`` beyond the vertex along ``directions``) goes back in;
    its first two crossings of ``fat_mesh`` are the fat's outer and inner surfaces. Where the line
    does not cross the fat twice (the flanks, the layer's edges) the result is ``inf``: nothing
    there limits how far the skin may move in.
    """
    v = np.asarray(vertices, float)
    d = -np.asarray(directions, float)
    origins = v - 3.0 * d
    loc, ray, _tri = fat_mesh.ray.intersects_location(origins, d, multiple_hits=True)
    out = np.full(len(v), np.inf)
    if len(loc) == 0:
        return out
    t = np.einsum("ij,ij->i", loc - origins[ray], d[ray])
    order = np.lexsort((t, ray))
    ray, t = ray[order], t[order]
    # a ray through an edge or a vertex meets two triangles at the same distance: count it once
    distinct = np.r_[True, (ray[1:] != ray[:-1]) | (np.diff(t) > 1e-3)]
    ray, t = ray[distinct], t[distinct]
    first = np.r_[True, ray[1:] != ray[:-1]]
    i1 = np.flatnonzero(first)
    has_two = (i1 + 1 < len(ray)) & (ray[np.minimum(i1 + 1, len(ray) - 1)] == ray[i1])
    i1 = i1[has_two]
    out[ray[i1]] = t[i1 + 1] - t[i1]
    return out


# --------------------------------------------------------------------------------------------
# stage 0: the neural axis (conus level, dural sac end) — applied to the unposed anatomy
# --------------------------------------------------------------------------------------------
CORD_IDS = ("spinal_cord", "conus", "filum_terminale", "cauda_equina")
SAC_IDS = ("dura", "csf", "filum_terminale", "cauda_equina")
#: Above this position the dural sac keeps its shape when its end moves (the middle of L4).
SAC_ANCHOR = "L4.middle"


def canal_curve(anatomy: Anatomy):
    """The midline canal curve of ``anatomy`` (the one the measurement module reads levels on)."""
    from iddsanatomy.anatomy.softtissue import canal_curve as curve_from_landmarks

    return curve_from_landmarks(anatomy.landmarks_lps)


def _remap_along(structure: Structure, curve, s_from, s_to) -> Structure:
    """Move vertices along the canal curve by a piecewise-linear map of arc length ``s``.

    Beyond the map's ends every point shifts by that end's offset, so shapes there are kept.
    """

    def move(vertices):
        x, s, v = curve.coords(np.asarray(vertices, float))
        s_new = np.interp(s, s_from, s_to)
        s_new = np.where(s < s_from[0], s + (s_to[0] - s_from[0]), s_new)
        s_new = np.where(s > s_from[-1], s + (s_to[-1] - s_from[-1]), s_new)
        return curve.point(s_new, v, x)

    coarse = move(structure.coarse.vertices) if structure.coarse is not None else None
    return moved(structure, move(structure.mesh.vertices), coarse)


def neural_stage(base: Anatomy, conus_level: str, dural_sac_end: str) -> Anatomy:
    """Move the conus tip and the end of the dural sac to the requested position units.

    The cord above the conus is stretched or shortened along the canal between the top of the
    model and the tip, and the filum and cauda equina below it likewise down to the sac end; the
    sac keeps its shape above the middle of L4 and stretches between there and its end.
    """
    from iddsanatomy.anatomy.softtissue import s_at_units, unit_table
    from iddsanatomy.anatomy.variant import position_units

    lm = base.landmarks_lps
    curve = canal_curve(base)
    table = unit_table(lm, curve)
    s_tip = curve.s_of(lm["conus.tip"])
    s_end = curve.s_of(lm["dural_sac.end"])
    s_top = float(curve.s[-1]) + 200.0  # far above the model: the cord's top stays put
    # the middle of the requested unit (a unit is a third of a body or a disc)
    s_tip_new = s_at_units(position_units(conus_level) + 0.5, table)
    s_end_new = s_at_units(position_units(dural_sac_end) + 0.5, table)
    s_anchor = s_at_units(position_units(SAC_ANCHOR), table)
    structures = dict(base.structures)
    landmarks = dict(lm)
    if abs(s_tip_new - s_tip) > 1e-6:
        s_from = np.array([s_end, s_tip, s_top])
        s_to = np.array([s_end, s_tip_new, s_top])
        for sid in CORD_IDS:
            if sid in structures and structures[sid].ok:
                structures[sid] = _remap_along(structures[sid], curve, s_from, s_to)
        landmarks["conus.tip"] = curve.point(s_tip_new)[0]
    if abs(s_end_new - s_end) > 1e-6:
        s_from = np.array([s_end, s_anchor])
        s_to = np.array([s_end_new, s_anchor])
        for sid in SAC_IDS:
            if sid in structures and structures[sid].ok:
                structures[sid] = _remap_along(structures[sid], curve, s_from, s_to)
        landmarks["dural_sac.end"] = curve.point(s_end_new)[0]
    return Anatomy(structures, landmarks, base.lps_from_level, base.variant, dict(base.info))


# --------------------------------------------------------------------------------------------
# the pipeline
# --------------------------------------------------------------------------------------------
class VariantBuilder:
    """Applies variants to one default anatomy, caching each stage's result and rigs.

    Changing only the BMI re-runs the habitus stage on the cached pose; changing only the posture
    re-runs from the pose stage; surgery re-uses the posed and dressed anatomy.
    """

    def __init__(self, base: Anatomy):
        from iddsanatomy.anatomy.variant import PatientVariant

        self.base = base
        self.base_variant = base.variant if base.variant is not None else PatientVariant()
        self._rigs: dict = {}
        self._stage_cache: dict = {}

    @property
    def base_bmi(self) -> float:
        """The BMI the default anatomy's skin was generated for (its manifest says; older
        meshes without that record are the default variant's)."""
        return float(self.base.info.get("habitus", {}).get("bmi", self.base_variant.bmi))

    @property
    def base_lordosis_deg(self) -> float:
        """The default anatomy's L1–S1 lordosis as the measurement module reads it from the
        meshes, so that a requested lordosis is what the same measurement will find."""
        if "lordosis" not in self._rigs:
            from iddsanatomy.anatomy import measure

            try:
                self._rigs["lordosis"] = float(measure.lordosis_deg(self.base))
            except (KeyError, ValueError):  # an anatomy without endplates: trust its variant
                self._rigs["lordosis"] = self.base_variant.effective_lordosis_deg
        return self._rigs["lordosis"]

    # -- stage keys: the fields each stage reads
    @staticmethod
    def _pose_key(v) -> tuple:
        return (
            v.effective_lordosis_deg,
            v.scoliosis_cobb_deg,
            v.scoliosis_apex,
            v.scoliosis_side,
            v.apical_rotation_deg,
        )

    def _cached(self, key, fn):
        if key not in self._stage_cache:
            if len(self._stage_cache) > 16:  # a small LRU is enough for slider dragging
                self._stage_cache.pop(next(iter(self._stage_cache)))
            self._stage_cache[key] = fn()
        return self._stage_cache[key]

    @staticmethod
    def _neural_key(v) -> tuple:
        return (v.conus_level, v.dural_sac_end)

    def neural(self, v) -> Anatomy:
        b = self.base_variant
        if self._neural_key(v) == self._neural_key(b):
            return self.base
        return self._cached(
            ("neural", self._neural_key(v)),
            lambda: neural_stage(self.base, v.conus_level, v.dural_sac_end),
        )

    def pose(self, v) -> Anatomy:
        from iddsanatomy.anatomy.variant import SEGMENT_LORDOSIS_SHARE

        if self._pose_key(v) == self._pose_key(self.base_variant):
            # the default meshes were generated in this pose (their measured lordosis is within
            # a degree of it): the same bones and skin, not a re-posed copy
            return self.neural(v)

        def run():
            start = self.neural(v)
            d_total = v.effective_lordosis_deg - self.base_lordosis_deg
            delta = {seg: share * d_total for seg, share in SEGMENT_LORDOSIS_SHARE.items()}
            frames = self.base.lps_from_level
            surface = pose_transforms(frames, delta)
            deep = pose_transforms(frames, delta, scoliosis_transforms(v, frames))
            # skinning weights depend on where the vertices are: the neural stage moves some
            rigs = self._rigs.setdefault(("skin", self._neural_key(v)), {})
            return repose(start, deep, rigs, surface_transforms=surface)

        return self._cached(("pose", self._neural_key(v), self._pose_key(v)), run)

    def habitus(self, v) -> Anatomy:
        def run():
            posed = self.pose(v)
            if "skin" not in posed or "subcutaneous_fat" not in posed:
                return posed
            if v.bmi == self.base_bmi:
                # the default meshes were generated for this BMI: the same skin, not a copy
                # re-fitted to within a fraction of a millimetre
                return posed
            if "habitus" not in self._rigs:
                self._rigs["habitus"] = HabitusRig(self.base)
            return self._rigs["habitus"].apply(posed, v.bmi)

        return self._cached(("habitus", self._neural_key(v), self._pose_key(v), v.bmi), run)

    @staticmethod
    def _structural_key(v) -> tuple:
        return (
            v.laminectomy_levels,
            v.fusion_levels,
            v.skin_lesion_levels,
            v.rib12,
            v.transitional,
        )

    def build(self, v) -> Anatomy:
        """The anatomy of variant ``v`` (a new :class:`Anatomy`; the base is never changed)."""
        from iddsanatomy.anatomy.surgery import apply_structural

        def run():
            dressed = self.habitus(v)
            if self._structural_key(v) == ((), (), (), "normal", "none"):
                return dressed
            return apply_structural(dressed, v)

        key = (
            "structural",
            self._neural_key(v),
            self._pose_key(v),
            v.bmi,
            self._structural_key(v),
        )
        out = self._cached(key, run)
        return Anatomy(
            dict(out.structures), dict(out.landmarks_lps), out.lps_from_level, v, dict(out.info)
        )


_BUILDERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def builder_for(base: Anatomy) -> VariantBuilder:
    """The (cached) :class:`VariantBuilder` of a default anatomy."""
    b = _BUILDERS.get(base)
    if b is None:
        b = _BUILDERS[base] = VariantBuilder(base)
    return b


def apply_variant(base: Anatomy, variant) -> Anatomy:
    """The anatomy of ``variant`` (a PatientVariant, a preset name, or a dict of fields).

    ``base`` is the default anatomy and is never changed. Invalid variants raise
    :class:`~iddsanatomy.errors.ValidationError` naming the field and the allowed values.
    """
    from iddsanatomy.anatomy.variant import PatientVariant, make_variant, preset

    if isinstance(variant, str):
        variant = preset(variant)
    elif isinstance(variant, dict):
        variant = make_variant(**variant)
    elif not isinstance(variant, PatientVariant):
        from iddsanatomy.errors import ValidationError

        raise ValidationError(
            f"a patient variant must be a PatientVariant, a preset name or a dict of fields, "
            f"not {type(variant).__name__}"
        )
    return builder_for(base).build(variant)
