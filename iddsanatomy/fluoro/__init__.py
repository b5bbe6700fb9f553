"""Simulated fluoroscopy: a virtual C-arm (:mod:`.pose`) and a fast DRR (:mod:`.drr`).

Core layer: numpy, trimesh and moderngl (headless EGL); no Qt, pyvista or VTK.
"""

from __future__ import annotations

from iddsanatomy.fluoro.pose import CArmPose, carm_geometry, preset, square_endplates

__all__ = ["CArmPose", "carm_geometry", "preset", "square_endplates"]
