"""The fast DRR against analytic answers and an independent slow ray marcher (render tier).

These need an OpenGL context (moderngl on EGL). Without one they fail: the renderer raises
RenderUnavailableError, which is never turned into a skip.
"""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.fluoro import drr
from iddsanatomy.fluoro.pose import CArmPose

pytestmark = pytest.mark.render


def _sphere(centre, radius, subdivisions=6):
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    s.apply_translation(centre)
    return s


def _pixel_rays(pose: CArmPose):
    """Unit directions ((N*N, 3)) from the source through every pixel centre, row-major."""
    n = pose.pixels
    u, v, _ = pose.image_axes_lps
    idx = (np.arange(n) - (n - 1) / 2) * pose.pixel_mm
    rows, cols = np.meshgrid(idx, idx, indexing="ij")
    pts = pose.detector_centre_lps + cols.reshape(-1, 1) * u + rows.reshape(-1, 1) * v
    d = pts - pose.source_lps
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_sphere_projects_to_the_predicted_disc_with_beer_lambert_centre():
    mu, r = 0.02, 20.0
    centre = np.array([15.0, 40.0, -10.0])
    pose = CArmPose(orbital_deg=10.0, cranial_tilt_deg=-5.0, pixels=512)
    sigma = drr.line_integral(None, pose, layers=[drr.Layer("s", *_parts(_sphere(centre, r)), mu)])
    image = np.exp(-sigma)

    # centre intensity: the ray through the pixel nearest the projected centre passes at distance
    # h from the sphere centre, so its chord is 2*sqrt(r^2 - h^2) (h = 0 would give exp(-2*mu*r)).
    col, row = pose.project(centre)
    ci, ri = round(col), round(row)
    ray = _pixel_rays(pose)[ri * pose.pixels + ci]
    to_c = centre - pose.source_lps
    h = np.linalg.norm(to_c - (to_c @ ray) * ray)
    expected = np.exp(-mu * 2 * np.sqrt(r * r - h * h))
    assert image[ri, ci] == pytest.approx(expected, rel=0.01)
    assert image[ri, ci] == pytest.approx(np.exp(-mu * 2 * r), rel=0.01)

    # disc radius r * SID / d (d: source to sphere centre); exactly, the tangent cone gives
    # r * SID / sqrt(d^2 - r^2) for the minor axis, a 0.05 % difference here.
    d = np.linalg.norm(to_c)
    expected_radius_px = r * pose.sid_mm / d / pose.pixel_mm
    inside = sigma > 1e-4
    radius_px = np.sqrt(inside.sum() / np.pi)
    assert radius_px == pytest.approx(expected_radius_px, abs=1.0)
    # the disc is centred on the projected centre, and nothing leaks outside it
    rr, cc = np.nonzero(inside)
    assert cc.mean() == pytest.approx(col, abs=0.5) and rr.mean() == pytest.approx(row, abs=0.5)
    yy, xx = np.mgrid[: pose.pixels, : pose.pixels]
    far = np.hypot(xx - col, yy - row) > expected_radius_px + 2
    assert np.abs(sigma[far]).max() < 1e-5


def _parts(mesh):
    return np.asarray(mesh.vertices), np.asarray(mesh.faces)


@pytest.mark.parametrize(
    "pose",
    [
        CArmPose(pixels=256),
        CArmPose(orbital_deg=-37.0, cranial_tilt_deg=14.0, centre_lps=(3.0, 30.0, -20.0)),
        CArmPose(orbital_deg=90.0, pixels=300, detector_mm=250.0),
    ],
)
def test_small_markers_land_on_the_pixels_the_projection_matrix_predicts(pose):
    points = np.array([[0.0, 60.0, -5.0], [-40.0, 20.0, 30.0], [25.0, -30.0, -45.0]])
    for p in points:
        sigma = drr.line_integral(
            None, pose, layers=[drr.Layer("m", *_parts(_sphere(p, 1.5, 3)), 1.0)]
        )
        rr, cc = np.nonzero(sigma > 1e-4)
        w = sigma[rr, cc]
        centroid = np.array([(cc * w).sum(), (rr * w).sum()]) / w.sum()
        np.testing.assert_allclose(centroid, pose.project(p), atol=0.25)


