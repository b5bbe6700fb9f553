"""``iddsanatomy snapshot``: render the anatomy offscreen to a PNG, with the app's renderer.

Examples::

    iddsanatomy snapshot --view posterior --out back.png
    iddsanatomy snapshot --view left --clip sagittal:L3-L4 --out section.png --size 1600x1200
    iddsanatomy snapshot --show "interlaminar.*" --highlight "interlaminar.*" \\
        --labels levels,interlaminar
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from iddsanatomy.errors import ValidationError
from iddsanatomy.scene import NAMED_VIEWS


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Render the anatomy offscreen to a PNG (no window, no display needed).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Examples::", 1)[1],
    )
    p.add_argument("--view", default="posterior", choices=NAMED_VIEWS, help="camera preset")
    p.add_argument("--out", required=True, type=Path, help="PNG file to write")
    p.add_argument("--size", default="1200x900", help="image size WxH in pixels (1200x900)")
    p.add_argument(
        "--highlight", action="append", default=[], help="ids or glob patterns to highlight"
    )
    p.add_argument("--show", action="append", default=[], help="also show these ids/patterns")
    p.add_argument("--hide", action="append", default=[], help="hide these ids/patterns")
    p.add_argument("--only", action="append", default=[], help="show only these ids/patterns")
    p.add_argument("--select", default=None, help="select (cyan) one structure or part")
    p.add_argument(
        "--clip",
        default=None,
        help="cross-section KIND[:LEVEL[:OFFSET_MM]], KIND one of sagittal, coronal, axial, "
        "oblique (e.g. sagittal:L3-L4)",
    )
    p.add_argument(
        "--labels", default="", help="comma list of label groups: levels, ribs, interlaminar"
    )
    p.add_argument("--zoom", type=float, default=1.0, help="camera zoom (>1 is closer)")
    p.add_argument("--focus", default=None, help="frame this structure")
    p.add_argument(
        "--variant", default=None, help="a patient preset, e.g. 'obese' (see the Patient panel)"
    )
    return p


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValidationError(
            f"--size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1200x900"
        ) from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ValidationError(f"--size {text!r}: each side must be between 16 and 8192 pixels")
    return w, h


def _expand(anatomy, patterns: list[str]) -> set[str]:
    out: set[str] = set()
    for group in patterns:
        for pat in group.split(","):
            pat = pat.strip()
            if not pat:
                continue
            try:
                out.update(anatomy.ids(pat))
            except KeyError as exc:
                raise ValidationError(str(exc.args[0])) from None
    return out


def render_snapshot(anatomy, args) -> Path:
    """Render per ``args`` (the parsed command line) and write the PNG; returns its path."""
    if not os.environ.get("DISPLAY"):
        # no X server: go straight to EGL instead of trying (and warning about) X first
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    from iddsanatomy.render.scene_renderer import SceneRenderer, default_visible, whole_id
    from iddsanatomy.render.sections import parse_clip
    from iddsanatomy.scene import Camera, SceneState

    width, height = parse_size(args.size)
    labels = frozenset(x.strip() for x in args.labels.split(",") if x.strip())
    unknown = labels - {"levels", "ribs", "interlaminar"}
    if unknown:
        raise ValidationError(f"--labels: unknown group(s) {sorted(unknown)}")
    if args.only:
        visible = {whole_id(anatomy, i) for i in _expand(anatomy, args.only)}
    else:
        visible = set(default_visible(anatomy))
    visible |= {whole_id(anatomy, i) for i in _expand(anatomy, args.show)}
    visible -= _expand(anatomy, args.hide)
    highlighted = _expand(anatomy, args.highlight)
    if args.select and args.select not in anatomy.structures:
        raise ValidationError(f"--select: unknown structure {args.select!r}")
    if args.focus and args.focus not in anatomy.structures:
        raise ValidationError(f"--focus: unknown structure {args.focus!r}")
    state = SceneState(
        visible=frozenset(visible),
        highlighted=frozenset(highlighted),
        selected=args.select,
        labels=labels,
        camera=Camera(view=args.view, zoom=args.zoom, focus=args.focus),
        clip=parse_clip(args.clip, anatomy) if args.clip else None,
    )
    plotter = pv.Plotter(off_screen=True, window_size=(width, height))
    renderer = None
    try:
        renderer = SceneRenderer(plotter, anatomy, state)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        plotter.screenshot(str(args.out))
    finally:
        if renderer is not None:
            renderer.close()  # lets go of the window before the plotter closes it
        plotter.close()
    return args.out


def run(args) -> int:
    from iddsanatomy.anatomy import load_anatomy

    anatomy = load_anatomy(args.variant) if args.variant else load_anatomy()
    out = render_snapshot(anatomy, args)
    for sid, err in anatomy.errors.items():
        print(f"warning: {sid} not drawn: {err}", file=sys.stderr)
    print(out)
    return 0
