"""C-arm pose geometry against hand-computed answers (core tier: no OpenGL)."""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.anatomy.model import Anatomy, Structure
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.fluoro.pose import CArmPose, carm_geometry, preset, square_endplates


def test_ap_is_pa_for_a_prone_patient_with_the_left_on_the_image_left():
    pose = CArmPose()
    np.testing.assert_allclose(pose.beam_direction, [0, 1, 0], atol=1e-12)  # anterior → posterior
    assert pose.source_lps[1] < 0 < pose.detector_centre_lps[1]
    c = (pose.pixels - 1) / 2
    left, head = pose.project([[50.0, 0, 0], [0, 0, 50.0]])
    assert left[0] < c and abs(left[1] - c) < 1e-9  # patient's left on the image left
    assert head[1] < c and abs(head[0] - c) < 1e-9  # head up


def test_projection_of_points_matches_similar_triangles():
    pose = CArmPose(centre_lps=(0.0, 0.0, 0.0), sid_mm=1000.0, source_to_centre_mm=600.0)
    # A point 50 mm to the patient's right, 100 mm beyond the isocentre (towards the detector):
    # 700 mm from the source, so it lands 50 * 1000 / 700 mm right of the detector centre.
    (col, row) = pose.project(np.array([-50.0, 100.0, 0.0]))
    expected = (pose.pixels - 1) / 2 + 50.0 * 1000.0 / 700.0 / pose.pixel_mm
    assert col == pytest.approx(expected, abs=1e-9)
    assert row == pytest.approx((pose.pixels - 1) / 2, abs=1e-9)


def test_pixel_from_lps_is_the_chain_of_its_parts():
    pose = CArmPose(orbital_deg=23.0, cranial_tilt_deg=-11.0, centre_lps=(5.0, 40.0, -30.0))
    chain = pose.pixel_from_detector() @ pose.detector_from_lps()
    np.testing.assert_allclose(pose.pixel_from_lps(), chain)
    r = pose.detector_from_lps()[:3, :3]
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    # the centre projects to the image centre; the source is at z = +SID in the detector frame
    c = (pose.pixels - 1) / 2
    np.testing.assert_allclose(pose.project(pose.centre_lps), [c, c], atol=1e-9)
    src = pose.detector_from_lps() @ np.r_[pose.source_lps, 1.0]
    np.testing.assert_allclose(src[:3], [0, 0, pose.sid_mm], atol=1e-9)


def test_oblique_and_lateral_beam_directions():
    np.testing.assert_allclose(preset("lateral").beam_direction, [1, 0, 0], atol=1e-12)
    d = preset("oblique_left_30").beam_direction
    np.testing.assert_allclose(d, [0.5, np.sqrt(3) / 2, 0], atol=1e-12)  # detector to the left
    d = CArmPose(cranial_tilt_deg=20.0).beam_direction
    np.testing.assert_allclose(d, [0, np.cos(np.radians(20)), np.sin(np.radians(20))])
    # lateral with the detector on the left: posterior on the image right
    lat = preset("lateral")
    col_post, col_ant = lat.project([[0, 50.0, 0], [0, -50.0, 0]])[:, 0]
    assert col_post > col_ant


def test_points_behind_the_source_are_nan():
    pose = CArmPose()
    assert np.all(np.isnan(pose.project([0.0, -2000.0, 0.0])))


def _tilted_box_anatomy(tilt_deg: float) -> Anatomy:
    import trimesh

    from iddsanatomy.geometry import rotation

    box = trimesh.creation.box(extents=(45.0, 35.0, 27.0)).subdivide().subdivide().subdivide()
    t = rotation([1, 0, 0], tilt_deg)
    box.apply_transform(t)
    top = t[:3, :3] @ np.array([0, 0, 13.5])
    return Anatomy(
        {"L5": Structure("L5", "bone", "L5", mesh=box, level="L5")},
        landmarks_lps={"L5.endplate.superior": top},
        lps_from_level={"L5": np.eye(4)},  # frame deliberately not tilted: the mesh decides
    )


