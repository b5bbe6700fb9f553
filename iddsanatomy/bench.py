"""``iddsanatomy bench``: run the benchmarks and print figure, median, spread, target, met.

Each area lives in ``iddsanatomy.benchmarks.<area>`` and exposes ``run(quick) -> list[Figure]``.
An area that fails is reported as such and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback

AREAS = (
    "anatomy",
    "variation",
    "needle",
    "planning",
    "fluoro",
    "lessons",
    "viewer",
    "memory",
)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--quick", action="store_true", help="fewer repeats (a rough check)")
    p.add_argument("areas", nargs="*", choices=[*AREAS, []], help="areas to run (default: all)")
    return p


def collect(areas, quick: bool, log=print):
    from iddsanatomy.benchmarks import Figure

    figures: list[Figure] = []
    problems: list[str] = []
    for area in areas:
        t0 = time.perf_counter()
        log(f"[bench] {area} ...")
        try:
            module = importlib.import_module(f"iddsanatomy.benchmarks.{area}")
            figures.extend(module.run(quick=quick))
        except Exception as exc:  # one area failing must not hide the others
            problems.append(f"{area}: {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
        log(f"[bench] {area} done in {time.perf_counter() - t0:.1f} s")
    return figures, problems


def format_table(figures) -> str:
    rows = [("figure", "median", "spread (±½IQR)", "target", "met")]
    for f in figures:
        target = "" if f.target is None else f"{'≤' if f.better == 'lower' else '≥'} {f.target:g}"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append((f.name, f"{f.median:.3g} {f.unit}", f"{f.spread:.2g} {f.unit}", target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args) -> int:
    areas = args.areas or list(AREAS)
    log = (lambda *a, **k: print(*a, file=sys.stderr, **k)) if args.json else print
    t0 = time.perf_counter()
    figures, problems = collect(areas, args.quick, log)
    total = time.perf_counter() - t0
    if args.json:
        print(
            json.dumps(
                {
                    "machine": {"python": platform.python_version(), "cpu": platform.machine()},
                    "seconds": total,
                    "figures": [f.as_dict() for f in figures],
                    "problems": problems,
                },
                indent=2,
            )
        )
    else:
        print()
        print(format_table(figures))
        print(
            f"\n{len(figures)} figures in {total:.0f} s; "
            f"{sum(f.met is False for f in figures)} miss their target."
        )
        for p in problems:
            print(f"area failed: {p}")
    return 1 if problems else 0
