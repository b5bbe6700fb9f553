"""Needle analysis on the box phantom, where every answer is computed by hand.

Phantom (``iddsanatomy.needle.phantom``): skin surface y = 0; needle in along -y. Layers on the
midline at the L3–L4 interspinous gap (z = -22, the ISL centroid): skin 0–3, fat 3–20, SSL 20–25,
ISL 25–45, LF 45–50, epidural fat 50–54, dura 54–55, CSF 55–66, cauda equina 66–82, CSF 82–84,
dura 84–85. Spinous processes span y -44.5…-25, z c-12…c+6; laminae x ±(1…20), y -50…-45,
z c±10; bodies z c±14, with c(L3) = 0, c(L4) = -38, c(L2) = 38, c(L1) = 76.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from iddsanatomy import needle as nd
from iddsanatomy.errors import GeometryError, IddsError, ValidationError
from iddsanatomy.needle.phantom import build_phantom, level_centre_z


@pytest.fixture(scope="module")
def phantom():
    return build_phantom()


@pytest.fixture(scope="module")
def midline(phantom):
    return nd.midline_pose(phantom, "L3-L4")


EXPECTED = [
    ("skin", "skin", 0, 3),
    ("subcutaneous_fat", "fat", 3, 20),
    ("supraspinous_ligament", "ligament", 20, 25),
    ("interspinous_ligament.L3-L4", "ligament", 25, 45),
    ("ligamentum_flavum.L3-L4", "ligament", 45, 50),
    ("epidural_fat", "fat", 50, 54),
    ("dura", "dura", 54, 55),
    ("csf", "csf", 55, 66),
    ("cauda_equina", "neural", 66, 82),
    ("csf", "csf", 82, 84),
    ("dura", "dura", 84, 85),
]


def test_midline_entry_is_over_the_interspinous_gap(midline):
    # ISL L3-L4 spans z -32…-12: centroid -22; skin surface y = 0; perpendicular: -y
    assert np.allclose(midline.entry_lps, (0, 0, -22), atol=1e-9)
    assert np.allclose(midline.direction, (0, -1, 0), atol=1e-9)


@pytest.mark.parametrize("engine", ["embree", "numpy", "triangle"])
def test_midline_crossings_in_order_at_hand_computed_depths(phantom, midline, engine):
    an = nd.NeedleAnalyser(phantom, engine=engine)
    a = an.analyse(midline.with_depth(90))
    got = [(c.structure_id, c.tissue, c.entry_depth_mm, c.exit_depth_mm) for c in a.crossings]
    assert [g[:2] for g in got[: len(EXPECTED)]] == [e[:2] for e in EXPECTED]
    for (_, _, a0, a1), (_, _, e0, e1) in zip(got, EXPECTED, strict=False):
        assert a0 == pytest.approx(e0, abs=1e-6) and a1 == pytest.approx(e1, abs=1e-6)
    # past the dura: nothing modelled until the disc at y = -95 (beyond 90 mm)
    assert got[-1][0] == "unlabelled" and got[-1][3] == pytest.approx(90)


def test_events_depths_and_tip_in_csf(phantom, midline):
    a = nd.analyse(phantom, midline.with_depth(60))
    kinds = [(e.kind, round(e.depth_mm, 6)) for e in a.events]
    assert kinds == [("loss_of_resistance", 50), ("dural_puncture", 54), ("csf", 55)]
    assert a.tip_structure == "csf" and a.intrathecal and not a.critical
    assert a.interlaminar == "L3-L4"
    assert not a.blocked and a.tip_depth_mm == 60
    assert np.allclose(a.tip_lps, (0, -60, -22))
    # tip (0,-60,-22): dura inner wall y=-55 → 5 mm; conus box x±3, y -78…-66, z from the L1
    # lower third (76-14+28/6): dy 6, dz 88.67; nearest bone the L4 left lamina corner (1,-50,-28)
    conus_z = level_centre_z("L1") - 14 + 28 / 6
    assert a.distance_to_dura_mm == pytest.approx(5.0, abs=1e-6)
    assert a.distance_to_conus_mm == pytest.approx(math.hypot(6, conus_z + 22), abs=1e-6)
    assert a.distance_to_bone_mm == pytest.approx(math.sqrt(1 + 100 + 36), abs=1e-6)
    # L3 body z -14…14, L4 -52…-24: z = -22 is in the L3-L4 disc
    assert a.tip_level == "L3-L4"


def test_epidural_tip_and_cauda_contact_is_critical(phantom, midline):
    a = nd.analyse(phantom, midline.with_depth(52))
    assert a.in_epidural_space and a.tip_structure == "epidural_fat"
    assert a.distance_to_dura_mm == pytest.approx(2.0, abs=1e-6)
    a = nd.analyse(phantom, midline.with_depth(75))
    assert a.critical and a.tip_structure == "cauda_equina"
    (contact,) = a.neural_contacts
    assert contact.structure_id == "cauda_equina" and contact.depth_mm == pytest.approx(66)


def test_steep_caudal_needle_stops_on_l4_spinous_process(phantom, midline):
    pose = nd.pose_at_skin(phantom, midline.entry_lps, -45.0).with_depth(80)
    a = nd.analyse(phantom, pose)
    # y reaches -25 (the spinous process's back) at 25/cos 45°, z = -22 - 25 = -47 (L4 SP)
    assert a.blocked and a.tip_depth_mm == pytest.approx(25 / math.cos(math.radians(45)))
    assert a.bone_contact.structure_id == "L4"
    assert a.bone_contact.part_id == "L4.spinous_process"
    assert a.event("bone_contact").part_id == "L4.spinous_process"
    assert [c.structure_id for c in a.crossings] == [
        "skin",
        "subcutaneous_fat",
        "supraspinous_ligament",
    ]
    assert a.interlaminar is None


def test_steep_cephalad_needle_stops_on_l3_spinous_process(phantom, midline):
    pose = nd.pose_at_skin(phantom, midline.entry_lps, 40.0).with_depth(80)
    a = nd.analyse(phantom, pose)
    # z at y = -25: -22 + 25 tan 40° = -1.0, inside L3's SP (z -12…6)
    assert a.bone_contact.part_id == "L3.spinous_process"
    assert a.tip_depth_mm == pytest.approx(25 / math.cos(math.radians(40)))


def test_paramedian_cephalad_needle_meets_the_left_lamina(phantom):
    pose = nd.pose_at_skin(phantom, (10, 0, -22), 35.0).with_depth(80)
    a = nd.analyse(phantom, pose)
    # through the erector spinae (x ≥ 4) to y = -45, z = -22 + 45 tan 35° = 9.5 (L3 lamina)
    assert [c.structure_id for c in a.crossings] == [
        "skin",
        "subcutaneous_fat",
        "erector_spinae.left",
    ]
    assert a.bone_contact.part_id == "L3.lamina.left"
    assert a.tip_depth_mm == pytest.approx(45 / math.cos(math.radians(35)))


def test_conus_at_l2_variant_reports_conus_contact_at_l1_l2():
    default = build_phantom()
    low = build_phantom(conus_tip_z=level_centre_z("L2"))  # tip mid-L2
    for anatomy, expect in ((default, "cauda_equina"), (low, "conus")):
        pose = nd.midline_pose(anatomy, "L1-L2").with_depth(70)
        # ISL L1-L2 spans z 44…64: entry z = 54, inside the low conus (z 38…58), below the
        # default one (tip 66.7), where the cauda equina lies; both reach back to y = -66
        assert pose.entry_lps[2] == pytest.approx(54)
        a = nd.analyse(anatomy, pose)
        assert [e.structure_id for e in a.neural_contacts] == [expect] and a.critical
        assert a.event("neural_contact").depth_mm == pytest.approx(66)
        assert (a.distance_to_conus_mm == 0.0) is (expect == "conus")


def test_laminectomy_removes_the_bone_contact():
    normal, lam = build_phantom(), build_phantom(laminectomy=("L3",))
    for anatomy, blocked in ((normal, True), (lam, False)):
        pose = nd.pose_at_skin(anatomy, (0, 0, -22), 40.0).with_depth(80)
        a = nd.analyse(anatomy, pose)
        assert a.blocked is blocked
    assert "epidural_fat" in a.structure_ids() and a.event("bone_contact") is None


def test_intrathecal_catheter_10_cm_cephalad(phantom, midline):
    a = nd.analyse(phantom, midline.with_depth(60))
    cat = nd.thread_catheter(phantom, a, 100.0, "cephalad")
    # the dorsal CSF runs from the sac's back wall (y -55) to the back of the cauda, conus and
    # cord (y -66): its middle is y -60.5. The catheter bends onto it over 10 mm, then runs up.
    first = math.hypot(0.5, 10.0)
    z_tip = -22 + 10 + (100 - first)
    assert cat.space == "intrathecal" and not cat.truncated
    assert np.allclose(cat.tip_lps, (0, -60.5, z_tip), atol=1e-6)
    assert np.allclose(cat.polyline_lps[1:, 1], -60.5)
    assert cat.threaded_mm == pytest.approx(100)
    # L1 body z 62…90 in thirds: 71.3…80.7 is the middle third
    assert cat.tip_level == "L1.middle"
    down = nd.thread_catheter(phantom, a, 50.0, "caudad")
    assert down.tip_lps[2] == pytest.approx(-22 - 10 - (50 - first))


def test_epidural_catheter_and_truncation(phantom, midline):
    a = nd.analyse(phantom, midline.with_depth(52))
    cat = nd.thread_catheter(phantom, a, 100.0)
    # posterior epidural path: 1.5 mm behind the dura (y -54) → y -52.5
    assert cat.space == "epidural"
    assert cat.tip_lps[1] == pytest.approx(-52.5)
    assert cat.tip_lps[2] == pytest.approx(-12 + 100 - math.hypot(0.5, 10))
    assert np.allclose(cat.polyline_lps[1:, 1], -52.5)
    long = nd.thread_catheter(phantom, a, 400.0)
    # the sac ends at z 170: the catheter stops within a slice (2 mm) of it, the rest coils
    assert long.truncated and 166 < long.tip_lps[2] < 170


def test_catheter_refused_outside_the_spaces(phantom, midline):
    a = nd.analyse(phantom, midline.with_depth(30))
    with pytest.raises(GeometryError, match="tip is in the interspinous ligament"):
        nd.thread_catheter(phantom, a, 50)
    with pytest.raises(ValidationError):
        nd.thread_catheter(phantom, nd.analyse(phantom, midline.with_depth(60)), float("nan"))


def test_landmark_and_paramedian_entries(phantom):
    # L3 spinous tip (0, -25, -3): 10 mm left, 10 mm caudal, up to the skin (y = 0)
    p = nd.pose_from_landmark(phantom, "L3.spinous_tip", 10, 10, "left")
    assert np.allclose(p.entry_lps, (10, 0, -13))
    # Miller: 1 cm lateral and caudad to the caudad edge of L3's SP (z -12); 15° medial, 15° up
    q = nd.paramedian_pose(phantom, "L3-L4", "left")
    assert np.allclose(q.entry_lps, (10, 0, -22))
    t = math.tan(math.radians(15))
    assert np.allclose(q.direction, np.array([-t, -1, t]) / math.sqrt(1 + 2 * t * t))
    assert q.angles_deg() == pytest.approx((15, 15))
    r = nd.paramedian_pose(phantom, "L3-L4", "right")
    assert r.entry_lps[0] == pytest.approx(-10) and r.direction[0] > 0


def test_invalid_input_is_refused_clearly(phantom, midline):
    with pytest.raises(GeometryError, match="from the skin"):
        nd.pose_at_skin(phantom, (0, 10, -22))
    with pytest.raises(GeometryError, match="finite"):
        nd.pose_at_skin(phantom, midline.entry_lps, float("nan"))
    with pytest.raises(ValidationError, match=r"unknown needle type 'tuohy-17G-9'.*did you mean"):
        nd.pose_at_skin(phantom, midline.entry_lps, needle="tuohy-17G-9")
    with pytest.raises(GeometryError, match="outside 0"):
        midline.with_needle("spinal-25G-quincke-90").with_depth(90).__class__(
            midline.entry_lps, midline.direction, 95.0, "spinal-25G-quincke-90"
        )
    with pytest.raises(GeometryError, match="too steep"):
        nd.NeedlePose.from_angles((0, 0, -22), 85, 0)
    with pytest.raises(ValidationError, match="side"):
        nd.NeedlePose.from_angles((0, 0, -22), 0, 10, side="up")
    with pytest.raises(GeometryError, match="from the skin"):
        nd.analyse(phantom, nd.NeedlePose((0, -30, -22), (0, -1, 0), 10))
    with pytest.raises(GeometryError, match=r"unknown landmark 'L3.spinous_tp'.*did you mean"):
        nd.pose_from_landmark(phantom, "L3.spinous_tp", 10, 10, "left")
    with pytest.raises(ValidationError, match="side"):
        nd.pose_from_landmark(phantom, "L3.spinous_tip", 10, 10)
    with pytest.raises(ValidationError, match="NeedlePose"):
        nd.analyse(phantom, (0, 0, -22))
    with pytest.raises(ValidationError, match="L3-L4"):
        nd.midline_pose(phantom, "L3/L4")
    assert all(issubclass(e, IddsError) for e in (GeometryError, ValidationError))


def test_angles_round_trip():
    # in the midline the second angle is towards the patient's left (+x)
    assert nd.direction_from_angles(0, 45)[0] == pytest.approx(math.sqrt(0.5))
    for c, m, side in [(10, 5, None), (-25, 12, "left"), (33, -7, "right")]:
        d = nd.direction_from_angles(c, m, side)
        assert np.linalg.norm(d) == pytest.approx(1)
        assert nd.angles_from_direction(d, side) == pytest.approx((c, m))


def test_session_metrics_and_events(phantom, midline):
    now = [0.0]
    s = nd.NeedleSession(phantom, nd.NeedlePlan("epidural", "L3-L4"), clock=lambda: now[0])
    seen = []
    s.on_event(seen.append)
    s.place(nd.pose_at_skin(phantom, midline.entry_lps, -45.0))
    s.advance(50)  # stops on L4's spinous process at 35.36 mm
    assert s.pose.depth_mm == pytest.approx(35.355339, abs=1e-5)
    s.advance(5)  # still on the bone: no new contact
    s.withdraw(5)
    s.advance(10)  # touches again
    assert [e.kind for e in seen] == ["bone_contact", "bone_contact"]
    now[0] = 12.0
    s.redirect(0.0)  # back into the fat (its end on the new, perpendicular path: 20 mm)
    assert s.analysis.tip_depth_mm == pytest.approx(20)
    s.advance(31)  # 51 mm: epidural fat → loss of resistance
    now[0] = 30.0
    m = s.metrics()
    assert m.bone_contacts == 2 and m.redirections == 1 and m.skin_punctures == 1
    assert m.withdrawals == 1 and m.passes == 2
    # 35.36 in, 5 out, 5 in, 15.36 back to 20 (the tip pivots within the fat), 31 in
    assert m.path_length_mm == pytest.approx(35.355339 + 5 + 5 + 15.355339 + 31, abs=1e-4)
    assert m.time_s == 30.0
    assert m.target_reached and m.final_structure == "epidural_fat"
    assert m.interspace_as_planned and not m.dural_puncture
    s.advance(4)  # 55 mm: dura — during a planned epidural this is critical
    assert seen[-1].kind == "dural_puncture" and seen[-1].severity == "critical"
    assert s.metrics().unplanned_dural_puncture
    final = s.finish_attempt()
    assert s.history == [final] and s.pose is None


def test_session_rejects_bad_moves_and_keeps_state(phantom, midline):
    s = nd.NeedleSession(phantom)
    s.place(midline)
    s.advance(30)
    before = (s.pose, s.analysis)
    with pytest.raises(GeometryError):
        s.redirect(float("nan"))
    with pytest.raises(ValidationError):
        s.advance(-3)
    with pytest.raises(GeometryError):
        s.place(nd.NeedlePose((0, 20, -22), (0, -1, 0)))
    with pytest.raises(GeometryError):
        s.thread(50)
    assert (s.pose, s.analysis) == before and s.catheter is None


def test_session_catheter_level_against_plan(phantom, midline):
    s = nd.NeedleSession(phantom, nd.NeedlePlan("intrathecal", catheter_level="L1.middle"))
    s.place(midline)
    s.advance(60)
    cat = s.thread(100)
    m = s.metrics()
    assert m.catheter_level == cat.tip_level == "L1.middle"
    assert m.catheter_error_units == 0 and m.target_reached
    assert any("Catheter tip: L1.middle" in line for line in m.summary_lines())


@pytest.mark.parametrize("needle_id", sorted(nd.NEEDLE_TYPES))
def test_needle_mesh_to_scale(needle_id, midline):
    pose = nd.NeedlePose(midline.entry_lps, midline.direction, 40.0, needle_id)
    n = pose.needle
    m = nd.needle_mesh(pose, hub=False)
    assert m.is_watertight
    r = n.outer_diameter_mm / 2
    # a cylinder of the needle's length, less a little at the tip
    polygon = 8 * math.sin(2 * math.pi / 16) * r * r  # the 16-sided section
    assert m.volume == pytest.approx(polygon * n.length_mm, rel=0.02)
    along = (m.vertices - np.array(pose.entry_lps)) @ np.array(pose.direction)
    assert along.max() == pytest.approx(40.0, abs=0.3)
    assert along.min() == pytest.approx(40.0 - n.length_mm, abs=1e-6)
    radial = np.linalg.norm(np.cross(m.vertices - np.array(pose.entry_lps), pose.direction), axis=1)
    assert radial.max() <= r * 1.01 + (1.0 if n.tip == "tuohy" else 0.0)


def test_needle_types_table():
    assert len(nd.NEEDLE_TYPES) == 18  # (2 gauges × 2 tips spinal + 2 Tuohy) × 3 lengths
    t = nd.needle_type("tuohy-17G-90")
    assert (t.gauge, t.tip, t.length_mm, t.outer_diameter_mm) == (17, "tuohy", 90, 1.473)
    assert nd.needle_type("spinal-25G-pencil-point-178").outer_diameter_mm == 0.514


def test_cli_json(capsys):
    from iddsanatomy.cli import main

    assert main(["needle", "--phantom", "--json", "--depth", "60", "--thread", "100"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tip_structure"] == "csf" and out["interlaminar"] == "L3-L4"
    assert out["catheter"]["tip_level"] == "L1.middle"
    assert main(["needle", "--phantom", "--needle", "nope"]) == 1


def test_needle_core_imports_no_gui():
    import subprocess
    import sys

    code = (
        "import sys, iddsanatomy.needle, iddsanatomy.needle_cli, iddsanatomy.needle.phantom;"
        "bad = [m for m in ('PySide6', 'pyvista', 'pyvistaqt', 'vtk', 'vtkmodules')"
        " if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_holed_mesh_does_not_swallow_the_rest_of_the_line():
    """A mesh with a missing face (a missed exit) is closed where the line leaves its box."""
    import trimesh

    from iddsanatomy.anatomy.model import Anatomy, Structure

    skin = trimesh.creation.box(bounds=[[-50, -3, -50], [50, 0, 50]])
    slab = trimesh.creation.box(bounds=[[-20, -30, -20], [20, -10, 20]])
    # drop the slab's two faces on y = -30: the needle enters at 10 and finds no exit
    keep = ~np.isclose(slab.triangles_center[:, 1], -30)
    holed = trimesh.Trimesh(slab.vertices, slab.faces[keep], process=False)
    bone = trimesh.creation.box(bounds=[[-20, -60, -20], [20, -50, 20]])
    s = {
        "skin": Structure("skin", "skin", "skin", mesh=skin),
        "muscle": Structure("muscle", "muscle", "muscle", mesh=holed),
        "L3": Structure("L3", "bone", "L3", mesh=bone),
    }
    a = nd.analyse(Anatomy(s), nd.NeedlePose((0, 0, 0), (0, -1, 0), 80))
    muscle = next(c for c in a.crossings if c.structure_id == "muscle")
    assert muscle.entry_depth_mm == pytest.approx(10) and muscle.exit_depth_mm == pytest.approx(30)
    assert a.bone_contact.structure_id == "L3" and a.tip_depth_mm == pytest.approx(50)


def test_catheter_mesh_is_a_closed_tube_of_its_length(phantom, midline):
    cat = nd.thread_catheter(phantom, nd.analyse(phantom, midline.with_depth(60)), 100.0)
    m = nd.catheter_mesh(cat, diameter_mm=0.9, sections=10)
    assert m.is_watertight and m.is_winding_consistent
    polygon = 5 * math.sin(2 * math.pi / 10) * 0.45**2  # the 10-sided section
    assert m.volume == pytest.approx(polygon * 100.0, rel=0.02)
    assert np.allclose(m.bounds[1][2], cat.tip_lps[2], atol=0.01)


def test_find_path_goes_through_the_middle_of_the_window(phantom):
    p = nd.find_path(phantom, "L3-L4", "midline", target="intrathecal")
    a = p.analysis
    assert a.tip_structure == "csf" and not a.blocked and not a.neural_contacts
    assert a.interlaminar == "L3-L4"
    ceph, _ = p.pose.angles_deg()
    # the CSF starts at y = -55: along the path that is 55 / cos(cephalad) mm; 2 mm beyond
    assert p.pose.depth_mm == pytest.approx(55 / math.cos(math.radians(ceph)) + 2.0)
    # where it leaves the ligamentum flavum (y = -50) it is inside the window (z -28…-10),
    # at most 9 mm (half the window) from its bony edges
    lf = next(c for c in a.crossings if c.structure_id == "ligamentum_flavum.L3-L4")
    z = p.pose.entry_lps[2] + lf.exit_depth_mm * p.pose.direction[2]
    assert -28 < z < -10
    assert 8.0 <= p.clearance_mm <= math.hypot(9.0, 1.0)
    e = nd.find_path(phantom, "L3-L4", "paramedian", "left", target="epidural")
    assert e.analysis.in_epidural_space and e.pose.side == "left"


def test_find_path_reports_a_closed_window():
    import trimesh

    from iddsanatomy.anatomy.model import Structure

    closed = build_phantom()
    bridge = trimesh.creation.box(bounds=[[-25, -50, -32], [25, -40, -6]])
    closed.structures["fusion_mass"] = Structure("fusion_mass", "bone", "fusion", mesh=bridge)
    with pytest.raises(GeometryError, match="no clear midline path"):
        nd.find_path(closed, "L3-L4", "midline")
