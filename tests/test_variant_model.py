"""PatientVariant: validation messages, derived numbers against REFERENCE.md by hand."""

from __future__ import annotations

import pytest

from iddsanatomy.anatomy.variant import (
    PatientVariant,
    make_variant,
    position_label,
    position_units,
    preset,
    preset_names,
    skin_to_epidural_mm,
)
from iddsanatomy.errors import ValidationError


def test_position_units_follow_the_thirds_and_discs_convention():
    # T11 = 0..2, T11-T12 disc = 3, T12 = 4..6, T12-L1 = 7, L1 upper = 8
    assert position_units("T12.middle") == 5
    assert position_units("T12-L1") == 7
    assert position_units("L1.lower") == 10
    # Saifuddin's range: mid-T12 is 5 units above the mean (L1 lower), upper L3 is 6 below (§8)
    assert position_units("L1.lower") - position_units("T12.middle") == 5
    assert position_units("L3.upper") - position_units("L1.lower") == 6
    for u in range(0, 40):
        assert position_units(position_label(u)) == u


@pytest.mark.parametrize("bad", ["L1", "L1.bottom", "L1-L3", "X1.upper", ""])
def test_unknown_positions_are_named(bad):
    with pytest.raises(ValidationError, match="unknown spinal position"):
        position_units(bad)


def test_ravi_regression_by_hand():
    # REFERENCE §11b [D]: BMI 20 -> 37 mm, 30 -> 47 mm, 40 -> 57 mm
    assert skin_to_epidural_mm(20) == pytest.approx(37.35, abs=0.01)
    assert skin_to_epidural_mm(30) == pytest.approx(47.13, abs=0.01)
    assert skin_to_epidural_mm(40) == pytest.approx(56.90, abs=0.01)
    assert make_variant(bmi=40).extra_fat_mm(25) == pytest.approx(0.9777 * 15)


def test_segmental_lordosis_sums_to_the_total_and_l5s1_carries_most():
    v = make_variant(lordosis_deg=50)
    seg = v.segment_lordosis_deg()
    assert sum(seg.values()) == pytest.approx(50.0, abs=0.05)
    assert max(seg, key=seg.get) == "L5-S1"
    assert seg["L5-S1"] == pytest.approx(21.35, abs=0.01)  # 42.7 % (Sci Rep 2022, Table 2)


def test_posture_sets_lordosis_unless_given():
    assert make_variant(posture="standing").effective_lordosis_deg == 49.8
    assert make_variant(posture="standing", lordosis_deg=30).effective_lordosis_deg == 30


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"bmi": 5}, "bmi = 5: Input should be greater than or equal to 16"),
        ({"bmi": 61}, "bmi = 61"),
        ({"scoliosis_apex": "L9"}, "scoliosis_apex = 'L9'"),
        ({"laminectomy_levels": ("L4-L6",)}, "not an interspace"),
        ({"conus_level": "L4.upper"}, "outside the published range T12.middle to L3.upper"),
        ({"dural_sac_end": "L3.upper"}, "outside the published range L5-S1 to S3.upper"),
        ({"apical_rotation_deg": 10}, "needs a scoliosis"),
        ({"posture": "upside_down"}, "posture = 'upside_down'"),
        ({"colour": "blue"}, "colour = 'blue': Extra inputs are not permitted"),
        (
            {"transitional": "sacralised_L5", "fusion_levels": ("L5-S1",)},
            "no mobile L5–S1 level",
        ),
    ],
)
def test_invalid_variants_name_the_field_and_the_rule(fields, needle):
    with pytest.raises(ValidationError) as info:
        make_variant(**fields)
    assert needle in str(info.value)


def test_variants_are_frozen_and_hashable():
    v = make_variant(bmi=30)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises its own frozen error
        v.bmi = 31  # type: ignore[misc]
    assert hash(v) == hash(make_variant(bmi=30))


def test_every_preset_validates_and_unknown_presets_get_suggestions():
    names = preset_names()
    assert {"average adult", "obese", "scoliosis with rotation", "prior L4-L5 laminectomy"} <= set(
        names
    )
    for n in names:
        assert isinstance(preset(n), PatientVariant)
    with pytest.raises(ValidationError, match="did you mean 'obese'"):
        preset("obeese")
