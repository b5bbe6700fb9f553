"""The shipped default anatomy: contents, ids, parts, nesting and mesh quality.

These tests read ``meshes/`` (the ``default_anatomy`` fixture) and check it against independent
answers: counts from the issue's list of structures, containment by ray parity and signed
distance, and the watertightness rules other code (needle analysis, fluoroscopy) relies on.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import trimesh

from iddsanatomy.anatomy.model import TISSUES

VERTEBRAE = ("T12", "L1", "L2", "L3", "L4", "L5")
INTERSPACES = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")


def test_every_structure_of_the_issue_is_there(default_anatomy):
    a = default_anatomy
    expected = [
        *VERTEBRAE,
        "sacrum",
        "rib12.left",
        "rib12.right",
        "rib11.left",
        "rib11.right",
        "iliac_crest.left",
        "iliac_crest.right",
        *(f"disc.{s}" for s in INTERSPACES),
        "spinal_cord",
        "conus",
        "filum_terminale",
        "cauda_equina",
        *(
            f"nerve_root.{lv}.{side}"
            for lv in ("L1", "L2", "L3", "L4", "L5", "S1")
            for side in ("left", "right")
        ),
        "dura",
        "csf",
        "epidural_fat",
        *(f"ligamentum_flavum.{s}" for s in INTERSPACES),
        *(f"interspinous_ligament.{s}" for s in INTERSPACES),
        "supraspinous_ligament",
        "multifidus.left",
        "multifidus.right",
        "erector_spinae.left",
        "erector_spinae.right",
        "subcutaneous_fat",
        "skin",
        *(f"interlaminar.{s}" for s in INTERSPACES[1:]),
    ]
    missing = [i for i in expected if i not in a]
    assert not missing
    assert not a.errors


def test_structures_have_registry_fields(default_anatomy):
    for sid, s in default_anatomy.structures.items():
        assert s.tissue in TISSUES, sid
        assert s.display_name and s.description, sid
        assert len(s.color) == 3 and all(0 <= c <= 1 for c in s.color), sid
        if s.parent is None:
            assert s.coarse is not None and len(s.coarse.faces) < len(s.mesh.faces), sid


def test_bone_parts_resolve_a_picked_face(default_anatomy):
    a = default_anatomy
    l3 = a["L3"]
    assert "L3.pedicle.left" in l3.part_ids
    # the face nearest the left pedicle centre landmark belongs to the left pedicle
    c = a.landmarks_lps["L3.pedicle_centre.left"]
    d = np.linalg.norm(l3.mesh.triangles_center - c, axis=1)
    assert a.part_at("L3", int(np.argmin(d))) == "L3.pedicle.left"
    part = a["L3.pedicle.left"]
    assert part.parent == "L3" and not part.closed
    assert a["L3.pedicle.left"].display_name == "L3 left pedicle"
    # parts tile the bone: their face counts add up to the bone's
    n = sum(len(a[p].mesh.faces) for p in l3.part_ids if p in a)
    assert n == len(l3.mesh.faces)


def test_closed_meshes_are_watertight_and_outward(default_anatomy):
    for sid, m in default_anatomy.closed_meshes().items():
        assert m.is_watertight, sid
        assert m.is_winding_consistent, sid
        assert m.volume > 0, sid  # outward normals give a positive signed volume


def _inside(mesh, pts):
    from trimesh.ray.ray_util import contains_points

    return contains_points(mesh.ray, pts)


def _sample_inside(mesh, n, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = mesh.bounds
    pts = rng.uniform(lo, hi, size=(n * 6, 3))
    return pts[_inside(mesh, pts)][:n]


@pytest.mark.parametrize(
    ("inner", "outer"),
    [
        ("spinal_cord", "dura"),
        ("conus", "dura"),
        ("filum_terminale", "dura"),
        ("cauda_equina", "csf"),
        ("csf", "dura"),
    ],
)
def test_neural_axis_nests_inside_the_sac(default_anatomy, inner, outer):
    a = default_anatomy
    v = a[inner].mesh.vertices
    inside = _inside(a[outer].mesh, v)
    assert inside.mean() > 0.995, (
        f"{inner}: {100 * (1 - inside.mean()):.2f} % of vertices outside {outer}"
    )


def test_dura_lies_in_the_canal_not_in_bone(default_anatomy):
    a = default_anatomy
    dura = a["dura"].mesh
    pts = dura.vertices
    for bone in (*VERTEBRAE, "sacrum"):
        inside = _inside(a[bone].mesh, pts)
        if inside.any():  # only a mesh-resolution touch is allowed
            depth = trimesh.proximity.signed_distance(a[bone].mesh, pts[inside])
            assert depth.max() < 0.3, f"dura is {depth.max():.2f} mm inside {bone}"


def test_no_bone_overlaps_another(default_anatomy):
    a = default_anatomy
    bones = [k for k in a.closed_meshes(["bone"])]
    for i, b1 in enumerate(bones):
        for b2 in bones[i + 1 :]:
            m1, m2 = a[b1].mesh, a[b2].mesh
            lo = np.maximum(m1.bounds[0], m2.bounds[0])
            hi = np.minimum(m1.bounds[1], m2.bounds[1])
            if np.any(lo >= hi):
                continue
            v = m1.vertices[np.all((m1.vertices > lo) & (m1.vertices < hi), axis=1)]
            if len(v) == 0:
                continue
            inside = _inside(m2, v)
            if inside.any():
                # simplification may leave vertices a few micrometres inside after the cut
                depth = trimesh.proximity.signed_distance(m2, v[inside])
                assert depth.max() < 0.1, f"{b1} is {depth.max():.2f} mm inside {b2}"


def test_soft_tissue_is_trimmed_against_bone(default_anatomy):
    """Discs, ligaments, fat and muscle were cut by the bones: a sample of points inside each
    lies outside every bone (to within marching-cubes noise)."""
    a = default_anatomy
    bones = a.closed_meshes(["bone"])
    for sid in (
        "disc.L3-L4",
        "ligamentum_flavum.L3-L4",
        "interspinous_ligament.L3-L4",
        "epidural_fat",
        "multifidus.left",
    ):
        pts = _sample_inside(a[sid].mesh, 400, seed=1)
        assert len(pts) > 50, sid
        hit = np.zeros(len(pts), bool)
        for m in bones.values():
            hit |= _inside(m, pts)
        assert hit.mean() < 0.01, f"{sid}: {100 * hit.mean():.1f} % inside bone"


@pytest.mark.parametrize("seg", INTERSPACES)
def test_discs_meet_their_endplates(default_anatomy, seg):
    """Gaps and overlaps between a disc and its two endplates stay within 0.5 mm."""
    a = default_anatomy
    upper, lower = seg.split("-")
    disc = a[f"disc.{seg}"].mesh
    up = a[upper].mesh
    lo = a["sacrum" if lower == "S1" else lower].mesh
    # disc vertices on its top and bottom faces: closest bone surface within 0.5 mm
    axis = a.lps_from_level[upper][:3, 2] + a.lps_from_level[lower][:3, 2]
    axis /= np.linalg.norm(axis)
    n = disc.vertex_normals @ axis
    for sel, bone in ((n > 0.9, up), (n < -0.9, lo)):
        v = disc.vertices[sel]
        assert len(v) > 100
        _, dist, _ = trimesh.proximity.closest_point(bone, v[:: max(1, len(v) // 400)])
        assert np.percentile(dist, 95) <= 0.5, f"{seg}: p95 gap {np.percentile(dist, 95):.2f} mm"
        assert (
            not _inside(
                bone,
                v[:: max(1, len(v) // 400)]
                - 0.3 * np.sign(n[sel][:: max(1, len(v) // 400)])[:, None] * axis,
            ).mean()
            > 0.05
        )


def test_cauda_equina_is_a_bundle_of_separate_roots(default_anatomy):
    """16 roots (L1–S3, both sides) in lanes; where the sac narrows some may touch."""
    pieces = default_anatomy["cauda_equina"].mesh.split(only_watertight=False)
    assert len(pieces) >= 8
    # and it is not a rod: no piece holds most of the volume
    vols = sorted(abs(p.volume) for p in pieces)
    assert vols[-1] < 0.6 * sum(vols)


def test_ligamentum_flavum_has_two_leaflets_meeting_in_the_midline(default_anatomy):
    a = default_anatomy
    lf = a["ligamentum_flavum.L3-L4"].mesh
    v = lf.vertices
    assert (v[:, 0] > 5).any() and (v[:, 0] < -5).any()  # both sides
    assert (np.abs(v[:, 0]) < 1.0).any()  # continuous across the midline


def test_frames_are_rigid_and_stacked_downwards(default_anatomy):
    f = default_anatomy.lps_from_level
    order = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
    z = [f[k][2, 3] for k in order]
    assert all(a > b for a, b in itertools.pairwise(z))
    for k in order:
        r = f[k][:3, :3]
        assert np.allclose(r @ r.T, np.eye(3), atol=1e-5) and np.isclose(np.linalg.det(r), 1.0)


def test_landmarks_exist_for_lessons_and_needles(default_anatomy):
    lm = default_anatomy.landmarks_lps
    for key in (
        "conus.tip",
        "dural_sac.end",
        "L3.spinous_tip",
        "L3.pedicle_centre.left",
        "L3-L4.interlaminar_centre",
        "L3-L4.skin_midline",
        "S1.median_crest_top",
    ):
        assert key in lm and lm[key].shape == (3,)
    # the skin entry is posterior to the window it leads to
    assert lm["L3-L4.skin_midline"][1] > lm["L3-L4.interlaminar_centre"][1] + 30
