"""Needle analysis on the shipped default anatomy, checked against independent answers.

Independent answers: trimesh's own pure-python ray engine on each mesh (not the Embree path the
analysis uses), the anatomy's own measurements (:func:`iddsanatomy.anatomy.measure.midline_depths`),
and the anatomy's own level reading (:mod:`iddsanatomy.anatomy.levels`). The conus-at-L2 and
laminectomy cases compare two patients from the variation pipeline that differ only in the
variant.

The layer test uses the issue's needle: in the midline at L3-L4, entered on the skin over the
interspinous gap and pointed along the skin's normal, with no cephalad tilt. Its depths are
compared with the anatomy's own midline measurements (a line through the window's centre
perpendicular to the spine). The catheter uses the path finder's midline needle.
"""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy import needle as nd

EXPECTED_L3_L4 = [
    "skin",
    "subcutaneous_fat",
    "supraspinous_ligament",
    "interspinous_ligament.L3-L4",
    "ligamentum_flavum.L3-L4",
    "epidural",  # epidural_fat, or the epidural space between the LF and the dura
    "dura",
    "csf",
]


def _hits(mesh, origin, direction) -> np.ndarray:
    """Sorted ray parameters of every hit, by trimesh's pure-python engine (independent)."""
    from trimesh.ray.ray_triangle import RayMeshIntersector

    loc, _ray, _tri = RayMeshIntersector(mesh).intersects_location(
        [origin], [direction], multiple_hits=True
    )
    return np.sort((np.asarray(loc).reshape(-1, 3) - origin) @ direction)


def _first_bone(anatomy, origin, direction):
    best = (np.inf, None)
    for sid in anatomy.by_tissue("bone"):
        s = anatomy[sid]
        if s.ok and s.parent is None:
            t = _hits(s.mesh, origin, direction)
            t = t[t > 1e-6]
            if len(t) and t[0] < best[0]:
                best = (float(t[0]), sid)
    return best


@pytest.fixture(scope="module")
def perpendicular(default_anatomy):
    """The issue's needle: midline at L3-L4, entered on the skin over the interspinous gap and
    pointed along the skin's normal there (no cephalad tilt), 2 mm past the dura."""
    pose = nd.midline_pose(default_anatomy, "L3-L4")
    a = nd.analyse(default_anatomy, pose.with_depth(90))
    dura = next(c for c in a.crossings if c.structure_id == "dura")
    return pose.with_depth(dura.exit_depth_mm + 2.0)


@pytest.fixture(scope="module")
def clear_midline(default_anatomy):
    """The path finder's midline needle at L3-L4 into the CSF (used for the catheter)."""
    return nd.find_path(default_anatomy, "L3-L4", "midline", target="intrathecal").pose


def _skin_normal(anatomy, point, radius_mm=7.5):
    """Area-weighted outward normal of the skin's outer faces within ``radius_mm`` of ``point``,
    in the midsagittal plane (computed here from the mesh, independently of the needle code)."""
    skin = anatomy["skin"].mesh
    near = np.linalg.norm(skin.triangles_center - np.asarray(point), axis=1) < radius_mm
    near &= skin.face_normals[:, 1] > 0  # the outer (posterior-facing) surface
    n = (skin.face_normals[near] * skin.area_faces[near, None]).sum(0)
    n[0] = 0.0
    return n / np.linalg.norm(n)


def test_perpendicular_midline_l3_l4_crosses_the_layers_in_order(default_anatomy, perpendicular):
    pose = perpendicular
    assert pose.side is None and pose.entry_lps[0] == pytest.approx(0.0, abs=2.0)
    # perpendicular to the skin: the needle runs against the skin's outward normal there
    cos = -np.dot(pose.unit_direction, _skin_normal(default_anatomy, pose.entry_lps))
    assert np.degrees(np.arccos(min(cos, 1.0))) < 2.0
    a = nd.analyse(default_anatomy, pose)
    ids = [c.structure_id for c in a.crossings]
    got = ["epidural" if i.startswith("epidural") else i for i in ids]
    assert got == EXPECTED_L3_L4, ids
    assert not a.blocked and a.bone_contact is None and a.interlaminar == "L3-L4"
    assert [e.kind for e in a.events] == ["loss_of_resistance", "dural_puncture", "csf"]
    # every crossing's entry against an independent ray cast of its own mesh
    o, d = np.array(pose.entry_lps), np.array(pose.direction)
    for c in a.crossings:
        t = _hits(default_anatomy[c.structure_id].mesh, o, d)
        assert np.min(np.abs(t - c.entry_depth_mm)) <= 1.0, (c, t)


