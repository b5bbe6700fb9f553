"""Fluoroscopy of the default anatomy: what a pain physician checks on the monitor (render tier).

* The L3 spinous tip lands on the pixel the pose's projection matrix predicts (± 1 px).
* True AP: the L3 spinous process projects midway between the L3 pedicle "eyes" (± 1 mm at the
  detector), measured on the image.
* The 12th rib is visible, and its lower edge at the spine lies at the T12 level.
* "Square the endplates of L5" makes that endplate a single line.
"""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.fluoro import drr
from iddsanatomy.fluoro.pose import preset

pytestmark = pytest.mark.render


def landmark(anatomy, level: str, *names: str) -> np.ndarray:
    """The first of ``names`` found as ``<level>.<name>`` (or ``<level>_<name>``) landmark."""
    lm = anatomy.landmarks_lps
    for name in names:
        for key in (f"{level}.{name}", f"{level}_{name}", f"{level}:{name}"):
            if key in lm:
                return np.asarray(lm[key], dtype=float)
    raise AssertionError(f"no landmark {names} for {level}; have e.g. {sorted(lm)[:12]}")


def _bone_only(anatomy, ids):
    """The DRR layers (cortex and cancellous core, in soft tissue) of some bones only."""
    layers = []
    for sid in ids:
        mesh = anatomy[sid].mesh
        layers += [
            drr.mesh_layer(sid, mesh, "bone"),
            drr.Layer(
                f"{sid}.core",
                drr.inward_offset(mesh, drr.att.CORTEX_MM),
                np.asarray(mesh.faces),
                drr.att.MU_CANCELLOUS - drr.att.MU_CORTICAL,
            ),
        ]
    return layers


def _blur(a, s):
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a, s)


def test_l3_spinous_tip_lands_where_the_projection_matrix_says(default_anatomy):
    import trimesh

    tip = landmark(default_anatomy, "L3", "spinous_tip", "spinous_process.tip", "sp_tip")
    for name in ("ap", "oblique_left_30", "lateral"):
        pose = preset(name, default_anatomy, level="L3", pixels=512)
        # a 1 mm steel ball at the landmark, found on the image by its centroid
        ball = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
        ball.apply_translation(tip)
        sigma = drr.line_integral(None, pose, layers=[drr.mesh_layer("tip", ball, "metal")])
        rr, cc = np.nonzero(sigma > 1e-4)
        w = sigma[rr, cc]
        found = np.array([(cc * w).sum(), (rr * w).sum()]) / w.sum()
        np.testing.assert_allclose(found, pose.project(tip), atol=1.0)
        # and the full-anatomy image is drawn in the same frame: the tip is inside the field
        assert 0 <= found[0] < pose.pixels and 0 <= found[1] < pose.pixels


def spinous_offset_on_image(anatomy, level="L3"):
    """Measure, on a true-AP DRR of ``level`` alone, how far (detector mm, + towards the image
    right) the spinous process lies from midway between the pedicle eyes.

    Returns (measured_mm, predicted_mm, eyes): ``predicted_mm`` is the same offset from the
    projected landmarks; ``eyes`` the two ring centres (pixels).
    """
    pose = preset("ap", anatomy, level=level, pixels=512)
    sigma = drr.line_integral(None, pose, layers=_bone_only(anatomy, [level]))
    mm = pose.pixel_mm  # detector mm per pixel
    ped_l = pose.project(landmark(anatomy, level, "pedicle_centre.left", "pedicle.left.centre"))
    ped_r = pose.project(landmark(anatomy, level, "pedicle_centre.right", "pedicle.right.centre"))
    tip = pose.project(landmark(anatomy, level, "spinous_tip", "spinous_process.tip"))

    # pedicle eyes: centroid of the cortical ring (high-pass of the image) near each pedicle
    hp = sigma - _blur(sigma, 4.0 / mm)
    yy, xx = np.mgrid[: pose.pixels, : pose.pixels]

    def centroid(guess, radius_mm, image):
        w = np.clip(image, 0, None) * (np.hypot(xx - guess[0], yy - guess[1]) < radius_mm / mm)
        return np.array([(xx * w).sum(), (yy * w).sum()]) / w.sum()

    left, right = centroid(ped_l, 11.0, hp), centroid(ped_r, 11.0, hp)
    # the spinous process seen end-on (its teardrop): centroid of its shadow near the tip
    sp = centroid(tip, 7.0, sigma - np.median(sigma[sigma > 0]))
    measured = (sp[0] - (left[0] + right[0]) / 2) * mm
    predicted = (tip[0] - (ped_l[0] + ped_r[0]) / 2) * mm
    return measured, predicted, (left, right, sp)


