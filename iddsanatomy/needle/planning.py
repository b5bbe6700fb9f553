"""Finding a clear needle path: the answer key for quizzes and lessons, and an instructor's hint.

A search over entry points and angles around the clinical starting pose (midline or Miller's
paramedian, REFERENCE §16), analysed with the same trajectory analysis the trainee's needle gets.
A path is clear when the tip reaches the target space through the planned interlaminar window
before any bone or nerve; among clear paths the one furthest from bone where it crosses the
ligamentum flavum wins (the middle of the window).

Speed. Every candidate's line is cast through the anatomy (≈200 lines). The exhaustive search
(``exhaustive=True``) runs the full needle analysis twice per candidate (≈1 ms each: distances to
the dura, conus and bone, the tip's level, events). The default search gives the same answer with
less work: the candidates' lines are cast together (one Embree call per structure and hit rather
than one per line, structure and hit), each candidate is judged from its line profile alone (the
analysis' own rules for the tip, the crossings before it and the interlaminar window, applied
here), and only the winner gets a full analysis. Its lines are not put in the analyser's line
cache, so a search (which may run on a worker thread) leaves the trainee's cached lines alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iddsanatomy.anatomy.model import Anatomy
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.analysis import (
    LINE_LENGTH_MM,
    NeedleAnalyser,
    NeedleAnalysis,
    analyser_for,
    cut_profile,
    interspace_posterior_axis,
    midline_pose,
    paramedian_pose,
    pose_at_skin,
)
from iddsanatomy.needle.needles import DEFAULT_NEEDLE
from iddsanatomy.needle.pose import NeedlePose, direction_from_angles
from iddsanatomy.needle.raycast import ray_boxes

TARGETS = ("intrathecal", "epidural")
#: How far past the entry of the target space the tip is placed (mm): a Tuohy's opening is
#: ≈1 mm from its tip; 2 mm into the CSF gives free flow without reaching the nerve roots.
INTO_TARGET_MM = {"epidural": 1.0, "intrathecal": 2.0}
#: As in :mod:`iddsanatomy.needle.raycast`: the step past a hit before casting again (mm), and
#: the most hits followed along one line in one mesh.
_EPS = 1e-4
_MAX_HITS = 256


@dataclass(frozen=True, eq=False)
class PlannedPath:
    """A clear path: the pose (at the target depth), its analysis and its clearance from bone.

    ``tried`` is the number of entries and angles in the search (the candidates the exhaustive
    search analyses one by one).
    """

    pose: NeedlePose
    analysis: NeedleAnalysis
    clearance_mm: float
    tried: int


def _depth_on_line(line, target: str) -> float | None:
    """Depth at which the tip is in ``target`` with nothing harmful before it on ``line`` (the
    crossings of a needle at full length, then what lies ahead), else None."""
    seen: set = set()
    for c in line:
        key = (c.structure_id, c.entry_depth_mm)
        if key in seen:
            continue
        seen.add(key)
        if c.tissue in ("bone", "neural", "disc", "scar"):
            return None
        if target == "epidural" and c.structure_id.startswith("epidural"):
            return c.entry_depth_mm + min(INTO_TARGET_MM["epidural"], c.thickness_mm / 2)
        if target == "epidural" and c.tissue in ("dura", "csf"):
            return None  # the dura first: no epidural space on this line
        if target == "intrathecal" and c.tissue == "csf":
            return c.entry_depth_mm + min(INTO_TARGET_MM["intrathecal"], c.thickness_mm / 2)
    return None


def _target_depth(a: NeedleAnalysis, target: str, interspace: str) -> float | None:
    """Depth at which the tip is in ``target`` with nothing harmful before it, else None."""
    return _depth_on_line(list(a.crossings) + list(a.ahead), target)


def _candidates(
    anatomy: Anatomy, an: NeedleAnalyser, interspace, approach, side, needle
) -> tuple[NeedlePose, list[NeedlePose]]:
    """The starting pose and every candidate pose (depth 0) of the search, in search order."""
    candidates: list[NeedlePose] = []
    if approach == "midline":
        start = midline_pose(anatomy, interspace, needle=needle)
        try:
            axis = -interspace_posterior_axis(anatomy, interspace)
        except GeometryError:
            axis = np.array([0.0, -1.0, 0.0])
        e0 = np.asarray(start.entry_lps)
        for dz in np.arange(-10.0, 10.01, 2.0):
            try:
                entry = an.skin_point_behind(e0 + np.array([0.0, 0.0, dz]))
            except GeometryError:
                continue
            for ceph in np.arange(-10.0, 30.01, 2.5):
                d = direction_from_angles(float(ceph), 0.0, None, axis)
                candidates.append(NeedlePose(tuple(entry), tuple(d), 0.0, needle, None))
    elif approach == "paramedian":
        start = paramedian_pose(anatomy, interspace, side, needle=needle)
        e0 = np.asarray(start.entry_lps)
        for dz in np.arange(0.0, -20.01, -5.0):
            try:
                entry = an.skin_point_behind(e0 + np.array([0.0, 0.0, dz]))
            except GeometryError:
                continue
            for med in (10.0, 15.0, 20.0):
                for ceph in np.arange(0.0, 30.01, 2.5):
                    try:
                        candidates.append(
                            pose_at_skin(anatomy, entry, float(ceph), med, needle=needle, side=side)
                        )
                    except GeometryError:
                        continue
    else:
        raise ValidationError(f"approach must be 'midline' or 'paramedian', got {approach!r}")
    return start, candidates


def _no_path(approach, target, interspace, n) -> GeometryError:
    return GeometryError(
        f"no clear {approach} path to the {target} space through {interspace} among "
        f"{n} entries and angles tried: bone or nerve is in the way"
    )


def find_path(
    anatomy: Anatomy,
    interspace: str = "L3-L4",
    approach: str = "midline",
    side: str = "left",
    target: str = "intrathecal",
    needle: str = DEFAULT_NEEDLE,
    *,
    exhaustive: bool = False,
) -> PlannedPath:
    """A clear path to ``target`` through ``interspace``; :class:`GeometryError` if none.

    ``approach`` is ``"midline"`` (entries along the midline over the interspinous gap,
    cephalad −10…30° from the spine's perpendicular) or ``"paramedian"`` (Miller's entry 1 cm
    lateral on ``side``, 0–20 mm caudad of it, 10–20° medial, 0–30° cephalad).

    ``exhaustive=True`` analyses every candidate with the full needle analysis (slow: the
    reference the fast default is tested against; both return the same path).
    """
    if target not in TARGETS:
        raise ValidationError(f"target must be one of {TARGETS}, got {target!r}")
    an = analyser_for(anatomy)
    start, candidates = _candidates(anatomy, an, interspace, approach, side, needle)
    length = start.needle.length_mm
    search = _search_exhaustive if exhaustive else _search_from_profiles
    best = search(an, candidates, length, target, interspace)
    if best is None:
        raise _no_path(approach, target, interspace, len(candidates))
    return best


def _search_exhaustive(an, candidates, length, target, interspace) -> PlannedPath | None:
    """Every candidate through the full analysis, at full length and then at its target depth."""
    best: PlannedPath | None = None
    for pose in candidates:
        a = an.analyse(pose.with_depth(length), check_entry=False)
        depth = _target_depth(a, target, interspace)
        if depth is None or depth > length:
            continue
        at = an.analyse(pose.with_depth(depth), check_entry=False)
        if at.interlaminar != interspace or at.blocked or at.neural_contacts:
            continue
        lf = next((c for c in at.crossings if c.structure_id.startswith("ligamentum_flavum")), None)
        probe = pose.entry + (lf.exit_depth_mm if lf else depth) * pose.unit_direction
        clearance = an.distance_to("bone", probe) or 0.0
        if best is None or clearance > best.clearance_mm:
            best = PlannedPath(pose.with_depth(depth), at, float(clearance), len(candidates))
    return best


def _at_depth(profile, depth: float):
    """``(crossings, ahead, blocked, interlaminar)`` of a tip commanded to ``depth`` on a line
    profile, by the analysis' own rules (:func:`~iddsanatomy.needle.analysis.cut_profile`)."""
    cut = cut_profile(profile, depth)
    return list(cut.crossings), list(cut.ahead), cut.bone is not None, cut.interlaminar