def test_perpendicular_midline_l3_l4_depths_match_the_anatomy(default_anatomy, perpendicular):
    """The needle's depths against the anatomy's own midline measurements (measure.py, a line
    through the window's centre perpendicular to the spine), ± 1 mm."""
    from iddsanatomy.anatomy import measure

    m = measure.midline_depths(default_anatomy, "L3", "L4")
    a = nd.analyse(default_anatomy, perpendicular)
    by_id = {c.structure_id: c for c in a.crossings}
    lf = by_id["ligamentum_flavum.L3-L4"]
    assert lf.exit_depth_mm == pytest.approx(m["skin_to_epidural"], abs=1.0)
    assert lf.thickness_mm == pytest.approx(m["lf_thickness"], abs=1.0)
    assert by_id["dura"].entry_depth_mm == pytest.approx(m["skin_to_dura"], abs=1.0)
    ev = a.event("loss_of_resistance")
    assert ev.depth_mm == pytest.approx(m["skin_to_epidural"], abs=1.0)


@pytest.mark.parametrize(("cephalad_deg", "bone"), [(-40.0, "L4"), (40.0, "L3")])
def test_steep_needles_from_the_same_entry_stop_on_bone(
    default_anatomy, perpendicular, cephalad_deg, bone
):
    """From the same entry, a steep needle stops on the spinous process or lamina it points at:
    tilted 40° caudad on L4's, tilted 40° cephalad on L3's. Checked against an independent ray
    cast of every bone."""
    pose = nd.pose_at_skin(
        default_anatomy, perpendicular.entry_lps, cephalad_deg, reference="skin"
    ).with_depth(90)
    a = nd.analyse(default_anatomy, pose)
    assert a.blocked, [c.structure_id for c in a.crossings]
    t, first = _first_bone(default_anatomy, np.array(pose.entry_lps), np.array(pose.direction))
    assert first == bone and a.bone_contact.structure_id == bone
    assert a.tip_depth_mm == pytest.approx(t, abs=0.05)
    part = a.bone_contact.part_id
    assert part.split(".")[1] in ("spinous_process", "lamina"), part
    ev = a.event("bone_contact")
    assert ev.part_id == part and ev.depth_mm == pytest.approx(t, abs=0.05)
    assert not any(c.tissue in ("dura", "csf") for c in a.crossings)


def test_conus_at_l2_is_reported_by_a_midline_needle_at_l1_l2(default_anatomy):
    from iddsanatomy.anatomy.variant import PatientVariant
    from iddsanatomy.anatomy.variation import apply_variant

    # two patients from the variation pipeline that differ only in the conus: the average adult
    # (conus at the lower third of L1) and the "conus at L2" preset (upper third of L2)
    normal = apply_variant(default_anatomy, PatientVariant())
    low = apply_variant(default_anatomy, "conus at L2")
    path = nd.find_path(normal, "L1-L2", "midline", target="intrathecal").pose
    deep = path.with_depth(path.needle.length_mm)
    a = nd.analyse(low, deep)
    hits = [e.structure_id for e in a.neural_contacts]
    assert hits and hits[0] in ("conus", "spinal_cord"), [c.structure_id for c in a.crossings]
    assert a.critical
    t = _hits(low[hits[0]].mesh, np.array(deep.entry_lps), np.array(deep.direction))
    assert a.event("neural_contact").depth_mm == pytest.approx(t[0], abs=0.05)
    # with the conus at its usual level the same needle misses it
    b = nd.analyse(normal, deep)
    assert not {"conus", "spinal_cord"} & {e.structure_id for e in b.neural_contacts}


