"""``iddsanatomy fluoro``: headless shots to PNG."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from iddsanatomy.cli import main


@pytest.mark.render
def test_fluoro_cli_writes_a_png_of_the_requested_view(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "shot.png"
    raw = tmp_path / "shot.npy"
    rc = main(
        [
            "fluoro",
            "--pose",
            "ap",
            "--level",
            "L3",
            "--out",
            str(out),
            "--size",
            "256",
            "--raw",
            str(raw),
            "--labels",
        ]
    )
    assert rc == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (256, 256, 3)  # labels are drawn in colour
    assert img.std() > 20  # not blank
    sigma = np.load(raw)
    assert sigma.shape == (256, 256) and np.isfinite(sigma).all()
    assert "L3" in capsys.readouterr().err


def test_fluoro_cli_refuses_bad_input_with_a_message(tmp_path, capsys):
    assert main(["fluoro", "--out", str(tmp_path / "x.png"), "--size", "3"]) == 1
    assert "--size" in capsys.readouterr().err


def test_fluoro_help_is_light():
    code = (
        "import sys, contextlib, io\n"
        "from iddsanatomy.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['fluoro', '--help'])\n"
        "heavy = [m for m in ('trimesh', 'moderngl', 'PySide6', 'pyvista') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"
