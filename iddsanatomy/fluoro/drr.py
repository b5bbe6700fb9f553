"""Fast digitally reconstructed radiographs (DRR) by signed-depth accumulation on the GPU.

Method
------
For a closed surface with outward normals, the length of a ray inside it is the sum over the
ray's crossings of the surface of ``+t`` where it leaves (back face) and ``−t`` where it enters
(front face), ``t`` the distance from the source. So the attenuation line integral
``Σ = ∫ μ dt`` of a scene of nested closed surfaces, each carrying the *difference* ``Δμ`` between
its tissue and the tissue around it, is obtained by drawing every triangle once with additive
blending into one float32 image, no depth test, no culling, each fragment adding
``±Δμ·(t − t_ref)``. (``t_ref``, the source-to-centre distance, cancels because entries and exits
pair up; it keeps float32 values small and precise.) The detector then records Beer–Lambert
``I = I0·exp(−Σ)``.

The scene of a patient:

* a **body** of soft tissue (water) around everything (:func:`body_mesh`), because the skin of
  the model covers the back only;
* every closed structure with ``μ(tissue) − μ(container)``: bones cortical; each bone again,
  its surface moved inwards by :data:`~iddsanatomy.fluoro.attenuation.CORTEX_MM`, with
  ``μ_cancellous − μ_cortical`` so that cortical rims (pedicle "eyes", endplates) are brighter
  than the medulla; CSF within the dura, neural tissue within the CSF;
* dynamic extras (the needle, as metal) uploaded per shot.

OpenGL runs through moderngl on a standalone EGL context (Mesa llvmpipe works headless), on a
private thread of its own so that the caller's GL state (Qt's, VTK's) is never touched; callers
wait for the image. Meshes are simplified (manifold3d, :data:`DETAIL_TOLERANCE_MM`) and
uploaded once per anatomy and level of detail; a new pose only re-renders, skipping chunks of
triangles outside the field.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from iddsanatomy.errors import IddsError
from iddsanatomy.fluoro import attenuation as att
from iddsanatomy.fluoro.pose import CArmPose

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

    from iddsanatomy.anatomy.model import Anatomy


log = logging.getLogger(__name__)


class RenderUnavailableError(IddsError):
    """No OpenGL context could be made for the DRR (no EGL / Mesa on this machine)."""


#: The tissue a structure of a given tissue is taken to lie in (for Δμ). Anything else lies in
#: the soft-tissue body.
CONTAINER: dict[str, str] = {"csf": "dura", "neural": "csf"}

#: Body AP thickness and width (mm) around the lumbar spine of an adult of BMI 25, prone: a
#: teaching approximation (an ellipse-like torso section about 23 × 33 cm). For another BMI both
#: scale with sqrt(BMI / 25) (trunk cross-section taken as proportional to mass at a given
#: height: also a teaching approximation).
BODY_DEPTH_MM = 230.0
BODY_WIDTH_MM = 330.0
BODY_REFERENCE_BMI = 25.0

#: Tissues drawn as part of the water-equivalent body instead of as their own meshes. They
#: differ from water by less than 10 % (fat −10 %, muscle +4.5 %, skin +4 %), and the model's
#: back muscles, fat and skin stop at about T11: their cut ends would draw false edges.
BODY_TISSUES = ("skin", "fat", "muscle")


@dataclass(frozen=True)
class Layer:
    """One closed surface of the DRR scene with its attenuation step.

    Attributes
    ----------
    name : str
    vertices : (n, 3) float64, mm, LPS
    faces : (m, 3) int, outward (counter-clockwise seen from outside)
    dmu : float, 1/mm
        μ inside minus μ of what surrounds it.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    dmu: float


# --- building the scene --------------------------------------------------------------------


