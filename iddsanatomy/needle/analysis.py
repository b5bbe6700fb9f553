"""Trajectory analysis: what a needle crosses, where its tip is, what happened on the way.

``analyse(anatomy, pose)`` is the one entry point the UI, the quizzes and the scoring share. The
heavy part — every structure's intervals along the needle's line — depends only on the entry
point and the direction, so it is cached per line: advancing or withdrawing the needle costs a
lookup, and a new direction one ray cast per structure near the line (Embree, a few µs each).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from iddsanatomy.anatomy.model import LEVELS, Anatomy
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.needles import DEFAULT_NEEDLE, needle_type
from iddsanatomy.needle.pose import ANTERIOR, NeedlePose, direction_from_angles
from iddsanatomy.needle.raycast import (
    MeshCaster,
    SurfaceProximity,
    distances,
    inside_intervals,
    ray_boxes,
)

#: How far along the line the profile is computed: beyond the longest needle (178 mm).
LINE_LENGTH_MM = 200.0
#: An entry point further than this from the skin surface is refused.
SKIN_TOLERANCE_MM = 2.0
#: Radius of the skin patch whose mean normal is "perpendicular to the skin" (mm).
SKIN_NORMAL_RADIUS_MM = 15.0
#: Gaps thinner than this between two modelled tissues are meshing seams, not spaces (mm).
SEAM_MM = 0.5
_TOUCH_MM = 1e-6

#: Events, in the order a trainee meets them. Severity: "info", "warning" or "critical".
EVENT_KINDS = (
    "loss_of_resistance",  # the tip entered the epidural space
    "dural_puncture",  # the tip crossed the dura (dura or CSF reached)
    "csf",  # the tip is in CSF: intrathecal
    "neural_contact",  # root, cauda equina, conus or cord: critical
    "bone_contact",  # the needle met bone and stops
    "scar",  # scar tissue of previous surgery: atypical anatomy
)

#: Neural structures whose contact is critical (the filum terminale is fibrous: a warning).
NEURAL_CRITICAL_PREFIXES = (
    "nerve_root.",
    "root.",
    "cauda_equina",
    "conus",
    "spinal_cord",
    "cord",
)


@dataclass(frozen=True)
class Crossing:
    """One structure along the needle's line.

    Attributes
    ----------
    structure_id : str
        The structure (``ligamentum_flavum.L3-L4``), ``"epidural_space"`` for the gap between the
        ligamentum flavum and the dura when no structure fills it, ``"unlabelled"`` for another
        gap inside the body.
    tissue : str
    entry_depth_mm, exit_depth_mm : float
        Along the needle from the skin entry point.
    part_id : str or None
        For a bone, the part first met (``L3.lamina.left``).
    """

    structure_id: str
    tissue: str
    entry_depth_mm: float
    exit_depth_mm: float
    part_id: str | None = None

    @property
    def thickness_mm(self) -> float:
        return self.exit_depth_mm - self.entry_depth_mm


@dataclass(frozen=True)
class NeedleEvent:
    """Something that happened at a depth: loss of resistance, dural puncture, bone, nerve."""

    kind: str
    depth_mm: float
    structure_id: str
    severity: str
    message: str
    part_id: str | None = None


@dataclass(frozen=True)
class LineProfile:
    """Every structure along a line from the skin entry, to :data:`LINE_LENGTH_MM`."""

    crossings: tuple[Crossing, ...]
    regions: tuple[Crossing, ...]  # named spaces (interlaminar windows): overlap the tissues


@dataclass(frozen=True, eq=False)  # holds arrays: equality is identity
class NeedleAnalysis:
    """The analysis of one needle pose. Depths are along the needle from the skin entry.

    Attributes
    ----------
    pose : NeedlePose
    tip_depth_mm : float
        Where the tip really is: the commanded depth, or the bone surface if bone stopped it.
    tip_lps : (3,) float, mm
    blocked : bool
        Bone stopped the needle.
    crossings : tuple of Crossing
        The structures passed, in order; the last one holds the tip (exit clipped to the tip).
    tip_structure, tip_tissue : str or None
        Where the tip is (None outside the body).
    bone_contact : Crossing or None
        The bone (with ``part_id``) the tip rests on.
    events : tuple of NeedleEvent
        In depth order.
    interlaminar : str or None
        The interlaminar space the needle passed (``"L3-L4"``).
    tip_level : str or None
        Vertebral level of the tip: ``"L3.lower"`` (thirds) or ``"L3-L4"`` (a disc).
    distance_to_dura_mm, distance_to_conus_mm, distance_to_bone_mm : float or None
        From the tip to the nearest point of that surface (None if the anatomy has none).
    ahead : tuple of Crossing
        What lies further along the line (for instructors and the planner; not a trainee's view).
    """

    pose: NeedlePose
    tip_depth_mm: float
    tip_lps: np.ndarray
    blocked: bool
    crossings: tuple[Crossing, ...]
    tip_structure: str | None
    tip_tissue: str | None
    bone_contact: Crossing | None
    events: tuple[NeedleEvent, ...]
    interlaminar: str | None
    tip_level: str | None
    distance_to_dura_mm: float | None
    distance_to_conus_mm: float | None
    distance_to_bone_mm: float | None
    ahead: tuple[Crossing, ...] = field(default=())

    @property
    def critical(self) -> bool:
        return any(e.severity == "critical" for e in self.events)

    @property
    def in_epidural_space(self) -> bool:
        return bool(self.tip_structure and self.tip_structure.startswith("epidural"))

    @property
    def intrathecal(self) -> bool:
        return self.tip_tissue == "csf" or (
            self.tip_tissue == "neural" and self.dural_puncture is not None
        )

    @property
    def dural_puncture(self) -> NeedleEvent | None:
        return next((e for e in self.events if e.kind == "dural_puncture"), None)

    @property
    def neural_contacts(self) -> tuple[NeedleEvent, ...]:
        return tuple(e for e in self.events if e.kind == "neural_contact")

    def event(self, kind: str) -> NeedleEvent | None:
        return next((e for e in self.events if e.kind == kind), None)

    def structure_ids(self) -> list[str]:
        return [c.structure_id for c in self.crossings]


def _priority(tissue: str, volume: float) -> float:
    """Smaller wins where structures overlap: bone always (the needle cannot be in bone),
    then the smallest structure (the most specific: the conus inside the CSF inside the sac)."""
    return -1.0 if tissue == "bone" else volume


def _anatomy_level_reader(anatomy: Anatomy):
    """``point -> label`` as :func:`iddsanatomy.anatomy.levels.level_label_of_point` reads it,
    with the per-vertebra spans computed once (that function recomputes them on every call)."""
    try:
        from iddsanatomy.anatomy import levels
        from iddsanatomy.anatomy.variant import position_label

        spans = levels._intervals(anatomy)
    except Exception:  # the levels module is optional, and its private helper may change
        return None
    if not spans:
        return None
    mats = np.array([sp[4] for sp in spans])  # (k, 4, 4) level_from_lps

    def read(point_lps) -> str:
        p = np.asarray(point_lps, dtype=float)
        z = mats[:, 2, :3] @ p + mats[:, 2, 3]
        for (u0, u1, z0, z1, _m), zi in zip(spans, z, strict=True):
            if min(z0, z1) <= zi <= max(z0, z1):
                return position_label(np.floor(u0 + (u1 - u0) * (z0 - zi) / (z0 - z1)))
        return levels.level_label_of_point(anatomy, p)  # outside every span: extrapolate

    return read


class LevelScale:
    """Vertebral levels from the vertebral bodies: ``"L2.upper"``, ``"L2-L3"`` (a disc).

    Thirds of a body and discs as position units (Saifuddin 1998, Kim 2003; REFERENCE §8).
    Each body is measured along its own superior axis, so lordosis is respected.
    """

    def __init__(self, anatomy: Anatomy):
        self._anatomy = anatomy
        self._anatomy_levels = None
        if any(k.endswith(".superior_endplate_centre") for k in anatomy.landmarks_lps):
            self._anatomy_levels = _anatomy_level_reader(anatomy)
        self.levels: list[str] = []
        centres, axes, halves = [], [], []
        for lvl in LEVELS:
            s = anatomy.structures.get(lvl)
            if s is None or not s.ok or s.tissue != "bone":
                continue
            verts = np.asarray(s.mesh.vertices)
            body_id = f"{lvl}.body"
            if s.face_labels is not None and body_id in s.part_ids:
                faces = np.asarray(s.mesh.faces)[
                    np.asarray(s.face_labels) == s.part_ids.index(body_id)
                ]
                verts = verts[np.unique(faces)]
            frame = anatomy.lps_from_level.get(lvl)
            axis = np.asarray(frame)[:3, 2] if frame is not None else np.array([0.0, 0.0, 1.0])
            axis = axis / np.linalg.norm(axis)
            h = verts @ axis
            lo, hi = float(h.min()), float(h.max())
            # centre on the axis through the body's centroid
            c = verts.mean(axis=0)
            c = c + ((lo + hi) / 2 - c @ axis) * axis
            self.levels.append(lvl)
            centres.append(c)
            axes.append(axis)
            halves.append((hi - lo) / 2)
        self.centres = np.array(centres).reshape(-1, 3)
        self.axes = np.array(axes).reshape(-1, 3)
        self.halves = np.array(halves)

    def label(self, point_lps) -> str | None:
        """The level of ``point_lps`` ((3,) mm), or None if the anatomy has no vertebral bodies.

        Uses the anatomy's own reading (:func:`iddsanatomy.anatomy.levels.level_label_of_point`,
        in the neighbouring vertebra's endplate frame) when the anatomy has endplate landmarks,
        so that the needle and the lessons name levels alike; else the bodies' extents.
        """
        if self._anatomy_levels is not None:
            try:
                return self._anatomy_levels(point_lps)
            except (KeyError, IndexError, ValueError):
                pass
        if not self.levels:
            return None
        p = np.asarray(point_lps, dtype=float)
        s = np.einsum("ij,ij->i", p - self.centres, self.axes)
        for k, lvl in enumerate(self.levels):
            h = self.halves[k]
            if -h <= s[k] <= h:
                third = "upper" if s[k] > h / 3 else ("lower" if s[k] < -h / 3 else "middle")
                return f"{lvl}.{third}"
        for k in range(len(self.levels) - 1):
            if s[k] < -self.halves[k] and s[k + 1] > self.halves[k + 1]:
                return f"{self.levels[k]}-{self.levels[k + 1]}"
        if s[0] > self.halves[0]:
            return f"above {self.levels[0]}"
        return f"below {self.levels[-1]}"


@dataclass(frozen=True)
class ProfileCut:
    """A line profile read for a tip commanded to some depth (see :func:`cut_profile`)."""

    tip_mm: float  #: where the tip stops: the commanded depth, or the first bone in the way
    bone: Crossing | None  #: the bone that stopped it, if any
    crossings: tuple  #: what the needle has crossed up to the tip (the last one may hold it)
    ahead: tuple  #: what lies beyond the tip on the line
    interlaminar: str | None  #: the interlaminar window passed before the tip ("L3-L4")


def cut_profile(profile, depth_mm: float) -> ProfileCut:
    """The rules by which a needle commanded to ``depth_mm`` along a line reads that line.

    The tip stops on the first bone it reaches (touching within ``_TOUCH_MM`` counts); the
    structures before the tip are crossed (the one it ends in is cut at the tip); the rest lie
    ahead. :meth:`NeedleAnalyser.analyse` and the path finder both read profiles this way.
    """
    bone = next(
        (
            c
            for c in profile.crossings
            if c.tissue == "bone" and c.entry_depth_mm <= depth_mm + _TOUCH_MM
        ),
        None,
    )
    tip = min(depth_mm, bone.entry_depth_mm) if bone is not None else depth_mm
    crossings = []
    for c in profile.crossings:
        if c.entry_depth_mm >= tip - _TOUCH_MM or c.tissue == "bone":
            break
        if c.exit_depth_mm > tip:
            c = Crossing(c.structure_id, c.tissue, c.entry_depth_mm, tip, c.part_id)
        crossings.append(c)
    ahead = tuple(c for c in profile.crossings if c.exit_depth_mm > tip + _TOUCH_MM)
    inter = next(
        (
            r.structure_id.split(".", 1)[1]
            for r in profile.regions
            if r.structure_id.startswith("interlaminar.") and r.entry_depth_mm < tip
        ),
        None,
    )
    return ProfileCut(tip, bone, tuple(crossings), ahead, inter)


class NeedleAnalyser:
    """Analyses needle poses in one anatomy; build once (see :func:`analyser_for`).

    Parameters
    ----------
    anatomy : Anatomy
    engine : {"auto", "embree", "triangle"}
        Ray engine: Embree when available, else trimesh's pure-python intersector (slower).
    """

    def __init__(self, anatomy: Anatomy, engine: str = "auto", cache_size: int = 256):
        self.anatomy = anatomy
        meshes = anatomy.closed_meshes()
        if not meshes:
            raise GeometryError("the anatomy has no closed meshes to analyse a needle path in")
        self.ids = list(meshes)
        self.tissues = [anatomy[i].tissue for i in self.ids]
        self.casters = [MeshCaster(meshes[i], engine) for i in self.ids]
        self.engine = self.casters[0].engine
        self.lo = np.array([c.lo for c in self.casters])
        self.hi = np.array([c.hi for c in self.casters])
        self.rank = np.array(
            [
                _priority(t, abs(float(meshes[i].volume)))
                for i, t in zip(self.ids, self.tissues, strict=True)
            ]
        )
        self._index = {sid: k for k, sid in enumerate(self.ids)}
        self._lines: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._entries_ok: set = set()
        self._skin_faces = None
        self._proximity: dict[str, SurfaceProximity | None] = {}
        self.levels = LevelScale(anatomy)

    # -- geometry helpers -------------------------------------------------------------------
    def proximity(self, group: str) -> SurfaceProximity | None:
        """Distance structure for ``"skin"``, ``"dura"``, ``"conus"`` or ``"bone"`` (cached)."""
        if group not in self._proximity:
            if group == "bone":
                ids = [i for i, t in zip(self.ids, self.tissues, strict=True) if t == "bone"]
            elif group == "dura":
                ids = [i for i, t in zip(self.ids, self.tissues, strict=True) if t == "dura"]
            else:
                ids = [group] if group in self._index else []
            meshes = [self.anatomy[i].mesh for i in ids]
            self._proximity[group] = SurfaceProximity.from_meshes(meshes) if meshes else None
        return self._proximity[group]

    def distance_to(self, group: str, point_lps) -> float | None:
        prox = self.proximity(group)
        return None if prox is None else prox.distance(point_lps)

    def first_hit(self, structure_id: str, origin, direction) -> np.ndarray | None:
        """The first point where the ray meets ``structure_id``'s surface, or None."""
        k = self._index.get(structure_id)
        if k is None:
            raise GeometryError(f"the anatomy has no closed structure {structure_id!r}")
        o, d = np.asarray(origin, float), np.asarray(direction, float)
        t_in, t_out = ray_boxes(o, d, self.lo[k : k + 1], self.hi[k : k + 1])
        if t_in[0] > t_out[0] or t_out[0] < 0:
            return None
        t, _f, _s = self.casters[k].hits(o, d, max(0.0, t_in[0] - 1.0), t_out[0] + 1.0)
        return None if len(t) == 0 else o + t[0] * d

    def skin_point_behind(self, point_lps) -> np.ndarray:
        """Project ``point_lps`` to the skin along +y (posterior): the skin surface above it."""
        p = np.asarray(point_lps, dtype=float)
        if "skin" not in self._index:
            raise GeometryError("the anatomy has no 'skin' structure to project onto")
        top = float(self.hi[self._index["skin"], 1]) + 10.0
        hit = self.first_hit("skin", [p[0], top, p[2]], [0.0, -1.0, 0.0])
        if hit is None:
            raise GeometryError(
                f"no skin above ({p[0]:.1f}, {p[2]:.1f}) (x, z mm LPS): the point is outside the "
                "modelled back"
            )
        return hit

    def skin_normal_at(self, point_lps, radius_mm: float = SKIN_NORMAL_RADIUS_MM) -> np.ndarray:
        """Outward unit normal of the skin around ``point_lps``.

        The area-weighted mean normal of the skin faces within ``radius_mm``: the plane a
        clinician sights along (a needle-hub-sized patch), not one facet of the mesh.
        """
        if "skin" not in self._index:
            raise GeometryError("the anatomy has no 'skin' structure")
        if self._skin_faces is None:
            from scipy.spatial import cKDTree

            mesh = self.anatomy["skin"].mesh
            self._skin_faces = (
                cKDTree(mesh.triangles_center),
                np.asarray(mesh.face_normals) * np.asarray(mesh.area_faces)[:, None],
            )
        tree, weighted = self._skin_faces
        p = np.asarray(point_lps, dtype=float)
        idx = tree.query_ball_point(p, radius_mm)
        if not idx:
            idx = [int(tree.query(p)[1])]
        w = weighted[idx]
        _d, nearest = tree.query(p)
        ref = weighted[nearest]
        # only the sheet the point is on (not the far side of a thin fold)
        w = w[(w @ ref) > 0]
        n = w.sum(axis=0)
        return n / np.linalg.norm(n)

    def check_entry(self, pose: NeedlePose, tolerance_mm: float = SKIN_TOLERANCE_MM) -> None:
        """Raise :class:`GeometryError` unless ``pose.entry_lps`` lies on the skin."""
        key = (pose.entry_lps, tolerance_mm)
        if key in self._entries_ok:
            return
        d = self.distance_to("skin", pose.entry_lps)
        if d is None:
            return  # an anatomy without skin (a bare spine): any entry is allowed
        if d > tolerance_mm:
            e = pose.entry_lps
            raise GeometryError(
                f"entry point ({e[0]:.1f}, {e[1]:.1f}, {e[2]:.1f}) mm LPS is {d:.1f} mm from the "
                f"skin; expected a point on the skin (within {tolerance_mm:g} mm)"
            )
        if len(self._entries_ok) > 1024:
            self._entries_ok.clear()
        self._entries_ok.add(key)

    # -- the line ---------------------------------------------------------------------------
    def line_profile(self, entry_lps, direction) -> LineProfile:
        """Structures along the line from ``entry_lps`` along ``direction`` (cached per line)."""
        key = (tuple(np.round(entry_lps, 6)), tuple(np.round(direction, 9)))
        hit = self._lines.get(key)
        if hit is not None:
            self._lines.move_to_end(key)
            return hit
        prof = self._compute_line(np.asarray(entry_lps, float), np.asarray(direction, float))
        self._lines[key] = prof
        if len(self._lines) > self._cache_size:
            self._lines.popitem(last=False)
        return prof

    def _compute_line(self, o: np.ndarray, d: np.ndarray) -> LineProfile:
        L = LINE_LENGTH_MM
        t_in, t_out = ray_boxes(o, d, self.lo, self.hi)
        near = np.nonzero((t_in <= t_out) & (t_out >= 0.0) & (t_in <= L))[0]
        iv_s, iv_e, iv_k, iv_f = [], [], [], []
        regions = []
        for k in near:
            t, f, s = self.casters[k].hits(o, d, t_in[k] - 1.0, min(t_out[k], L) + 1.0)
            for a, b, face in inside_intervals(t, f, s, min(t_out[k], L + 1.0)):
                a, b = max(a, 0.0) + 0.0, min(b, L)
                if b - a <= _TOUCH_MM:
                    continue
                if self.tissues[k] == "region":
                    regions.append(Crossing(self.ids[k], "region", a, b))
                else:
                    iv_s.append(a)
                    iv_e.append(b)
                    iv_k.append(k)
                    iv_f.append(face)
        regions.sort(key=lambda c: c.entry_depth_mm)
        if not iv_s:
            return LineProfile((), tuple(regions))
        starts, ends = np.array(iv_s), np.array(iv_e)
        ks = np.array(iv_k)
        # snap boundaries closer than 1 µm (one surface met twice) to one depth
        bounds = np.unique(np.concatenate([starts, ends]))
        snapped = bounds[np.concatenate([[True], np.diff(bounds) > 1e-3])]
        starts = snapped[np.searchsorted(snapped, starts + 1e-3, side="right") - 1]
        ends = snapped[np.searchsorted(snapped, ends + 1e-3, side="right") - 1]
        bounds = snapped
        mids = (bounds[:-1] + bounds[1:]) / 2
        inside = (starts[None, :] <= mids[:, None]) & (ends[None, :] > mids[:, None])
        score = np.where(inside, self.rank[ks][None, :], np.inf)
        best = np.argmin(score, axis=1)
        best[~inside.any(axis=1)] = -1
        segs: list[list] = []  # [interval index or -1, start, end]
        for j, b in enumerate(best):
            if segs and segs[-1][0] == b:
                segs[-1][2] = float(bounds[j + 1])
            else:
                segs.append([int(b), float(bounds[j]), float(bounds[j + 1])])
        # drop air before the skin and after the last tissue
        while segs and segs[0][0] < 0:
            segs.pop(0)
        while segs and segs[-1][0] < 0:
            segs.pop()
        # close meshing seams: a thin gap between two tissues is split between them
        for n in range(1, len(segs) - 1):
            b, a, e = segs[n]
            if b < 0 and e - a < SEAM_MM:
                mid = (a + e) / 2
                segs[n - 1][2] = mid
                segs[n + 1][1] = mid
                segs[n][2] = segs[n][1] = mid
        segs = [g for g in segs if g[2] - g[1] > 0.0]
        crossings: list[Crossing] = []
        for n, (b, a, e) in enumerate(segs):
            if b >= 0:
                k = int(ks[b])
                sid, tissue = self.ids[k], self.tissues[k]
                part = None
                if tissue == "bone":
                    part = self.anatomy.part_at(sid, iv_f[b])
                crossings.append(Crossing(sid, tissue, a, e, part))
                continue
            prev = self.ids[int(ks[segs[n - 1][0]])]
            nxt = self.tissues[int(ks[segs[n + 1][0]])]
            if prev.startswith("ligamentum_flavum") and nxt in ("dura", "csf"):
                crossings.append(Crossing("epidural_space", "fat", a, e))
            else:
                crossings.append(Crossing("unlabelled", "none", a, e))
        return LineProfile(tuple(crossings), tuple(regions))

    # -- a pose -----------------------------------------------------------------------------
    def analyse(self, pose: NeedlePose, check_entry: bool = True) -> NeedleAnalysis:
        """Analyse ``pose``; :class:`GeometryError` if its entry is not on the skin."""
        if not isinstance(pose, NeedlePose):
            raise ValidationError(f"expected a NeedlePose, got {type(pose).__name__}")
        if check_entry:
            self.check_entry(pose)
        prof = self.line_profile(pose.entry_lps, pose.direction)
        cut = cut_profile(prof, pose.depth_mm)
        tip, bone, crossings, ahead, inter = (
            cut.tip_mm,
            cut.bone,
            list(cut.crossings),
            cut.ahead,
            cut.interlaminar,
        )
        tip_c = (
            crossings[-1] if crossings and crossings[-1].exit_depth_mm >= tip - _TOUCH_MM else None
        )
        events = self._events(crossings, bone)
        tip_lps = pose.entry + tip * pose.unit_direction
        d_dura, d_conus, d_bone = distances(
            [self.proximity("dura"), self.proximity("conus"), self.proximity("bone")], tip_lps
        )
        # inside the structure itself the distance is zero, not the distance to its far wall
        tip_id = tip_c.structure_id if tip_c else None
        if tip_c is not None and tip_c.tissue == "dura":
            d_dura = 0.0
        if tip_id == "conus":
            d_conus = 0.0
        return NeedleAnalysis(
            pose=pose,
            tip_depth_mm=tip,
            tip_lps=tip_lps,
            blocked=bone is not None,
            crossings=tuple(crossings),
            tip_structure=tip_c.structure_id if tip_c else None,
            tip_tissue=tip_c.tissue if tip_c else None,
            bone_contact=bone,
            events=events,
            interlaminar=inter,
            tip_level=self.levels.label(tip_lps),
            distance_to_dura_mm=d_dura,
            distance_to_conus_mm=d_conus,
            distance_to_bone_mm=d_bone,
            ahead=ahead,
        )

    def display_name(self, structure_id: str) -> str:
        """A trainee's name: the display name, else the id in words (``L4 spinous process``)."""
        return self._name(structure_id)

    def _name(self, structure_id: str) -> str:
        if structure_id == "epidural_space":
            return "epidural space"
        if structure_id == "unlabelled":
            return "tissue not modelled"
        s = self.anatomy.structures.get(structure_id)
        if s is not None and s.display_name:
            return s.display_name
        return structure_id.replace("_", " ").replace(".", " ")

    def _events(self, crossings, bone) -> tuple[NeedleEvent, ...]:
        ev: list[NeedleEvent] = []
        seen: set[str] = set()
        for c in crossings:
            d = c.entry_depth_mm
            if c.structure_id.startswith("epidural") and "loss_of_resistance" not in seen:
                seen.add("loss_of_resistance")
                ev.append(
                    NeedleEvent(
                        "loss_of_resistance",
                        d,
                        c.structure_id,
                        "info",
                        f"Loss of resistance at {d:.1f} mm: the tip is in the epidural space.",
                    )
                )
            if c.tissue in ("dura", "csf") and "dural_puncture" not in seen:
                seen.add("dural_puncture")
                ev.append(
                    NeedleEvent(
                        "dural_puncture",
                        d,
                        c.structure_id,
                        "warning",
                        f"Dural puncture at {d:.1f} mm.",
                    )
                )
            if c.tissue == "csf" and "csf" not in seen:
                seen.add("csf")
                ev.append(
                    NeedleEvent(
                        "csf",
                        d,
                        c.structure_id,
                        "info",
                        f"CSF at {d:.1f} mm: the tip is intrathecal.",
                    )
                )
            if c.tissue == "scar" and "scar" not in seen:
                seen.add("scar")
                ev.append(
                    NeedleEvent(
                        "scar",
                        d,
                        c.structure_id,
                        "warning",
                        # CURRICULUM: avoid operated levels, the anatomy there is atypical
                        f"Scar tissue at {d:.1f} mm: an operated level — the anatomy here is "
                        "atypical and the epidural space may be scarred.",
                    )
                )
            if c.tissue == "neural":
                critical = c.structure_id.startswith(NEURAL_CRITICAL_PREFIXES)
                what = self._name(c.structure_id)
                ev.append(
                    NeedleEvent(
                        "neural_contact",
                        d,
                        c.structure_id,
                        "critical" if critical else "warning",
                        f"STOP — the needle touched the {what} at {d:.1f} mm.",
                    )
                )
        if bone is not None:
            part = self._name(bone.part_id or bone.structure_id)
            ev.append(
                NeedleEvent(
                    "bone_contact",
                    bone.entry_depth_mm,
                    bone.structure_id,
                    "warning",
                    f"Bone: {part} at {bone.entry_depth_mm:.1f} mm.",
                    part_id=bone.part_id,
                )
            )
        return tuple(ev)


def analyser_for(anatomy: Anatomy) -> NeedleAnalyser:
    """The cached :class:`NeedleAnalyser` of ``anatomy`` (built on first use).

    Kept on the anatomy object itself, so it lives and dies with it (a weak-keyed cache would
    never let go: the analyser refers to its anatomy).
    """
    a = getattr(anatomy, "_needle_analyser", None)
    if a is None:
        a = NeedleAnalyser(anatomy)
        anatomy._needle_analyser = a
    return a


def analyse(anatomy: Anatomy, pose: NeedlePose) -> NeedleAnalysis:
    """Analyse ``pose`` in ``anatomy`` (see :class:`NeedleAnalysis`)."""
    return analyser_for(anatomy).analyse(pose)


# -- placing a needle ----------------------------------------------------------------------


def _landmark(anatomy: Anatomy, level: str, name: str) -> np.ndarray | None:
    for key in (f"{level}.{name}", f"{level}_{name}", f"{level}:{name}"):
        if key in anatomy.landmarks_lps:
            return np.asarray(anatomy.landmarks_lps[key], dtype=float)
    return None


def _split_interspace(interspace: str) -> tuple[str, str]:
    try:
        upper, lower = interspace.split("-")
    except ValueError:
        raise ValidationError(f"interspace must look like 'L3-L4', got {interspace!r}") from None
    if upper not in LEVELS or lower not in LEVELS:
        raise ValidationError(f"unknown level in interspace {interspace!r}; levels are {LEVELS}")
    return upper, lower


def _part_vertices(anatomy: Anatomy, bone: str, part: str) -> np.ndarray | None:
    s = anatomy.structures.get(bone)
    if s is None or not s.ok:
        return None
    pid = f"{bone}.{part}"
    if s.face_labels is None or pid not in s.part_ids:
        return None
    faces = np.asarray(s.mesh.faces)[np.asarray(s.face_labels) == s.part_ids.index(pid)]
    return np.asarray(s.mesh.vertices)[np.unique(faces)]


def spinous_caudal_edge(anatomy: Anatomy, level: str) -> np.ndarray:
    """The caudad edge of ``level``'s spinous process, posterior (LPS mm)."""
    lm = _landmark(anatomy, level, "spinous_inferior_edge_posterior")
    if lm is not None:
        return lm
    v = _part_vertices(anatomy, level, "spinous_process")
    if v is None:
        raise GeometryError(f"cannot find the spinous process of {level} in this anatomy")
    back = v[v[:, 1] > v[:, 1].max() - 6.0]
    return back[np.argmin(back[:, 2])]


def midline_x(anatomy: Anatomy, level: str) -> float:
    """x (LPS mm) of the midline at ``level``: its spinous tip, else its spinous process."""
    lm = _landmark(anatomy, level, "spinous_tip")
    if lm is not None:
        return float(lm[0])
    v = _part_vertices(anatomy, level, "spinous_process")
    return float(v[:, 0].mean()) if v is not None else 0.0


def pose_at_skin(
    anatomy: Anatomy,
    entry_lps,
    cephalad_deg: float = 0.0,
    medial_deg: float = 0.0,
    *,
    needle: str = DEFAULT_NEEDLE,
    depth_mm: float = 0.0,
    side: str | None = None,
    reference: str = "posterior",
    tolerance_mm: float = SKIN_TOLERANCE_MM,
) -> NeedlePose:
    """A pose entering at ``entry_lps`` (which must be on the skin) with the given angles.

    ``reference="posterior"`` measures the angles from the anterior axis (perpendicular to a
    prone patient's back); ``"skin"`` from the inward skin normal at the entry.
    """
    needle_type(needle)
    an = analyser_for(anatomy)
    if reference == "skin":
        axis = -an.skin_normal_at(entry_lps)
    elif reference == "posterior":
        axis = np.array(ANTERIOR)
    else:
        raise ValidationError(f"reference must be 'posterior' or 'skin', got {reference!r}")
    d = direction_from_angles(cephalad_deg, medial_deg, side, axis)
    pose = NeedlePose(tuple(entry_lps), tuple(d), depth_mm, needle, side)
    an.check_entry(pose, tolerance_mm)
    return pose


def pose_from_landmark(
    anatomy: Anatomy,
    landmark: str,
    lateral_mm: float = 0.0,
    caudal_mm: float = 0.0,
    side: str | None = None,
    cephalad_deg: float = 0.0,
    medial_deg: float = 0.0,
    *,
    needle: str = DEFAULT_NEEDLE,
    reference: str = "posterior",
) -> NeedlePose:
    """Enter ``lateral_mm`` to ``side`` and ``caudal_mm`` below ``landmark``, on the skin above it.

    "1 cm lateral and 1 cm caudal to the L3 spinous tip" is
    ``pose_from_landmark(a, "L3.spinous_tip", 10, 10, "left")``. The offset point is projected
    to the skin along +y (straight up from a prone patient's back).
    """
    if landmark not in anatomy.landmarks_lps:
        from iddsanatomy.anatomy.model import suggest

        raise GeometryError(
            f"unknown landmark {landmark!r}{suggest(landmark, anatomy.landmarks_lps)}"
        )
    if lateral_mm and side not in ("left", "right"):
        raise ValidationError("a lateral offset needs side='left' or 'right' (patient's side)")
    p = np.asarray(anatomy.landmarks_lps[landmark], dtype=float).copy()
    p[0] += (1.0 if side == "left" else -1.0) * float(lateral_mm) if lateral_mm else 0.0
    p[2] -= float(caudal_mm)
    if not np.all(np.isfinite(p)):
        raise GeometryError(f"offsets must be finite, got {lateral_mm!r}, {caudal_mm!r}")
    entry = analyser_for(anatomy).skin_point_behind(p)
    return pose_at_skin(
        anatomy, entry, cephalad_deg, medial_deg, needle=needle, side=side, reference=reference
    )


def midline_pose(
    anatomy: Anatomy,
    interspace: str = "L3-L4",
    cephalad_deg: float = 0.0,
    *,
    needle: str = DEFAULT_NEEDLE,
    reference: str = "skin",
) -> NeedlePose:
    """A midline needle at ``interspace``.

    ``reference="skin"`` (default): entry on the skin over the interspinous gap (the landmark
    ``<interspace>.skin_midline`` when the anatomy has one, else over the interspinous ligament's
    centroid), perpendicular to the skin (its mean normal over a 15 mm patch, kept in the
    midsagittal plane). ``"posterior"``: the same entry, straight anterior. ``"spine"``: through
    the middle of the interlaminar window, perpendicular to the spine (the line the anatomy's
    own midline depths are measured along). ``cephalad_deg`` tilts from that direction.
    """
    upper, lower = _split_interspace(interspace)
    an = analyser_for(anatomy)
    if reference == "spine":
        return _midline_through_window(anatomy, interspace, cephalad_deg, needle)
    skin_mark = anatomy.landmarks_lps.get(f"{interspace}.skin_midline")
    if skin_mark is not None:  # the anatomy's own midline entry over the interspinous gap
        entry = an.skin_point_behind(skin_mark)
        return _midline_at(anatomy, entry, cephalad_deg, needle, reference)
    isl = anatomy.structures.get(f"interspinous_ligament.{interspace}")
    if isl is not None and isl.ok:
        z = float(isl.mesh.centroid[2])
    else:
        a = spinous_caudal_edge(anatomy, upper)
        b = _landmark(anatomy, lower, "spinous_superior_edge_posterior")
        if b is None:
            v = _part_vertices(anatomy, lower, "spinous_process")
            if v is None:
                raise GeometryError(f"cannot find the spinous process of {lower}")
            b = v[np.argmax(v[:, 2])]
        z = float((a[2] + b[2]) / 2)
    x = (midline_x(anatomy, upper) + midline_x(anatomy, lower)) / 2
    entry = an.skin_point_behind([x, 0.0, z])
    return _midline_at(anatomy, entry, cephalad_deg, needle, reference)


def interspace_posterior_axis(anatomy: Anatomy, interspace: str) -> np.ndarray:
    """Unit posterior axis perpendicular to the spine at ``interspace`` (LPS).

    Perpendicular to the line joining the two canal centres, in the midsagittal plane: the
    axis :func:`iddsanatomy.anatomy.measure.midline_depths` measures along.
    """
    upper, lower = _split_interspace(interspace)
    cu = _landmark(anatomy, upper, "canal_centre")
    cl = _landmark(anatomy, lower, "canal_centre")
    if cu is None or cl is None:
        raise GeometryError(f"the anatomy has no canal centres for {interspace}")
    z = (cu - cl) / np.linalg.norm(cu - cl)
    post = np.cross(z, [1.0, 0.0, 0.0])
    return post / np.linalg.norm(post)


def _midline_through_window(anatomy, interspace, cephalad_deg, needle) -> NeedlePose:
    """Entry where the line through the window centre, perpendicular to the spine, meets the
    skin; direction along that line (then tilted ``cephalad_deg``)."""
    centre = anatomy.landmarks_lps.get(f"{interspace}.interlaminar_centre")
    region = anatomy.structures.get(f"interlaminar.{interspace}")
    if centre is None and region is not None and region.ok:
        centre = region.mesh.centroid
    if centre is None:
        raise GeometryError(f"the anatomy has no interlaminar window {interspace} to aim through")
    post = interspace_posterior_axis(anatomy, interspace)
    an = analyser_for(anatomy)
    centre = np.asarray(centre, dtype=float)
    entry = an.first_hit("skin", centre + 250.0 * post, -post)
    if entry is None:
        raise GeometryError(f"no skin behind the {interspace} interlaminar window")
    d = direction_from_angles(cephalad_deg, 0.0, None, -post)
    pose = NeedlePose(tuple(entry), tuple(d), 0.0, needle, None)
    an.check_entry(pose)
    return pose


def _midline_at(anatomy, entry, cephalad_deg, needle, reference) -> NeedlePose:
    """A sagittal needle at ``entry``: the skin normal's left-right part is dropped (a midline
    needle stays in the midsagittal plane; the mesh's facets are not symmetric)."""
    if reference == "skin":
        n = analyser_for(anatomy).skin_normal_at(entry)
        axis = -np.array([0.0, n[1], n[2]])
    elif reference == "posterior":
        axis = np.array(ANTERIOR)
    else:
        raise ValidationError(
            f"reference must be 'spine', 'posterior' or 'skin', got {reference!r}"
        )
    d = direction_from_angles(cephalad_deg, 0.0, None, axis)
    pose = NeedlePose(tuple(entry), tuple(d), 0.0, needle, None)
    analyser_for(anatomy).check_entry(pose)
    return pose


#: Miller's paramedian approach: 1 cm lateral, 1 cm caudad to the caudad edge of the superior
#: spinous process, ≈15° off the sagittal plane (Miller's Anesthesia 6th ed. Fig. 43-12 [R],
#: REFERENCE §16); 10–15° cephalad as well (droracle summary [S], REFERENCE §16).
PARAMEDIAN_LATERAL_MM = 10.0
PARAMEDIAN_CAUDAL_MM = 10.0
PARAMEDIAN_MEDIAL_DEG = 15.0
PARAMEDIAN_CEPHALAD_DEG = 15.0


def paramedian_pose(
    anatomy: Anatomy,
    interspace: str = "L3-L4",
    side: str = "left",
    *,
    lateral_mm: float = PARAMEDIAN_LATERAL_MM,
    caudal_mm: float = PARAMEDIAN_CAUDAL_MM,
    medial_deg: float = PARAMEDIAN_MEDIAL_DEG,
    cephalad_deg: float = PARAMEDIAN_CEPHALAD_DEG,
    needle: str = DEFAULT_NEEDLE,
) -> NeedlePose:
    """Miller's paramedian approach at ``interspace`` from ``side`` (see the constants)."""
    upper, _lower = _split_interspace(interspace)
    if side not in ("left", "right"):
        raise ValidationError(f"side must be 'left' or 'right', got {side!r}")
    edge = spinous_caudal_edge(anatomy, upper)
    p = edge + np.array([(1.0 if side == "left" else -1.0) * lateral_mm, 0.0, -caudal_mm])
    entry = analyser_for(anatomy).skin_point_behind(p)
    return pose_at_skin(
        anatomy, entry, cephalad_deg, medial_deg, needle=needle, side=side, reference="posterior"
    )
