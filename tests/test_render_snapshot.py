"""Render tier: the ``snapshot`` command renders offscreen with the app's renderer."""

from __future__ import annotations

import numpy as np
import pytest
from viewer_fixtures import make_anatomy

from iddsanatomy.errors import ValidationError
from iddsanatomy.render.snapshot_cli import build_parser, parse_size, render_snapshot

pytestmark = pytest.mark.render


def _png(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).reshape(-1, 3)


def test_snapshot_writes_the_requested_size(tmp_path):
    out = tmp_path / "sub" / "back.png"
    args = build_parser("snapshot").parse_args(
        ["--out", str(out), "--size", "320x240", "--view", "left", "--labels", "levels"]
    )
    render_snapshot(make_anatomy(), args)
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (320, 240)
    assert _png(out).std() > 20


def test_snapshot_highlight_clip_and_only(tmp_path):
    a = make_anatomy()
    base = ["--size", "200x160", "--view", "anterior", "--only", "L3,L4"]
    plain = tmp_path / "plain.png"
    render_snapshot(a, build_parser("s").parse_args([*base, "--out", str(plain)]))
    lit = tmp_path / "lit.png"
    render_snapshot(
        a, build_parser("s").parse_args([*base, "--out", str(lit), "--highlight", "L3.*"])
    )
    cut = tmp_path / "cut.png"
    render_snapshot(
        a, build_parser("s").parse_args([*base, "--out", str(cut), "--clip", "sagittal:L3"])
    )
    p, h, c = _png(plain).astype(int), _png(lit).astype(int), _png(cut).astype(int)
    assert np.abs(p - h).sum() > 0 and np.abs(p - c).sum() > 0
    # amber highlight: more pixels where red clearly beats blue
    assert ((h[:, 0] - h[:, 2]) > 120).sum() > ((p[:, 0] - p[:, 2]) > 120).sum()


def test_snapshot_bad_input_names_the_option(tmp_path):
    with pytest.raises(ValidationError, match="--size"):
        parse_size("big")
    with pytest.raises(ValidationError, match="8192"):
        parse_size("10000x10")
    args = build_parser("s").parse_args(["--out", str(tmp_path / "x.png"), "--show", "L33"])
    with pytest.raises(ValidationError, match="L33"):
        render_snapshot(make_anatomy(), args)
    args = build_parser("s").parse_args(["--out", str(tmp_path / "x.png"), "--labels", "nerves"])
    with pytest.raises(ValidationError, match="nerves"):
        render_snapshot(make_anatomy(), args)