#: Geometric tolerance (mm) to which meshes are simplified for the DRR, per level of detail.
#: "full" (images above 320²) is about a fifth of a 512² pixel at the isocentre (0.37 mm);
#: "live" (256² and below) is below a 256² pixel (0.73 mm). Triangle count, not pixels,
#: bounds the speed of the software rasteriser.
DETAIL_TOLERANCE_MM = {"full": 0.08, "live": 0.6}
#: The cancellous core's surface (inside the cortex) is simplified to at least this (mm).
CORE_TOLERANCE_MM = 0.25
#: Soft tissues are smooth and differ from water by a few per cent: simplified to at least this.
SOFT_TOLERANCE_MM = 0.5
_SHARP_TISSUES = ("bone", "metal")

_SIMPLIFIED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def simplified(mesh: trimesh.Trimesh, tolerance_mm: float) -> trimesh.Trimesh:
    """``mesh`` simplified by manifold3d to within ``tolerance_mm`` (cached per mesh object).

    Returns the mesh itself when it is not a manifold manifold3d accepts, or when tolerance is 0.
    """
    if tolerance_mm <= 0:
        return mesh
    try:
        per_mesh = _SIMPLIFIED.setdefault(mesh, {})
    except TypeError:
        per_mesh = {}
    if tolerance_mm in per_mesh:
        return per_mesh[tolerance_mm]
    import manifold3d
    import trimesh

    out = mesh
    try:
        m = manifold3d.Manifold(
            manifold3d.Mesh(
                vert_properties=np.asarray(mesh.vertices, dtype=np.float32),
                tri_verts=np.asarray(mesh.faces, dtype=np.uint32),
            )
        )
        if m.status() == manifold3d.Error.NoError and not m.is_empty():
            r = m.simplify(tolerance_mm).to_mesh()
            if len(r.tri_verts) >= 4:
                out = trimesh.Trimesh(
                    np.asarray(r.vert_properties)[:, :3], np.asarray(r.tri_verts), process=False
                )
    except Exception:  # a mesh manifold3d refuses is drawn as it is
        out = mesh
    per_mesh[tolerance_mm] = out
    return out


def is_closed_surface(mesh: trimesh.Trimesh) -> bool:
    """Whether every edge is crossed as often in one direction as in the other by the faces.

    That (a closed, consistently oriented surface, a 2-cycle) is exactly what signed-depth
    accumulation needs. It is weaker than trimesh's ``is_watertight``: a pinch where two sheets
    touch along an edge (four faces on one edge) is allowed.
    """
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if len(faces) == 0:
        return False
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    lo, hi = e.min(axis=1), e.max(axis=1)
    key = lo * (int(faces.max()) + 1) + hi
    sign = np.where(e[:, 0] < e[:, 1], 1, -1)
    _, inverse = np.unique(key, return_inverse=True)
    return not np.bincount(inverse, weights=sign).any()


def inward_offset(mesh: trimesh.Trimesh, depth_mm: float) -> np.ndarray:
    """Vertices of ``mesh`` moved ``depth_mm`` inwards along the (area-weighted) vertex normals."""
    return np.asarray(mesh.vertices) - np.asarray(mesh.vertex_normals) * depth_mm


