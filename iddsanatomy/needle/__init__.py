"""Needle and catheter simulation: needle types, poses, trajectory analysis, catheter, scoring.

Core only (numpy, trimesh, scipy): the UI, the quizzes and the scoring share
:func:`analyse`. Depths are along the needle from the skin entry, in mm; points are LPS mm.
"""

from iddsanatomy.needle.analysis import (
    Crossing,
    LevelScale,
    LineProfile,
    NeedleAnalyser,
    NeedleAnalysis,
    NeedleEvent,
    analyse,
    analyser_for,
    midline_pose,
    paramedian_pose,
    pose_at_skin,
    pose_from_landmark,
)
from iddsanatomy.needle.catheter import Catheter, catheter_mesh, thread_catheter
from iddsanatomy.needle.mesh import needle_mesh
from iddsanatomy.needle.needles import DEFAULT_NEEDLE, NEEDLE_TYPES, NeedleType, needle_type
from iddsanatomy.needle.planning import PlannedPath, find_path
from iddsanatomy.needle.pose import NeedlePose, angles_from_direction, direction_from_angles
from iddsanatomy.needle.session import NeedleMetrics, NeedlePlan, NeedleSession

__all__ = [
    "DEFAULT_NEEDLE",
    "NEEDLE_TYPES",
    "Catheter",
    "Crossing",
    "LevelScale",
    "LineProfile",
    "NeedleAnalyser",
    "NeedleAnalysis",
    "NeedleEvent",
    "NeedleMetrics",
    "NeedlePlan",
    "NeedlePose",
    "NeedleSession",
    "NeedleType",
    "PlannedPath",
    "analyse",
    "analyser_for",
    "angles_from_direction",
    "catheter_mesh",
    "direction_from_angles",
    "find_path",
    "midline_pose",
    "needle_mesh",
    "needle_type",
    "paramedian_pose",
    "pose_at_skin",
    "pose_from_landmark",
    "thread_catheter",
]
