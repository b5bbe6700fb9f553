"""The 3D view widget: a pyvista plotter that is also a Qt widget.

Two implementations, both pyvista ``BasePlotter`` objects (so the renderer draws into either):

- :class:`NativeView` (default on X11): VTK renders straight into a native child window, as
  VTK's own ``QVTKRenderWindowInteractor`` does. With the software renderer (Mesa llvmpipe)
  this is about twice as fast per frame as a ``QOpenGLWidget``, because Qt does not have to
  composite the whole window through OpenGL on every frame (measured here: 39 vs 85 ms per
  render, 82 vs 136 ms per displayed frame, same scene and size).
- :class:`GLView`: pyvistaqt's ``QtInteractor`` (a ``QOpenGLWidget``), for platforms without
  X11 (Wayland, macOS, Windows) or when ``IDDSANATOMY_VIEW=opengl``. It renders once per
  displayed frame (see its docstring).
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("QT_API", "pyside6")

from pyvista.plotting import BasePlotter
from pyvista.plotting.render_window_interactor import RenderWindowInteractor
from vtkmodules.qt.QVTKRenderWindowInteractor import (
    QVTKRenderWindowInteractor as _NativeQVTK,
)


def _drop_vtk_keys(iren) -> None:
    """pyvista's and VTK's one-letter keys (q quits, w wireframe, e exits) would fight the
    window's shortcuts; the window's actions own the keyboard."""
    for event in ("CharEvent", "KeyPressEvent", "KeyReleaseEvent"):
        iren.RemoveObservers(event)


@contextlib.contextmanager
def _no_base_plotter_init():
    # Qt's cooperative __init__ chain would call BasePlotter.__init__ without arguments
    init = BasePlotter.__init__
    BasePlotter.__init__ = lambda *a, **k: None
    try:
        yield
    finally:
        BasePlotter.__init__ = init


class NativeView(_NativeQVTK, BasePlotter):
    """A pyvista plotter rendering into a native child window (X11)."""

    def __init__(self, parent=None):
        with _no_base_plotter_init():
            _NativeQVTK.__init__(self, parent)
        BasePlotter.__init__(self)
        self.interactor = self
        self._off_screen = False
        self.ren_win = self.GetRenderWindow()
        self.ren_win.SetMultiSamples(0)
        for renderer in self.renderers:
            self.ren_win.AddRenderer(renderer)
        self.iren = RenderWindowInteractor(self, interactor=self.ren_win.GetInteractor())
        self.iren.interactor.RemoveObservers("MouseMoveEvent")
        self.iren.initialize()
        self.enable_trackball_style()
        _drop_vtk_keys(self.iren.interactor)
        self._first_time = False  # BasePlotter.render renders from now on
        self._closed = False

    # BasePlotter's, not QWidget's (which paints a widget into a device)
    render = BasePlotter.render

    def paintEvent(self, ev):
        if not self._closed:
            super().paintEvent(ev)

    def resizeEvent(self, ev):
        if not self._closed:
            super().resizeEvent(ev)

    def close(self):
        """Release VTK's window and the plotter (idempotent); then close the widget.

        Every reference to the vtkRenderWindow is dropped here, so that it is destroyed now and
        closes its X connection while the X server is still there (a connection left open ends
        the process with Xlib's fatal I/O error, status 1, when the server goes first, as at the
        end of an Xvfb test session).
        """
        if not self._closed:
            self._closed = True
            rw = self._RenderWindow
            iren = self._Iren
            with contextlib.suppress(Exception):
                self.iren.interactor.RemoveAllObservers()
            BasePlotter.close(self)
            with contextlib.suppress(Exception):
                rw.Finalize()
            with contextlib.suppress(Exception):
                iren.RemoveAllObservers()
                iren.SetRenderWindow(None)
            with contextlib.suppress(Exception):
                for ren in list(self.renderers):
                    rw.RemoveRenderer(ren)
            for name in ("ren_win", "iren"):
                with contextlib.suppress(Exception):
                    setattr(self, name, None)
            self._RenderWindow = None
            del rw
        return _NativeQVTK.close(self)

    def closeEvent(self, evt):
        self.close()
        evt.accept()


def _gl_view_class():
    """pyvistaqt's QOpenGLWidget view (imported only when used)."""
    from pyvistaqt import QtInteractor

    class GLView(QtInteractor):
        """pyvistaqt's QOpenGLWidget view, rendering once per displayed frame.

        The interactor style asks VTK to render on every mouse move, and pyvistaqt's widget renders
        again in ``paintGL``: two software renders per frame. As VTK's own C++ Qt widget does, the
        interactor's direct render is off outside ``paintGL``; a render request becomes a Qt repaint
        (which Qt also coalesces).
        """

        def __init__(self, parent=None):
            super().__init__(parent, auto_update=False, multi_samples=0)
            iren = self.iren.interactor
            iren.EnableRenderOff()
            iren.AddObserver("RenderEvent", self._on_vtk_render_request)
            _drop_vtk_keys(iren)

        def _on_vtk_render_request(self, *_):
            if not getattr(self, "_in_paint", False):
                self.update()

        def paintGL(self):
            iren = self.iren.interactor if self.iren is not None else None
            if iren is not None:
                iren.EnableRenderOn()
            try:
                super().paintGL()
            finally:
                if iren is not None:
                    iren.EnableRenderOff()

    return GLView


def make_view(parent=None):
    """The best view for this platform (see the module docstring)."""
    from PySide6.QtGui import QGuiApplication

    choice = os.environ.get("IDDSANATOMY_VIEW", "").lower()
    if choice == "opengl" or (choice != "native" and QGuiApplication.platformName() != "xcb"):
        return _gl_view_class()(parent)
    return NativeView(parent)
