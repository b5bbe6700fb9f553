"""Morphometry of the shipped meshes against the literature (REFERENCE.md ranges), per level.

``measure.py`` measures the meshes by ray casts; the first tests check those tools against
shapes with known answers, the rest assert every measured quantity lies in its reference range.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from iddsanatomy.anatomy.measure import chord, first_hit, hits, measure_all
from iddsanatomy.anatomy.soft_params import reference_ranges


def test_ray_tools_on_known_shapes():
    box = trimesh.creation.box(extents=(10.0, 20.0, 30.0))
    assert chord(box, np.zeros(3), (0, 0, 1)) == pytest.approx(30.0)
    assert first_hit(box, (0, -50, 0), (0, 1, 0)) == pytest.approx(40.0)
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=10.0)
    t = hits(sphere, (-30, 0, 0), (1, 0, 0))
    assert len(t) == 2 and t[1] - t[0] == pytest.approx(20.0, abs=0.1)


@pytest.fixture(scope="module")
def measured(default_anatomy):
    return {(m.quantity, m.where): m for m in measure_all(default_anatomy)}


#: Quantities the current meshes measure outside the reference range. Each is a known defect
#: of the model, kept visible: the test fails (strict xfail) as soon as it starts to pass, so the
#: entry must then be removed. Empty now: the interlaminar windows were opened (Sakçı 2018) and
#: the L5 transverse-process root moved off the pedicle.
KNOWN_GAPS: dict[tuple[str, str], str] = {}
_CASES = [
    pytest.param(
        q,
        w,
        id=f"{q}-{w}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[(q, w)])]
        if (q, w) in KNOWN_GAPS
        else [],
    )
    for q, per in reference_ranges().items()
    for w in per
]


@pytest.mark.parametrize(("quantity", "where"), _CASES)
def test_measured_within_reference(measured, quantity, where):
    m = measured.get((quantity, where))
    assert m is not None, f"{quantity} at {where} was not measured"
    assert np.isfinite(m.value), f"{quantity} at {where}: no value"
    assert m.ok, (
        f"{quantity} at {where}: {m.value:.2f} {m.unit} outside {m.ref.text} ({m.ref.source})"
    )


def test_lordosis_agrees_with_the_frames(default_anatomy, measured):
    """Second method: the Cobb angle from fitted endplates equals the angle between the L1 and
    sacrum frames plus the L1 superior endplate's own tilt (half the L1 wedge, A1's parameters)."""
    from iddsanatomy.anatomy.assembly import half_wedge_deg
    from iddsanatomy.anatomy.bone_params import vertebra_params
    from iddsanatomy.anatomy.variation import sagittal_angle_deg

    f = default_anatomy.lps_from_level
    expected = sagittal_angle_deg(f["S1"][:3, 2], f["L1"][:3, 2]) + half_wedge_deg(
        vertebra_params("L1")
    )
    assert measured[("lordosis", "L1-S1")].value == pytest.approx(expected, abs=2.0)


def test_conus_and_sac_end_labels(measured):
    from iddsanatomy.anatomy.variant import position_label

    assert position_label(np.floor(measured[("conus_tip", "units")].value)) == "L1.lower"
    assert position_label(np.floor(measured[("sac_end", "units")].value)) == "S2.upper"


@pytest.mark.parametrize("seg", ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"])
def test_default_skin_depth_is_ravi_at_the_default_bmi_or_the_lean_limit(measured, seg):
    """The shipped skin lies where Ravi 2011 puts it for the default BMI (REF §11b), unless the
    deep layers (ligaments, measured here) leave less room than that: then on the thinnest fat."""
    from iddsanatomy.anatomy import soft_params as sp
    from iddsanatomy.anatomy.variant import DEFAULT_BMI, skin_to_epidural_mm

    sed = measured[("skin_to_epidural", seg)].value
    layer = measured[("skin_plus_fat", seg)].value
    lean = (sed - layer) + sp.SKIN_THICKNESS_MM + sp.MIN_FAT_MM
    expected = max(skin_to_epidural_mm(DEFAULT_BMI), lean)
    assert expected - 0.5 <= sed <= expected + 1.0, (seg, sed, expected)
    assert layer >= sp.SKIN_THICKNESS_MM + sp.MIN_FAT_MM - 0.3, (seg, layer)


def test_report_cli_prints_measured_reference_and_source(capsys):
    from iddsanatomy.cli import main

    assert main(["anatomy", "report"]) == 0
    out = capsys.readouterr().out
    assert "vb_width" in out and "Clouthier 2023" in out and "conus_tip" in out
    assert "within their reference range" in out


@pytest.mark.slow
@pytest.mark.shared
def test_compare_cli_against_real_vertebrae(shared_dir, capsys):
    from iddsanatomy.cli import main

    path = shared_dir / "realmeshes" / "clouthier_ssm"
    assert main(["anatomy", "compare", str(path)]) == 0
    out = capsys.readouterr().out
    for level in ("L2", "L3", "L4", "L5"):
        assert level in out


@pytest.mark.parametrize("seg", ["L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"])
def test_window_width_agrees_with_a_coronal_section(default_anatomy, measured, seg):
    """Second method for the window width (Sakçı's lateral recess line, the widest chord): cut
    both bones with the coronal plane of the width rays and read the widest horizontal gap of
    the section's 2D outline around the midline between the window's bounds, with no ray
    casting."""
    from iddsanatomy import geometry
    from iddsanatomy.anatomy import measure

    upper, lower = seg.split("-")
    f = measure.interspace_frame(default_anatomy, upper, lower)
    inv = np.linalg.inv(f)
    backs = [
        geometry.apply(inv, measure._canal_back(default_anatomy, lv))[1]
        for lv in (upper, lower)
        if lv != "S1"
    ]
    y = float(np.mean(backs)) + 2.0
    segs = []
    for lv in (upper, lower):
        mesh = measure._bone_mesh(default_anatomy, lv)
        lines = trimesh.intersections.mesh_plane(mesh, f[:3, 1], geometry.apply(f, [0.0, y, 0.0]))
        segs.append(geometry.apply(inv, lines.reshape(-1, 3)).reshape(-1, 2, 3)[:, :, [0, 2]])
    segs = np.concatenate(segs)

    def crossings(axis, value, other_lo, other_hi):
        """Coordinates (along the other axis) where the outline crosses ``axis == value``."""
        p, q = segs[:, 0], segs[:, 1]
        d = q[:, axis] - p[:, axis]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (value - p[:, axis]) / d
        ok = (t >= 0) & (t <= 1) & (d != 0)
        c = p[ok, 1 - axis] + t[ok] * (q[ok, 1 - axis] - p[ok, 1 - axis])
        return np.sort(c[(c > other_lo) & (c < other_hi)])

    # the window's midline bounds, as the height is defined (lamina faces in the coronal band)
    y_cb = y - 2.0
    bands = []
    for lv in (upper, lower):
        v = geometry.apply(inv, measure._lamina_points(default_anatomy, lv))
        bands.append(v[(np.abs(v[:, 0]) < 3) & (v[:, 1] > y_cb - 1) & (v[:, 1] < y_cb + 8), 2])
    z_bot_upper, z_top_lower = bands[0].min(), bands[1][bands[1] < 25.0].max()
    assert z_bot_upper - z_top_lower == pytest.approx(
        measured[("interlaminar_height", seg)].value, abs=1e-6
    )
    w = measured[("interlaminar_width", seg)].value
    widths = []
    for z in np.arange(z_top_lower + 1.0, z_bot_upper - 1.0, 0.25):
        xc = crossings(1, z, -60.0, 60.0)
        left, right = xc[xc > 0], xc[xc < 0]
        if len(left) and len(right):
            widths.append(left.min() - right.max())
    assert max(widths) == pytest.approx(w, abs=1.0), seg
    # a triangle, apex up: the base (the lateral recess line) is wider than the mid-height chord
    assert w > widths[len(widths) // 2] + 1.0, seg