def test_laminectomy_removes_the_l3_bone_contact(default_anatomy):
    from iddsanatomy.anatomy.variant import PatientVariant
    from iddsanatomy.anatomy.variation import apply_variant

    # the same patient without and with an L3-L4 laminectomy (variation pipeline)
    normal = apply_variant(default_anatomy, PatientVariant())
    lam = apply_variant(default_anatomy, {"laminectomy_levels": ("L3-L4",)})
    midline = nd.midline_pose(normal, "L3-L4", reference="spine")
    pose = nd.pose_at_skin(normal, midline.entry_lps, 40.0, reference="skin").with_depth(90)
    before = nd.analyse(normal, pose)
    assert before.blocked and before.bone_contact.structure_id == "L3"
    after = nd.analyse(lam, pose)
    # L3's lamina and spinous process are gone: the needle goes on (it may meet L2 higher up)
    assert after.bone_contact is None or after.bone_contact.structure_id != "L3"
    assert after.tip_depth_mm > before.tip_depth_mm
    ids = [c.structure_id for c in after.crossings]
    assert "scar.L3-L4" in ids and after.event("scar") is not None


def test_catheter_10_cm_cephalad_from_l3_l4_intrathecal(default_anatomy, clear_midline):
    from iddsanatomy.anatomy.levels import position_of_point
    from iddsanatomy.anatomy.softtissue import canal_curve
    from iddsanatomy.anatomy.variant import position_units

    a = nd.analyse(default_anatomy, clear_midline)  # 2 mm into the CSF
    assert a.tip_tissue == "csf"
    cat = nd.thread_catheter(default_anatomy, a, 100.0, "cephalad")
    assert cat.space == "intrathecal" and not cat.truncated
    assert cat.threaded_mm == pytest.approx(100.0, abs=0.01)
    # it stays in the CSF, clear of the cord, conus and cauda equina
    pts = cat.polyline_lps[1:]
    assert default_anatomy["csf"].mesh.contains(pts).all()
    for sid in ("spinal_cord", "conus", "cauda_equina"):
        assert not default_anatomy[sid].mesh.contains(pts).any(), sid
    # the geometry's prediction: 100 mm up the canal's own centre line from the needle tip
    curve = canal_curve(default_anatomy.landmarks_lps)
    _x, s, v = curve.coords(np.array([a.tip_lps, cat.tip_lps]))
    predicted = curve.point(s[0] + 100.0, v[1])[0]
    assert abs(position_units(cat.tip_level) - position_of_point(default_anatomy, predicted)) <= 1.0


@pytest.mark.parametrize("side", ["left", "right"])
def test_paramedian_entry_follows_miller(default_anatomy, side):
    """1 cm lateral and 1 cm caudad to the caudad edge of L3's spinous process, on the skin,
    15° medial and 15° cephalad (REFERENCE §16)."""
    lm = default_anatomy.landmarks_lps["L3.spinous_inferior_edge_posterior"]
    pose = nd.paramedian_pose(default_anatomy, "L3-L4", side)
    sign = 1.0 if side == "left" else -1.0
    assert pose.entry_lps[0] == pytest.approx(lm[0] + sign * 10.0, abs=1e-6)
    assert pose.entry_lps[2] == pytest.approx(lm[2] - 10.0, abs=1e-6)
    # on the skin: the skin's outermost surface straight behind the entry (independent cast)
    o = np.array(pose.entry_lps) + np.array([0.0, 200.0, 0.0])
    t = _hits(default_anatomy["skin"].mesh, o, np.array([0.0, -1.0, 0.0]))
    assert t[0] == pytest.approx(200.0, abs=1e-6)
    assert pose.angles_deg() == pytest.approx((15.0, 15.0))
    assert np.sign(pose.direction[0]) == -sign  # towards the midline


@pytest.mark.parametrize("interspace", ["L1-L2", "L2-L3", "L3-L4", "L4-L5"])
@pytest.mark.parametrize("approach", ["midline", "paramedian"])
def test_every_lumbar_window_admits_a_needle(default_anatomy, interspace, approach):
    """A normal adult's lumbar interlaminar windows are open: some midline and some paramedian
    needle reaches the CSF through each without touching bone or nerve (REFERENCE §10, §16)."""
    p = nd.find_path(default_anatomy, interspace, approach, "left", "intrathecal")
    assert p.analysis.tip_tissue == "csf" and p.analysis.interlaminar == interspace
    # an independent cast: no bone before the tip along the found path
    t, _bone = _first_bone(default_anatomy, np.array(p.pose.entry_lps), np.array(p.pose.direction))
    assert t > p.pose.depth_mm