def body_mesh(anatomy: Anatomy | None, bounds_lps: np.ndarray | None = None) -> trimesh.Trimesh:
    """A closed soft-tissue torso around the anatomy (LPS mm).

    A superellipse cylinder (exponent 2.5: flatter back and belly than an ellipse) along z.
    Its back is at the skin: the largest y of the ``skin`` mesh near the midline, or 5 mm behind
    the bones when there is no skin; its depth and width are :data:`BODY_DEPTH_MM` and
    :data:`BODY_WIDTH_MM` scaled for the patient's BMI (``anatomy.variant.bmi``), widened to
    enclose every structure. It runs 150 mm beyond the anatomy at both ends so its caps stay out
    of the field.
    """
    import trimesh

    if bounds_lps is None:
        meshes = list(anatomy.closed_meshes().values()) if anatomy is not None else []
        if not meshes:
            bounds_lps = np.array([[-50.0, -60.0, -100.0], [50.0, 60.0, 100.0]])
        else:
            allv = np.vstack([m.bounds for m in meshes])
            bounds_lps = np.array([allv.min(axis=0), allv.max(axis=0)])
    lo, hi = np.asarray(bounds_lps, dtype=float)
    back = None
    if anatomy is not None and "skin" in anatomy.structures and anatomy["skin"].ok:
        v = np.asarray(anatomy["skin"].mesh.vertices)
        near = v[np.abs(v[:, 0]) < 30.0]
        if len(near):
            back = float(near[:, 1].max())
    if back is None:
        back = float(hi[1]) + 5.0
    bmi = getattr(getattr(anatomy, "variant", None), "bmi", None) or BODY_REFERENCE_BMI
    scale = float(np.sqrt(np.clip(bmi, 12.0, 80.0) / BODY_REFERENCE_BMI))
    front = min(back - BODY_DEPTH_MM * scale, float(lo[1]) - 30.0)
    half_w = max(BODY_WIDTH_MM * scale / 2, float(np.abs([lo[0], hi[0]]).max()) + 30.0)
    cy, ry = (back + front) / 2, (back - front) / 2
    n = 96
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    p = 2.5
    cx_ = np.sign(np.cos(a)) * np.abs(np.cos(a)) ** (2 / p) * half_w
    cy_ = cy + np.sign(np.sin(a)) * np.abs(np.sin(a)) ** (2 / p) * ry
    z0, z1 = float(lo[2]) - 150.0, float(hi[2]) + 150.0
    ring0 = np.c_[cx_, cy_, np.full(n, z0)]
    ring1 = np.c_[cx_, cy_, np.full(n, z1)]
    verts = np.vstack([ring0, ring1, [[0, cy, z0], [0, cy, z1]]])
    faces = []
    for i in range(n):
        j = (i + 1) % n
        faces += [[i, j, n + j], [i, n + j, n + i], [2 * n, j, i], [2 * n + 1, n + i, n + j]]
    mesh = trimesh.Trimesh(verts, np.array(faces), process=False)
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def anatomy_layers(
    anatomy: Anatomy, cortex_mm: float = att.CORTEX_MM, tolerance_mm: float = 0.0
) -> list[Layer]:
    """The DRR scene of an anatomy: body, structures with Δμ, cancellous cores of the bones.

    ``region`` structures (named spaces) carry no matter and are left out; :data:`BODY_TISSUES`
    are drawn as part of the body; a mesh that is not a closed surface
    (:func:`is_closed_surface`) is left out and listed in ``anatomy.info["drr_skipped"]``.
    Meshes are simplified to ``tolerance_mm`` first (soft tissue to at least
    :data:`SOFT_TOLERANCE_MM`).
    """
    layers = [_layer("body", body_mesh(anatomy), att.MU_PER_MM["soft"])]
    for sid, full_mesh in anatomy.closed_meshes().items():
        tissue = anatomy[sid].tissue
        if tissue == "region" or tissue in BODY_TISSUES:
            continue
        if not is_closed_surface(full_mesh):
            # an open surface has unpaired crossings: it would streak the whole image
            log.warning("DRR: %s is not a closed surface; left out of the fluoroscopy image", sid)
            skipped = anatomy.info.setdefault("drr_skipped", []) if anatomy.info is not None else []
            if sid not in skipped:
                skipped.append(sid)
            continue
        tol = tolerance_mm if tissue in _SHARP_TISSUES else max(tolerance_mm, SOFT_TOLERANCE_MM)
        mesh = simplified(full_mesh, tol)
        container = CONTAINER.get(tissue, "soft")
        dmu = att.mu_of(tissue) - att.mu_of(container)
        if dmu == 0.0:
            continue
        layers.append(_layer(sid, mesh, dmu))
        if tissue == "bone" and cortex_mm > 0:
            # the inner (endosteal) surface only bounds the cancellous core: coarser is enough
            core = simplified(full_mesh, max(tolerance_mm, CORE_TOLERANCE_MM))
            layers.append(
                Layer(
                    f"{sid}.cancellous",
                    inward_offset(core, cortex_mm),
                    np.asarray(core.faces),
                    att.MU_CANCELLOUS - att.MU_CORTICAL,
                )
            )
    return layers


