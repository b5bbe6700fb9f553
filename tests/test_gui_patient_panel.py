"""GUI tier: the Patient panel edits the variant live, off the GUI thread, with undo."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, default_anatomy):
    from PySide6.QtCore import QSettings

    from iddsanatomy.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(anatomy=default_anatomy, settings=settings, optional_panels=False)
    w.resize(1100, 760)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.startup_done, timeout=15000)
    yield w
    w.close()


@pytest.fixture
def panel(window):
    from iddsanatomy.ui.patient_panel import PatientPanel

    p = PatientPanel(window)
    window.add_dock("Patient", p)
    yield p
    p.wait_idle()


def _wait_built(qtbot, panel, window, name):
    qtbot.waitUntil(
        lambda: window.state.variant is not None and window.state.variant.name == name,
        timeout=30000,
    )


def test_choosing_a_preset_builds_and_shows_that_patient(qtbot, window, panel, default_anatomy):
    from iddsanatomy.anatomy.variant import skin_to_epidural_mm

    skin_before = default_anatomy["skin"].mesh.vertices.copy()
    panel.preset_box.setCurrentText("obese")
    panel._on_preset_chosen(panel.preset_box.currentIndex())
    _wait_built(qtbot, panel, window, "obese")
    assert window.anatomy is not default_anatomy
    assert window.state.variant.bmi == 40
    assert panel.bmi.value() == 40
    # the skin moved out, by about the Ravi 2011 difference between BMI 40 and the default
    from iddsanatomy.anatomy import measure

    depth = measure.midline_depths(window.anatomy, "L3", "L4")["skin_to_epidural"]
    assert depth == pytest.approx(skin_to_epidural_mm(40), abs=3.0)
    # the default anatomy itself is untouched
    assert np.array_equal(default_anatomy["skin"].mesh.vertices, skin_before)


def test_a_laminectomy_adds_scar_to_the_scene_and_undo_restores(qtbot, window, panel):
    panel.preset_box.setCurrentText("prior L4-L5 laminectomy")
    panel._on_preset_chosen(panel.preset_box.currentIndex())
    _wait_built(qtbot, panel, window, "prior L4-L5 laminectomy")
    assert "scar.L4-L5" in window.anatomy.structures
    assert "scar.L4-L5" in window.state.visible  # the trainee sees the operated level
    assert "ligamentum_flavum.L4-L5" not in window.state.visible
    panel.undo()
    qtbot.waitUntil(lambda: "scar.L4-L5" not in window.anatomy.structures, timeout=30000)
    assert "scar.L4-L5" not in window.state.visible


def test_the_window_stays_responsive_while_a_variant_builds(qtbot, window, panel):
    from PySide6.QtCore import QTimer

    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    from iddsanatomy.anatomy.variant import make_variant

    panel.apply_variant(
        make_variant(
            name="fused and operated", fusion_levels=("L4-L5",), laminectomy_levels=("L3-L4",)
        )
    )
    assert panel.busy.isVisible()
    _wait_built(qtbot, panel, window, "fused and operated")
    timer.stop()
    # the event loop kept running during the build (a blocked GUI thread would tick once)
    assert len(ticks) >= 3
    assert not panel.busy.isVisible()
    assert "hardware.L4.screw.left" in window.state.visible


def test_invalid_combinations_are_refused_and_the_anatomy_stays(qtbot, window, panel):
    before = window.anatomy
    panel.cobb.setValue(0)
    panel.rotation.setValue(15)  # rotation without a curve is refused by the variant model
    qtbot.waitUntil(lambda: "needs a scoliosis" in panel.status.text(), timeout=5000)
    assert "apical_rotation" in panel.status.text() or "scoliosis" in panel.status.text()
    qtbot.wait(300)
    assert window.anatomy is before
