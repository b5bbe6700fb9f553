"""The README's 3D anatomy pictures, made reproducibly: ``python -m iddsanatomy.render.gallery``.

Writes into a folder (default ``docs/images``), offscreen with the app's renderer:

* ``anatomy_posterior.png``, ``anatomy_lateral.png``, ``anatomy_oblique.png``: the default
  anatomy from behind, from the left and from a 30° left posterior oblique, with the right
  paraspinal muscles and the skin translucent so that the bones, ligaments and neural axis show;
* ``anatomy_windows.png``: a close posterior view of L2–S1 with the interlaminar windows
  highlighted (the ligaments over the midline hidden, as a trainee would peel them);
* ``variants_presets.png``: four patient presets side by side (posterior view above, sagittal
  section at L3–L4 with the soft tissue below).

The fluoroscopy pictures come from :mod:`iddsanatomy.fluoro.gallery`, the app window's from
:mod:`iddsanatomy.ui.screenshots`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

#: The four presets of the variation issue's picture, in their panel order.
PRESET_SHEET = ("average adult", "obese", "scoliosis with rotation", "prior L4-L5 laminectomy")
#: Soft tissue drawn translucent in the overview pictures (id -> opacity).
TRANSLUCENT = {
    "skin": 0.12,
    "subcutaneous_fat": 0.0,
    "erector_spinae.right": 0.35,
    "multifidus.right": 0.45,
}
MIDLINE_COVER = ("supraspinous_ligament", "interspinous_ligament.")


def _plotter(size):
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    plotter = pv.Plotter(off_screen=True, window_size=size)
    # stills can afford order-independent translucency (the app's live view cannot)
    plotter.enable_depth_peeling(number_of_peels=8)
    return plotter


def render_state(anatomy, state, size=(1000, 1200)) -> np.ndarray:
    """Render ``state`` of ``anatomy`` offscreen; returns the (h, w, 3) uint8 image."""
    from iddsanatomy.render.scene_renderer import SceneRenderer

    plotter = _plotter(size)
    try:
        SceneRenderer(plotter, anatomy, state)
        return np.asarray(plotter.screenshot(return_img=True))[..., :3].copy()
    finally:
        plotter.close()


def overview_state(anatomy, view: str, zoom: float = 1.0):
    """The overview scene: the default structures plus translucent right-sided soft tissue."""
    from iddsanatomy.render.scene_renderer import default_visible
    from iddsanatomy.scene import Camera, SceneState

    soft = {sid: a for sid, a in TRANSLUCENT.items() if sid in anatomy.structures and a > 0}
    return SceneState(
        visible=default_visible(anatomy) | frozenset(soft),
        opacity=soft,
        camera=Camera(view=view, zoom=zoom),
    )


def windows_state(anatomy):
    """Posterior close-up of L2–S1 with the interlaminar windows highlighted and labelled."""
    from iddsanatomy.render.scene_renderer import default_visible
    from iddsanatomy.scene import Camera, SceneState

    windows = frozenset(i for i in anatomy.structures if i.startswith("interlaminar."))
    shown = {i for i in default_visible(anatomy) if not i.startswith(MIDLINE_COVER)}
    return SceneState(
        visible=frozenset(shown) | windows,
        highlighted=windows,
        labels=frozenset({"levels", "interlaminar"}),
        camera=Camera(
            view="posterior", zoom=2.0, focus="L4" if "L4" in anatomy.structures else None
        ),
    )


def preset_states(anatomy):
    """(posterior, sagittal section at L3–L4 with the soft tissue) for one patient."""
    from iddsanatomy.render.scene_renderer import default_visible
    from iddsanatomy.render.sections import parse_clip
    from iddsanatomy.scene import Camera, SceneState

    base = default_visible(anatomy)
    back = SceneState(
        visible=base, labels=frozenset({"levels"}), camera=Camera(view="posterior", zoom=1.1)
    )
    soft = frozenset(i for i in ("subcutaneous_fat", "skin") if i in anatomy.structures)
    section = SceneState(
        visible=base | soft,
        opacity={"skin": 0.6},
        labels=frozenset({"levels"}),
        camera=Camera(view="left", zoom=1.1),
        clip=parse_clip("sagittal:L3-L4", anatomy),
    )
    return back, section


def _title(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    bar = Image.new("RGB", (image.shape[1], 34), (22, 26, 34))
    ImageDraw.Draw(bar).text((10, 6), text, fill=(235, 235, 235), font=ImageFont.load_default(20))
    return np.concatenate([np.asarray(bar), image], axis=0)


def make(folder: Path, log=print) -> list[Path]:
    """Render the gallery into ``folder``; returns the files written."""
    from PIL import Image

    from iddsanatomy.anatomy import load_anatomy
    from iddsanatomy.anatomy.variant import preset

    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(image: np.ndarray, name: str) -> None:
        path = folder / name
        Image.fromarray(image).save(path)
        written.append(path)
        log(f"wrote {path}")

    anatomy = load_anatomy()
    for view, name in (
        ("posterior", "anatomy_posterior.png"),
        ("left", "anatomy_lateral.png"),
        ("oblique_left_30", "anatomy_oblique.png"),
    ):
        save(render_state(anatomy, overview_state(anatomy, view)), name)
    save(render_state(anatomy, windows_state(anatomy), size=(1000, 900)), "anatomy_windows.png")

    columns = []
    for name in PRESET_SHEET:
        patient = load_anatomy(preset(name))
        back, section = preset_states(patient)
        column = np.concatenate(
            [render_state(patient, s, size=(480, 540)) for s in (back, section)], axis=0
        )
        columns.append(_title(column, name))
    save(np.concatenate(columns, axis=1), "variants_presets.png")
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", default="docs/images", type=Path)
    args = p.parse_args(argv)
    make(args.folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