def _search_from_profiles(an, candidates, length, target, interspace) -> PlannedPath | None:
    """The exhaustive search's answer from the candidates' line profiles (see the module)."""
    best = None  # (clearance, pose at depth)
    # a line that never meets the window cannot pass through it: only its test is paid
    window = f"interlaminar.{interspace}"
    for pose, profile in zip(candidates, line_profiles(an, candidates, window), strict=True):
        if profile is None:
            continue
        crossings, ahead, _blocked, _inter = _at_depth(profile, length)
        depth = _depth_on_line(crossings + ahead, target)
        if depth is None or depth > length:
            continue
        at_depth = pose.with_depth(depth)
        crossings, _ahead, blocked, inter = _at_depth(profile, at_depth.depth_mm)
        if inter != interspace or blocked or any(c.tissue == "neural" for c in crossings):
            continue
        lf = next((c for c in crossings if c.structure_id.startswith("ligamentum_flavum")), None)
        probe = pose.entry + (lf.exit_depth_mm if lf else depth) * pose.unit_direction
        clearance = float(an.distance_to("bone", probe) or 0.0)
        if best is None or clearance > best[0]:
            best = (clearance, at_depth)
    if best is None:
        return None
    clearance, pose = best
    return PlannedPath(pose, an.analyse(pose, check_entry=False), clearance, len(candidates))


