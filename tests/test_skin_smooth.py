"""The skin and the subcutaneous fat's outer surface are smooth along the back: no steps.

A real lower back has a smooth profile (a shallow midline furrow, no horizontal creases). The
criteria are measured on the meshes, independently of how the generator makes the surface:

1. the back's profile sampled by ray casts from behind every 2 mm in height: its second
   difference (mm) is ``h²·κ`` for a smooth curve (``h`` = 2 mm, κ its curvature), so a bound of
   0.6 mm allows any curvature radius above ~7 mm and catches a step or a fold. The meshes of
   commit 16aa784 (skin placed per interspace on the bumpy ligament line) measured 1.44–1.97 mm;
   the smooth profile measures 0.25–0.39 mm;
2. the face normals: the area-weighted sagittal tilt of the back-facing faces in 4 mm horizontal
   bands; a horizontal crease is a jump between neighbouring bands. 16aa784 measured 36–45°;
   the smooth profile 10–12° (the skin rounding over the L4 spinous tip).

Both are checked on the default anatomy and on the "obese" preset (the habitus stage moves the
skin), over the lumbar back from 20 mm below the top of the median sacral crest to T12's spinous
tip (the layers' cut ends lie outside).
"""

from __future__ import annotations

import numpy as np
import pytest

from iddsanatomy.anatomy.variant import preset
from iddsanatomy.anatomy.variation import apply_variant, knot_blend

PROFILE_STEP_MM = 2.0
MAX_SECOND_DIFFERENCE_MM = 0.6
BAND_MM = 4.0
MAX_BAND_TILT_JUMP_DEG = 20.0
SURFACES = ("skin", "subcutaneous_fat")


def _z_range(anatomy) -> tuple[float, float]:
    lm = anatomy.landmarks_lps
    return float(lm["S1.median_crest_top"][2]) - 20.0, float(lm["T12.spinous_tip"][2])


def back_profile(mesh, x_mm: float, z: np.ndarray) -> np.ndarray:
    """LPS y (mm) of the first surface met by rays from behind (travelling anterior, -y)."""
    origins = np.column_stack([np.full_like(z, x_mm), np.full_like(z, mesh.bounds[1][1] + 50), z])
    directions = np.tile([0.0, -1.0, 0.0], (len(z), 1))
    loc, ray, _ = mesh.ray.intersects_location(origins, directions, multiple_hits=False)
    y = np.full(len(z), np.nan)
    y[ray] = loc[:, 1]
    return y


def band_tilt_jumps_deg(mesh, z_lo: float, z_hi: float, half_width_mm: float = 60.0) -> np.ndarray:
    """Jumps (deg) of the area-weighted sagittal tilt of the back-facing faces between
    neighbouring horizontal bands ``BAND_MM`` high."""
    fn, c, area = mesh.face_normals, mesh.triangles_center, mesh.area_faces
    sel = (fn[:, 1] > 0.3) & (np.abs(c[:, 0]) < half_width_mm) & (c[:, 2] > z_lo)
    sel &= c[:, 2] < z_hi
    tilt = np.degrees(np.arctan2(fn[sel, 2], fn[sel, 1]))
    edges = np.arange(z_lo, z_hi + BAND_MM, BAND_MM)
    band = np.digitize(c[sel, 2], edges)
    means = []
    for i in range(1, len(edges)):
        m = band == i
        assert m.any(), f"no back-facing faces between z={edges[i - 1]:.0f} and {edges[i]:.0f}"
        means.append(np.average(tilt[m], weights=area[sel][m]))
    return np.abs(np.diff(means))


@pytest.fixture(scope="module")
def backs(default_anatomy):
    return {"default": default_anatomy, "obese": apply_variant(default_anatomy, preset("obese"))}


@pytest.mark.parametrize("case", ["default", "obese"])
@pytest.mark.parametrize("sid", SURFACES)
def test_back_profile_has_no_steps(backs, case, sid):
    anatomy = backs[case]
    z_lo, z_hi = _z_range(anatomy)
    z = np.arange(z_lo, z_hi, PROFILE_STEP_MM)
    for x in (0.0, 15.0, 40.0):
        y = back_profile(anatomy[sid].mesh, x, z)
        assert np.all(np.isfinite(y)), (case, sid, x, z[~np.isfinite(y)])
        d2 = np.abs(np.diff(y, 2))
        worst = int(np.argmax(d2))
        assert d2[worst] < MAX_SECOND_DIFFERENCE_MM, (case, sid, x, z[worst + 1], d2[worst])