def test_true_ap_spinous_process_midway_between_the_pedicles(default_anatomy):
    measured, _, (left, right, sp) = spinous_offset_on_image(default_anatomy)
    assert abs(measured) <= 1.0
    mm = preset("ap", default_anatomy, level="L3", pixels=512).pixel_mm
    # and the eyes are where a physician looks for them: level with each other, either side
    assert abs(left[1] - right[1]) * mm <= 1.0
    assert left[0] < sp[0] < right[0]  # patient's left on the image left


def test_rotated_scoliotic_vertebra_moves_the_spinous_process_off_centre(default_anatomy):
    from iddsanatomy.anatomy.variation import apply_variant

    scoliosis = apply_variant(default_anatomy, "scoliosis with rotation")
    for level in ("L2", "L3"):
        measured, predicted, _ = spinous_offset_on_image(scoliosis, level)
        # the rotation swings the spinous process towards the concavity by many millimetres, and
        # the image shows it where the rotated landmarks say. The centroid of a rotated (slanted)
        # spinous shadow lies a little nearer its base than the tip landmark: 12 % is allowed.
        assert abs(predicted) > 3.0
        assert np.sign(measured) == np.sign(predicted)
        assert abs(measured - predicted) <= max(1.0, 0.12 * abs(predicted))


def _rib_ids(anatomy, number=12):
    ids = [
        sid
        for sid, s in anatomy.structures.items()
        if s.parent is None and s.tissue == "bone" and "rib" in sid and str(number) in sid
    ]
    assert ids, f"no 12th rib in the anatomy: bones are {anatomy.by_tissue('bone')}"
    return ids


def test_twelfth_rib_is_visible_and_its_lower_edge_is_at_t12(default_anatomy):
    a = default_anatomy
    pose = preset("ap", a, level="T12", pixels=512)
    mm = pose.pixel_mm
    full = drr.line_integral(a, pose)
    ribs = _rib_ids(a)
    rib_only = drr.line_integral(None, pose, layers=_bone_only(a, ribs))
    on_rib = rib_only > 0.05
    assert on_rib.sum() * mm * mm > 100.0  # a real shadow, not a sliver
    # visible: the rib alone changes the detector signal by > 10 % where it lies, and it is
    # seen as an edge against its surroundings in the full image
    contrast = 1 - np.exp(-np.median(rib_only[on_rib]))
    assert contrast > 0.10
    # lower edge at the spine: where the rib leaves the vertebra (from its head at the costal
    # facet to 12 mm lateral on the detector) its lowest pixel lies within the T12 body's rows
    sup = pose.project(landmark(a, "T12", "superior_endplate_centre", "endplate.superior"))
    inf = pose.project(landmark(a, "T12", "inferior_endplate_centre", "endplate.inferior"))
    for side in ("left", "right"):
        head = pose.project(landmark(a, "T12", f"costal_facet.{side}", f"rib12.{side}.head"))
        direction = -1 if side == "left" else 1  # the patient's left is on the image left
        c0, c1 = round(head[0]), round(head[0] + direction * 12.0 / mm)
        cols = slice(min(c0, c1), max(c0, c1) + 1)
        rows = np.nonzero(on_rib[:, cols].any(axis=1))[0]
        assert len(rows), f"no {side} 12th rib beside T12"
        lowest = rows.max()
        assert sup[1] <= lowest <= inf[1], (
            f"{side} 12th rib's lower edge beside the spine at row {lowest}, T12 endplates at "
            f"rows {sup[1]:.0f}–{inf[1]:.0f}"
        )
    assert np.isfinite(full).all()


@pytest.mark.parametrize("level", ["L1", "L3", "L5"])
def test_squared_endplate_is_a_single_line(default_anatomy, level):
    from iddsanatomy.fluoro.pose import square_endplates

    a = default_anatomy
    pose = square_endplates(a, level)
    front = landmark(a, level, "superior_endplate_anterior")
    back = landmark(a, level, "superior_endplate_posterior")
    rows = pose.project(np.stack([front, back]))[:, 1]
    assert abs(rows[0] - rows[1]) <= 1.5  # pixels: the rim's front and back coincide
    # whereas an untilted AP shows the L5 endplate as an ellipse (lordosis)
    if level == "L5":
        ap_rows = preset("ap", a, level=level).project(np.stack([front, back]))[:, 1]
        assert abs(ap_rows[0] - ap_rows[1]) > 5
