"""``iddsanatomy fluoro``: render a simulated fluoroscopy shot to a PNG, headless.

Example: ``iddsanatomy fluoro --pose ap --level L3 --variant obese --out shot.png --size 512``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from iddsanatomy.errors import IddsError, ValidationError


def build_parser(prog: str) -> argparse.ArgumentParser:
    from iddsanatomy.fluoro.pose import PRESETS

    p = argparse.ArgumentParser(
        prog=prog,
        description="Render a simulated fluoroscopy (DRR) shot of the anatomy to a PNG.",
    )
    p.add_argument(
        "--pose",
        default="ap",
        help=f"C-arm preset: {', '.join(PRESETS)}, or square_<LEVEL> (default: ap)",
    )
    p.add_argument("--level", default="L3", help="level to centre on (default: L3)")
    p.add_argument("--variant", default=None, help="patient variant preset name (default: none)")
    p.add_argument("--out", required=True, type=Path, help="output PNG path")
    p.add_argument("--size", type=int, default=512, help="pixels per side (default: 512)")
    p.add_argument("--orbital", type=float, default=None, help="override the oblique angle (deg)")
    p.add_argument("--tilt", type=float, default=None, help="override cranial(+)/caudal(-) tilt")
    p.add_argument("--invert", action="store_true", help="bone white instead of dark")
    p.add_argument("--labels", action="store_true", help="draw level labels")
    p.add_argument(
        "--circle", action="store_true", help="round field, as an image intensifier shows it"
    )
    p.add_argument("--noise", action="store_true", help="add quantum mottle (grain)")
    p.add_argument("--raw", type=Path, default=None, help="also save the float image (.npy)")
    return p


def load(variant_name: str | None):
    """The anatomy for a variant preset name (or the default anatomy)."""
    from iddsanatomy.anatomy import load_anatomy

    if variant_name is None:
        return load_anatomy()
    from iddsanatomy.anatomy.variant import preset as variant_preset

    return load_anatomy(variant_preset(variant_name))


def run(args) -> int:
    import numpy as np

    from iddsanatomy.fluoro import display, drr
    from iddsanatomy.fluoro.pose import preset

    if args.size < 16 or args.size > 4096:
        raise ValidationError(f"--size must be within 16–4096 pixels, got {args.size}")
    anatomy = load(args.variant)
    pose = preset(args.pose, anatomy, level=args.level, pixels=args.size)
    changes = {}
    if args.orbital is not None:
        changes["orbital_deg"] = args.orbital
    if args.tilt is not None:
        changes["cranial_tilt_deg"] = args.tilt
    if changes:
        pose = pose.with_(**changes)
    t0 = time.perf_counter()
    sigma = drr.line_integral(anatomy, pose)
    ms = (time.perf_counter() - t0) * 1000
    photons = display.TEACHING_PHOTONS * (args.size / 512) ** -2 if args.noise else None
    picture = display.window(sigma, invert=args.invert, circle=args.circle, photons=photons)
    if args.labels:
        from iddsanatomy.fluoro import overlays

        labels = overlays.level_labels(anatomy, pose) | overlays.orientation_marker(pose)
        picture = display.overlay(picture, labels)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        display.save_png(picture, args.out)
        if args.raw is not None:
            np.save(args.raw, sigma)
    except OSError as exc:
        raise IddsError(f"cannot write {args.out}: {exc}") from exc
    print(
        f"{args.out}: {args.pose} at {args.level}, orbital {pose.orbital_deg:.1f}°, "
        f"tilt {pose.cranial_tilt_deg:+.1f}°, {args.size}² in {ms:.0f} ms (incl. upload)",
        file=sys.stderr,
    )
    return 0