# -- many lines at once ------------------------------------------------------------------------


def line_profiles(an: NeedleAnalyser, poses, through: str | None = None) -> list:
    """The line profile of each pose's line (as ``an.line_profile`` gives it), cast together.

    With Embree, each structure's hits for all the lines are found with one Embree call per hit
    rather than one per line and hit (Embree answers each ray as it would alone); the profiles
    are then assembled by the analyser's own code. Other ray engines cast line by line. The
    analyser's line cache is neither read nor filled.

    ``through``: a structure id; a line that never meets that structure's surface gets ``None``
    instead of a profile (so it cannot cross it), and costs only the test.
    """
    lines = [(np.asarray(p.entry_lps, float), np.asarray(p.direction, float)) for p in poses]
    if not lines:
        return []
    if an.engine != "embree" or not all(hasattr(c, "_scene") for c in an.casters):
        return [an._compute_line(o, d) for o, d in lines]  # (``through`` is only a shortcut)
    L = LINE_LENGTH_MM
    boxes = [ray_boxes(o, d, an.lo, an.hi) for o, d in lines]
    # per structure: the lines that pass through its box, and the span each casts over
    jobs: dict[int, list[tuple[int, float, float]]] = {}
    for i, (t_in, t_out) in enumerate(boxes):
        near = np.nonzero((t_in <= t_out) & (t_out >= 0.0) & (t_in <= L))[0]
        for k in near:
            jobs.setdefault(int(k), []).append(
                (i, float(t_in[k] - 1.0), float(min(t_out[k], L) + 1.0))
            )
    found: dict[tuple[int, int], tuple] = {}

    def cast(k: int, todo) -> None:
        rows = np.array([i for i, _a, _b in todo])
        t0 = np.array([a for _i, a, _b in todo])
        t1 = np.array([b for _i, _a, b in todo])
        origins = np.array([lines[i][0] for i in rows])
        dirs = np.array([lines[i][1] for i in rows])
        found.update(_hits_of_lines(an.casters[k], k, rows, origins, dirs, t0, t1))

    keep = set(range(len(lines)))
    if through is not None:
        k_through = an.ids.index(through) if through in an.ids else None
        todo = jobs.pop(k_through, []) if k_through is not None else []
        if todo:
            cast(k_through, todo)
        keep = {i for i, _a, _b in todo if len(found[(i, k_through)][3])}
    for k, todo in jobs.items():
        todo = [job for job in todo if job[0] in keep]
        if todo:
            cast(k, todo)
    out = []
    for i, (o, d) in enumerate(lines):
        if i not in keep:
            out.append(None)
            continue
        view = _ReplayView(an, [_Replay(c, found, i, k) for k, c in enumerate(an.casters)])
        out.append(NeedleAnalyser._compute_line(view, o, d))
    return out


