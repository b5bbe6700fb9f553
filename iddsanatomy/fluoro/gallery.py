"""The README's fluoroscopy pictures, made reproducibly: ``python -m iddsanatomy.fluoro.gallery``.

Writes ``fluoro_ap.png``, ``fluoro_lateral.png``, ``fluoro_oblique30.png`` (the default patient,
centred on L3, level labels) and ``fluoro_presets.png`` (rows: default, obese, scoliosis;
columns: AP, lateral, 30° left oblique) into a folder (default ``docs/images``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VIEWS = (("ap", "fluoro_ap.png"), ("lateral", "fluoro_lateral.png"))
VIEWS += (("oblique_left_30", "fluoro_oblique30.png"),)
PATIENTS = (None, "obese", "scoliosis with rotation")


def shot(anatomy, view: str, level: str = "L3", pixels: int = 512, labels: bool = True):
    """The monitor picture (uint8, RGB when labelled) of ``anatomy`` in a preset ``view``."""
    from iddsanatomy.fluoro import display, drr, overlays
    from iddsanatomy.fluoro.pose import preset

    pose = preset(view, anatomy, level=level, pixels=pixels)
    photons = display.TEACHING_PHOTONS * (pixels / 512) ** -2
    picture = display.window(drr.line_integral(anatomy, pose), circle=True, photons=photons)
    if labels:
        labels = overlays.level_labels(anatomy, pose) | overlays.orientation_marker(pose)
        picture = display.overlay(picture, labels)
    return picture


def make(folder: Path, pixels: int = 512, log=print) -> list[Path]:
    """Render the gallery into ``folder``; returns the files written."""
    import numpy as np

    from iddsanatomy.anatomy import load_anatomy
    from iddsanatomy.anatomy.variant import preset as variant_preset
    from iddsanatomy.fluoro.display import save_png

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rows = []
    for patient in PATIENTS:
        anatomy = load_anatomy() if patient is None else load_anatomy(variant_preset(patient))
        row = []
        for view, name in VIEWS:
            pic = shot(anatomy, view, pixels=pixels)
            if patient is None:
                save_png(pic, folder / name)
                written.append(folder / name)
                log(f"wrote {folder / name}")
            row.append(pic if pic.ndim == 3 else np.repeat(pic[..., None], 3, axis=2))
        rows.append(np.concatenate(row, axis=1))
    sheet = np.concatenate(rows, axis=0)
    small = sheet[::2, ::2]  # half size: the sheet is an overview
    save_png(small, folder / "fluoro_presets.png")
    written.append(folder / "fluoro_presets.png")
    log(f"wrote {folder / 'fluoro_presets.png'} (rows: default, obese, scoliosis)")
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", default="docs/images", type=Path)
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args(argv)
    make(args.folder, args.size)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