def test_path_lengths_add_for_disjoint_and_nest_for_contained_solids():
    import trimesh

    pose = CArmPose(pixels=128)
    outer = trimesh.creation.box(extents=(80.0, 60.0, 80.0))  # 60 mm along the AP beam
    inner = trimesh.creation.box(extents=(20.0, 20.0, 20.0))  # nested, 20 mm along the beam
    layers = [drr.Layer("outer", *_parts(outer), 0.02), drr.Layer("inner", *_parts(inner), 0.05)]
    sigma = drr.line_integral(None, pose, layers=layers)
    c = pose.pixels // 2
    # the central ray: 60 mm of 0.02 plus 20 mm of the extra 0.05
    assert sigma[c, c] == pytest.approx(60 * 0.02 + 20 * 0.05, rel=1e-3)
    # a ray through the outer box only, 30 mm off-centre (at the detector: x magnified)
    col = c + int(30 * pose.magnification / pose.pixel_mm)
    assert sigma[c, col] == pytest.approx(60 * 0.02 * _obliquity(pose, c, col), rel=2e-3)


def _obliquity(pose, row, col):
    ray = _pixel_rays(pose)[row * pose.pixels + col]
    return 1.0 / abs(ray @ pose.beam_direction)


def _reference_line_integral(pose, solids, step_mm=0.25):
    """Slow, independent ray marcher: sample each ray every ``step_mm`` and ask trimesh whether
    each sample lies inside each solid (``contains``: ray-parity on the mesh), summing μ·step."""
    rays = _pixel_rays(pose)
    src = pose.source_lps
    out = np.zeros(len(rays))
    for mesh, mu in solids:
        lo, hi = mesh.bounds
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        dist = np.linalg.norm(corners - src, axis=1)
        t = np.arange(dist.min() - 1.0, dist.max() + 1.0, step_mm) + step_mm / 2
        for i0 in range(0, len(rays), 256):
            r = rays[i0 : i0 + 256]
            pts = src + r[:, None, :] * t[None, :, None]
            flat = pts.reshape(-1, 3)
            keep = np.all((flat >= lo - 1) & (flat <= hi + 1), axis=1)
            inside = np.zeros(len(flat), dtype=bool)
            if keep.any():
                inside[keep] = mesh.contains(flat[keep])
            out[i0 : i0 + 256] += mu * step_mm * inside.reshape(len(r), len(t)).sum(axis=1)
    return out.reshape(pose.pixels, pose.pixels)


def test_fast_renderer_agrees_with_a_slow_reference_ray_marcher():
    from iddsanatomy.anatomy.vertebra import build_vertebra

    vertebra = build_vertebra("L3", resolution_mm=1.2).mesh
    sphere = _sphere([20.0, 10.0, 15.0], 14.0, 4)  # overlaps the body and the left pedicle
    solids = [(vertebra, 0.035), (sphere, 0.01)]
    pose = CArmPose(
        orbital_deg=25.0,
        cranial_tilt_deg=8.0,
        centre_lps=(0.0, 25.0, 0.0),
        pixels=48,
        detector_mm=200.0,
    )
    fast = drr.line_integral(
        None, pose, layers=[drr.Layer(f"s{i}", *_parts(m), mu) for i, (m, mu) in enumerate(solids)]
    )
    ref = _reference_line_integral(pose, solids)
    a, b = fast - fast.mean(), ref - ref.mean()
    ncc = float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    print(f"NCC {ncc:.5f}, reference max {ref.max():.3f}, fast max {fast.max():.3f}")
    assert ncc >= 0.99
    # and in absolute terms, away from silhouettes
    assert np.median(np.abs(fast - ref)[ref > 0.2]) < 0.02


