"""Picking: which structure, and which part of it, is under a point of the 3D view.

A cell picker over the shown actors, accelerated by one static cell locator per mesh (built on
first use, or ahead of time with :func:`prepare_picking`), so a pick costs well under a
millisecond per structure hit instead of a walk over every triangle. The picker honours the
mappers' clipping planes, so a cut-away structure cannot be picked where it is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vtkmodules.vtkCommonDataModel import vtkStaticCellLocator
from vtkmodules.vtkRenderingCore import vtkCellPicker

MIN_PICK_OPACITY = 0.15  # nearly invisible structures do not catch clicks


@dataclass(frozen=True)
class Pick:
    """What a pick hit.

    Attributes
    ----------
    structure_id : str
        The whole structure (``L4``).
    part_id : str
        The part (``L4.inferior_articular_process.right``), or ``structure_id`` when the
        structure has no parts.
    face_index : int
        Index of the hit triangle in the structure's full mesh.
    point_lps : (3,) float, mm
    """

    structure_id: str
    part_id: str
    face_index: int
    point_lps: tuple[float, float, float]


class Picker:
    """Reusable picker bound to a :class:`~iddsanatomy.render.scene_renderer.SceneRenderer`."""

    def __init__(self, scene_renderer):
        self.sr = scene_renderer
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0005)
        self._picker.PickFromListOn()
        self._locators: dict[str, vtkStaticCellLocator] = {}
        self._generation = scene_renderer.generation

    def prepare(self, ids=None) -> None:
        """Build the cell locators now (e.g. on an idle timer after the first frame)."""
        for sid in ids if ids is not None else list(self.sr.actors):
            self._locator(sid)

    def _locator(self, sid: str) -> vtkStaticCellLocator:
        if self._generation != self.sr.generation:
            self._locators.clear()
            self._generation = self.sr.generation
        loc = self._locators.get(sid)
        if loc is None:
            loc = vtkStaticCellLocator()
            loc.SetDataSet(self.sr.full_mesh(sid))
            loc.BuildLocator()
            self._locators[sid] = loc
        return loc

    def pick(self, x: float, y: float) -> Pick | None:
        """Pick at display pixel (``x``, ``y``), origin at the bottom left (VTK convention)."""
        sr = self.sr
        if sr.interacting:  # face indices refer to the full meshes
            sr.end_interaction()
        p = self._picker
        p.InitializePickList()
        p.RemoveAllLocators()
        candidates = [
            sid
            for sid, actor in sr.actors.items()
            if actor.GetVisibility() and actor.prop.opacity >= MIN_PICK_OPACITY
        ]
        if not candidates:
            return None
        for sid in candidates:
            p.AddPickList(sr.actors[sid])
            p.AddLocator(self._locator(sid))
        if not p.Pick(x, y, 0.0, sr.plotter.renderer):
            return None
        sid = sr.structure_of_actor(p.GetActor())
        if sid is None:
            return None
        face = int(p.GetCellId())
        if face < 0:
            return None
        part = sr.anatomy.part_at(sid, face)
        return Pick(sid, part, face, tuple(float(v) for v in np.asarray(p.GetPickPosition())))


def pick(scene_renderer, x: float, y: float) -> Pick | None:
    """One-off pick at display pixel (``x``, ``y``) (origin bottom left)."""
    return Picker(scene_renderer).pick(x, y)


def project_to_display(plotter, point_lps) -> tuple[float, float]:
    """Display coordinates (origin bottom left, pixels) of a point (LPS mm)."""
    ren = plotter.renderer
    ren.SetWorldPoint(*(float(v) for v in point_lps), 1.0)
    ren.WorldToDisplay()
    x, y, _ = ren.GetDisplayPoint()
    return float(x), float(y)