def _layer(name: str, mesh: trimesh.Trimesh, dmu: float) -> Layer:
    return Layer(name, np.asarray(mesh.vertices, dtype=float), np.asarray(mesh.faces), float(dmu))


def mesh_layer(name: str, mesh: trimesh.Trimesh, tissue: str, around: str = "soft") -> Layer:
    """A layer for a closed mesh of ``tissue`` lying in ``around`` (e.g. a needle: ``metal``)."""
    return _layer(name, mesh, att.mu_of(tissue) - att.mu_of(around))


def needle_layer(tip_lps, hub_lps, diameter_mm: float = 1.47) -> Layer:
    """A steel needle shaft from ``hub_lps`` to ``tip_lps`` as a closed cylinder layer.

    The default diameter is a 17 G Tuohy's outer diameter (1.47 mm, ISO 9626 nominal).
    """
    import trimesh

    tip = np.asarray(tip_lps, dtype=float)
    hub = np.asarray(hub_lps, dtype=float)
    mesh = trimesh.creation.cylinder(
        radius=diameter_mm / 2, segment=np.stack([hub, tip]), sections=12
    )
    return mesh_layer("needle", mesh, "metal")


# --- the GL renderer -----------------------------------------------------------------------

_VERTEX = """
#version 330
uniform mat4 clip_from_lps;
uniform vec3 source;
in vec3 in_pos;
in float in_mu;
out vec3 rel;
out float mu;
void main() {
    rel = in_pos - source;
    mu = in_mu;
    gl_Position = clip_from_lps * vec4(in_pos, 1.0);
}
"""

_FRAGMENT = """
#version 330
uniform float tref;
uniform float front_sign;
in vec3 rel;
in float mu;
out float value;
void main() {
    // entering a closed surface subtracts, leaving adds: the sum is mu x path length.
    value = (gl_FrontFacing ? front_sign : -front_sign) * mu * (length(rel) - tref);
}
"""

_NEAR_MM, _FAR_MM = 1.0, 20000.0


def clip_from_lps(pose: CArmPose) -> np.ndarray:
    """4x4 OpenGL clip-space matrix whose viewport mapping puts pixel (col, row) centres at
    window (col + ½, N − row − ½): the image read back bottom-up and flipped is ``image[row, col]``.
    """
    p = pose.pixel_from_lps()
    n = pose.pixels
    w = p[2]
    m = np.zeros((4, 4))
    m[0] = (2.0 / n) * p[0] + (1.0 / n - 1.0) * w
    m[1] = (1.0 - 1.0 / n) * w - (2.0 / n) * p[1]
    f, ne = _FAR_MM, _NEAR_MM
    m[2] = (f + ne) / (f - ne) * w
    m[2, 3] -= 2 * f * ne / (f - ne)
    m[3] = w
    return m


#: Edge (mm) of the grid cells that split a layer's triangles into chunks for frustum culling.
CHUNK_MM = 40.0


