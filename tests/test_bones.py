"""Sacrum, ribs and iliac crests: mesh quality, labels, and figures measured on the meshes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from iddsanatomy.anatomy.bones import (
    DEFAULT_SACRAL_SLOPE_DEG,
    ILIAC_PARTS,
    RIB_PARTS,
    SACRUM_PARTS,
    build_iliac_crest,
    build_rib,
    build_sacrum,
    lps_from_sacrum_default,
)
from iddsanatomy.anatomy.vertebra import build_vertebra
from iddsanatomy.errors import ValidationError


@pytest.fixture(scope="module")
def sacrum():
    return build_sacrum()


def _closed_single(mesh):
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.volume > 0
    assert len(mesh.split(only_watertight=False)) == 1


def test_sacrum_is_one_closed_solid_with_every_part(sacrum):
    _closed_single(sacrum.mesh)
    assert sacrum.part_names == SACRUM_PARTS
    counts = np.bincount(sacrum.face_labels, minlength=len(SACRUM_PARTS))
    for name, c in zip(SACRUM_PARTS, counts, strict=True):
        assert c > 300, name
    assert len(sacrum.mesh.faces) < 150_000


def test_sacrum_landmarks_run_down_the_bone(sacrum):
    lm = sacrum.landmarks
    assert lm["promontory"][1] < 0 and abs(lm["promontory"][2]) < 1e-9
    zs = [lm[f"s{i}_level"][2] for i in range(1, 6)]
    assert all(a > b for a, b in itertools.pairwise(zs))
    tops = [lm[f"s{i}_top"][2] for i in range(1, 6)]
    assert all(t > c for t, c in zip(tops, zs, strict=True))
    # REF §7: hiatus apex at S4 (80 %) — between the S4 top and the S5 level
    assert lm["s5_level"][2] < lm["hiatus_apex"][2] < lm["s4_top"][2] + 5.0
    assert lm["coccyx_tip"][2] < lm["s5_level"][2]


def test_sacral_dimensions_match_the_reference(sacrum):
    m = sacrum.mesh
    # REF §7 (Oman Med J [R]): interauricular distance 108.7 ± 11.0 mm -> sacral span
    span = np.ptp(m.vertices[:, 0])
    assert 108.7 - 11.0 <= span <= 108.7 + 11.0, span
    # sacral height 98.0 ± 9.2 [R]: promontory to the sacral apex (sacrum only, no coccyx)
    not_coccyx = sacrum.face_labels != SACRUM_PARTS.index("coccyx")
    mid = m.triangles_center[not_coccyx & (np.abs(m.triangles_center[:, 0]) < 8.0)]
    height = np.linalg.norm(mid - sacrum.landmarks["promontory"], axis=1).max()
    assert 98.0 - 2 * 9.2 <= height <= 98.0 + 2 * 9.2, height


def test_s1_dorsal_foramen_is_a_hole_at_the_published_offset(sacrum):
    """REF §7 (Korean J Pain 2023 [R]): the S1 dorsal foramen lies 23.5 mm from the midline."""
    from iddsanatomy.anatomy.bones import _SEGMENT_PITCH, _at, _curve

    _, normal = _curve(_SEGMENT_PITCH)
    normal = normal[0]
    m = sacrum.mesh
    for x, expect_hit in ((23.5, False), (-23.5, False), (33.0, True), (12.0, True)):
        origin = _at(_SEGMENT_PITCH, -15.0, x)  # in front of the pelvic surface
        hits, _, _ = m.ray.intersects_location([origin], [normal])
        assert (len(hits) > 0) == expect_hit, x


def test_sacrum_top_is_the_flat_s1_endplate(sacrum):
    """REF §7: the S1 superior endplate is nearly flat; the frame's z is its normal."""
    m = sacrum.mesh
    tops = []
    for x in (-10.0, 0.0, 10.0):
        for y in (-8.0, 0.0, 8.0):
            locs, _, _ = m.ray.intersects_location([[x, y, 50.0]], [[0.0, 0.0, -1.0]])
            tops.append(locs[:, 2].max())
    assert np.ptp(tops) < 1.0 and abs(np.mean(tops)) < 0.6


