"""GUI tier: the explorer window driven with pytest-qt under Xvfb (synthetic anatomy).

Settings go to an ini file in the test's temp dir, never to the user's settings.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from viewer_fixtures import make_anatomy

pytestmark = pytest.mark.gui


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


def open_window(qtbot, settings, **kw):
    from iddsanatomy.ui.app import apply_style
    from iddsanatomy.ui.main_window import MainWindow

    apply_style(qtbot_app())
    kw.setdefault("optional_panels", False)
    w = MainWindow(anatomy=make_anatomy(), settings=settings, **kw)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()  # window shortcuts need the active window
    qtbot.waitActive(w)
    qtbot.waitUntil(lambda: w.startup_done, timeout=8000)  # first frame, then hosted panels
    return w


def qtbot_app():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance()


@pytest.fixture
def window(qtbot, settings):
    w = open_window(qtbot, settings)
    yield w
    w.close()


def settle(qtbot, w):
    """Let camera animations and pending repaints finish."""
    qtbot.waitUntil(lambda: not w.animator.running, timeout=3000)
    qtbot.wait(30)


def widget_pos(w, point_lps):
    """The QPoint (logical px, top left origin) where ``point_lps`` shows in the 3D view."""
    from PySide6.QtCore import QPoint

    from iddsanatomy.render.picking import project_to_display

    x, y = project_to_display(w.plotter, point_lps)
    dpr = w.plotter.devicePixelRatioF()
    return QPoint(round(x / dpr), round(w.plotter.height() - 1 - y / dpr))


def test_window_opens_with_menus_view_and_rendered_frame(window):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "View", "Help"]
    img = window.plotter.screenshot()
    assert img.std() > 20  # anatomy drawn, not a uniform background
    assert window.statusBar() is not None
    html = window.about_html()
    assert "MIT License" in html and "Data" in html and "VTK" in html
    dlg = window.show_about()
    assert dlg.isVisible()
    dlg.close()


def test_failed_structure_is_listed_with_its_error(window):
    item = window.browser.item_for("L5")
    assert "failed to load" in item.text(0)
    assert "truncated" in item.toolTip(0)
    assert "failed to load" in window.statusBar().currentMessage()


def test_browser_toggle_isolate_show_all_and_reset(window, qtbot):
    st = window.state
    window.browser.set_checked("L4", False)
    qtbot.waitUntil(lambda: "L4" not in st.visible)
    assert not window.renderer.actors["L4"].GetVisibility()
    window.browser.set_checked("L4", True)
    qtbot.waitUntil(lambda: "L4" in st.visible)

    # a level row toggles everything at that level
    from PySide6.QtCore import Qt

    level = window.browser.item_for("disc.L3-L4").parent()
    level.setCheckState(0, Qt.Unchecked)
    qtbot.waitUntil(lambda: "disc.L3-L4" not in st.visible)
    assert "ligamentum_flavum.L3-L4" not in st.visible and "L3" in st.visible

    window.browser.tree.setCurrentItem(window.browser.item_for("L3"))
    assert st.selected == "L3"
    qtbot.mouseClick(window.browser.isolate_button, Qt.LeftButton)
    assert st.visible == frozenset({"L3"})
    qtbot.mouseClick(window.browser.show_all_button, Qt.LeftButton)
    assert {"L3", "L4", "skin", "interlaminar.L3-L4"} <= st.visible
    qtbot.mouseClick(window.browser.reset_button, Qt.LeftButton)
    assert "skin" not in st.visible and "L4" in st.visible and st.selected is None


def test_group_toggle_and_opacity(window, qtbot):
    from PySide6.QtCore import Qt

    st = window.state
    qtbot.mouseClick(window.browser.group_buttons["Ligaments"], Qt.LeftButton)
    assert "ligamentum_flavum.L3-L4" not in st.visible
    qtbot.mouseClick(window.browser.group_buttons["Soft tissue"], Qt.LeftButton)
    assert "skin" in st.visible
    window.browser.tree.setCurrentItem(window.browser.item_for("L4"))
    window.browser.opacity.setValue(40)
    assert st.opacity["L4"] == pytest.approx(0.4)
    assert window.renderer.actors["L4"].prop.opacity == pytest.approx(0.4)


def test_search_and_tissue_filter(window, qtbot):
    b = window.browser
    qtbot.keyClicks(b.search, "flavum")
    assert b.visible_items() == ["ligamentum_flavum.L3-L4"]
    b.search.clear()
    qtbot.keyClicks(b.search, "left pedicle")
    assert b.visible_items() == ["L3", "L3.pedicle.left"]  # the part shows under its bone
    b.search.clear()
    b.tissue.setCurrentIndex(b.tissue.findData("bone"))
    shown = set(b.visible_items())
    assert shown == {"L3", "L3.pedicle.left", "L3.pedicle.right", "L4", "L5"}


def test_click_picks_structure_and_part_and_hover_names_it(window, qtbot):
    from PySide6.QtCore import Qt

    window.set_view("anterior")
    settle(qtbot, window)
    qtbot.mouseClick(window.plotter, Qt.LeftButton, pos=widget_pos(window, (0, -15, -40)))
    assert window.state.selected == "L4"
    text = window.info.text()
    assert "L4 vertebra" in text and "Level" in text and "Bone" in text
    assert "Synthetic l4 vertebra" in text  # the description
    assert window.browser.tree.currentItem() is window.browser.item_for("L4")

    qtbot.mouseClick(window.plotter, Qt.LeftButton, pos=widget_pos(window, (12, -12, 0)))
    assert window.state.selected == "L3.pedicle.left"
    assert "L3 left pedicle" in window.info.text() and "Part of" in window.info.text()

    qtbot.mouseMove(window.plotter, widget_pos(window, (0, -17.5, -20)))
    qtbot.waitUntil(lambda: window.hover_text == "L3–L4 disc", timeout=2000)

    qtbot.mouseClick(window.plotter, Qt.LeftButton, pos=widget_pos(window, (0, 0, 200)))
    assert window.state.selected is None  # a click on the background clears the selection
    window.state.selected = "L4"
    qtbot.keyClick(window, Qt.Key_Escape)
    assert window.state.selected is None


def test_view_shortcuts_move_the_camera(window, qtbot):
    from PySide6.QtCore import Qt

    from iddsanatomy.render import views

    for key, view in ((Qt.Key_L, "left"), (Qt.Key_C, "cranial"), (Qt.Key_3, "oblique_left_45")):
        qtbot.keyClick(window, key)
        settle(qtbot, window)
        assert window.state.camera.view == view
        cam = window.plotter.camera
        d = np.subtract(cam.position, cam.focal_point)
        d /= np.linalg.norm(d)
        assert d == pytest.approx(views.VIEW_DIRECTIONS[view][0], abs=1e-6)
        assert window.view_toolbar.view_actions[view].isChecked()
    qtbot.keyClick(window, Qt.Key_Home)
    settle(qtbot, window)
    assert window.state.camera.view == "posterior"
    # after orbiting away by hand, the same key brings the preset back
    window.plotter.camera.Azimuth(40)
    qtbot.keyClick(window, Qt.Key_P)
    settle(qtbot, window)
    cam = window.plotter.camera
    d = np.subtract(cam.position, cam.focal_point)
    assert d / np.linalg.norm(d) == pytest.approx((0, 1, 0), abs=1e-6)


def test_camera_transition_is_smooth_and_short(window, qtbot):
    window.set_view("left")
    assert window.animator.running  # not a jump
    settle(qtbot, window)
    assert 1 <= window.animator.frames <= 20
    assert not window.renderer.interacting  # full detail again


def test_focus_on_selection(window, qtbot):
    from PySide6.QtCore import Qt

    window.state.selected = "L4"
    qtbot.keyClick(window, Qt.Key_F)
    settle(qtbot, window)
    assert window.plotter.camera.focal_point[2] == pytest.approx(-40.0, abs=1e-3)


def test_section_slider_moves_the_clipping_plane(window, qtbot):
    tb = window.section_toolbar
    tb.set_section("sagittal", "L3")
    settle(qtbot, window)
    assert window.state.camera.view == "left"  # turned to look at the cut
    assert window.renderer.visible_bounds()[1] == pytest.approx(0.0, abs=1e-3)
    qtbot.waitUntil(lambda: window.renderer.cap_mesh is not None, timeout=3000)  # cut filled
    tb.slider.setValue(10)
    assert window.state.clip.origin_lps[0] == pytest.approx(10.0)
    assert window.renderer.visible_bounds()[1] == pytest.approx(10.0, abs=1e-3)
    tb.set_section("axial", "L4")
    # hand answer: the axial plane through L4 (z = -40) removes everything above
    assert window.renderer.visible_bounds()[5] == pytest.approx(-40.0, abs=1e-3)
    tb.set_section(None)
    assert window.state.clip is None
    assert window.renderer.visible_bounds()[5] > 10.0


def test_labels_toggle(window, qtbot):
    window.view_toolbar.labels_action.trigger()
    assert window.state.labels == frozenset({"levels", "ribs", "interlaminar"})
    assert "labels:levels-labels" in window.plotter.actors


def test_screenshot_1x_and_2x(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    one = window.save_screenshot(tmp_path / "one.png")
    two = window.save_screenshot(tmp_path / "two.png", scale=2)
    a, b = QImage(str(one)), QImage(str(two))
    assert not a.isNull() and b.width() == 2 * a.width() and b.height() == 2 * a.height()


def test_settings_remember_last_view_and_layout(qtbot, settings):
    w = open_window(qtbot, settings)
    w.set_view("right")
    settle(qtbot, w)
    w.info_dock.hide()
    w.close()
    assert settings.value("view/last") == "right"
    w2 = open_window(qtbot, settings)
    try:
        assert w2.state.camera.view == "right"
        assert not w2.info_dock.isVisible()
    finally:
        w2.close()


def test_hosts_optional_panels_and_survives_broken_ones(qtbot, settings, monkeypatch):
    from PySide6.QtWidgets import QLabel

    good = types.ModuleType("iddsanatomy.ui.needle_panel")

    class NeedlePanel(QLabel):
        def __init__(self, window):
            super().__init__("needle")
            self.seen = (window.state, window.anatomy, window.renderer, window.plotter)

    good.NeedlePanel = NeedlePanel
    bad = types.ModuleType("iddsanatomy.ui.quiz_panel")

    class QuizPanel(QLabel):
        def __init__(self, window):
            raise RuntimeError("quiz bank missing")

    bad.QuizPanel = QuizPanel
    monkeypatch.setitem(sys.modules, "iddsanatomy.ui.needle_panel", good)
    monkeypatch.setitem(sys.modules, "iddsanatomy.ui.quiz_panel", bad)
    monkeypatch.setitem(sys.modules, "iddsanatomy.ui.fluoro_panel", None)  # ImportError
    monkeypatch.setitem(sys.modules, "iddsanatomy.ui.lesson_panel", None)
    w = open_window(qtbot, settings, optional_panels=True)
    try:
        assert "Needle" in w.panels and w.panels["Needle"].seen[0] is w.state
        assert "Quiz" not in w.panels and "quiz bank missing" in w.panel_errors["Quiz"]
        assert "Fluoroscopy" not in w.panel_errors  # missing module: skipped quietly
        assert "quiz bank missing" in w.statusBar().currentMessage()
    finally:
        w.close()


def test_close_releases_the_view_and_the_state(qtbot, settings):
    w = open_window(qtbot, settings)
    state = w.state
    w.close()
    assert w.plotter._closed
    for signal in (state.events.visible, state.events.camera, state.events.selected):
        assert len(signal) == 0, signal  # nothing still listening to the state


def test_set_anatomy_swaps_what_is_drawn(window, qtbot):
    from PySide6.QtCore import Qt
    from viewer_fixtures import make_anatomy as make

    seen = []
    window.anatomy_changed.connect(seen.append)
    other = make()
    del other.structures["disc.L3-L4"]
    window.state.selected = "L4"
    window.set_anatomy(other)
    assert seen == [other] and window.renderer.anatomy is other
    assert "disc.L3-L4" not in window.renderer.actors
    assert window.renderer.actors["L4"].GetVisibility()
    assert window.browser.item_for("disc.L3-L4") is None
    assert "L4 vertebra" in window.info.text()
    qtbot.mouseClick(window.plotter, Qt.LeftButton, pos=widget_pos(window, (0, 0, 200)))
    assert window.plotter.screenshot().std() > 20


def test_dragging_orbits_with_coarse_meshes_then_full_detail(window, qtbot):
    from PySide6.QtCore import QPoint, Qt

    view = window.plotter
    centre = QPoint(view.width() // 2, view.height() // 2)
    before = tuple(view.camera.position)
    full = window.renderer.actors["L3"].mapper.GetInput().GetNumberOfCells()
    qtbot.mousePress(view, Qt.LeftButton, pos=centre)
    qtbot.mouseMove(view, centre + QPoint(40, 0))
    qtbot.mouseMove(view, centre + QPoint(80, 10))
    assert window.renderer.interacting
    coarse = window.renderer.actors["L3"].mapper.GetInput().GetNumberOfCells()
    assert coarse == len(window.anatomy["L3"].coarse.faces) < full
    qtbot.mouseRelease(view, Qt.LeftButton, pos=centre + QPoint(80, 10))
    assert not window.renderer.interacting
    assert window.renderer.actors["L3"].mapper.GetInput().GetNumberOfCells() == full
    assert tuple(view.camera.position) != pytest.approx(before)  # the camera turned
    assert window.state.selected is None  # a drag is not a click


def test_window_opens_without_anatomy_and_says_why(qtbot, settings):
    from iddsanatomy.ui.main_window import MainWindow

    w = MainWindow(
        settings=settings,
        optional_panels=False,
        load_error="DataNotFoundError: could not find the meshes folder",
    )
    w.show()
    qtbot.waitExposed(w)
    try:
        qtbot.waitUntil(lambda: w.startup_done, timeout=8000)
        assert w.renderer.actors == {}
        assert "No anatomy loaded" in w.statusBar().currentMessage()
        assert "meshes folder" in w.statusBar().currentMessage()
        w.set_view("left")  # views and sections do not fail on an empty scene
        w.section_toolbar.set_section("axial")
    finally:
        w.close()