def _chunks(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Faces reordered by grid cell of their centroid, and the (start, stop) face range of each
    cell. A chunk wholly outside the field can be skipped even when its layer is not: no ray
    through a pixel centre meets it, so the crossings that remain still pair up."""
    if len(faces) == 0:
        return faces, []
    centroids = vertices[faces].mean(axis=1)
    cell = np.floor((centroids - centroids.min(axis=0)) / CHUNK_MM).astype(np.int64)
    key = (cell[:, 0] * 1000 + cell[:, 1]) * 1000 + cell[:, 2]
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = np.r_[0, np.nonzero(np.diff(key))[0] + 1]
    stops = np.r_[starts[1:], len(key)]
    return faces[order], list(zip(starts.tolist(), stops.tolist(), strict=True))


class _Scene:
    """GPU buffers of a set of layers (one interleaved vertex buffer, one index buffer)."""

    def __init__(self, ctx, prog, layers: Sequence[Layer], dynamic: bool = False):
        self.ctx = ctx
        self.n_triangles = 0
        self.vao = None
        self.buffers = []
        if not layers:
            return
        verts, idx, off, first = [], [], 0, 0
        # index ranges (first, count) of spatial chunks of each layer, with their bounding-box
        # corners, for frustum culling
        ranges, corners = [], []
        for layer in layers:
            v = np.asarray(layer.vertices, dtype=np.float32)
            f = np.asarray(layer.faces, dtype=np.int64)
            verts.append(np.c_[v, np.full(len(v), layer.dmu, dtype=np.float32)])
            f_sorted, chunks = _chunks(v, f)
            idx.append((f_sorted + off).astype(np.uint32))
            for start, stop in chunks:
                tri = v[f_sorted[start:stop]].reshape(-1, 3)
                lo, hi = tri.min(axis=0), tri.max(axis=0)
                ranges.append((first + 3 * start, 3 * (stop - start)))
                corners.append(
                    np.array(
                        [
                            [x, y, z]
                            for x in (lo[0], hi[0])
                            for y in (lo[1], hi[1])
                            for z in (lo[2], hi[2])
                        ]
                    )
                )
            off += len(v)
            first += 3 * len(f)
        self.ranges = np.array(ranges, dtype=np.int64).reshape(-1, 2)
        self.corners = np.array(corners, dtype=float).reshape(-1, 8, 3)
        vdata = np.ascontiguousarray(np.vstack(verts), dtype=np.float32)
        idata = np.ascontiguousarray(np.vstack(idx), dtype=np.uint32)
        self.n_triangles = len(idata)
        vbo = ctx.buffer(vdata.tobytes())
        ibo = ctx.buffer(idata.tobytes())
        self.buffers = [vbo, ibo]
        self.vao = ctx.vertex_array(prog, [(vbo, "3f 1f", "in_pos", "in_mu")], ibo)

    def draw(self, pose: CArmPose | None = None):
        """Draw every layer whose bounding box can reach a pixel centre of ``pose``.

        A closed surface wholly outside the field adds nothing to any ray, so it is skipped:
        the software rasteriser's cost is mostly per triangle.
        """
        if self.vao is None:
            return
        if pose is None:
            self.vao.render()
            return
        n = pose.pixels
        px = pose.project(self.corners.reshape(-1, 3)).reshape(-1, 8, 2)
        with np.errstate(invalid="ignore"):
            outside = (
                (px[..., 0] < -0.5).all(axis=1)
                | (px[..., 0] > n - 0.5).all(axis=1)
                | (px[..., 1] < -0.5).all(axis=1)
                | (px[..., 1] > n - 0.5).all(axis=1)
            ) & np.isfinite(px).all(axis=(1, 2))
        runs: list[list[int]] = []
        for (first, count), skip in zip(self.ranges.tolist(), outside.tolist(), strict=True):
            if skip:
                continue
            if runs and runs[-1][0] + runs[-1][1] == first:
                runs[-1][1] += count
            else:
                runs.append([first, count])
        for first, count in runs:
            self.vao.render(vertices=count, first=first)

    def release(self):
        if self.vao is not None:
            self.vao.release()
        for b in self.buffers:
            b.release()
        self.vao, self.buffers = None, []


class DrrRenderer:
    """Renders line-integral images of layer scenes. One per process: see :func:`renderer`."""

    def __init__(self):
        try:
            import moderngl

            self.ctx = moderngl.create_context(standalone=True, backend="egl")
        except Exception as exc:  # moderngl raises bare Exceptions for missing EGL/drivers
            raise RenderUnavailableError(
                "cannot create an OpenGL context for the fluoroscopy renderer "
                f"(moderngl, EGL backend): {exc}. On Debian/Ubuntu install libegl1 and "
                "libgl1-mesa-dri."
            ) from exc
        self.prog = self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT)
        self._fbos: dict[int, object] = {}
        self._scenes: OrderedDict[object, _Scene] = OrderedDict()
        self.stale: set[int] = set()  # ids of anatomies that are gone (see _anatomy_key)
        self.lock = threading.RLock()
        # Whether GL's front faces are the triangles whose outward normal faces the source; the
        # clip matrix flips y (rows top-down), so find out once from a known triangle.
        self.prog["front_sign"].value = -1.0
        self.front_sign = -1.0
        self._calibrate()

    @property
    def renderer_name(self) -> str:
        return self.ctx.info.get("GL_RENDERER", "?")

    def _fbo(self, n: int):
        fbo = self._fbos.get(n)
        if fbo is None:
            tex = self.ctx.renderbuffer((n, n), components=1, dtype="f4")
            fbo = self.ctx.framebuffer(color_attachments=[tex])
            self._fbos[n] = fbo
        return fbo

    def _calibrate(self):
        # A triangle 100 mm beyond the isocentre whose normal faces the source is an entry: it
        # must add a negative value (t - tref = 100 > 0). The clip matrix flips y (rows run
        # top-down), so which GL face is "front" is found once, here, rather than reasoned.
        pose = CArmPose(pixels=8)
        v = np.array([[-50, 100.0, -50], [50, 100.0, -50], [0, 100.0, 60.0]])
        f = np.array([[0, 1, 2]])
        if np.cross(v[1] - v[0], v[2] - v[0]) @ pose.beam_direction > 0:
            f = f[:, ::-1]
        scene = _Scene(self.ctx, self.prog, [Layer("calibration", v, f, 1.0)])
        centre = float(self._draw(pose, [scene])[3:5, 3:5].mean())
        scene.release()
        if centre == 0.0:
            raise RenderUnavailableError("the OpenGL context drew nothing (calibration)")
        if centre > 0:
            self.front_sign = -self.front_sign

    def scene(self, key, layers_fn) -> _Scene:
        """The cached GPU scene for ``key``, built with ``layers_fn()`` the first time."""
        with self.lock:
            while self.stale:
                gone = self.stale.pop()
                for k in [k for k in self._scenes if isinstance(k, tuple) and k[0] == gone]:
                    self.forget(k)
            s = self._scenes.get(key)
            if s is None:
                s = _Scene(self.ctx, self.prog, layers_fn())
                self._scenes[key] = s
                while len(self._scenes) > 6:
                    _, old = self._scenes.popitem(last=False)
                    old.release()
            else:
                self._scenes.move_to_end(key)
            return s

    def forget(self, key):
        with self.lock:
            s = self._scenes.pop(key, None)
            if s is not None:
                s.release()

    def _draw(self, pose: CArmPose, scenes: Iterable[_Scene]) -> np.ndarray:
        import moderngl

        n = pose.pixels
        fbo = self._fbo(n)
        fbo.use()
        self.ctx.viewport = (0, 0, n, n)
        fbo.clear(0.0, 0.0, 0.0, 0.0)
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.enable(moderngl.BLEND)
        self.ctx.blend_func = moderngl.ONE, moderngl.ONE
        self.ctx.blend_equation = moderngl.FUNC_ADD
        self.prog["clip_from_lps"].write(clip_from_lps(pose).T.astype("f4").tobytes())
        self.prog["source"].value = tuple(float(x) for x in pose.source_lps)
        self.prog["tref"].value = float(pose.source_to_centre_mm)
        self.prog["front_sign"].value = self.front_sign
        for s in scenes:
            s.draw(pose)
        raw = fbo.read(components=1, dtype="f4")
        img = np.frombuffer(raw, dtype=np.float32).reshape(n, n)
        return img[::-1].copy()

    def render(self, pose: CArmPose, scene: _Scene, extra: Sequence[Layer] = ()) -> np.ndarray:
        """Line integral Σ = ∫μ dt ((N, N) float32, dimensionless) for ``pose``."""
        with self.lock:
            scenes = [scene]
            dyn = _Scene(self.ctx, self.prog, list(extra)) if extra else None
            if dyn is not None:
                scenes.append(dyn)
            try:
                return self._draw(pose, scenes)
            finally:
                if dyn is not None:
                    dyn.release()


# An OpenGL context is current in one thread only, and making ours current on a thread that
# also draws with Qt/VTK (the GUI thread) would leave Qt believing its own context is still
# current: VTK would then draw into ours. So every GL call of the DRR runs on one private
# thread (see _on_gl_thread); callers wait for the result and keep their own GL state.
# renderer() is still per thread, so a test may also make one on its own thread.
_LOCAL = threading.local()
_RENDERERS: weakref.WeakSet = weakref.WeakSet()
_GL_THREAD_PREFIX = "iddsanatomy-drr"
_GL_EXECUTOR = None
_GL_EXECUTOR_LOCK = threading.Lock()


def _on_gl_thread(fn, *args, **kwargs):
    """Run ``fn`` on the DRR's private GL thread and return its result (or raise its error)."""
    global _GL_EXECUTOR
    if threading.current_thread().name.startswith(_GL_THREAD_PREFIX):
        return fn(*args, **kwargs)
    with _GL_EXECUTOR_LOCK:
        if _GL_EXECUTOR is None:
            from concurrent.futures import ThreadPoolExecutor

            _GL_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_GL_THREAD_PREFIX)
    return _GL_EXECUTOR.submit(fn, *args, **kwargs).result()


