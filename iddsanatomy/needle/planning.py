"""Finding a clear needle path: the answer key for quizzes and lessons, and an instructor's hint.

A search over entry points and angles around the clinical starting pose (midline or Miller's
paramedian, REFERENCE §16), analysed with the same trajectory analysis the trainee's needle gets.
A path is clear when the tip reaches the target space through the planned interlaminar window
before any bone or nerve; among clear paths the one furthest from bone where it crosses the
ligamentum flavum wins (the middle of the window).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iddsanatomy.anatomy.model import Anatomy
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.analysis import (
    NeedleAnalysis,
    analyser_for,
    interspace_posterior_axis,
    midline_pose,
    paramedian_pose,
    pose_at_skin,
)
from iddsanatomy.needle.needles import DEFAULT_NEEDLE
from iddsanatomy.needle.pose import NeedlePose, direction_from_angles

TARGETS = ("intrathecal", "epidural")
#: How far past the entry of the target space the tip is placed (mm): a Tuohy's opening is
#: ≈1 mm from its tip; 2 mm into the CSF gives free flow without reaching the nerve roots.
INTO_TARGET_MM = {"epidural": 1.0, "intrathecal": 2.0}


@dataclass(frozen=True, eq=False)
class PlannedPath:
    """A clear path: the pose (at the target depth), its analysis and its clearance from bone."""

    pose: NeedlePose
    analysis: NeedleAnalysis
    clearance_mm: float
    tried: int


def _target_depth(a: NeedleAnalysis, target: str, interspace: str) -> float | None:
    """Depth at which the tip is in ``target`` with nothing harmful before it, else None."""
    line = list(a.crossings) + list(a.ahead)
    seen: set[str] = set()
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


def find_path(
    anatomy: Anatomy,
    interspace: str = "L3-L4",
    approach: str = "midline",
    side: str = "left",
    target: str = "intrathecal",
    needle: str = DEFAULT_NEEDLE,
) -> PlannedPath:
    """A clear path to ``target`` through ``interspace``; :class:`GeometryError` if none.

    ``approach`` is ``"midline"`` (entries along the midline over the interspinous gap,
    cephalad −10…30° from the spine's perpendicular) or ``"paramedian"`` (Miller's entry 1 cm
    lateral on ``side``, 0–20 mm caudad of it, 10–20° medial, 0–30° cephalad).
    """
    if target not in TARGETS:
        raise ValidationError(f"target must be one of {TARGETS}, got {target!r}")
    an = analyser_for(anatomy)
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
    best: PlannedPath | None = None
    length = start.needle.length_mm
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
    if best is None:
        raise GeometryError(
            f"no clear {approach} path to the {target} space through {interspace} among "
            f"{len(candidates)} entries and angles tried: bone or nerve is in the way"
        )
    return best
