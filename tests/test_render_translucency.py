"""Render tier: translucent closed structures let what lies inside them show through.

Closed meshes carry a darker backface property (the inside of a cut). Its opacity must follow
the structure's: otherwise the far wall of a translucent skin (or dura) is drawn opaque and
hides every bone inside it. Independent answer: alpha compositing — behind one wall of opacity
``a`` the bone keeps about ``1 - a`` of its contrast; at a = 1 the skin alone is what is seen.
"""

from __future__ import annotations

import numpy as np
import pytest
from viewer_fixtures import make_anatomy as _fixture_anatomy

from iddsanatomy.scene import Camera, SceneState

pytestmark = pytest.mark.render

SIZE = (320, 240)


def make_anatomy():
    """The synthetic anatomy with its skin as a 4 mm slab between the camera (anterior view)
    and L3, as the real skin lies between a posterior camera and the spine: both the slab's
    front face and its back face are in front of the bone."""
    import dataclasses

    import trimesh

    anatomy = _fixture_anatomy()
    slab = trimesh.creation.box(extents=(160.0, 4.0, 140.0))
    slab.apply_translation((0.0, -40.0, -20.0))
    anatomy.structures["skin"] = dataclasses.replace(anatomy.structures["skin"], mesh=slab)
    return anatomy


def _render(anatomy, visible, opacity):
    import pyvista as pv

    from iddsanatomy.render.scene_renderer import SceneRenderer

    state = SceneState(visible=frozenset(visible), opacity=opacity, camera=Camera(view="anterior"))
    plotter = pv.Plotter(off_screen=True, window_size=SIZE)
    try:
        sr = SceneRenderer(plotter, anatomy, state)
        image = np.asarray(plotter.screenshot(return_img=True))[..., :3].astype(float)
        sr.close()
        return image
    finally:
        plotter.close()


def _bone_pixels(anatomy):
    """Where L3 is on screen: the pixels that the bone alone changes from the empty scene.

    The camera frames the skin box in every render, so that L3 lands on the same pixels."""
    empty = _render(anatomy, {"skin"}, {"skin": 0.0})
    bone = _render(anatomy, {"L3", "skin"}, {"skin": 0.0})
    mask = np.abs(bone - empty).max(axis=2) > 60
    assert mask.sum() > 200  # the bone is on screen
    return mask


@pytest.mark.parametrize("alpha", [0.12, 0.3])
def test_bone_shows_through_translucent_skin(alpha):
    anatomy = make_anatomy()
    where = _bone_pixels(anatomy)
    bone = _render(anatomy, {"L3", "skin"}, {"skin": 0.0})[where].mean(0)
    skin = _render(anatomy, {"skin"}, {"skin": alpha})[where].mean(0)
    both = _render(anatomy, {"L3", "skin"}, {"skin": alpha})[where].mean(0)
    # the bone's share of the pixel, measured along the bone-skin colour difference
    share = float((both - skin) @ (bone - skin) / ((bone - skin) @ (bone - skin)))
    # one wall of opacity alpha lies in front of the bone: at least 1 - 2·alpha of the bone's
    # contrast against the skin-alone picture must survive (lighting and the far wall blur the
    # exact 1 - alpha); with an opaque back face it was 0
    assert share >= 1.0 - 2.0 * alpha, (bone, skin, both)


def test_opaque_skin_hides_the_bone():
    """The control: at opacity 1 the bone inside the skin cannot be seen (the test can fail)."""
    anatomy = make_anatomy()
    where = _bone_pixels(anatomy)
    skin = _render(anatomy, {"skin"}, {"skin": 1.0})[where].mean(0)
    both = _render(anatomy, {"L3", "skin"}, {"skin": 1.0})[where].mean(0)
    assert np.abs(both - skin).max() < 3.0