def renderer() -> DrrRenderer:
    """This thread's DRR renderer (created on first use; raises RenderUnavailableError)."""
    r = getattr(_LOCAL, "renderer", None)
    if r is None:
        r = DrrRenderer()
        _LOCAL.renderer = r
        _RENDERERS.add(r)
    return r


_PREPARED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PREPARE_LOCK = threading.Lock()


def prepare(anatomy: Anatomy, detail: str = "full", cortex_mm: float = att.CORTEX_MM) -> list:
    """The DRR layers of ``anatomy`` at a level of detail, computed once and cached.

    This is the slow, GL-free part of the first shot of a new anatomy (mesh simplification,
    cortical offsets): a UI can call it in a worker thread so that the first shot is quick.
    """
    if detail not in DETAIL_TOLERANCE_MM:
        raise IddsError(f"detail must be one of {sorted(DETAIL_TOLERANCE_MM)}, got {detail!r}")
    ids = tuple((k, id(m)) for k, m in anatomy.closed_meshes().items())
    key = (detail, cortex_mm, ids)
    with _PREPARE_LOCK:
        try:
            per = _PREPARED.setdefault(anatomy, {})
        except TypeError:  # not weak-referenceable
            per = {}
        if key not in per:
            if any(k[2] != ids for k in per):  # the meshes changed: older layers are stale
                per.clear()
            per[key] = anatomy_layers(anatomy, cortex_mm, DETAIL_TOLERANCE_MM[detail])
        return per[key]


