"""Draw a :class:`~iddsanatomy.scene.SceneState` into any pyvista plotter, and keep it drawn.

``SceneRenderer(plotter, anatomy, state)`` works the same on ``pv.Plotter(off_screen=True)``
(tests, the ``snapshot`` command) and on the app's ``QtInteractor``: it subscribes to the
state's events and updates actors in place. It never imports Qt. Renders are requested through
``schedule_render`` so that the app can coalesce many state changes into one frame.

Design choices, for speed on a software renderer (Mesa llvmpipe, ~12 fps at 500k triangles):

- one actor per whole structure; parts of a bone are highlighted by per-face colours on the
  bone's own actor (no extra geometry, no z-fighting);
- cross-sections use the mapper's clipping plane (moving the slider re-uploads nothing); the
  cut is "filled" by a flat back-face colour, since the inside of a closed mesh shows its back
  faces where the plane opens it;
- while the camera moves, actors draw their ``coarse`` mesh (level of detail) and swap back
  when the interaction ends;
- MSAA off, FXAA on (MSAA costs 4-5x on the software renderer);
- the needle and catheter are drawn by :class:`~iddsanatomy.render.instruments.InstrumentRenderer`
  on a layer of their own: while only they move, a frame redraws them alone over a kept copy
  of the anatomy's image (full detail, about a tenth of the cost of a coarse frame).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonDataModel import vtkPlane
from vtkmodules.vtkFiltersCore import vtkAppendPolyData, vtkClipPolyData, vtkCutter
from vtkmodules.vtkFiltersGeneral import vtkContourTriangulator
from vtkmodules.vtkRenderingCore import vtkPolyDataMapper, vtkProperty

from iddsanatomy.render import views
from iddsanatomy.render.instruments import InstrumentRenderer
from iddsanatomy.scene import Camera, SceneState

log = logging.getLogger(__name__)

BACKGROUND_BOTTOM = (0.075, 0.090, 0.115)
BACKGROUND_TOP = (0.235, 0.275, 0.335)
HIGHLIGHT_RGB = (1.0, 0.70, 0.16)  # amber: what a lesson or the trainee points at
SELECT_RGB = (0.30, 0.82, 1.0)  # cyan: the picked structure or part
NEEDLE_RGB = (0.82, 0.84, 0.88)
CATHETER_RGB = (0.62, 0.30, 0.95)  # violet: stands out against the yellow cauda equina

# Soft tissue that would hide the spine is not shown until asked for; spaces are translucent.
DEFAULT_HIDDEN_TISSUES = frozenset({"skin", "fat", "muscle", "csf", "region", "scar"})
#: A patient's lesions and scars are what the trainee must notice: shown even though skin and
#: scar tissue are hidden by default.
ALWAYS_SHOWN_PREFIXES = ("skin_lesion.", "scar.")
HIGHLIGHTED_REGION_OPACITY = 0.9
CAP_SHADE = 0.92  # cut faces a touch darker than the outer surface
CAP_OFFSET_MM = 0.02  # caps sit this far (times their rank) towards the removed side
CAP_ORDER = ("skin", "muscle", "fat", "scar", "csf", "ligament", "disc", "bone", "metal", "neural")
UNCAPPED_TISSUES = frozenset({"dura"})  # a membrane: its inside shows the sac's contents
DEFAULT_OPACITY = {"skin": 0.25, "fat": 0.3, "muscle": 0.45, "csf": 0.35, "region": 0.55}

_MATERIAL = {  # (ambient, diffuse, specular, specular power)
    "bone": (0.10, 0.85, 0.35, 22.0),
    "metal": (0.15, 0.6, 0.9, 60.0),
    "disc": (0.12, 0.8, 0.25, 15.0),
    "ligament": (0.12, 0.8, 0.2, 12.0),
    "neural": (0.12, 0.8, 0.3, 18.0),
    "dura": (0.12, 0.8, 0.3, 18.0),
}
_DEFAULT_MATERIAL = (0.12, 0.85, 0.12, 10.0)

LABEL_GROUPS = ("levels", "ribs", "interlaminar")
_LEVEL_LABELS = ("T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")


def default_visible(anatomy) -> frozenset[str]:
    """Whole structures shown when the explorer opens: the spine, its ligaments and contents."""
    return frozenset(
        sid
        for sid, s in anatomy.structures.items()
        if s.parent is None
        and s.ok
        and (s.tissue not in DEFAULT_HIDDEN_TISSUES or sid.startswith(ALWAYS_SHOWN_PREFIXES))
    )


def _set_opacity(actor, opacity: float) -> None:
    """Set an actor's opacity on its front *and* back faces.

    Closed meshes carry a darker backface property (the inside of a cut); left at its default
    opacity of 1 it would draw the far side of a translucent skin or dura opaque and hide
    everything behind it.
    """
    actor.prop.opacity = opacity
    back = actor.GetBackfaceProperty()
    if back is not None:
        back.SetOpacity(opacity)


def whole_id(anatomy, sid: str) -> str:
    """The whole structure a (part) id belongs to."""
    s = anatomy.structures.get(sid)
    return s.parent if s is not None and s.parent else sid


def polydata_from_trimesh(mesh, closed: bool = True) -> pv.PolyData:
    """A :class:`pyvista.PolyData` with smooth point normals; inside-out closed meshes are fixed.

    Face order is kept, so VTK cell ``i`` is trimesh face ``i`` (picking relies on it). Normals
    and the orientation test share one cross product per face (3-4x faster than asking trimesh
    for ``vertex_normals`` and ``volume``, which matters for the first frame).
    """
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(faces) == 0:
        return pv.PolyData(vertices.astype(np.float32))
    v0, v1, v2 = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    area_normals = np.cross(v1 - v0, v2 - v0)  # |n| = 2 x area: area-weighted vertex normals
    if closed and float(np.einsum("ij,ij->", v0, area_normals)) < 0:
        # negative signed volume: inside out; would show its (dark) back faces everywhere
        faces = faces[:, ::-1]
        area_normals = -area_normals
    n_v = len(vertices)
    normals = np.zeros((n_v, 3), dtype=np.float64)
    idx = faces.ravel()
    for axis in range(3):
        normals[:, axis] = np.bincount(idx, np.repeat(area_normals[:, axis], 3), minlength=n_v)
    length = np.linalg.norm(normals, axis=1)
    length[length == 0] = 1.0
    normals /= length[:, None]
    pd = pv.PolyData.from_regular_faces(vertices.astype(np.float32), faces)
    pd.point_data.set_array(normals.astype(np.float32), "Normals")
    pd.GetPointData().SetActiveNormals("Normals")
    return pd


def _mix(a, b, t: float) -> tuple[float, float, float]:
    return tuple(float((1 - t) * x + t * y) for x, y in zip(a, b, strict=True))


class SceneRenderer:
    """Keeps a pyvista plotter showing what a :class:`SceneState` says.

    Parameters
    ----------
    plotter : pyvista.Plotter or pyvistaqt.QtInteractor
    anatomy : iddsanatomy.anatomy.model.Anatomy
    state : iddsanatomy.scene.SceneState
    schedule_render : callable, optional
        Called when a new frame is needed; defaults to ``plotter.render()`` at once. The app
        passes a coalescing scheduler (one frame for many changes).
    schedule_caps : callable, optional
        Called when the caps of a cross-section are out of date; it should call
        :meth:`update_caps` later (the app waits until the slider rests). Default: at once.
    """

    def __init__(
        self,
        plotter,
        anatomy,
        state: SceneState,
        schedule_render: Callable[[], None] | None = None,
        schedule_caps: Callable[[], None] | None = None,
    ):
        self.plotter = plotter
        self.anatomy = anatomy
        self.state = state
        self._schedule = schedule_render or self.render_now
        # caps (the filled cut faces) cost ~50 ms for the whole spine: the app recomputes them
        # when the slider rests (schedule_caps), a script at once
        self._schedule_caps = schedule_caps
        self._cap_actor = None
        self.actors: dict[str, pv.Actor] = {}
        self._full: dict[str, pv.PolyData] = {}
        self._coarse: dict[str, pv.PolyData] = {}
        self._by_address: dict[str, str] = {}
        self._part_colored: set[str] = set()
        self._interacting = False
        self._plane = vtkPlane()
        self._clip_on = False
        self._label_actors: list[str] = []
        self._style_observers: list[tuple[object, int]] = []
        self._connections: list[tuple[object, Callable]] = []
        #: ``callable(from_pose, to_pose)`` animating a camera change (set by the app); None: jump
        self.camera_transition: Callable[[views.CameraPose, views.CameraPose], None] | None = None
        #: last pick/draw problems, for the status bar
        self.problems: list[str] = []

        self._broken: set[str] = set()
        # screen-right of the named view: level labels sit on that side of each vertebra
        self._label_right = np.array([-1.0, 0.0, 0.0])
        #: bumped when the anatomy is swapped (pickers drop their locators)
        self.generation = 0
        self._style_plotter()
        #: the needle and catheter, on a layer of their own (redrawn alone while they move)
        self.instruments = InstrumentRenderer(plotter, extra_mtime=self._plane.GetMTime)
        self._connect()
        self._apply_all()
        self.attach_interactor()

    # ------------------------------------------------------------------ setup
    def _style_plotter(self) -> None:
        p = self.plotter
        p.set_background(BACKGROUND_BOTTOM, top=BACKGROUND_TOP)
        ren_win = p.render_window
        if ren_win is not None:
            ren_win.SetMultiSamples(0)
        # FXAA straight on the vtkRenderer: pyvista's enable_anti_aliasing("fxaa") silently
        # switches to SSAA (4x the pixels) on EGL-capable VTK builds such as the PyPI wheel.
        for ren in p.renderers:
            ren.SetUseFXAA(True)
        p.camera.view_angle = views.VIEW_ANGLE_DEG
        # two camera-fixed lights instead of pyvista's five-light kit: lighting is per pixel on
        # the software renderer, and 5 -> 2 lights is ~30 % more frames per second. A key light
        # from the upper left gives bone its relief, a soft headlight fills the shadows.
        p.remove_all_lights()
        key = pv.Light(position=(-0.6, 0.8, 1.0), light_type="camera light", intensity=0.75)
        fill = pv.Light(light_type="headlight", intensity=0.45)
        p.add_light(key)
        p.add_light(fill)

    def _drawable(self, sid: str) -> bool:
        s = self.anatomy.structures.get(sid)
        return s is not None and s.parent is None and s.ok and sid not in self._broken

    def _ensure_actor(self, sid: str):
        """The actor of a whole structure, built the first time it is shown (None if it cannot be).

        Hidden soft tissue (skin, fat, muscle: a third of the triangles) costs nothing until a
        trainee asks for it, which keeps the first frame fast.
        """
        actor = self.actors.get(sid)
        if actor is not None or not self._drawable(sid):
            return actor
        s = self.anatomy.structures[sid]
        try:
            full = polydata_from_trimesh(s.mesh, s.closed)
        except Exception as exc:  # one bad mesh must not stop the others
            self._broken.add(sid)
            self.problems.append(f"{sid}: cannot draw: {exc}")
            log.warning("cannot draw %s: %s", sid, exc)
            return None
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(full)
        mapper.SetScalarVisibility(False)
        actor = pv.Actor(mapper=mapper)
        prop = actor.prop
        prop.color = s.color
        prop.interpolation = "phong"
        amb, dif, spec, power = _MATERIAL.get(s.tissue, _DEFAULT_MATERIAL)
        prop.ambient, prop.diffuse, prop.specular, prop.specular_power = amb, dif, spec, power
        if s.closed:
            back = vtkProperty()
            back.SetColor(*_mix(s.color, (0.0, 0.0, 0.0), 0.35))
            back.SetAmbient(0.55)
            back.SetDiffuse(0.35)
            back.SetSpecular(0.0)
            actor.SetBackfaceProperty(back)
        if self._clip_on:
            mapper.AddClippingPlane(self._plane)
        self.plotter.add_actor(actor, reset_camera=False, name=f"structure:{sid}", render=False)
        actor.SetVisibility(False)
        self.actors[sid] = actor
        self._full[sid] = full
        self._by_address[actor.GetAddressAsString("vtkActor")] = sid
        if self._interacting:
            self._use_coarse(sid)
        return actor

    def _coarse_of(self, sid: str):
        """The coarse polydata of ``sid`` (built on first use), or None."""
        if sid in self._coarse:
            return self._coarse[sid]
        s = self.anatomy.structures[sid]
        pd = None
        if s.coarse is not None:
            try:
                pd = polydata_from_trimesh(s.coarse, s.closed)
            except Exception as exc:
                log.warning("no coarse mesh for %s: %s", sid, exc)
        self._coarse[sid] = pd
        return pd

    def prepare_lod(self) -> None:
        """Build the coarse meshes of the shown structures now (e.g. when the app is idle)."""
        for sid in list(self.actors):
            self._coarse_of(sid)

    def _use_coarse(self, sid: str) -> None:
        if sid in self._part_colored:
            return  # parts are coloured on the full mesh only
        coarse = self._coarse_of(sid)
        if coarse is not None:
            self.actors[sid].mapper.SetInputData(coarse)

    def _connect(self) -> None:
        ev = self.state.events
        for signal, slot in (
            (ev.visible, self._on_visible_changed),
            (ev.opacity, self._on_visible_changed),
            (ev.highlighted, self._on_highlight_changed),
            (ev.selected, self._on_highlight_changed),
            (ev.labels, self._on_labels_changed),
            (ev.camera, self._on_camera_changed),
            (ev.clip, self._on_clip_changed),
            (ev.needle, self._on_needle_changed),
            (ev.catheter, self._on_needle_changed),
        ):
            signal.connect(slot)
            self._connections.append((signal, slot))

    def _apply_all(self) -> None:
        self._update_visibility()
        self._update_colors()
        self._update_clip()
        self._update_needle()
        pose = self.pose_for_camera(self.state.camera)
        self._label_right = np.cross(np.asarray(pose.up, float), pose.direction)
        self._update_labels()
        self.apply_pose(pose)

    def set_anatomy(self, anatomy) -> None:
        """Draw another anatomy (a patient variant) with the same state and camera."""
        for sid in list(self.actors):
            self.plotter.remove_actor(f"structure:{sid}", render=False)
        self.actors.clear()
        self._full.clear()
        self._coarse.clear()
        self._by_address.clear()
        self._part_colored.clear()
        self._broken.clear()
        self.anatomy = anatomy
        self.generation += 1
        self._update_visibility()
        self._update_colors()
        self._update_labels()
        self._caps_out_of_date()
        self.request_render()

    def attach_interactor(self) -> None:
        """Swap to the coarse meshes while the user moves the camera (if there is an interactor)."""
        iren = getattr(self.plotter, "iren", None)
        if iren is None:
            return
        style = iren.interactor.GetInteractorStyle()
        if style is None:
            return
        self._style_observers.append(
            (style, style.AddObserver("StartInteractionEvent", lambda *_: self.begin_interaction()))
        )
        self._style_observers.append(
            (style, style.AddObserver("EndInteractionEvent", lambda *_: self.end_interaction()))
        )

    def close(self) -> None:
        """Disconnect from the state and the interactor (the plotter is the owner's to close)."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections.clear()
        for obj, tag in self._style_observers:
            obj.RemoveObserver(tag)
        self._style_observers.clear()
        self.instruments.close()

    # ------------------------------------------------------------------ rendering
    def render_now(self) -> None:
        self.plotter.render()

    def request_render(self) -> None:
        self._schedule()

    # ------------------------------------------------------------------ state handlers
    def _on_visible_changed(self, *_):
        self._update_visibility()
        self._update_colors()  # actors built just now get their highlight too
        self._update_labels()
        self._caps_out_of_date()
        self.request_render()

    def _on_highlight_changed(self, *_):
        self._update_colors()
        if self._cap_actor is not None:
            self._caps_out_of_date()  # caps take the highlight colour too
        self.request_render()

    def _on_labels_changed(self, *_):
        self._update_labels()
        self.request_render()

    def _on_camera_changed(self, camera: Camera, *_):
        target = self.pose_for_camera(camera)
        right = np.cross(np.asarray(target.up, float), target.direction)
        if np.linalg.norm(right - self._label_right) > 1e-6 and "levels" in self.state.labels:
            self._label_right = right
            self._update_labels()
        self._label_right = right
        if self.camera_transition is not None:
            self.camera_transition(self.current_pose(), target)
        else:
            self.apply_pose(target)

    def reapply_camera(self) -> None:
        """Go to ``state.camera`` again (e.g. the user orbited away and asks for the same view;
        assigning an equal Camera emits no event)."""
        self._on_camera_changed(self.state.camera)

    def _on_clip_changed(self, *_):
        self._update_clip()
        self.request_render()

    def _on_needle_changed(self, *_):
        self._update_needle()
        self.request_render()

    # ------------------------------------------------------------------ visibility / colour
    def opacity_of(self, sid: str) -> float:
        s = self.anatomy.structures.get(sid)
        if s is None:
            return 0.0
        return float(self.state.opacity.get(sid, DEFAULT_OPACITY.get(s.tissue, 1.0)))

    def _visible_wholes(self) -> set[str]:
        return {whole_id(self.anatomy, v) for v in self.state.visible}

    def _update_visibility(self) -> None:
        shown = self._visible_wholes()
        for sid in shown:
            if self.opacity_of(sid) > 0.0:
                self._ensure_actor(sid)
        for sid, actor in self.actors.items():
            opacity = self.opacity_of(sid)
            _set_opacity(actor, opacity)
            actor.SetVisibility(sid in shown and opacity > 0.0)

    def _update_colors(self) -> None:
        st = self.state
        marks = [(h, HIGHLIGHT_RGB, 0.7) for h in st.highlighted]
        if st.selected:
            marks.append((st.selected, SELECT_RGB, 0.65))
        whole_marks: dict[str, tuple] = {}
        part_marks: dict[str, list[tuple[str, tuple]]] = {}
        for mid, rgb, t in marks:
            s = self.anatomy.structures.get(mid)
            if s is None:
                continue
            if s.parent is not None:
                part_marks.setdefault(s.parent, []).append((mid, rgb))
            else:
                whole_marks[mid] = (rgb, t)  # the selection comes last and wins
        for sid, actor in self.actors.items():
            s = self.anatomy.structures[sid]
            if sid in whole_marks:
                rgb, t = whole_marks[sid]
                actor.prop.color = _mix(s.color, rgb, t)
                actor.prop.ambient = 0.3
                if s.tissue == "region" and sid not in st.opacity:
                    _set_opacity(actor, HIGHLIGHTED_REGION_OPACITY)  # a target must stand out
            else:
                actor.prop.color = s.color
                actor.prop.ambient = _MATERIAL.get(s.tissue, _DEFAULT_MATERIAL)[0]
                _set_opacity(actor, self.opacity_of(sid))
            self._color_parts(sid, part_marks.get(sid, []))

    def _color_parts(self, sid: str, parts: list[tuple[str, tuple]]) -> None:
        s = self.anatomy.structures[sid]
        mapper = self.actors[sid].mapper
        if not parts or s.face_labels is None:
            if sid in self._part_colored:
                mapper.SetScalarVisibility(False)
                self._part_colored.discard(sid)
            return
        full = self._full[sid]
        base = np.asarray(self.actors[sid].GetProperty().GetColor(), dtype=float)
        rgb = np.empty((full.n_cells, 3), dtype=np.uint8)
        rgb[:] = np.round(base * 255)
        labels = np.asarray(s.face_labels)
        for pid, colour in parts:
            if pid in s.part_ids:
                rgb[labels == s.part_ids.index(pid)] = np.round(np.asarray(colour) * 255)
        full.cell_data.set_array(rgb, "part_rgb")
        mapper.SetInputData(full)  # parts are coloured on the full mesh only
        mapper.SetScalarModeToUseCellFieldData()
        mapper.SelectColorArray("part_rgb")
        mapper.SetColorModeToDirectScalars()
        mapper.SetScalarVisibility(True)
        self._part_colored.add(sid)

    # ------------------------------------------------------------------ clipping
    def _update_clip(self) -> None:
        clip = self.state.clip
        if clip is None:
            if self._clip_on:
                for actor in self.actors.values():
                    actor.mapper.RemoveAllClippingPlanes()
                self._clip_on = False
            self._remove_caps()
            return
        # the mapper keeps the +normal side; ClipPlane removes its +normal side
        self._plane.SetOrigin(*clip.origin_lps)
        self._plane.SetNormal(*(-np.asarray(clip.normal, dtype=float)))
        if not self._clip_on:
            for actor in self.actors.values():
                actor.mapper.AddClippingPlane(self._plane)
            self._clip_on = True
        self._caps_out_of_date()

    def _caps_out_of_date(self) -> None:
        if not self._clip_on:
            return
        if self._schedule_caps is None:
            self.update_caps()
        else:
            self._remove_caps()  # the back faces fill the cut until the caps are back
            self._schedule_caps()

    def _remove_caps(self) -> None:
        if self._cap_actor is not None:
            self.plotter.remove_actor(self._cap_actor, render=False)
            self._cap_actor = None

    def update_caps(self) -> None:
        """Fill the cut faces of the shown closed structures with flat caps on the plane.

        One actor for all caps (per-face colours): each structure's cut contour
        (``vtkCutter``) is triangulated (``vtkContourTriangulator``) and coloured like its
        tissue, so bone, disc, dura and cord read as solids in section.
        """
        self._remove_caps()
        clip = self.state.clip
        if clip is None or not self._clip_on:
            return
        pieces = []
        for sid, actor in self.actors.items():
            s = self.anatomy.structures[sid]
            if not actor.GetVisibility() or not s.closed or actor.prop.opacity < 0.5:
                continue
            if s.tissue in UNCAPPED_TISSUES:
                continue
            cutter = vtkCutter()
            cutter.SetInputData(self._full[sid])
            cutter.SetCutFunction(self._plane)
            tri = vtkContourTriangulator()
            tri.SetInputConnection(cutter.GetOutputPort())
            tri.Update()
            cap = pv.wrap(tri.GetOutput())
            if cap.n_cells == 0:
                continue
            rgb = np.asarray(actor.GetProperty().GetColor(), dtype=float) * CAP_SHADE
            colours = np.empty((cap.n_cells, 3), dtype=np.uint8)
            colours[:] = np.round(np.clip(rgb, 0, 1) * 255)
            cap.cell_data.set_array(colours, "cap_rgb")
            b = cap.bounds
            size = (b[1] - b[0]) * (b[3] - b[2]) + (b[3] - b[2]) * (b[5] - b[4])
            rank = CAP_ORDER.index(s.tissue) if s.tissue in CAP_ORDER else -1
            pieces.append(((rank, -size), cap))
        if not pieces:
            return
        # where caps overlap (cord inside the sac, ligament against bone) the one that matters
        # is nudged towards the viewer: by tissue first, then smaller in front of larger
        pieces.sort(key=lambda p: p[0])
        normal = np.asarray(clip.normal, dtype=float)
        append = vtkAppendPolyData()
        for k, (_, cap) in enumerate(pieces):
            cap.points = np.asarray(cap.points) + normal * (CAP_OFFSET_MM * (k + 1))
            append.AddInputData(cap)
        append.Update()
        caps = pv.wrap(append.GetOutput())
        mapper = vtkPolyDataMapper()
        mapper.SetInputData(caps)
        mapper.SetScalarModeToUseCellFieldData()
        mapper.SelectColorArray("cap_rgb")
        mapper.SetColorModeToDirectScalars()
        mapper.SetScalarVisibility(True)
        mapper.SetResolveCoincidentTopologyToPolygonOffset()
        actor = pv.Actor(mapper=mapper)
        actor.prop.ambient, actor.prop.diffuse, actor.prop.specular = 0.45, 0.6, 0.0
        actor.SetPickable(False)
        self.plotter.add_actor(actor, reset_camera=False, name="section_caps", render=False)
        self._cap_actor = "section_caps"

    @property
    def cap_mesh(self):
        """The caps of the current cross-section (pyvista PolyData), or None."""
        if self._cap_actor is None:
            return None
        return self.plotter.actors[self._cap_actor].mapper.GetInput()

    def visible_bounds(self, clipped: bool = True) -> tuple[float, ...] | None:
        """Bounds (xmin, xmax, ymin, ymax, zmin, zmax; mm) of what is shown, after the cut."""
        boxes = []
        for sid in self._visible_wholes():
            if sid not in self.actors or not self.actors[sid].GetVisibility():
                continue
            pd = self._full[sid]
            if clipped and self._clip_on:
                f = vtkClipPolyData()
                f.SetInputData(pd)
                f.SetClipFunction(self._plane)
                f.Update()
                out = f.GetOutput()
                if out.GetNumberOfPoints() == 0:
                    continue
                boxes.append(out.GetBounds())
            else:
                boxes.append(pd.bounds)
        if not boxes:
            return None
        b = np.asarray(boxes, dtype=float)
        return (
            b[:, 0].min(),
            b[:, 1].max(),
            b[:, 2].min(),
            b[:, 3].max(),
            b[:, 4].min(),
            b[:, 5].max(),
        )

    # ------------------------------------------------------------------ level of detail
    def begin_interaction(self) -> None:
        """Draw coarse meshes (camera is moving)."""
        if self._interacting:
            return
        self._interacting = True
        for ren in self.plotter.renderers:
            # FXAA is a full-screen pass: on the software renderer it costs as much as the
            # coarse geometry itself; a moving image hides the jaggies anyway
            ren.SetUseFXAA(False)
        for sid, actor in self.actors.items():
            if actor.GetVisibility():
                self._use_coarse(sid)

    def end_interaction(self) -> None:
        """Back to full detail (camera stopped); the caller's next frame shows it."""
        if not self._interacting:
            return
        self._interacting = False
        for ren in self.plotter.renderers:
            ren.SetUseFXAA(True)
        for sid, actor in self.actors.items():
            if actor.mapper.GetInput() is not self._full[sid]:
                actor.mapper.SetInputData(self._full[sid])

    @property
    def interacting(self) -> bool:
        return self._interacting

    # ------------------------------------------------------------------ labels
    def label_points(self, group: str) -> list[tuple[str, np.ndarray]]:
        """(text, position_lps) of the labels of ``group`` for the shown structures."""
        shown = self._visible_wholes()
        out: list[tuple[str, np.ndarray]] = []
        for sid, s in self.anatomy.structures.items():
            if s.parent is not None or not s.ok or sid not in shown:
                continue
            b = np.asarray(s.mesh.bounds, dtype=float)
            c = b.mean(axis=0)
            if group == "levels" and s.tissue == "bone":
                if sid in _LEVEL_LABELS:
                    text = sid
                elif sid.startswith("sacrum"):
                    text = "S1"
                else:
                    continue
                # beside the vertebra, on the screen's right side for the current named view
                r = self._label_right
                corners = np.array([[x, y, z] for x in b[:, 0] for y in b[:, 1] for z in b[:, 2]])
                reach = float(np.abs((corners - c) @ r).max())
                out.append((text, c + r * (reach + 12.0)))
            elif group == "ribs" and s.tissue == "bone" and "rib" in sid.lower():
                v = np.asarray(s.mesh.vertices)
                tip = v[np.argmax(np.abs(v[:, 0]))]
                out.append((s.display_name, tip))
            elif group == "interlaminar" and sid.startswith("interlaminar."):
                text = sid.split(".", 1)[1].replace("-", "–")
                # beside the window on the screen's left, so the label does not hide it
                r = self._label_right
                corners = np.array([[x, y, z] for x in b[:, 0] for y in b[:, 1] for z in b[:, 2]])
                reach = float(np.abs((corners - c) @ r).max())
                out.append((text, c - r * (reach + 22.0)))
        return out

    def _update_labels(self) -> None:
        for name in self._label_actors:
            self.plotter.remove_actor(f"{name}-labels", render=False)
        self._label_actors.clear()
        for group in LABEL_GROUPS:
            if group not in self.state.labels:
                continue
            pts = self.label_points(group)
            if not pts:
                continue
            name = f"labels:{group}"
            self.plotter.add_point_labels(
                np.array([p for _, p in pts]),
                [t for t, _ in pts],
                font_size=13,
                text_color="white",
                shape_color=(0.08, 0.10, 0.13),
                shape_opacity=0.65,
                show_points=False,
                always_visible=True,
                name=name,
                render=False,
                reset_camera=False,
            )
            self._label_actors.append(name)

    # ------------------------------------------------------------------ needle and catheter
    def _update_needle(self) -> None:
        self._update_instrument("needle", self.state.needle, "needle_mesh", NEEDLE_RGB)
        self._update_instrument("catheter", self.state.catheter, "catheter_mesh", CATHETER_RGB)

    def _update_instrument(self, name: str, value, function: str, rgb) -> None:
        """Draw ``iddsanatomy.needle.<function>(value)`` as instrument ``name`` (when both
        exist). The actor stays; only its mesh is replaced (no actor rebuilt per step)."""
        if value is None:
            self.instruments.set_mesh(name, None)
            return
        try:
            make = getattr(importlib.import_module("iddsanatomy.needle"), function)
        except (ImportError, AttributeError):
            self.instruments.set_mesh(name, None)
            return  # the needle module (or that mesh function) is optional
        try:
            pd = polydata_from_trimesh(make(value), closed=False)
        except Exception as exc:  # a bad pose must not break the scene
            log.warning("cannot draw the %s: %s", name, exc)
            self.problems.append(f"{name}: {exc}")
            self.instruments.set_mesh(name, None)
            return
        # not clipped: the needle in the canal is what a section is opened to show
        self.instruments.set_mesh(name, pd, rgb)

    @property
    def redraws_instruments_alone(self) -> bool:
        """True when a needle move redraws only the needle over the kept anatomy (full detail,
        no level-of-detail swap needed)."""
        return self.instruments.redraws_alone

    # ------------------------------------------------------------------ camera
    def scene_bounds(self, ids=None) -> tuple[float, ...]:
        """Bounds of ``ids`` (default: the shown structures, else everything loaded)."""
        ids = list(ids) if ids is not None else sorted(self._visible_wholes())
        boxes = [self._bounds_of(i) for i in ids if self._drawable(i)]
        if not boxes:
            boxes = [self._bounds_of(i) for i in self.anatomy.structures if self._drawable(i)]
        if not boxes:
            return (-50.0, 50.0, -50.0, 50.0, -50.0, 50.0)
        b = np.asarray(boxes, dtype=float)
        return tuple(
            float(v)
            for v in (
                b[:, 0].min(),
                b[:, 1].max(),
                b[:, 2].min(),
                b[:, 3].max(),
                b[:, 4].min(),
                b[:, 5].max(),
            )
        )

    def _bounds_of(self, sid: str) -> tuple[float, ...]:
        lo, hi = np.asarray(self.anatomy.structures[sid].mesh.bounds, dtype=float)
        return (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])

    def structure_bounds(self, sid: str) -> tuple[float, ...]:
        """Bounds of a structure or, for a part, of its faces."""
        s = self.anatomy.structures[sid]
        if s.parent is not None and self._drawable(s.parent):
            parent = self.anatomy.structures[s.parent]
            if parent.face_labels is not None and sid in parent.part_ids:
                faces = np.asarray(parent.mesh.faces)[
                    np.asarray(parent.face_labels) == parent.part_ids.index(sid)
                ]
                v = np.asarray(parent.mesh.vertices)[np.unique(faces)]
                if len(v):
                    lo, hi = v.min(axis=0), v.max(axis=0)
                    return (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2])
            return self._bounds_of(s.parent)
        if self._drawable(sid):
            return self._bounds_of(sid)
        return self.scene_bounds()

    def _kept_bounds(self, bounds) -> tuple[float, ...]:
        """``bounds`` cut by an axis-aligned section (frame what is left, not what was cut)."""
        clip = self.state.clip
        if clip is None:
            return bounds
        n = np.asarray(clip.normal, dtype=float)
        axis = int(np.argmax(np.abs(n)))
        if abs(n[axis]) < 0.999:
            return bounds  # oblique: keep the whole box
        b = list(bounds)
        at = float(clip.origin_lps[axis])
        if n[axis] > 0:  # the +axis side is removed
            b[2 * axis + 1] = min(b[2 * axis + 1], at)
        else:
            b[2 * axis] = max(b[2 * axis], at)
        if b[2 * axis] >= b[2 * axis + 1]:
            return bounds
        return tuple(b)

    def _aspect(self) -> float:
        w, h = self.plotter.window_size
        return w / h if h else 1.0

    def pose_for_camera(self, camera: Camera) -> views.CameraPose:
        if (
            camera.position_lps is not None
            and camera.focal_point_lps is not None
            and not (camera.view)
        ):
            return views.CameraPose(
                tuple(camera.position_lps),
                tuple(camera.focal_point_lps),
                tuple(camera.up or (0.0, 0.0, 1.0)),
            )
        view = camera.view or "posterior"
        bounds = self._kept_bounds(self.scene_bounds())
        pose = views.pose_for_view(view, bounds, camera.zoom, aspect=self._aspect())
        if camera.focus and camera.focus in self.anatomy.structures:
            pose = views.refocus(pose, self.structure_bounds(camera.focus), self._aspect())
        return pose

    def current_pose(self) -> views.CameraPose:
        cam = self.plotter.camera
        return views.CameraPose(tuple(cam.position), tuple(cam.focal_point), tuple(cam.up))

    def apply_pose(self, pose: views.CameraPose, render: bool = True) -> None:
        cam = self.plotter.camera
        cam.position = pose.position
        cam.focal_point = pose.focal_point
        cam.up = pose.up
        cam.view_angle = views.VIEW_ANGLE_DEG
        self.plotter.renderer.ResetCameraClippingRange()
        if render:
            self.request_render()

    # ------------------------------------------------------------------ picking support
    def structure_of_actor(self, actor) -> str | None:
        if actor is None:
            return None
        return self._by_address.get(actor.GetAddressAsString("vtkActor"))

    def full_mesh(self, sid: str) -> pv.PolyData:
        return self._full[sid]