def test_cortical_rim_is_darker_than_the_medulla():
    """A bone layer with its cancellous core: the rim of a cylinder seen end-on attenuates more
    per unit chord than its centre."""
    import trimesh

    from iddsanatomy.fluoro import attenuation as att

    cyl = trimesh.creation.cylinder(radius=6.0, height=30.0, sections=64)  # along z
    cyl.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))  # along y
    pose = CArmPose(pixels=256, detector_mm=60.0)
    layers = [
        drr.Layer("bone", *_parts(cyl), att.MU_CORTICAL - att.MU_WATER),
        drr.Layer(
            "core",
            drr.inward_offset(cyl, att.CORTEX_MM),
            cyl.faces,
            att.MU_CANCELLOUS - att.MU_CORTICAL,
        ),
    ]
    sigma = drr.line_integral(None, pose, layers=layers)
    c = pose.pixels // 2
    ring_px = int((6.0 - att.CORTEX_MM / 2) * pose.magnification / pose.pixel_mm)
    centre, rim = sigma[c, c], sigma[c, c + ring_px]
    # the central ray crosses the cortex of both end caps (2 x CORTEX_MM) and the core between
    c2 = 2 * att.CORTEX_MM
    expected_centre = (30.0 - c2) * (att.MU_CANCELLOUS - att.MU_WATER) + c2 * (
        att.MU_CORTICAL - att.MU_WATER
    )
    assert centre == pytest.approx(expected_centre, rel=0.02)
    assert rim == pytest.approx(30.0 * (att.MU_CORTICAL - att.MU_WATER), rel=0.05)
    assert rim > 1.5 * centre


def test_needle_layer_is_metal_and_shows():
    pose = CArmPose(pixels=512)
    image = drr.render_drr(None, pose, needle=((0.0, 0.0, 0.0), (0.0, 80.0, 60.0)), layers=[])
    assert image.min() < 0.5 and image.max() == pytest.approx(1.0)


def test_a_needle_pose_is_drawn_as_steel_where_it_projects():
    from iddsanatomy.needle.pose import NeedlePose

    needle = NeedlePose(entry_lps=(10.0, 90.0, -10.0), direction=(0.0, -1.0, 0.3), depth_mm=60.0)
    pose = CArmPose(orbital_deg=90.0, pixels=512)  # lateral: the shaft is seen side-on
    sigma = drr.line_integral(None, pose, layers=[], extra=[drr.needle_layer_from(needle)])
    tip = np.asarray(needle.tip_lps)
    mid = tip - 0.5 * needle.needle.length_mm * np.asarray(needle.unit_direction)
    c, r = np.round(pose.project(mid)).astype(int)
    # the shaft at mid-length: about its outer diameter of steel
    assert sigma[r - 2 : r + 3, c - 2 : c + 3].max() == pytest.approx(
        drr.att.MU_IRON * needle.needle.outer_diameter_mm, rel=0.25
    )
    # nothing beyond the tip along the needle's line
    beyond = tip + 15.0 * np.asarray(needle.unit_direction)
    c, r = np.round(pose.project(beyond)).astype(int)
    assert sigma[r - 2 : r + 3, c - 2 : c + 3].max() < 1e-4


def test_an_open_mesh_is_left_out_instead_of_streaking_the_image():
    import trimesh

    from iddsanatomy.anatomy.model import Anatomy, Structure

    closed = trimesh.creation.box(extents=(40.0, 30.0, 30.0))
    holed = trimesh.creation.icosphere(subdivisions=3, radius=15.0)
    holed.update_faces(np.arange(len(holed.faces)) != 0)  # one triangle missing
    assert not holed.is_watertight
    a = Anatomy(
        {
            "box": Structure("box", "bone", "box", mesh=closed),
            "holed": Structure("holed", "disc", "holed", mesh=holed),
        }
    )
    sigma = drr.line_integral(a, CArmPose(pixels=128))
    assert a.info["drr_skipped"] == ["holed"]
    assert np.isfinite(sigma).all() and sigma.min() > 0 and sigma.max() < 10