def _anatomy_key(anatomy: Anatomy, cortex_mm: float, detail: str):
    # Keyed on the object and on the identity of its meshes, so that a re-posed anatomy (new
    # mesh objects) is rebuilt. When the anatomy is garbage collected its scenes are marked
    # stale; each renderer frees them on its own thread (GL objects belong to their context).
    meshes = anatomy.closed_meshes()
    key = (id(anatomy), cortex_mm, detail, tuple((k, id(m)) for k, m in meshes.items()))
    if "_drr_finaliser" not in getattr(anatomy, "__dict__", {"_drr_finaliser": None}):
        try:
            anatomy.__dict__["_drr_finaliser"] = weakref.finalize(anatomy, _mark_stale, id(anatomy))
        except TypeError:  # not weak-referenceable: the LRU alone bounds the memory
            pass
    return key


def _mark_stale(anatomy_id: int):
    for r in list(_RENDERERS):
        r.stale.add(anatomy_id)


def line_integral(
    anatomy: Anatomy | None,
    pose: CArmPose,
    extra: Sequence[Layer] = (),
    layers: Sequence[Layer] | None = None,
    cortex_mm: float = att.CORTEX_MM,
    detail: str | None = None,
) -> np.ndarray:
    """The attenuation line integral Σ ((N, N) float32) of ``anatomy`` (or ``layers``) for ``pose``.

    Parameters
    ----------
    anatomy : Anatomy or None
        Its scene (:func:`anatomy_layers`) is uploaded once and cached.
    pose : CArmPose
    extra : sequence of Layer
        Dynamic layers for this shot only (the needle).
    layers : sequence of Layer, optional
        An explicit scene instead of an anatomy (phantoms, tests); not cached.
    cortex_mm : float
        Cortical shell thickness of the bones (0: solid cortical bone).
    detail : {"full", "live"}, optional
        Mesh level of detail (:data:`DETAIL_TOLERANCE_MM`); by default "live" up to 320² and
        "full" above.
    """
    extra = list(extra)
    if layers is not None:
        return _on_gl_thread(_render_layers, pose, list(layers), extra)
    if anatomy is None:
        raise IddsError("line_integral needs an anatomy or explicit layers")
    if detail is None:
        detail = "live" if pose.pixels <= 320 else "full"
    if detail not in DETAIL_TOLERANCE_MM:
        raise IddsError(f"detail must be one of {sorted(DETAIL_TOLERANCE_MM)}, got {detail!r}")
    key = _anatomy_key(anatomy, cortex_mm, detail)
    scene_layers = prepare(anatomy, detail, cortex_mm)  # CPU work, on the caller's thread
    return _on_gl_thread(_render_cached, key, scene_layers, pose, extra)