@pytest.mark.parametrize("side", ["left", "right"])
def test_twelfth_rib_starts_at_t12_and_runs_at_the_costolumbar_angle(side):
    rib = build_rib(12, side)
    _closed_single(rib.mesh)
    assert rib.part_names == RIB_PARTS
    t12 = build_vertebra("T12", 1.6)
    facet = t12.landmarks[f"costal_facet.{side}"]
    assert np.linalg.norm(rib.landmarks["head"] - facet) < 8.0
    d = rib.landmarks["tip"] - rib.landmarks["head"]
    sign = 1 if side == "left" else -1
    assert sign * d[0] > 0 and d[2] < 0  # laterally and down
    # REF §12 Aubert 1981 [R]: costo-lumbar angle 45° (AP view: x against z)
    angle = np.degrees(np.arctan2(abs(d[0]), -d[2]))
    assert abs(angle - 45.0) < 6.0, angle
    # length ≈ 11 cm [R]: the chord of a nearly straight rib is a little shorter
    assert 95.0 <= np.linalg.norm(d) <= 111.0
    assert rib.measures["length_mm"] == 110.0


def test_short_rib_variant_and_eleventh_rib():
    short = build_rib(12, "left", length_mm=40.0)
    _closed_single(short.mesh)
    assert np.linalg.norm(short.landmarks["tip"] - short.landmarks["head"]) < 45.0
    r11 = build_rib(11, "left")
    _closed_single(r11.mesh)
    assert r11.landmarks["head"][2] > build_rib(12, "left").landmarks["head"][2] + 20.0


def test_ribs_reject_bad_input():
    with pytest.raises(ValidationError, match="11 or 12"):
        build_rib(10, "left")
    with pytest.raises(ValidationError, match="side"):
        build_rib(12, "middle")
    with pytest.raises(ValidationError, match="length"):
        build_rib(12, "left", length_mm=0.0)


@pytest.mark.parametrize("side", ["left", "right"])
def test_iliac_crest_vertex_is_38_mm_above_the_sacral_base(side, sacrum):
    crest = build_iliac_crest(side)
    _closed_single(crest.mesh)
    assert crest.part_names == ILIAC_PARTS
    r = lps_from_sacrum_default(DEFAULT_SACRAL_SLOPE_DEG)
    posed = crest.mesh.vertices @ r.T
    # REF §12 Okamoto 2020 [R]: sacral base centre 3.8 ± 0.8 cm caudal to the crest vertex
    assert abs(posed[:, 2].max() - 38.0) < 1.0
    assert np.allclose(r @ crest.landmarks["crest_vertex"], posed[np.argmax(posed[:, 2])])
    sign = 1 if side == "left" else -1
    assert sign * crest.landmarks["crest_vertex"][0] > 60.0


def test_iliac_crest_does_not_overlap_the_sacrum(sacrum):
    import manifold3d

    def man(m):
        return manifold3d.Manifold(
            manifold3d.Mesh(
                vert_properties=np.asarray(m.vertices, np.float32),
                tri_verts=np.asarray(m.faces, np.uint32),
            )
        )

    crest = build_iliac_crest("left", 1.2)
    assert (man(crest.mesh) ^ man(sacrum.mesh)).volume() < 1.0


def test_bone_builders_reject_bad_resolution():
    with pytest.raises(ValidationError, match="resolution"):
        build_sacrum(resolution_mm=-1.0)
    with pytest.raises(ValidationError, match="side"):
        build_iliac_crest("up")


@pytest.mark.parametrize("lordosis_deg", [0.0, 10.0])
def test_l5_stands_on_the_sacrum_without_bony_overlap(sacrum, lordosis_deg):
    """L5 on a disc of the REF §4 posterior height (L5/S1 8.51 mm [R]), its posterior wall over
    S1's, tilted into lordosis about the posterior S1 corner: its inferior articular processes
    sit in the S1 superior ones and no bone interpenetrates."""
    import manifold3d

    from iddsanatomy.anatomy.bone_params import vertebra_params
    from iddsanatomy.anatomy.sdf import rot_x

    def man(m):
        return manifold3d.Manifold(
            manifold3d.Mesh(
                vert_properties=np.asarray(m.vertices, np.float32),
                tri_verts=np.asarray(m.faces, np.uint32),
            )
        )

    p = vertebra_params("L5")
    l5 = build_vertebra("L5", 1.2).mesh.copy()
    wall = sacrum.landmarks["s1_superior_endplate_posterior"]
    l5.apply_translation([0.0, wall[1] - p.body_depth / 2, 8.51 + p.body_hp / 2])
    tilt = np.eye(4)
    tilt[:3, :3] = rot_x(-lordosis_deg)  # anterior up
    tilt[:3, 3] = wall - tilt[:3, :3] @ wall
    l5.apply_transform(tilt)
    assert (man(l5) ^ man(sacrum.mesh)).volume() < 5.0
    # the facet axes agree: the S1 SAPs wrap the L5 IAP axis
    axis = sacrum.landmarks["l5_s1_facet_axis.left"]
    assert np.isclose(axis[0], p.iap_joint_x)
    assert np.isclose(axis[1], wall[1] + p.iap_joint_y)
