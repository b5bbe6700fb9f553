"""Render tier: the SceneRenderer draws a SceneState offscreen; pixels are read back.

Uses the synthetic anatomy of ``viewer_fixtures`` (L3 at z=0, L4 at z=-40, disc at z=-20),
so every expected position is known by construction.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import trimesh
from viewer_fixtures import BONE, DISC, make_anatomy

from iddsanatomy.scene import Camera, SceneState

pytestmark = pytest.mark.render

SIZE = (480, 360)


@pytest.fixture
def scene():
    import pyvista as pv

    from iddsanatomy.render.scene_renderer import SceneRenderer, default_visible

    anatomy = make_anatomy()
    state = SceneState(visible=default_visible(anatomy), camera=Camera(view="anterior"))
    plotter = pv.Plotter(off_screen=True, window_size=SIZE)
    sr = SceneRenderer(plotter, anatomy, state)
    yield sr, state, plotter
    sr.close()
    plotter.close()


def pixel(plotter, point_lps, image=None):
    """RGB (0-255) of the pixel where ``point_lps`` projects (image rows run top to bottom)."""
    from iddsanatomy.render.picking import project_to_display

    img = plotter.screenshot() if image is None else image
    x, y = project_to_display(plotter, point_lps)
    h = img.shape[0]
    return img[h - 1 - round(y), round(x)].astype(float)


def hue_close(rgb, expected, tol=0.08):
    """Same chromaticity (lighting scales brightness, not the r:g:b ratio)."""
    a = np.asarray(rgb, float) / max(np.sum(rgb), 1e-6)
    b = np.asarray(expected, float) / np.sum(expected)
    return float(np.abs(a - b).max()) < tol


def test_renders_anatomy_not_blank_with_tissue_colours(scene):
    _sr, _state, plotter = scene
    img = plotter.screenshot()
    assert img.shape[:2] == (SIZE[1], SIZE[0])
    assert img.std() > 20  # not a uniform background
    # from the front, the L4 body and the disc face the camera with nothing in front
    assert hue_close(pixel(plotter, (0.0, -15.0, -40.0), img), BONE)
    assert hue_close(pixel(plotter, (0.0, -17.5, -20.0), img), DISC)
    # the corner is background: dark blue-grey, not a tissue colour
    corner = img[2, 2].astype(float)
    assert corner.max() < 90 and corner[2] >= corner[0]


def test_part_highlight_colours_only_that_part(scene):
    from iddsanatomy.render.scene_renderer import HIGHLIGHT_RGB

    _sr, state, plotter = scene
    state.highlighted = frozenset({"L3.pedicle.left"})
    img = plotter.screenshot()
    left = pixel(plotter, (12.0, -12.0, 0.0), img)  # +x is the patient's left
    right = pixel(plotter, (-12.0, -12.0, 0.0), img)
    assert hue_close(left, HIGHLIGHT_RGB, tol=0.1)
    assert hue_close(right, BONE)
    state.highlighted = frozenset()
    assert hue_close(pixel(plotter, (12.0, -12.0, 0.0)), BONE)


def test_selection_of_whole_structure_tints_it(scene):
    from iddsanatomy.render.scene_renderer import SELECT_RGB

    _sr, state, plotter = scene
    before = pixel(plotter, (0.0, -15.0, -40.0))
    state.selected = "L4"
    after = pixel(plotter, (0.0, -15.0, -40.0))
    # towards cyan: blue rises relative to red
    assert after[2] / after[0] > before[2] / before[0] + 0.3
    assert SELECT_RGB[2] > SELECT_RGB[0]


def test_hide_and_opacity_zero_remove_a_structure(scene):
    sr, state, plotter = scene
    bg = plotter.screenshot()
    p = (0.0, -15.0, -40.0)
    state.visible = state.visible - {"L4"}
    assert not hue_close(pixel(plotter, p), BONE)
    assert not sr.actors["L4"].GetVisibility()
    state.visible = state.visible | {"L4"}
    assert hue_close(pixel(plotter, p), BONE)
    state.opacity = {"L4": 0.0}
    assert not sr.actors["L4"].GetVisibility()
    assert not np.allclose(pixel(plotter, p), pixel(plotter, p, bg))


def test_sagittal_clip_removes_the_left_half(scene):
    from iddsanatomy.render.sections import section_plane

    sr, state, plotter = scene
    assert sr.visible_bounds()[1] == pytest.approx(22.0, abs=0.5)  # L3/L4 half-width
    state.clip = section_plane(sr.anatomy, "sagittal", "L3")
    # hand answer: the plane is x = 0 (the L3 frame origin), the +x side is removed
    b = sr.visible_bounds()
    assert b[1] == pytest.approx(0.0, abs=1e-3)
    assert b[0] == pytest.approx(-22.0, abs=0.5)
    img = plotter.screenshot()
    assert not hue_close(pixel(plotter, (12.0, -12.0, -40.0), img), BONE)  # cut away
    assert hue_close(pixel(plotter, (-12.0, -12.0, -40.0), img), BONE)  # kept
    state.clip = section_plane(sr.anatomy, "sagittal", "L3", offset_mm=10.0)
    assert sr.visible_bounds()[1] == pytest.approx(10.0, abs=1e-3)
    state.clip = None
    assert sr.visible_bounds()[1] == pytest.approx(22.0, abs=0.5)


def test_views_put_the_camera_on_the_named_side(scene):
    _sr, state, plotter = scene
    expected = {
        "posterior": (1, +1),
        "anterior": (1, -1),
        "left": (0, +1),
        "right": (0, -1),
        "cranial": (2, +1),
        "caudal": (2, -1),
    }
    for view, (axis, sign) in expected.items():
        state.camera = Camera(view=view)
        d = np.subtract(plotter.camera.position, plotter.camera.focal_point)
        d /= np.linalg.norm(d)
        assert d[axis] == pytest.approx(sign, abs=1e-6), view
    state.camera = Camera(view="oblique_left_30")
    d = np.subtract(plotter.camera.position, plotter.camera.focal_point)
    d /= np.linalg.norm(d)
    assert np.degrees(np.arctan2(d[0], d[1])) == pytest.approx(30.0, abs=1e-6)


def test_focus_frames_the_structure(scene):
    _sr, state, plotter = scene
    state.camera = Camera(view="posterior", focus="L4")
    assert plotter.camera.focal_point[2] == pytest.approx(-40.0, abs=1e-6)
    state.camera = Camera(view="posterior", focus="L3.pedicle.left")
    fp = plotter.camera.focal_point
    assert fp[0] > 5.0 and fp[2] == pytest.approx(0.0, abs=1.0)


def test_pick_resolves_structure_and_part(scene):
    from iddsanatomy.render.picking import Picker, project_to_display

    sr, state, plotter = scene
    plotter.screenshot()
    picker = Picker(sr)
    hit = picker.pick(*project_to_display(plotter, (0.0, -15.0, -40.0)))
    assert hit is not None and hit.structure_id == "L4" and hit.part_id == "L4"
    assert hit.point_lps[1] < -14.0  # the front surface, not the back
    hit = picker.pick(*project_to_display(plotter, (12.0, -12.0, 0.0)))
    assert (hit.structure_id, hit.part_id) == ("L3", "L3.pedicle.left")
    hit = picker.pick(*project_to_display(plotter, (-12.0, -12.0, 0.0)))
    assert hit.part_id == "L3.pedicle.right"
    assert picker.pick(2, 2) is None  # background
    # a clipped-away part cannot be picked: the ray goes on to what is behind it
    from iddsanatomy.render.sections import section_plane

    state.clip = section_plane(sr.anatomy, "sagittal", "L3")
    hit = picker.pick(*project_to_display(plotter, (12.0, -12.0, 0.0)))
    assert hit is None or hit.structure_id != "L3"


def test_level_of_detail_swaps_meshes_during_interaction(scene):
    sr, _state, plotter = scene
    full = sr.actors["L3"].mapper.GetInput().GetNumberOfCells()
    sr.begin_interaction()
    coarse = sr.actors["L3"].mapper.GetInput().GetNumberOfCells()
    assert coarse == len(sr.anatomy["L3"].coarse.faces) < full
    assert plotter.screenshot().std() > 20
    sr.end_interaction()
    assert sr.actors["L3"].mapper.GetInput().GetNumberOfCells() == full


def test_labels_for_levels_and_interlaminar_spaces(scene):
    sr, state, plotter = scene
    state.visible = state.visible | {"interlaminar.L3-L4"}
    without = plotter.screenshot()
    state.labels = frozenset({"levels", "interlaminar"})
    assert "labels:levels-labels" in plotter.actors
    assert "labels:interlaminar-labels" in plotter.actors
    texts = [t for t, _ in sr.label_points("levels")]
    assert texts == ["L3", "L4"]
    assert [t for t, _ in sr.label_points("interlaminar")] == ["L3–L4"]
    assert np.abs(plotter.screenshot().astype(int) - without.astype(int)).sum() > 0
    state.labels = frozenset()
    assert "labels:levels-labels" not in plotter.actors


def test_failed_structure_has_no_actor_and_does_not_break(scene):
    sr, state, plotter = scene
    assert "L5" not in sr.actors
    state.visible = state.visible | {"L5", "no.such.id"}  # ignored, not a crash
    assert plotter.screenshot().std() > 20


def test_needle_hook_draws_when_the_needle_module_provides_a_mesh(scene, monkeypatch):
    sr, state, _plotter = scene
    fake = types.ModuleType("iddsanatomy.needle")

    def needle_mesh(pose):
        m = trimesh.creation.cylinder(radius=0.5, height=90.0)
        m.apply_translation(pose)
        return m

    fake.needle_mesh = needle_mesh
    monkeypatch.setitem(sys.modules, "iddsanatomy.needle", fake)
    state.needle = (0.0, -60.0, -20.0)
    assert sr.instruments.shown("needle")
    assert sr.instruments.mesh("needle").center == pytest.approx((0.0, -60.0, -20.0), abs=1e-3)
    state.needle = None
    assert not sr.instruments.shown("needle")
    fake.needle_mesh = lambda pose: 1 / 0  # a broken needle is reported, not raised
    state.needle = (0.0, 0.0, 0.0)
    assert not sr.instruments.shown("needle")
    assert any("needle" in p for p in sr.problems)


def _frame(plotter):
    """Draw a frame now and read it back (a screenshot alone may not draw)."""
    plotter.render()
    return plotter.screenshot()


@pytest.fixture
def rod_needle(monkeypatch):
    """A stand-in needle module: a rod of radius 3 mm along x at y = -5, z = -40 (through the
    L4 "vertebra", an ellipsoid of radii 22, 16, 12 mm), tip at x = ``pose``, shaft towards +x.
    Seen from the front, the bone (its surface at y <= -16 + ...) hides the rod for |x| < ~20.
    """
    fake = types.ModuleType("iddsanatomy.needle")

    def needle_mesh(tip_x):
        m = trimesh.creation.cylinder(radius=3.0, height=70.0)
        m.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (0, 1, 0)))
        m.apply_translation((tip_x + 35.0, -5.0, -40.0))
        return m

    fake.needle_mesh = needle_mesh
    monkeypatch.setitem(sys.modules, "iddsanatomy.needle", fake)


def test_needle_move_redraws_the_needle_alone_and_the_picture_is_the_same(scene, rod_needle):
    sr, state, plotter = scene
    ir = sr.instruments
    bare = plotter.screenshot()  # no needle
    state.needle = 40.0
    plotter.screenshot()  # a full frame: the anatomy is drawn and kept
    full, alone = ir.full_frames, ir.instrument_frames
    state.needle = -10.0  # only the needle moved
    moved = plotter.screenshot()
    assert ir.instrument_frames == alone + 1 and ir.full_frames == full  # anatomy skipped
    # the same scene drawn in full is the same picture, pixel for pixel
    ir.replay_enabled = False
    drawn = _frame(plotter)
    assert ir.full_frames == full + 1
    assert np.array_equal(moved, drawn)
    # independent checks of depth and of the old needle being gone: in front of the rod at
    # x = 0 is bone (the picture is the bare one there); at x = 30 the rod shows; where the
    # old rod was and the new is not (behind the tip, x < -10) it is the bare picture again
    assert np.array_equal(
        pixel(plotter, (0.0, -5.0, -40.0), moved), pixel(plotter, (0.0, -5.0, -40.0), bare)
    )
    assert not np.allclose(
        pixel(plotter, (30.0, -5.0, -40.0), moved),
        pixel(plotter, (30.0, -5.0, -40.0), bare),
        atol=20,
    )
    ir.replay_enabled = True
    state.needle = 40.0
    plotter.screenshot()
    state.needle = 45.0
    back = plotter.screenshot()
    assert np.array_equal(
        pixel(plotter, (30.0, -5.0, -40.0), back), pixel(plotter, (30.0, -5.0, -40.0), bare)
    )


def test_near_and_far_planes_take_in_the_needle_outside_the_anatomy(scene, monkeypatch):
    """The needle is drawn by its own renderer with the anatomy's camera: resetting the
    clipping range (as the interactor and the named views do) must not cut off a hub that
    stands far out of the anatomy's box."""
    sr, state, plotter = scene
    fake = types.ModuleType("iddsanatomy.needle")
    # a rod 80 mm in front of the anatomy, towards the camera (anterior view: camera at -y)
    fake.needle_mesh = lambda pose: trimesh.creation.box(
        extents=(6, 6, 6),
        transform=np.array(
            [[1, 0, 0, 0], [0, 1, 0, pose], [0, 0, 1, -20], [0, 0, 0, 1]], dtype=float
        ),
    )
    monkeypatch.setitem(sys.modules, "iddsanatomy.needle", fake)
    cam = plotter.camera
    state.needle = -120.0  # the anatomy ends at y = -16 - ...; this box at y = -123 ... -117
    plotter.renderer.ResetCameraClippingRange()
    near, far = cam.GetClippingRange()
    d = np.asarray(cam.GetDirectionOfProjection())
    pos = np.asarray(cam.GetPosition())
    box = sr.instruments.mesh("needle").points
    depths = (np.asarray(box) - pos) @ d
    assert near <= depths.min() and depths.max() <= far
    img = plotter.screenshot()
    assert not np.allclose(pixel(plotter, (0.0, -120.0, -20.0), img), img[2, 2], atol=20)