def _render_layers(pose: CArmPose, layers: list, extra: list) -> np.ndarray:
    r = renderer()
    with r.lock:
        s = _Scene(r.ctx, r.prog, layers)
        try:
            return r.render(pose, s, extra)
        finally:
            s.release()


def _render_cached(key, layers: list, pose: CArmPose, extra: list) -> np.ndarray:
    r = renderer()
    return r.render(pose, r.scene(key, lambda: layers), extra)


def scene_info(anatomy: Anatomy) -> dict:
    """What the GL thread holds for ``anatomy``: ``renderer`` (the OpenGL renderer's name) and
    ``triangles`` per level of detail uploaded so far (for benchmarks and diagnostics)."""

    def info():
        r = renderer()
        with r.lock:
            tris = {
                k[2]: s.n_triangles
                for k, s in r._scenes.items()
                if isinstance(k, tuple) and len(k) > 2 and k[0] == id(anatomy)
            }
        return {"renderer": r.renderer_name, "triangles": tris}

    return _on_gl_thread(info)


def render_drr(
    anatomy: Anatomy | None,
    pose: CArmPose,
    needle=None,
    extra: Sequence[Layer] = (),
    layers: Sequence[Layer] | None = None,
    i0: float = 1.0,
) -> np.ndarray:
    """The detector image ``I = I0·exp(−Σ)`` ((N, N) float32) of ``anatomy`` seen from ``pose``.

    ``needle`` is anything with ``tip_lps`` and ``hub_lps`` (and optionally ``diameter_mm``), or a
    ``(tip_lps, hub_lps)`` pair; it is drawn as steel.
    """
    extra = list(extra)
    nl = needle_layer_from(needle)
    if nl is not None:
        extra.append(nl)
    sigma = line_integral(anatomy, pose, extra=extra, layers=layers)
    return (i0 * np.exp(-sigma.astype(np.float64))).astype(np.float32)


def needle_layer_from(needle) -> Layer | None:
    """A steel needle layer, or None if there is no needle.

    Accepts a :class:`iddsanatomy.needle.pose.NeedlePose` (drawn to scale by the needle
    module's ``needle_mesh``, without its radiolucent plastic hub), anything with ``tip_lps`` and
    ``hub_lps`` (and optionally ``diameter_mm``), or a ``(tip_lps, hub_lps)`` pair.
    """
    if needle is None:
        return None
    if isinstance(needle, tuple | list) and len(needle) == 2:
        return needle_layer(needle[0], needle[1])
    if hasattr(needle, "entry_lps") and hasattr(needle, "needle"):
        from iddsanatomy.needle.mesh import needle_mesh

        return mesh_layer("needle", needle_mesh(needle, hub=False), "metal")
    tip = getattr(needle, "tip_lps", None)
    hub = getattr(needle, "hub_lps", None)
    if tip is None or hub is None:
        return None
    d = getattr(needle, "diameter_mm", None)
    return needle_layer(tip, hub, float(d)) if d else needle_layer(tip, hub)