@pytest.mark.parametrize("tilt", [-25.0, 0.0, 12.0])
def test_square_endplates_puts_the_beam_in_the_endplate_plane(tilt):
    from iddsanatomy.geometry import rotation

    anatomy = _tilted_box_anatomy(tilt)
    normal = rotation([1, 0, 0], tilt)[:3, :3] @ np.array([0, 0, 1.0])
    pose = square_endplates(anatomy, "L5")
    top = anatomy.landmarks_lps["L5.endplate.superior"]
    ray = top - pose.source_lps
    # the ray through the endplate centre lies in the endplate plane (the beam diverges, so the
    # central ray is a little steeper: 13.5 mm above the isocentre at 620 mm is ~1.2°)
    assert (ray / np.linalg.norm(ray)) @ normal == pytest.approx(0.0, abs=1e-9)
    # rotating the box about x by +tilt tips its top towards -y; the beam must follow it
    assert pose.cranial_tilt_deg == pytest.approx(tilt, abs=1.5)
    assert preset("square_L5", anatomy).cranial_tilt_deg == pytest.approx(pose.cranial_tilt_deg)
    # the front and back edges of the top face project to one image row
    front = top + rotation([1, 0, 0], tilt)[:3, :3] @ np.array([0, -17.5, 0])
    back = top + rotation([1, 0, 0], tilt)[:3, :3] @ np.array([0, 17.5, 0])
    rows = pose.project(np.stack([front, back]))[:, 1]
    assert rows[0] == pytest.approx(rows[1], abs=1e-6)


def test_bad_poses_and_names_are_refused_with_messages():
    with pytest.raises(ValidationError, match="cranial_tilt_deg"):
        CArmPose(cranial_tilt_deg=95.0)
    with pytest.raises(ValidationError, match="source_to_centre_mm"):
        CArmPose(source_to_centre_mm=1200.0)
    with pytest.raises(ValidationError, match="centre_lps"):
        CArmPose(centre_lps=(0.0, np.nan, 0.0))
    with pytest.raises(ValidationError, match="did you mean"):
        preset("laterl")
    with pytest.raises(GeometryError, match="L9"):
        preset("ap", _tilted_box_anatomy(0.0), level="L9")


def test_carm_geometry_cone_reaches_the_detector_corners():
    pose = preset("oblique_left_30", pixels=64)
    g = carm_geometry(pose)
    assert set(g) == {"source", "cone", "detector"}
    cone = g["cone"].vertices
    np.testing.assert_allclose(cone[0], pose.source_lps)
    d = pose.beam_direction
    corner_dist = np.linalg.norm(cone[1:] - pose.detector_centre_lps, axis=1)
    np.testing.assert_allclose(corner_dist, pose.detector_mm / 2 * np.sqrt(2))
    np.testing.assert_allclose((cone[1:] - pose.detector_centre_lps) @ d, 0, atol=1e-9)
    assert g["detector"].is_watertight and g["source"].is_watertight


def test_drr_layers_are_prepared_once_and_redone_when_meshes_change():
    import trimesh

    from iddsanatomy.fluoro import drr

    a = _tilted_box_anatomy(0.0)
    first = drr.prepare(a, "live")
    assert drr.prepare(a, "live") is first
    names = [layer.name for layer in first]
    assert names == ["body", "L5", "L5.cancellous"]
    a["L5"].mesh = trimesh.creation.box(extents=(10.0, 10.0, 10.0))
    again = drr.prepare(a, "live")
    assert again is not first and np.ptp(again[1].vertices[:, 0]) == pytest.approx(10.0, abs=0.5)


def test_side_markers_name_the_side_on_the_image_right():
    from iddsanatomy.fluoro.overlays import orientation_marker

    for name, text in (("ap", "R"), ("oblique_left_30", "R"), ("lateral", "P")):
        pose = preset(name)
        (marker, (col, row)), *_ = orientation_marker(pose).items()
        assert marker == text and col > pose.pixels / 2 and row < pose.pixels / 4
    assert next(iter(orientation_marker(preset("lateral_right")))) == "A"


def test_needle_path_projects_along_the_needle():
    from types import SimpleNamespace

    from iddsanatomy.fluoro.overlays import needle_path

    pose = preset("lateral")
    needle = SimpleNamespace(entry_lps=(0.0, 80.0, 0.0), direction=(0.0, -1.0, 0.0))
    path = needle_path(needle, pose, length_mm=90.0)
    np.testing.assert_allclose(path[0], pose.project([0.0, 80.0, 0.0]))
    np.testing.assert_allclose(path[-1], pose.project([0.0, -10.0, 0.0]))
    assert needle_path(object(), pose) is None


def test_an_interspace_centres_the_carm_between_its_vertebrae():
    from iddsanatomy.geometry import translation

    a = Anatomy(
        {}, lps_from_level={"L3": translation([0, 0, 20.0]), "L4": translation([2, 0, -18.0])}
    )
    np.testing.assert_allclose(preset("ap", a, level="L3-L4").centre_lps, [1.0, 0.0, 1.0])
    with pytest.raises(GeometryError, match="L4-L9"):
        preset("ap", a, level="L4-L9")