@pytest.mark.parametrize("change", ["camera", "visible", "highlight", "clip", "opacity"])
def test_anything_but_the_needle_changing_draws_the_whole_frame(scene, rod_needle, change):
    from iddsanatomy.render.sections import section_plane

    sr, state, plotter = scene
    ir = sr.instruments
    plotter.screenshot()  # the window is shown (pyvista draws nothing before that)
    state.needle = 40.0
    plotter.screenshot()
    state.needle = 35.0
    plotter.screenshot()
    full, alone = ir.full_frames, ir.instrument_frames
    assert alone >= 1
    if change == "camera":
        plotter.camera.Azimuth(20.0)
    elif change == "visible":
        state.visible = state.visible - {"L3"}
    elif change == "highlight":
        state.highlighted = frozenset({"L4"})
    elif change == "clip":
        state.clip = section_plane(sr.anatomy, "sagittal", "L3")
    else:
        state.opacity = {"L4": 0.5}
    state.needle = 30.0
    img = plotter.screenshot()
    # the change was drawn in full (by itself, as this state draws at once, or with the
    # needle's frame), and what shows is what a full frame shows
    assert ir.full_frames > full
    ir.replay_enabled = False
    assert np.array_equal(img, _frame(plotter))
    ir.replay_enabled = True
    _frame(plotter)
    alone = ir.instrument_frames
    state.needle = 25.0  # from here only the needle moves again: the needle alone
    img = plotter.screenshot()
    assert ir.instrument_frames == alone + 1
    ir.replay_enabled = False
    assert np.array_equal(img, _frame(plotter))


