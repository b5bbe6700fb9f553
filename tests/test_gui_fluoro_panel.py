"""The fluoroscopy panel drives the C-arm in the SceneState and shows the DRR (pytest-qt)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from iddsanatomy.scene import SceneState

pytestmark = [pytest.mark.gui, pytest.mark.render]


def _phantom_anatomy():
    """Two 'vertebrae' (boxes with a dense core) and a 'rib': enough to see and to label."""
    import trimesh

    from iddsanatomy.anatomy.model import Anatomy, Structure
    from iddsanatomy.geometry import translation

    structures, frames = {}, {}
    for level, z in (("L2", 40.0), ("L3", 0.0)):
        m = trimesh.creation.box(extents=(46.0, 35.0, 27.0))
        m.apply_translation([0.0, 0.0, z])
        structures[level] = Structure(level, "bone", level, mesh=m, level=level)
        frames[level] = translation([0.0, 0.0, z])
    rib = trimesh.creation.cylinder(radius=5.0, segment=[[25.0, 20.0, 60.0], [110.0, -20.0, 30.0]])
    structures["rib12.left"] = Structure("rib12.left", "bone", "12th rib (left)", mesh=rib)
    return Anatomy(structures, lps_from_level=frames)


@pytest.fixture
def panel(qtbot):
    from iddsanatomy.ui.fluoro_panel import FluoroPanel

    window = SimpleNamespace(state=SceneState(), anatomy=_phantom_anatomy())
    p = FluoroPanel(window)
    qtbot.addWidget(p)
    p.resize(420, 700)
    p.show()
    return p


def test_preset_buttons_and_sliders_set_the_carm(panel, qtbot):
    from PySide6.QtCore import Qt

    state = panel.state
    assert state.carm is not None and state.carm.level == "L3"
    qtbot.mouseClick(panel.preset_buttons["Lat"], Qt.LeftButton)
    assert state.carm.orbital_deg == 90.0 and state.carm.cranial_tilt_deg == 0.0
    assert panel.orbital.value() == 90
    panel.tilt.setValue(-12)
    assert state.carm.cranial_tilt_deg == -12.0 and state.carm.orbital_deg == 90.0
    panel.level.setCurrentText("L2")
    np.testing.assert_allclose(state.carm.centre_lps, [0.0, 0.0, 40.0])
    # a pose assigned from elsewhere (a lesson) moves the sliders
    state.carm = state.carm.with_(orbital_deg=-30.0, cranial_tilt_deg=5.0)
    assert panel.orbital.value() == -30 and panel.tilt.value() == 5


def test_take_shot_shows_bone_dark_and_invert_flips_it(panel, qtbot):
    from PySide6.QtCore import Qt

    qtbot.mouseClick(panel.preset_buttons["AP"], Qt.LeftButton)
    qtbot.mouseClick(panel.shot_button, Qt.LeftButton)
    assert panel.sigma.shape == (512, 512) and panel.state.fluoro_open
    pic = panel.picture.astype(float).mean(axis=2)  # RGB: the side marker is drawn in colour
    col, row = panel.last_pose.project([0.0, 0.0, 0.0])  # L3 centre
    centre = pic[round(row), round(col)]
    corner = pic[round(row), 10]  # soft tissue beside the spine
    assert centre < corner - 40  # bone dark on light
    assert not panel.image.pixmap().isNull()
    panel.invert.setChecked(True)
    inv = panel.picture.astype(float).mean(axis=2)
    assert inv[round(row), round(col)] > inv[round(row), 10] + 40


def test_live_mode_follows_the_carm_and_the_needle(panel, qtbot):
    panel.live.setChecked(True)
    with qtbot.waitSignal(panel.rendered, timeout=5000):
        panel.state.carm = panel.state.carm.with_(orbital_deg=20.0)
    assert panel.sigma.shape == (256, 256) and panel.last_pose.orbital_deg == 20.0
    before = panel.sigma.copy()
    needle = SimpleNamespace(
        tip_lps=np.array([0.0, 30.0, 5.0]), hub_lps=np.array([5.0, 120.0, -20.0])
    )
    with qtbot.waitSignal(panel.rendered, timeout=5000):
        panel.state.needle = needle
    assert (panel.sigma - before).max() > 0.5  # steel shows


def test_overlays_label_levels_and_ribs(panel, qtbot):
    panel.show_levels.setChecked(True)
    panel.show_ribs.setChecked(True)
    panel.take_shot()
    labels, _ = panel.overlays()
    assert {"L2", "L3", "12th rib (left)", "R"} <= set(labels)
    assert panel.picture.ndim == 3  # drawn in colour
    l2, l3 = labels["L2"], labels["L3"]
    assert l2[1] < l3[1]  # L2 above L3 on the image


def test_a_new_patient_recentres_the_carm_and_refreshes_the_shot(panel, qtbot):
    import trimesh

    panel.take_shot()
    before = panel.sigma.copy()
    moved = _phantom_anatomy()
    for s in moved.structures.values():
        s.mesh = s.mesh.copy()
        s.mesh.apply_transform(trimesh.transformations.translation_matrix([12.0, 0.0, 0.0]))
    moved.lps_from_level = {k: v.copy() for k, v in moved.lps_from_level.items()}
    for v in moved.lps_from_level.values():
        v[0, 3] += 12.0
    panel.window.anatomy = moved
    panel.state.variant = "moved"  # what the patient panel does after replacing the anatomy
    np.testing.assert_allclose(panel.state.carm.centre_lps, [12.0, 0.0, 0.0])
    # the C-arm followed the level, so the vertebra's edges stay where they were on the image
    assert panel.sigma is not before

    def edges(sigma):
        g = np.diff(sigma[256].astype(float))
        return int(np.argmax(g)), int(np.argmin(g))

    assert edges(panel.sigma) == pytest.approx(edges(before), abs=1)


def test_the_carm_is_drawn_in_the_3d_view_while_fluoroscopy_is_open(qtbot):
    import pyvista as pv

    from iddsanatomy.ui.fluoro_panel import FluoroPanel

    plotter = pv.Plotter(off_screen=True)
    try:
        window = SimpleNamespace(state=SceneState(), anatomy=_phantom_anatomy(), plotter=plotter)
        p = FluoroPanel(window)
        qtbot.addWidget(p)
        assert not set(FluoroPanel.CARM_ACTORS) & set(plotter.actors)
        p.take_shot()  # opens fluoroscopy
        assert set(FluoroPanel.CARM_ACTORS) <= set(plotter.actors)
        cone = plotter.actors["fluoro.carm.cone"].mapper.dataset
        np.testing.assert_allclose(cone.points[0], window.state.carm.source_lps, atol=1e-6)
        p.set_angles(90.0, 0.0)  # the cone follows the C-arm
        cone = plotter.actors["fluoro.carm.cone"].mapper.dataset
        np.testing.assert_allclose(cone.points[0], window.state.carm.source_lps, atol=1e-6)
        window.state.fluoro_open = False
        assert not set(FluoroPanel.CARM_ACTORS) & set(plotter.actors)
    finally:
        plotter.close()


def test_after_shutdown_the_panel_no_longer_follows_the_scene(panel, qtbot):
    panel.live.setChecked(True)
    panel.shutdown()
    panel.state.carm = panel.state.carm.with_(orbital_deg=33.0)
    qtbot.wait(3 * 40)
    assert panel.orbital.value() != 33 and not panel.live.isChecked()


def test_live_mode_coalesces_a_burst_of_moves_and_shows_the_last(panel, qtbot):
    panel.live.setChecked(True)
    for angle in range(0, 50, 5):  # dragging the slider
        panel.orbital.setValue(angle)
    qtbot.waitUntil(
        lambda: panel.last_pose is not None and panel.last_pose.orbital_deg == 45.0, timeout=5000
    )
    assert panel.sigma.shape == (256, 256)
