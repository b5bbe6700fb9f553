"""The needle and the catheter on a layer of their own, redrawn alone while only they move.

While a trainee drags the needle, the camera and the anatomy stand still: only a few hundred
triangles change. On the software renderer (Mesa llvmpipe) drawing the anatomy costs 30-90 ms
a frame even with coarse meshes, drawing the needle alone under 5 ms. So
:class:`InstrumentRenderer` draws the instruments with a second ``vtkRenderer`` on layer 1 of
the same render window (copies of its camera and lights, the anatomy's depth buffer kept, so bone in
front of the needle still hides it), and keeps a copy of the anatomy's colour and depth
(a framebuffer blit, about a millisecond) after every frame that drew it. When a frame is asked
for and nothing but the instruments changed since that copy, the anatomy renderer is skipped
for that frame: the copy is blitted back and the instruments are drawn over it. The picture is
the same pixel for pixel (a test compares the two), at full detail, so no coarse level of
detail is needed while the needle moves.

"Nothing but the instruments changed" is decided by a signature of everything that shapes the
anatomy's image: the camera's modification time, the window size, the background, every prop
of the anatomy renderer with its visibility and redraw time (actors, mappers, their input,
properties), the lights, and ``extra_mtime`` (the section plane). Any difference, or any
doubt (multisampling, a failed blit), draws the whole frame as before.

No Qt here: it works on ``pv.Plotter(off_screen=True)`` and on the app's views alike.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

import pyvista as pv
from vtkmodules.vtkRenderingCore import vtkLight, vtkPolyDataMapper, vtkRenderer

log = logging.getLogger(__name__)

_GL_READ_FRAMEBUFFER = 0x8CA8
_GL_DRAW_FRAMEBUFFER = 0x8CA9
_GL_DEPTH_BUFFER_BIT = 0x0100
_GL_COLOR_BUFFER_BIT = 0x4000
_GL_NEAREST = 0x2600
_VTK_UNSIGNED_CHAR = 3

INSTRUMENT_LAYER = 1


class InstrumentRenderer:
    """Draw named instrument meshes over the anatomy of ``plotter`` (see the module docstring).

    Parameters
    ----------
    plotter : pyvista.Plotter or a pyvista plotter widget
        Its ``renderer`` draws the anatomy; the instruments get their own renderer on layer 1.
    extra_mtime : callable, optional
        Returns a modification time of something else that changes the anatomy's image
        without touching its props (the section plane, shared by every mapper).
    replay : bool
        Redraw the instruments alone over the kept anatomy when only they changed (default).
        ``False`` draws every frame in full (for comparison).
    """

    def __init__(self, plotter, extra_mtime: Callable[[], int] | None = None, replay=True):
        self.plotter = plotter
        self.base = plotter.renderer
        self.render_window = plotter.render_window
        self._extra_mtime = extra_mtime
        self.replay_enabled = bool(replay)
        self.layer = vtkRenderer()
        self.layer.SetLayer(INSTRUMENT_LAYER)
        self.layer.SetPreserveColorBuffer(True)  # draw over the anatomy ...
        self.layer.SetPreserveDepthBuffer(True)  # ... and behind what is in front of it
        self.layer.SetInteractive(False)  # the interactor and pickers keep the anatomy renderer
        self.layer.SetAutomaticLightCreation(False)
        self.layer.SetUseFXAA(False)
        self._lights: list = []
        self._sync_camera_and_lights()
        self.actors: dict[str, pv.Actor] = {}
        #: frames that drew the anatomy, and frames that only redrew the instruments over it
        self.full_frames = 0
        self.instrument_frames = 0
        self._fbo = None
        self._fbo_size: tuple[int, int] | None = None
        self._kept_signature = None
        self._frame_signature = None
        self._replaying = False
        self._resetting = False
        self._observers: list[tuple[object, int]] = []
        rw = self.render_window
        if rw is not None:
            rw.SetNumberOfLayers(max(2, rw.GetNumberOfLayers()))
            rw.AddRenderer(self.layer)
            self._observe(rw, "StartEvent", "_on_frame_start")
            self._observe(rw, "EndEvent", "_on_frame_end")
            self._observe(self.base, "EndEvent", "_on_base_drawn")
            self._observe(self.layer, "StartEvent", "_on_layer_start")
            self._observe(self.base, "ResetCameraClippingRangeEvent", "_on_clipping_reset")

    def _observe(self, obj, event: str, method: str) -> None:
        # a weak reference: VTK holds the callback, and a callback holding ``self`` (which
        # holds the window) would keep the window, and its X connection, alive for good
        me = weakref.ref(self)

        def callback(*_):
            target = me()
            if target is not None:
                getattr(target, method)()

        self._observers.append((obj, obj.AddObserver(event, callback)))

    # ------------------------------------------------------------------ instruments
    def set_mesh(self, name: str, mesh: pv.PolyData | None, rgb=(0.8, 0.8, 0.8)) -> None:
        """Show ``mesh`` as instrument ``name`` (the actor is kept; only its input changes), or
        hide it (``None``)."""
        actor = self.actors.get(name)
        if mesh is None:
            if actor is not None:
                actor.SetVisibility(False)
            return
        if actor is None:
            mapper = vtkPolyDataMapper()
            mapper.SetScalarVisibility(False)
            actor = pv.Actor(mapper=mapper)
            prop = actor.prop
            prop.color = rgb
            prop.specular, prop.specular_power = 0.9, 60.0
            prop.interpolation = "phong"
            actor.SetPickable(False)
            self.layer.AddActor(actor)
            self.actors[name] = actor
        actor.mapper.SetInputData(mesh)
        actor.SetVisibility(True)

    def shown(self, name: str) -> bool:
        """Whether instrument ``name`` is drawn."""
        actor = self.actors.get(name)
        return actor is not None and bool(actor.GetVisibility())

    def mesh(self, name: str) -> pv.PolyData | None:
        """The mesh drawn for instrument ``name`` (None when it is hidden)."""
        if not self.shown(name):
            return None
        return pv.wrap(self.actors[name].mapper.GetInput())

    def _any_shown(self) -> bool:
        return any(a.GetVisibility() for a in self.actors.values())

    @property
    def redraws_alone(self) -> bool:
        """True when a frame in which only the instruments changed skips the anatomy."""
        return self.replay_enabled and self.render_window is not None

    # ------------------------------------------------------------------ frame hooks
    def _sync_camera_and_lights(self) -> None:
        """Give the layer the anatomy's camera and lights, as copies.

        Copies, not the same objects: VTK's window-to-image filter (scaled screenshots) swaps
        every renderer's camera for its own while it draws tiles, and a shared camera would be
        released under it. Copying every frame also follows a camera that pyvista replaces.
        """
        self.layer.GetActiveCamera().DeepCopy(self.base.GetActiveCamera())
        src = self.base.GetLights()
        src.InitTraversal()
        for k in range(src.GetNumberOfItems()):
            light = src.GetNextItem()
            if k == len(self._lights):
                own = vtkLight()
                self.layer.AddLight(own)
                self._lights.append(own)
            self._lights[k].DeepCopy(light)
            self._lights[k].SetSwitch(light.GetSwitch())
        for own in self._lights[src.GetNumberOfItems() :]:
            own.SetSwitch(False)

    def signature(self) -> tuple:
        """Everything that shapes the anatomy's image (see the module docstring)."""
        base = self.base
        props = []
        coll = base.GetViewProps()
        coll.InitTraversal()
        for _ in range(coll.GetNumberOfItems()):
            p = coll.GetNextProp()
            props.append((p.GetAddressAsString("vtkProp"), p.GetVisibility(), p.GetRedrawMTime()))
        lights = base.GetLights()
        lights.InitTraversal()
        light_times = tuple(
            lights.GetNextItem().GetMTime() for _ in range(lights.GetNumberOfItems())
        )
        return (
            tuple(self.render_window.GetSize()),
            base.GetActiveCamera().GetMTime(),
            tuple(base.GetViewport()),
            tuple(base.GetBackground()),
            tuple(base.GetBackground2()),
            base.GetGradientBackground(),
            base.GetUseFXAA(),
            base.GetUseDepthPeeling(),
            lights.GetMTime(),
            light_times,
            self._extra_mtime() if self._extra_mtime is not None else 0,
            tuple(props),
        )

    def _on_frame_start(self) -> None:
        self._sync_camera_and_lights()
        self._replaying = False
        self._frame_signature = None
        if not self.redraws_alone or not self.base.GetDraw() or not self._any_shown():
            return  # nothing to keep the anatomy for: no cost while only the camera moves
        sig = self.signature()
        self._frame_signature = sig
        if self._fbo is not None and sig == self._kept_signature:
            if tuple(self.render_window.GetSize()) == self._fbo_size:
                self._replaying = True
                self.base.SetDraw(False)

    def _on_base_drawn(self) -> None:
        if self._replaying:
            return
        self.full_frames += 1
        if self._frame_signature is None:
            return
        try:
            self._keep()
        except Exception as exc:  # no copy, no replay: every frame is drawn in full
            log.warning("cannot keep the anatomy's image: %s", exc)
            self.replay_enabled = False
            self._kept_signature = None

    def _on_layer_start(self) -> None:
        if not self._replaying:
            return
        rw = self.render_window
        state = rw.GetState()
        state.PushFramebufferBindings()
        try:
            self._blit(self._fbo, rw.GetRenderFramebuffer())
        finally:
            state.PopFramebufferBindings()
        self.instrument_frames += 1

    def _on_frame_end(self) -> None:
        if self._replaying:
            self.base.SetDraw(True)
            self._replaying = False

    def _keep(self) -> None:
        """Copy the anatomy's colour and depth (just drawn) into our framebuffer."""
        from vtkmodules.vtkRenderingOpenGL2 import vtkOpenGLFramebufferObject

        rw = self.render_window
        src = rw.GetRenderFramebuffer()
        if src is None or src.GetMultiSamples() > 0:
            self._kept_signature = None
            return
        size = tuple(rw.GetSize())
        state = rw.GetState()
        state.PushFramebufferBindings()
        try:
            if self._fbo is None or self._fbo_size != size:
                self._release()
                fbo = vtkOpenGLFramebufferObject()
                fbo.SetContext(rw)
                # the same attachments as VTK's own render framebuffer, or the depth blit fails
                depth_bits = rw.GetRenderBufferTargetDepthSize()
                if not fbo.PopulateFramebuffer(
                    size[0],
                    size[1],
                    True,
                    1,
                    _VTK_UNSIGNED_CHAR,
                    True,
                    depth_bits,
                    0,
                    bool(rw.GetStencilCapable()),
                ):
                    raise RuntimeError("could not make a framebuffer for the anatomy's image")
                self._fbo, self._fbo_size = fbo, size
            self._blit(src, self._fbo)
        finally:
            state.PopFramebufferBindings()
        self._kept_signature = self._frame_signature

    def _blit(self, src, dst) -> None:
        from vtkmodules.vtkRenderingOpenGL2 import vtkOpenGLFramebufferObject

        w, h = self._fbo_size
        src.Bind(_GL_READ_FRAMEBUFFER)
        src.ActivateReadBuffer(0)
        dst.Bind(_GL_DRAW_FRAMEBUFFER)
        dst.ActivateDrawBuffer(0)
        ext = (0, w, 0, h)  # VTK's order: x0, x1, y0, y1
        if not vtkOpenGLFramebufferObject.Blit(
            ext, ext, _GL_COLOR_BUFFER_BIT | _GL_DEPTH_BUFFER_BIT, _GL_NEAREST
        ):
            raise RuntimeError("framebuffer blit failed")

    def _on_clipping_reset(self) -> None:
        """Let the near and far planes take in the instruments too (the hub may stand out of
        the anatomy's box): both renderers share one camera, hence one depth range."""
        if self._resetting:
            return
        lb = self.layer.ComputeVisiblePropBounds()
        if not _initialised(lb):
            return
        bb = self.base.ComputeVisiblePropBounds()
        if _initialised(bb):
            lb = [
                min(lb[0], bb[0]),
                max(lb[1], bb[1]),
                min(lb[2], bb[2]),
                max(lb[3], bb[3]),
                min(lb[4], bb[4]),
                max(lb[5], bb[5]),
            ]
        self._resetting = True
        try:
            self.base.ResetCameraClippingRange(*lb)
        finally:
            self._resetting = False

    def forget(self) -> None:
        """Drop the kept image: the next frame draws everything."""
        self._kept_signature = None

    def _release(self) -> None:
        if self._fbo is not None:
            self._fbo.ReleaseGraphicsResources(self.render_window)
            self._fbo = None
            self._fbo_size = None
        self._kept_signature = None

    def close(self) -> None:
        """Remove the observers and the layer, and let go of the render window (idempotent).

        No reference to the window may outlive the plotter: a VTK window kept alive keeps its X
        connection open, and Xlib ends the process with a fatal I/O error (status 1) when the
        X server goes first (as at the end of an Xvfb test session).
        """
        for obj, tag in self._observers:
            try:
                obj.RemoveObserver(tag)
            except Exception:  # the window may be gone already
                pass
        self._observers.clear()
        try:
            self._release()
        except Exception:
            self._fbo = None
        if self.render_window is not None:
            try:
                self.render_window.RemoveRenderer(self.layer)
            except Exception:
                pass
        for actor in self.actors.values():
            self.layer.RemoveActor(actor)
        self.actors.clear()
        self._lights.clear()
        self.render_window = None
        self.base = None
        self.plotter = None
        self._extra_mtime = None


def _initialised(bounds) -> bool:
    return bounds[0] <= bounds[1] and bounds[2] <= bounds[3] and bounds[4] <= bounds[5]
