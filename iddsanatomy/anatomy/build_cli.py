"""``iddsanatomy build-meshes``: regenerate ``meshes/`` from the generator (deterministic)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to write (default: meshes/ of the source checkout)",
    )
    p.add_argument("--fast", action="store_true", help="coarse preview build (not for meshes/)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    return p


def build(out: Path, fast: bool = False, log=print) -> dict:
    """Generate the default anatomy and write it to ``out``; returns the manifest."""
    from iddsanatomy.anatomy.assembly import generate
    from iddsanatomy.anatomy.io import save_generated

    gen = generate(progress=log, fast=fast)
    return save_generated(gen, out)


def run(args) -> int:
    from iddsanatomy.paths import repo_root

    out = args.out if args.out is not None else repo_root() / "meshes"
    t0 = time.perf_counter()
    log = (lambda _m: None) if args.quiet else (lambda m: print(m, flush=True))
    manifest = build(out, fast=args.fast, log=log)
    size = sum(f.stat().st_size for f in Path(out).iterdir() if f.is_file())
    n_files = sum(1 for e in manifest["structures"] if e.get("file"))
    faces = sum(e.get("n_faces", 0) for e in manifest["structures"])
    print(
        f"wrote {len(manifest['structures'])} structures ({n_files} meshes, {faces} triangles, "
        f"{size / 1e6:.1f} MB) to {out} in {time.perf_counter() - t0:.1f} s"
    )
    return 0
