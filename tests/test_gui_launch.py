"""GUI tier: ``python -m iddsanatomy`` opens the window and draws a first frame (fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui


def test_app_launches_and_reports_its_first_frame():
    env = dict(os.environ, IDDSANATOMY_EXIT_AFTER_FIRST_FRAME="1", QT_QPA_PLATFORM="xcb")
    env.pop("PYVISTA_OFF_SCREEN", None)
    r = subprocess.run(
        [sys.executable, "-m", "iddsanatomy"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("first-frame "))
    assert float(line.split()[3]) > 0  # seconds from app start to the first frame
    assert "Traceback" not in r.stderr