def _hits_of_lines(caster, k: int, rows, origins, dirs, t_start, t_stop) -> dict:
    """``{(row, k): (t_start, t_stop, t, faces, sign)}``: every hit of each line
    ``origins[j] + t·dirs[j]`` with ``caster``'s mesh between ``t_start[j]`` and ``t_stop[j]``,
    found and finished as :meth:`MeshCaster.hits` does it for one line (the same float32 origins,
    the same step past each hit, ``t`` recomputed on each hit face's plane, the entering or
    exiting sign), with one Embree call per round of hits for all the lines."""
    m = len(origins)
    base = t_start.astype(float).copy()
    span = t_stop - t_start
    o32 = (origins + t_start[:, None] * dirs).astype(np.float32)
    d32 = dirs.astype(np.float32)
    got_row, got_t, got_f = [], [], []
    active = np.arange(m)
    for _ in range(_MAX_HITS):
        if not len(active):
            break
        r = caster._scene.run(
            np.ascontiguousarray(o32[active]), np.ascontiguousarray(d32[active]), output=1
        )
        t = np.asarray(r["tfar"], dtype=np.float32).astype(float)
        hit = (np.asarray(r["geomID"]) >= 0) & ~(t > span[active])
        active, t = active[hit], t[hit]
        got_row.append(active)
        got_t.append(base[active] + t)
        got_f.append(np.asarray(r["primID"], dtype=np.int64)[hit])
        base[active] = base[active] + t + _EPS
        span[active] = t_stop[active] - base[active]
        o32[active] = (origins[active] + base[active][:, None] * dirs[active]).astype(np.float32)
    row = np.concatenate(got_row) if got_row else np.zeros(0, dtype=int)
    order = np.argsort(row, kind="stable")  # each line's hits in the order they were met
    row = row[order]
    t_arr = np.concatenate(got_t)[order] if got_t else np.zeros(0)
    faces = np.concatenate(got_f)[order] if got_f else np.zeros(0, dtype=np.int64)
    d = dirs[row]
    n = caster.normals[faces]
    dn = np.einsum("ij,ij->i", n, d)
    ok = np.abs(dn) > 1e-12
    num = np.einsum("ij,ij->i", caster._v0[faces] - origins[row], n)
    t_arr = np.where(ok, num / np.where(ok, dn, 1.0), t_arr)
    sign = np.sign(np.round(dn, 9)).astype(int)
    cuts = np.searchsorted(row, np.arange(m + 1))
    return {
        (int(rows[j]), k): (
            t_start[j],
            t_stop[j],
            t_arr[cuts[j] : cuts[j + 1]],
            faces[cuts[j] : cuts[j + 1]],
            sign[cuts[j] : cuts[j + 1]],
        )
        for j in range(m)
    }


class _Replay:
    """A stand-in for one :class:`MeshCaster` while one line is assembled: the hits
    :func:`_hits_of_lines` found for that line; any other request goes to the real caster."""

    def __init__(self, caster, found, line: int, k: int):
        self.caster, self.found, self.line, self.k = caster, found, line, k

    def hits(self, origin, direction, t_start: float, t_stop: float):
        got = self.found.get((self.line, self.k))
        if got is None or got[0] != t_start or got[1] != t_stop:
            return self.caster.hits(origin, direction, t_start, t_stop)
        return got[2], got[3], got[4]


class _ReplayView:
    """The analyser seen with :class:`_Replay` casters (everything else is the analyser's)."""

    def __init__(self, an: NeedleAnalyser, casters):
        self._an = an
        self.casters = casters

    def __getattr__(self, name):
        return getattr(self._an, name)