def test_inside_out_mesh_is_flipped(scene):
    from iddsanatomy.render.scene_renderer import polydata_from_trimesh

    m = trimesh.creation.icosphere(subdivisions=2)
    m.invert()
    assert m.volume < 0
    pd = polydata_from_trimesh(m)
    n = np.asarray(pd.point_data["Normals"])
    # outward normals point away from the centre
    assert (np.einsum("ij,ij->i", n, np.asarray(pd.points)) > 0).all()


def test_section_caps_fill_the_cut_on_the_plane(scene):
    import math

    from iddsanatomy.render.sections import section_plane

    sr, state, plotter = scene
    state.visible = frozenset({"L3"})
    state.clip = section_plane(sr.anatomy, "sagittal", "L3")
    caps = sr.cap_mesh
    assert caps is not None and caps.n_cells > 0
    pts = np.asarray(caps.points)
    # on the plane x = 0, nudged a hair towards the removed side (+x) so it is not z-fought
    assert 0.0 < pts[:, 0].min() and pts[:, 0].max() < 0.1
    # hand answer: the ellipsoid (22, 16, 12) cut at x = 0 is an ellipse of area π·16·12;
    # the icosphere's chords make the polygon a little smaller
    area = caps.compute_cell_sizes(length=False, volume=False)["Area"].sum()
    assert 0.95 * math.pi * 16 * 12 < area <= math.pi * 16 * 12
    state.camera = Camera(view="left")
    assert hue_close(pixel(plotter, (0.0, 0.0, 0.0)), BONE)
    state.clip = None
    assert sr.cap_mesh is None


def test_section_framing_uses_what_is_left(scene):
    from iddsanatomy.render.sections import section_plane

    sr, state, plotter = scene
    state.camera = Camera(view="cranial")
    far = np.linalg.norm(np.subtract(plotter.camera.position, plotter.camera.focal_point))
    state.clip = section_plane(sr.anatomy, "axial", "L4")
    sr.reapply_camera()
    near = np.linalg.norm(np.subtract(plotter.camera.position, plotter.camera.focal_point))
    assert plotter.camera.focal_point[2] < -40.0  # centred on what is below the cut
    assert near < far