@pytest.mark.parametrize("case", ["default", "obese"])
@pytest.mark.parametrize("sid", SURFACES)
def test_back_surface_normals_have_no_horizontal_crease(backs, case, sid):
    anatomy = backs[case]
    jumps = band_tilt_jumps_deg(anatomy[sid].mesh, *_z_range(anatomy))
    assert jumps.max() < MAX_BAND_TILT_JUMP_DEG, (case, sid, jumps.max())


def test_profile_test_catches_a_step():
    """The profile criterion fails on a back with a 2 mm step (so it can fail)."""
    import trimesh

    box = trimesh.creation.box(extents=(100.0, 10.0, 200.0))
    step = trimesh.creation.box(extents=(100.0, 2.0, 100.0))
    step.apply_translation((0.0, 6.0, 50.0))  # the back at y = 7 above z = 0
    z = np.arange(-90.0, 90.0, PROFILE_STEP_MM) + 0.3
    smooth = np.abs(np.diff(back_profile(box, 0.0, z), 2)).max()
    stepped = np.abs(np.diff(back_profile(trimesh.util.concatenate([box, step]), 0.0, z), 2))
    assert smooth < 1e-9
    assert stepped.max() == pytest.approx(2.0, abs=1e-6)


# ------------------------------------------------------------------ the two smoothing pieces
def test_knot_blend_meets_the_knots_with_zero_slope():
    values = np.array([1.0, 4.0, 2.0])
    assert knot_blend(np.array([0.0, 1.0, 2.0]), values) == pytest.approx(values)
    # smoothstep 3t² − 2t³ at t = 0.5 is 0.5, at t = 0.25 is 0.15625 (by hand)
    assert knot_blend(np.array([0.5, 1.25]), values) == pytest.approx([2.5, 4.0 - 2.0 * 0.15625])
    # a kink in linear interpolation at u = 1 (slopes +3 and −2); the blend's one-sided slopes
    # there are both zero
    h = 1e-4
    left = (knot_blend(np.array([1.0]), values) - knot_blend(np.array([1.0 - h]), values)) / h
    right = (knot_blend(np.array([1.0 + h]), values) - knot_blend(np.array([1.0]), values)) / h
    assert abs(left[0]) < 1e-3 and abs(right[0]) < 1e-3
    # clipped beyond the ends
    assert knot_blend(np.array([-1.0, 5.0]), values) == pytest.approx([1.0, 2.0])
    with pytest.raises(ValueError, match="knot_blend"):
        knot_blend(np.array([0.0]), np.array([]))


def test_smooth_skin_profile_meets_the_knots_and_clears_the_tips():
    """On a synthetic back, spinous tips (6 mm bumps, 30 mm apart) on a flat ligament line."""
    from iddsanatomy.anatomy.softtissue import smooth_skin_profile

    tips = np.arange(0.0, 200.0, 30.0)

    def ligament(s):
        s = np.asarray(s, float)[:, None]
        return 6.0 * np.exp(-(((s - tips) / 8.0) ** 2)).max(axis=1)

    extra = 6.5
    # the first two wishes lie well behind the tips, the last one in a gap below the floor
    s_k = np.array([45.0, 105.0, 165.0])
    b_k = np.array([20.0, 15.0, 3.0])
    s, b = smooth_skin_profile(ligament, extra, s_k, b_k, -50.0, 250.0)
    floor = ligament(s) + extra
    assert np.all(b >= floor - 0.1)
    at_k = np.interp(s_k, s, b)
    assert at_k[:2] == pytest.approx(b_k[:2], abs=0.1)
    # in the gap the wish lies below the floor: the skin rests on it, at most 1.2 mm above it
    # (the rounding between two tips 30 mm apart)
    floor_k = float(ligament([s_k[2]])[0]) + extra
    assert floor_k <= at_k[2] <= floor_k + 1.2
    # smooth by the meshes' criterion, which a skin following the ligament line (plus a
    # constant, as before) would fail
    z = np.arange(-40.0, 240.0, 2.0)
    assert np.abs(np.diff(np.interp(z, s, b), 2)).max() < MAX_SECOND_DIFFERENCE_MM
    assert np.abs(np.diff(np.interp(z, s, floor), 2)).max() > MAX_SECOND_DIFFERENCE_MM
    with pytest.raises(ValueError, match="increasing"):
        smooth_skin_profile(ligament, extra, [50.0, 40.0], [1.0, 2.0], 0.0, 100.0)
