"""``iddsanatomy anatomy``: measure the shipped anatomy (``report``) or compare it with real
vertebrae (``compare PATH``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="action", required=True)
    r = sub.add_parser("report", help="measured value | reference | source, per level")
    r.add_argument("--meshes", type=Path, default=None, help="meshes folder (default: shipped)")
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c = sub.add_parser("compare", help="surface distance of L2–L5 to a real mean shape")
    c.add_argument(
        "path", type=Path, help="folder of real vertebrae (e.g. ../shared/realmeshes/clouthier_ssm)"
    )
    return p


def run(args) -> int:
    if args.action == "report":
        from iddsanatomy.anatomy import load_anatomy
        from iddsanatomy.anatomy.measure import format_report, measure_all

        anat = load_anatomy(folder=args.meshes, coarse=False)
        ms = measure_all(anat)
        if args.json:
            import json

            print(
                json.dumps(
                    [
                        {
                            "quantity": m.quantity,
                            "where": m.where,
                            "value": round(m.value, 3),
                            "unit": m.unit,
                            "reference": m.ref.text if m.ref else None,
                            "source": m.ref.source if m.ref else None,
                            "ok": m.ok,
                        }
                        for m in ms
                    ],
                    indent=1,
                    ensure_ascii=False,
                )
            )
        else:
            print(format_report(ms))
            bad = [m for m in ms if m.ok is False]
            print(f"\n{len(ms) - len(bad)} of {len(ms)} measurements within their reference range")
        return 0
    from iddsanatomy.anatomy import compare

    rows = compare.compare_vertebrae(args.path)
    print(compare.format_table(rows))
    return 0
