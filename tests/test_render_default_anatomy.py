"""Render tier on the shipped anatomy: picking resolves real bone parts, sections are capped."""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.scene import Camera, SceneState

pytestmark = pytest.mark.render


@pytest.fixture
def bones_scene(default_anatomy):
    import pyvista as pv

    from iddsanatomy.render.scene_renderer import SceneRenderer

    bones = frozenset(default_anatomy.by_tissue("bone")) - {
        s for s in default_anatomy.by_tissue("bone") if default_anatomy[s].parent
    }
    state = SceneState(visible=bones, camera=Camera(view="posterior"))
    plotter = pv.Plotter(off_screen=True, window_size=(600, 800))
    sr = SceneRenderer(plotter, default_anatomy, state)
    yield sr, state, plotter
    sr.close()
    plotter.close()


def _part_centre(anatomy, part_id):
    part = anatomy[part_id]
    bone = anatomy[part.parent]
    k = bone.part_ids.index(part_id)
    faces = np.asarray(bone.mesh.faces)[np.asarray(bone.face_labels) == k]
    return np.asarray(bone.mesh.vertices)[np.unique(faces)].mean(axis=0)


def test_pick_spinous_process_from_behind(bones_scene):
    from iddsanatomy.render.picking import Picker, project_to_display

    sr, _state, plotter = bones_scene
    anatomy = sr.anatomy
    img = plotter.screenshot()
    picker = Picker(sr)
    for level in ("L2", "L3", "L4"):
        centre = _part_centre(anatomy, f"{level}.spinous_process")
        x, y = project_to_display(plotter, centre)
        hit = picker.pick(x, y)
        assert hit is not None and hit.structure_id == level
        assert hit.part_id == f"{level}.spinous_process"
        assert hit.point_lps[1] > centre[1]  # the back surface, seen from behind (+y)
        rgb = img[img.shape[0] - 1 - round(y), round(x)].astype(float)
        bone = np.asarray(anatomy[level].color) * 255
        assert np.abs(rgb / rgb.sum() - bone / bone.sum()).max() < 0.06


def test_sagittal_section_at_l3_l4_is_capped(default_anatomy):
    import pyvista as pv

    from iddsanatomy.render.scene_renderer import SceneRenderer, default_visible
    from iddsanatomy.render.sections import section_plane

    state = SceneState(visible=default_visible(default_anatomy), camera=Camera(view="left"))
    plotter = pv.Plotter(off_screen=True, window_size=(500, 700))
    sr = SceneRenderer(plotter, default_anatomy, state)
    try:
        state.clip = section_plane(default_anatomy, "sagittal", "L3-L4")
        caps = sr.cap_mesh
        assert caps is not None and caps.n_cells > 100
        b = sr.visible_bounds()
        assert b[1] == pytest.approx(state.clip.origin_lps[0], abs=1e-3)
        # the L3 body, cut in the midline, shows as a filled bone-coloured face
        body = _part_centre(default_anatomy, "L3.body")
        sr.reapply_camera()
        img = plotter.screenshot()
        from iddsanatomy.render.picking import project_to_display

        x, y = project_to_display(plotter, (state.clip.origin_lps[0], body[1], body[2]))
        rgb = img[img.shape[0] - 1 - round(y), round(x)].astype(float)
        bone = np.asarray(default_anatomy["L3"].color) * 255
        assert np.abs(rgb / rgb.sum() - bone / bone.sum()).max() < 0.06
    finally:
        sr.close()
        plotter.close()