def test_closed_surface_check_allows_pinches_and_refuses_holes_and_flips():
    import trimesh

    a = trimesh.creation.box(extents=(10.0, 10.0, 10.0))
    b = a.copy()
    b.apply_translation([10.0, 10.0, 0.0])  # touches a along one edge: a pinch
    pinched = trimesh.Trimesh(
        np.vstack([a.vertices, b.vertices]), np.vstack([a.faces, b.faces + 8]), process=True
    )
    assert not pinched.is_watertight and drr.is_closed_surface(pinched)
    holed = a.copy()
    holed.update_faces(np.arange(12) != 3)
    assert not drr.is_closed_surface(holed)
    flipped = a.copy()
    flipped.faces[0] = flipped.faces[0][::-1]
    assert not drr.is_closed_surface(flipped)


def test_culling_skips_only_what_lies_outside_the_field():
    pose = CArmPose(pixels=128, detector_mm=150.0)  # about 93 mm across at the isocentre
    inside = drr.Layer("in", *_parts(_sphere([0.0, 0.0, 0.0], 20.0, 3)), 0.02)
    edge = drr.Layer("edge", *_parts(_sphere([45.0, 0.0, 0.0], 10.0, 3)), 0.02)  # half in
    outside = drr.Layer("out", *_parts(_sphere([0.0, 0.0, 300.0], 20.0, 3)), 0.02)
    both = drr.line_integral(None, pose, layers=[inside, outside, edge])

    def unculled():
        r = drr.renderer()
        scene = drr._Scene(r.ctx, r.prog, [inside, outside, edge])
        try:
            with r.lock:
                return r._draw(pose, [_Unculled(scene)])
        finally:
            scene.release()

    np.testing.assert_array_equal(both, drr._on_gl_thread(unculled))
    assert both[64, 0] > 0.1  # the half-inside sphere (patient left: image left) is drawn


class _Unculled:
    def __init__(self, scene):
        self.scene = scene

    def draw(self, pose):
        self.scene.draw(None)


def test_rendering_works_from_any_thread_and_leaves_its_gl_state_alone():
    import threading

    layers = [drr.Layer("s", *_parts(_sphere([0.0, 0.0, 0.0], 20.0, 3)), 0.05)]
    here = drr.line_integral(None, CArmPose(pixels=64), layers=layers)
    out = {}

    def work():
        try:
            out["image"] = drr.line_integral(None, CArmPose(pixels=64), layers=layers)
        except Exception as exc:  # reported below
            out["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert "error" not in out, out.get("error")
    np.testing.assert_array_equal(out["image"], here)
    # no GL context was made on the calling threads: that would confuse Qt/VTK drawing there
    assert not hasattr(drr._LOCAL, "renderer")


def test_gpu_scenes_of_a_discarded_anatomy_are_freed():
    import gc

    import trimesh

    from iddsanatomy.anatomy.model import Anatomy, Structure

    a = Anatomy({"b": Structure("b", "bone", "b", mesh=trimesh.creation.box(extents=(9, 9, 9)))})
    drr.line_integral(a, CArmPose(pixels=32))
    assert drr.scene_info(a)["triangles"]["live"] > 0
    ident = id(a)

    def held():
        r = drr.renderer()
        r.scene(("probe",), list)  # any cached-scene lookup frees what is stale first
        return [k for k in r._scenes if isinstance(k, tuple) and len(k) > 2 and k[0] == ident]

    assert drr._on_gl_thread(held)
    del a
    gc.collect()
    assert drr._on_gl_thread(held) == []
