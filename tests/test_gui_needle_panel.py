"""The Needle panel on the box phantom: place, advance with keys, read-out, banner, metrics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot):
    from PySide6.QtWidgets import QMainWindow

    from iddsanatomy.needle.phantom import build_phantom
    from iddsanatomy.scene import SceneState

    class StubWindow(QMainWindow):
        def __init__(self):
            super().__init__()
            self.state = SceneState()
            self.anatomy = build_phantom()
            self.renderer = None
            self.errors = []

        def show_error(self, title, text):
            self.errors.append((title, text))

    w = StubWindow()
    qtbot.addWidget(w)
    return w


@pytest.fixture
def panel(window, qtbot):
    from iddsanatomy.ui.needle_panel import NeedlePanel

    p = NeedlePanel(window)
    window.setCentralWidget(p)
    window.resize(460, 900)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)  # shortcuts need the active window
    return p


def _advance_to(panel, depth_mm):
    while panel.session.analysis.tip_depth_mm < depth_mm - 1e-9:
        assert panel.step(+1)


def test_place_and_advance_through_the_layers(panel, window, qtbot):
    from PySide6.QtCore import Qt

    assert panel.place_needle()
    first = window.state.needle
    assert first.entry_lps == pytest.approx((0, 0, -22)) and first.depth_mm == 0
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)  # window shortcuts need it
    qtbot.keyClick(panel.gauge, Qt.Key_BracketRight)  # "]" advances one step (1 mm)
    qtbot.waitUntil(lambda: window.state.needle.depth_mm == pytest.approx(1.0), timeout=2000)
    assert window.state.needle is not first  # a new object, never mutated
    _advance_to(panel, 52)
    assert "epidural" in panel.readout.text()
    assert "Interlaminar space:</b> L3-L4" in panel.readout.text()
    texts = [panel.events_list.item(i).text() for i in range(panel.events_list.count())]
    assert any("Loss of resistance at 50.0 mm" in t for t in texts)
    assert not panel.banner.isVisible()
    qtbot.keyClick(panel.gauge, Qt.Key_BracketLeft)  # "[" withdraws
    assert window.state.needle.depth_mm == pytest.approx(51.0)


def test_critical_banner_and_catheter(panel, window):
    panel.place_needle()
    _advance_to(panel, 60)
    assert panel.thread_catheter()
    assert window.state.catheter is not None and window.state.catheter.tip_level == "L1.middle"
    assert "Catheter tip:</b> L1.middle" in panel.readout.text()
    _advance_to(panel, 73)  # cauda equina from 72 mm
    assert panel.banner.isVisible() and "cauda equina" in panel.banner.text()
    assert window.state.catheter is None  # moving the needle leaves the catheter behind
    panel.grab().save("/tmp/needle_panel_critical.png")


def test_bone_contact_and_metrics_summary(panel, window):
    panel.place_needle()
    panel.cephalad_spin.setValue(-45.0)
    assert window.state.needle.angles_deg()[0] == pytest.approx(-45.0)
    for _ in range(40):
        panel.step(+1)
    a = panel.analysis
    assert a.blocked and a.bone_contact.part_id == "L4.spinous_process"
    assert "L4.spinous_process" in panel.readout.text() or "spinous" in panel.readout.text()
    panel.grab().save("/tmp/needle_panel_bone.png")
    m = panel.finish_attempt()
    assert m.bone_contacts == 1 and m.passes == 1
    assert panel.metrics_label.isVisible() and "Bone contacts: 1" in panel.metrics_label.text()
    assert window.state.needle is None


def test_epidural_plan_makes_dural_puncture_critical(panel, window):
    panel.target_combo.setCurrentText("epidural")
    panel.place_needle()
    _advance_to(panel, 56)
    assert (
        panel.banner.isVisible() and "Accidental dural puncture at 54.0 mm" in panel.banner.text()
    )
    panel.grab().save("/tmp/needle_panel_epidural.png")


def test_fixed_needle_from_a_lesson_is_read_only(panel, window):
    from iddsanatomy.needle import NeedlePose

    window.state.needle_mode = "fixed"
    window.state.needle = NeedlePose((0, 0, -22), (0, -1, 0), 47.0)
    assert not panel.advance_button.isEnabled() and not panel.place_button.isEnabled()
    assert panel.analysis.tip_structure == "ligamentum_flavum.L3-L4"
    assert "ligamentum" in panel.readout.text()
    assert panel.step(+1) is False


def test_entry_from_a_landmark_offset(panel, window):
    # "1 cm lateral (left) and 1 cm caudal to the L3 spinous tip" (0, -25, -3) → skin y = 0
    panel.approach_combo.setCurrentText("from a landmark")
    assert panel.landmark_box.isVisible()
    panel.landmark_combo.setCurrentIndex(panel.landmark_combo.findData("L3.spinous_tip"))
    panel.lateral_spin.setValue(10)
    panel.side_combo.setCurrentText("left")
    panel.caudal_spin.setValue(10)
    assert panel.place_needle()
    assert window.state.needle.entry_lps == pytest.approx((10, 0, -13))


def test_suggested_path_reaches_the_target(panel, window):
    panel.target_combo.setCurrentText("epidural")
    assert panel.suggest_path()
    assert window.state.needle.depth_mm == 0
    for _ in range(90):
        panel.step(+1)
        if panel.analysis.in_epidural_space:
            break
    assert panel.analysis.in_epidural_space and not panel.analysis.blocked


def test_bad_input_shows_an_error_and_changes_nothing(panel, window):
    panel.place_needle()
    _advance_to(panel, 10)
    before = window.state.needle
    panel.interspace_combo.setCurrentText("L5-S1")  # the phantom has no S1
    assert panel.place_needle() is False
    assert window.errors and window.state.needle is before


def _snapshot(panel, window):
    return (
        window.state.needle,
        panel.analysis,
        panel.readout.text(),
        panel.gauge.analysis,
        panel.events_list.count(),
        panel.cephalad_spin.value(),
        panel.medial_spin.value(),
        panel.needle_combo.currentData(),
    )


def test_refused_input_leaves_the_needle_and_the_read_out_as_they_were(panel, window):
    """Issue #5: an entry off the skin, a NaN or too steep angle, an unknown needle type: a clear
    error, and the needle, the read-out, the gauge, the events and the controls stay."""
    import math

    from iddsanatomy.needle import NeedlePose

    assert panel.place_needle()
    _advance_to(panel, 10)
    before = _snapshot(panel, window)
    assert before[0].depth_mm == pytest.approx(10.0) and "10.0 mm" in before[2]

    assert panel.place_pose(NeedlePose((0, 20, -22), (0, -1, 0))) is False  # 20 mm off the skin
    assert "Cannot place the needle" in window.errors[-1][0]
    assert "skin" in window.errors[-1][1]
    assert _snapshot(panel, window) == before
    assert panel.error_label.isVisible() and "skin" in panel.error_label.text()

    assert panel.set_angles(math.nan, 0.0) is False
    assert "finite" in window.errors[-1][1]
    assert _snapshot(panel, window) == before

    assert panel.set_angles(85.0, 0.0) is False  # beyond the 80° limit
    assert "too steep" in window.errors[-1][1]
    assert _snapshot(panel, window) == before

    n_errors = len(window.errors)
    panel.needle_combo.addItem("A needle that does not exist", "tuohy-17G-9")
    panel.needle_combo.setCurrentIndex(panel.needle_combo.count() - 1)
    assert len(window.errors) == n_errors + 1
    assert "unknown needle type 'tuohy-17G-9'" in window.errors[-1][1]
    assert _snapshot(panel, window) == before  # the combo shows the needle in use again

    # and a good input after the refusals still works
    assert panel.set_angles(10.0, 0.0)
    assert window.state.needle.angles_deg()[0] == pytest.approx(10.0)
    assert panel.cephalad_spin.value() == pytest.approx(10.0)


def _phantom_window(qtbot, tmp_path):
    """The main window on the needle phantom, shown, with its Needle panel and first frame."""
    from PySide6.QtCore import QSettings

    from iddsanatomy.needle.phantom import build_phantom
    from iddsanatomy.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(anatomy=build_phantom(), settings=settings)
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: "Needle" in w.panels and w.startup_done, timeout=10000)
    return w


def test_dragging_in_the_window_updates_the_read_out_and_the_3d_needle(qtbot, tmp_path):
    """Each step of a drag moves the needle drawn in 3D to the new pose and updates the
    read-out and gauge; the frame redraws the needle alone over the anatomy at full detail."""
    import numpy as np

    w = _phantom_window(qtbot, tmp_path)
    panel = w.panels["Needle"]
    ir = w.renderer.instruments
    rw = w.plotter.render_window
    frames = [0]
    rw.AddObserver("EndEvent", lambda *_: frames.__setitem__(0, frames[0] + 1))
    assert panel.place_needle()
    qtbot.waitUntil(lambda: frames[0] > 0, timeout=5000)

    def tip_of_drawn_needle():
        pose = w.state.needle
        pts = np.asarray(ir.mesh("needle").points, dtype=float)
        along = (pts - np.asarray(pose.entry_lps)) @ np.asarray(pose.direction)
        return float(along.max())

    alone0 = ir.instrument_frames
    for k in range(1, 53):
        n0 = frames[0]
        assert panel.step(+1)
        qtbot.waitUntil(lambda n0=n0: frames[0] > n0, timeout=5000)  # one frame per step
        assert w.state.needle.depth_mm == pytest.approx(float(k))
        # the drawn needle's tip is at the pose's depth along its line (the Tuohy curve
        # turns the last 4 mm by 20°: its farthest point is within 0.3 mm of the depth)
        assert tip_of_drawn_needle() == pytest.approx(float(k), abs=0.3)
        assert f"<b>Depth:</b> {k:.1f} mm" in panel.readout.text()
        assert panel.gauge.analysis is panel.analysis and panel.analysis.tip_depth_mm == k
        if k == 26:
            w.grab().save("/tmp/needle_drag_during.png")
    assert "epidural" in panel.readout.text()
    events = [panel.events_list.item(i).text() for i in range(panel.events_list.count())]
    assert any("Loss of resistance" in t for t in events)
    assert not w.renderer.interacting  # the anatomy stayed at full detail during the drag
    assert ir.instrument_frames - alone0 >= 45  # nearly every step redrew the needle alone
    qtbot.wait(400)
    w.grab().save("/tmp/needle_drag_after.png")
    w.close()


def test_panel_in_the_main_window_drives_the_renderer(qtbot, tmp_path):
    """Hosted by the real window: placing and advancing draws the needle in the 3D view."""
    w = _phantom_window(qtbot, tmp_path)
    panel = w.panels["Needle"]
    assert panel.place_needle()
    for _ in range(52):
        panel.step(+1)
    assert w.state.needle.depth_mm == pytest.approx(52.0)
    assert w.renderer.instruments.shown("needle")
    assert panel.thread_catheter()
    assert w.renderer.instruments.shown("catheter")
    qtbot.wait(100)
    w.grab().save("/tmp/needle_window.png")
    # click on the back to choose the entry: the view ray under the mouse meets the skin there
    from PySide6.QtCore import QPoint, Qt

    from iddsanatomy.render.picking import project_to_display

    w.set_view("posterior")
    qtbot.wait(400)  # the camera transition
    panel.approach_combo.setCurrentText("click on the skin")
    x, y = project_to_display(w.plotter, (6.0, 0.0, -20.0))
    dpr = w.plotter.devicePixelRatioF()
    pos = QPoint(round(x / dpr), round(w.plotter.height() - 1 - y / dpr))
    qtbot.mouseClick(w.plotter, Qt.LeftButton, pos=pos)
    entry = w.state.needle.entry_lps
    assert w.state.needle.depth_mm == 0
    assert entry[1] == pytest.approx(0.0, abs=1e-6)  # on the skin surface
    assert entry[0] == pytest.approx(6.0, abs=1.5) and entry[2] == pytest.approx(-20.0, abs=1.5)
    assert w.state.needle.side == "left"
    w.close()
