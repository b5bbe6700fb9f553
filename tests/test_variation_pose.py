"""Re-posing math on synthetic vertebral frames, checked against hand geometry."""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy import geometry
from iddsanatomy.anatomy.variant import make_variant
from iddsanatomy.anatomy.variation import (
    CHAIN,
    SpineSkin,
    pose_transforms,
    sagittal_angle_deg,
    scoliosis_transforms,
    segment_angles_deg,
)


def straight_frames(spacing=40.0):
    """T12..S1 stacked straight up the z axis, S1 at z = 0."""
    return {
        lv: geometry.translation((0, 0, spacing * (len(CHAIN) - 1 - i)))
        for i, lv in enumerate(CHAIN)
    }


def test_sagittal_angle_sign_convention():
    # An upper vertebra whose z axis leans back (+y, posterior) is lordotic.
    leaning_back = geometry.apply_direction(geometry.rotation((-1, 0, 0), 10), (0, 0, 1))
    assert leaning_back[1] > 0
    assert sagittal_angle_deg((0, 0, 1), leaning_back) == pytest.approx(10)
    assert sagittal_angle_deg(leaning_back, (0, 0, 1)) == pytest.approx(-10)


def test_pose_changes_each_segment_by_the_requested_amount_and_keeps_the_sacrum():
    frames = straight_frames()
    delta = {"L5-S1": 12.0, "L4-L5": 7.0, "L3-L4": 5.0, "L2-L3": 3.0, "L1-L2": 1.0}
    t = pose_transforms(frames, delta)
    posed = {lv: t[lv] @ f for lv, f in frames.items()}
    seg = segment_angles_deg(posed)
    for k, v in delta.items():
        assert seg[k] == pytest.approx(v, abs=1e-9)
    assert np.allclose(posed["S1"], frames["S1"])
    # total L1-S1 lordosis is the sum
    z_l1, z_s1 = posed["L1"][:3, 2], posed["S1"][:3, 2]
    assert sagittal_angle_deg(z_s1, z_l1) == pytest.approx(sum(delta.values()))


def test_extension_moves_the_laminae_on_an_arc_about_the_posterior_disc():
    # A point 40 mm behind the body centre of L4 (laminae) moves down toward L5 by about r*theta.
    frames = straight_frames()
    t = pose_transforms(frames, {"L4-L5": 5.0})
    lamina = frames["L4"][:3, 3] + np.array([0, 40.0, -10.0])
    moved = geometry.apply(t["L4"], lamina)
    centre = 0.5 * (frames["L4"][:3, 3] + frames["L5"][:3, 3]) + np.array([0, 6.0, 0])
    r = np.linalg.norm((lamina - centre)[1:])
    # the chord of an arc of radius r through 5 degrees
    assert np.linalg.norm(moved - lamina) == pytest.approx(
        2 * r * np.sin(np.radians(2.5)), rel=1e-9
    )
    assert moved[2] < lamina[2]  # extension: the lamina comes down, the window closes


@pytest.mark.parametrize("side", ["left", "right"])
def test_scoliosis_cobb_and_apical_rotation(side):
    frames = straight_frames()
    v = make_variant(
        scoliosis_cobb_deg=40, apical_rotation_deg=18, scoliosis_apex="L2", scoliosis_side=side
    )
    t = scoliosis_transforms(v, frames)
    posed = {lv: t.get(lv, np.eye(4)) @ f for lv, f in frames.items()}
    # apex: rotated axially by the requested amount, displaced towards the convex side
    x_axis = posed["L2"][:3, 0]
    axial = np.degrees(np.arctan2(x_axis[1], x_axis[0]))
    convex = -1 if side == "right" else 1
    assert axial == pytest.approx(convex * 18, abs=1e-6)
    assert np.sign(posed["L2"][0, 3]) == convex
    # spinous process (posterior, +y) turns towards the concavity
    sp = geometry.apply(posed["L2"], (0, 45.0, 0))
    assert np.sign(sp[0] - posed["L2"][0, 3]) == -convex
    # Cobb angle: the analytic end-vertebra tilts of the half-cosine add up to the request
    spacing = 40.0
    h = 2.5 * spacing
    amp = (2 * h / np.pi) * np.tan(np.radians(20))
    assert 2 * np.degrees(np.arctan(amp * np.pi / (2 * h))) == pytest.approx(40)
    tilts = [np.degrees(np.arctan2(posed[lv][0, 2], posed[lv][2, 2])) for lv in posed]
    assert max(abs(a) for a in tilts) < 20  # sampled vertebrae lie inside the end vertebrae


def test_spine_skin_blends_linearly_between_frames():
    frames = straight_frames()
    verts = np.array([[0, 10.0, 20.0], [0, 10.0, 280.0], [0, 10.0, -30.0]])  # L5-S1, top, below
    skin = SpineSkin(verts, frames)
    t = {lv: geometry.translation((i * 1.0, 0, 0)) for i, lv in enumerate(CHAIN)}
    out = skin.apply(verts, t)
    # z = 20 is halfway between S1 (z 0, index 6) and L5 (z 40, index 5) -> x shift 5.5
    assert out[0, 0] == pytest.approx(5.5)
    assert out[1, 0] == pytest.approx(0.0)  # above T12 follows T12 (index 0)
    assert out[2, 0] == pytest.approx(6.0)  # below S1 follows S1
