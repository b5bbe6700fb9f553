"""Core tier for the viewer: camera maths, section planes, and the no-display launch message."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from viewer_fixtures import make_anatomy

from iddsanatomy.errors import ValidationError
from iddsanatomy.render import views
from iddsanatomy.render.sections import level_centre, parse_clip, section_plane

BOUNDS = (-20.0, 20.0, -10.0, 10.0, -50.0, 50.0)


def test_pose_fits_the_box_on_screen():
    pose = views.pose_for_view("posterior", BOUNDS)
    # hand answer: seen from behind the box is 40 wide and 100 tall (x 1.08 margin); the
    # height limits: 54 mm at tan(15°) from the near face, which is 10 mm before the centre
    assert pose.distance == pytest.approx(54.0 / math.tan(math.radians(15.0)) + 10.0)
    # a wide window does not change a height-limited view; a narrow one (0.2) is width-limited
    wide = views.pose_for_view("posterior", BOUNDS, aspect=2.0)
    assert wide.distance == pytest.approx(pose.distance)
    narrow = views.pose_for_view("posterior", BOUNDS, aspect=0.2)
    assert narrow.distance == pytest.approx(21.6 / (math.tan(math.radians(15.0)) * 0.2) + 10.0)
    assert pose.focal_point == pytest.approx((0.0, 0.0, 0.0))
    assert pose.direction == pytest.approx((0.0, 1.0, 0.0))
    assert views.pose_for_view("posterior", BOUNDS, zoom=2).distance == pytest.approx(
        pose.distance / 2
    )


def test_unknown_view_names_the_choices():
    with pytest.raises(ValidationError, match="posterior"):
        views.pose_for_view("posterio", BOUNDS)


def test_interpolation_orbits_between_views():
    a = views.pose_for_view("posterior", BOUNDS)
    b = views.pose_for_view("left", BOUNDS)
    assert views.interpolate(a, b, 0.0) == a
    assert views.interpolate(a, b, 1.0) == b
    mid = views.interpolate(a, b, 0.5)
    # halfway between posterior (+y) and left (+x) is the 45° oblique
    assert mid.direction == pytest.approx(views.pose_for_view("oblique_left_45", BOUNDS).direction)
    assert mid.distance == pytest.approx(math.sqrt(a.distance * b.distance))  # geometric
    assert np.dot(mid.up, mid.direction) == pytest.approx(0.0, abs=1e-9)


def test_interpolation_of_opposite_views_and_axial_up():
    a = views.pose_for_view("posterior", BOUNDS)
    b = views.pose_for_view("anterior", BOUNDS)
    mid = views.interpolate(a, b, 0.5)
    assert np.linalg.norm(mid.direction) == pytest.approx(1.0)
    assert abs(np.dot(mid.direction, a.direction)) < 1e-6  # a quarter turn at halfway
    c = views.pose_for_view("cranial", BOUNDS)
    q = views.interpolate(a, c, 0.3)
    assert np.dot(q.up, q.direction) == pytest.approx(0.0, abs=1e-9)


def test_ease_is_monotonic_from_0_to_1():
    ts = np.linspace(0, 1, 11)
    e = [views.ease(t) for t in ts]
    assert e[0] == 0 and e[-1] == 1 and all(np.diff(e) >= 0)


def test_section_planes_through_levels():
    a = make_anatomy()
    assert level_centre(a, "L3") == pytest.approx((0, 0, 0))
    # an interspace: the centre of its interlaminar window (built at (0, 34, -20))
    assert level_centre(a, "L3-L4") == pytest.approx((0, 34, -20))
    p = section_plane(a, "sagittal", "L3-L4", offset_mm=5)
    assert p.normal == (1.0, 0.0, 0.0) and p.origin_lps == pytest.approx((5, 34, -20))
    assert section_plane(a, "axial", "L4").origin_lps == pytest.approx((0, 0, -40))
    ob = section_plane(a, "oblique", "L3")
    assert np.linalg.norm(ob.normal) == pytest.approx(1.0)
    assert parse_clip("coronal:L4:-3", a).origin_lps == pytest.approx((0, -3, -40))
    with pytest.raises(ValidationError, match="sagittal"):
        section_plane(a, "diagonal", "L3")
    with pytest.raises(ValidationError, match="L9"):
        section_plane(a, "axial", "L9")
    with pytest.raises(ValidationError, match="number of mm"):
        parse_clip("axial:L3:up", a)


def test_display_problems_name_what_is_missing(monkeypatch):
    from iddsanatomy.ui import launch

    monkeypatch.setattr(launch, "missing_libraries", lambda: {})
    assert launch.display_problems({"DISPLAY": ""}, "linux")[0].startswith("No display")
    assert launch.display_problems({}, "darwin") == []
    msgs = launch.display_problems({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert any("QT_QPA_PLATFORM=offscreen" in m for m in msgs)
    monkeypatch.setattr(
        launch, "missing_libraries", lambda: {"libxcb-cursor.so.0": "libxcb-cursor0"}
    )
    (msg,) = launch.display_problems({"DISPLAY": ":0"}, "linux")
    assert "libxcb-cursor.so.0" in msg and "apt-get install -y libxcb-cursor0" in msg


def test_missing_libraries_checks_by_loading():
    from iddsanatomy.ui.launch import missing_libraries

    assert missing_libraries({"libc.so.6": "libc6", "libnot-a-library.so.9": "nothing"}) == {
        "libnot-a-library.so.9": "nothing"
    }


def test_launch_without_display_prints_one_message_and_does_not_import_qt():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    code = (
        "import sys\n"
        "from iddsanatomy.ui.launch import launch\n"
        "rc = launch()\n"
        "print('qt-imported', 'PySide6' in sys.modules, 'vtkmodules' in sys.modules)\n"
        "sys.exit(rc)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "qt-imported False False" in r.stdout
    assert "cannot open the app window" in r.stderr and "DISPLAY is not set" in r.stderr
    assert "Traceback" not in r.stderr
