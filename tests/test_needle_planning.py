"""The needle path finder's fast search against its exhaustive one (the independent answer).

:func:`iddsanatomy.needle.find_path` judges every candidate from its line profile, cast for all
candidates together, and skips lines that never meet the planned window; ``exhaustive=True``
runs the full needle analysis on every candidate, line by line, as the finder always did. Both
must return the same path (entry, direction, depth, clearance) and the same errors. A second
check: the analyser's pure-numpy ray engine (Möller–Trumbore, no Embree) gives the same profiles
and the same path as the batched Embree casts.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from iddsanatomy import needle as nd
from iddsanatomy.anatomy.model import Structure
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.analysis import NeedleAnalyser, analyser_for
from iddsanatomy.needle.phantom import build_phantom
from iddsanatomy.needle.planning import _candidates, line_profiles

PLANS = [
    (interspace, approach, target)
    for interspace in ("L2-L3", "L3-L4", "L4-L5")
    for approach in ("midline", "paramedian")
    for target in ("epidural", "intrathecal")
]


def _same_profile(a, b, tol=1e-9) -> bool:
    """Same structures in the same order (ids, tissues, bone parts), depths within ``tol`` mm."""
    pa, pb = list(a.crossings) + list(a.regions), list(b.crossings) + list(b.regions)
    if [(c.structure_id, c.tissue, c.part_id) for c in pa] != [
        (c.structure_id, c.tissue, c.part_id) for c in pb
    ]:
        return False
    return all(
        abs(x.entry_depth_mm - y.entry_depth_mm) <= tol
        and abs(x.exit_depth_mm - y.exit_depth_mm) <= tol
        for x, y in zip(pa, pb, strict=True)
    )


def _assert_same_path(fast, slow):
    assert fast.pose.entry_lps == slow.pose.entry_lps
    assert fast.pose.direction == slow.pose.direction
    assert fast.pose.needle_type == slow.pose.needle_type and fast.pose.side == slow.pose.side
    assert fast.pose.depth_mm == pytest.approx(slow.pose.depth_mm, abs=1e-9)
    assert fast.clearance_mm == pytest.approx(slow.clearance_mm, abs=1e-9)
    assert fast.tried == slow.tried
    assert fast.analysis.structure_ids() == slow.analysis.structure_ids()
    assert fast.analysis.tip_structure == slow.analysis.tip_structure


@pytest.mark.parametrize(("interspace", "approach", "target"), PLANS)
def test_fast_search_finds_the_exhaustive_searchs_path(
    default_anatomy, interspace, approach, target
):
    fast = nd.find_path(default_anatomy, interspace, approach, "left", target)
    slow = nd.find_path(default_anatomy, interspace, approach, "left", target, exhaustive=True)
    _assert_same_path(fast, slow)
    a = fast.analysis  # and it is a clear path by the analysis' own reading
    assert a.interlaminar == interspace and not a.blocked and not a.neural_contacts
    assert a.intrathecal if target == "intrathecal" else a.in_epidural_space


@pytest.mark.parametrize("approach", ["midline", "paramedian"])
def test_lines_cast_together_give_the_analysers_profiles(default_anatomy, approach):
    an = analyser_for(default_anatomy)
    _start, poses = _candidates(default_anatomy, an, "L3-L4", approach, "left", nd.DEFAULT_NEEDLE)
    together = line_profiles(an, poses)
    assert len(together) == len(poses) > 100
    for pose, prof in zip(poses, together, strict=True):
        alone = an._compute_line(np.asarray(pose.entry_lps), np.asarray(pose.direction))
        assert _same_profile(prof, alone), pose
    # ``through``: None exactly for the lines whose profile never enters the window
    window = "interlaminar.L3-L4"
    some = line_profiles(an, poses, through=window)
    for prof, full in zip(some, together, strict=True):
        enters = any(r.structure_id == window for r in full.regions)
        assert (prof is not None) or not enters
        if prof is not None:
            assert _same_profile(prof, full)
    # both branches are exercised: some lines miss the window and are skipped, some enter it
    assert 0 < sum(p is None for p in some) < len(poses)


def test_the_search_leaves_the_analysers_line_cache_alone(default_anatomy):
    an = analyser_for(default_anatomy)
    an._lines.clear()
    nd.find_path(default_anatomy, "L3-L4", "midline", target="intrathecal")
    assert len(an._lines) == 1  # only the winner's full analysis


def test_numpy_ray_engine_gives_the_same_path_on_the_phantom():
    """Without Embree (macOS arm64, Linux aarch64) the finder casts line by line: same path."""
    embree, plain = build_phantom(), build_phantom()
    plain._needle_analyser = NeedleAnalyser(plain, engine="numpy")
    assert analyser_for(plain).engine == "numpy"
    for approach, target in (("midline", "intrathecal"), ("paramedian", "epidural")):
        a = nd.find_path(embree, "L3-L4", approach, "left", target)
        b = nd.find_path(plain, "L3-L4", approach, "left", target)
        assert a.pose.entry_lps == pytest.approx(b.pose.entry_lps, abs=1e-9)
        assert a.pose.direction == pytest.approx(b.pose.direction, abs=1e-12)
        assert a.pose.depth_mm == pytest.approx(b.pose.depth_mm, abs=1e-6)
        assert a.clearance_mm == pytest.approx(b.clearance_mm, abs=1e-6)


def test_same_error_as_the_exhaustive_search_when_no_path_exists():
    closed = build_phantom()
    bridge = trimesh.creation.box(bounds=[[-25, -50, -32], [25, -40, -6]])
    closed.structures["fusion_mass"] = Structure("fusion_mass", "bone", "fusion", mesh=bridge)
    messages = []
    for exhaustive in (False, True):
        with pytest.raises(GeometryError, match="no clear midline path") as err:
            nd.find_path(closed, "L3-L4", "midline", exhaustive=exhaustive)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    assert "among 187 entries and angles tried" in messages[0]  # 11 entries × 17 angles


def test_a_window_the_anatomy_does_not_have_is_no_path_either_way():
    """Without its L2-L3 window region no needle can be said to pass through L2-L3."""
    whole, phantom = build_phantom(), build_phantom()
    assert nd.find_path(whole, "L2-L3", "paramedian", "left").analysis.interlaminar == "L2-L3"
    del phantom.structures["interlaminar.L2-L3"]
    messages = []
    for exhaustive in (False, True):
        with pytest.raises(GeometryError, match=r"no clear paramedian path .* through L2-L3") as e:
            nd.find_path(phantom, "L2-L3", "paramedian", "left", exhaustive=exhaustive)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "subdural"}, "target must be one of"),
        ({"approach": "lateral"}, "approach must be 'midline' or 'paramedian'"),
    ],
)
def test_bad_arguments_name_what_is_expected(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        nd.find_path(build_phantom(), "L3-L4", **kwargs)
