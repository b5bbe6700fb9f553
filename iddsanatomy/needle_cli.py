"""``iddsanatomy needle``: analyse a needle path headless and print what it crosses."""

from __future__ import annotations

import argparse
import json


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Analyse a needle path in the default anatomy: crossings, events, distances.",
        epilog="Example: iddsanatomy needle --approach midline --interspace L3-L4 --depth 60 "
        "--thread 100",
    )
    p.add_argument("--approach", choices=["midline", "paramedian"], default="midline")
    p.add_argument("--interspace", default="L3-L4", help="e.g. L3-L4 (default)")
    p.add_argument("--side", choices=["left", "right"], default="left", help="paramedian side")
    p.add_argument(
        "--entry",
        nargs=3,
        type=float,
        metavar=("X", "Y", "Z"),
        help="skin entry point, LPS mm (overrides --approach)",
    )
    p.add_argument("--landmark", help="enter relative to a landmark, e.g. L3.spinous_tip")
    p.add_argument("--lateral", type=float, default=0.0, help="mm lateral to the landmark")
    p.add_argument("--caudal", type=float, default=0.0, help="mm caudal to the landmark")
    p.add_argument("--cephalad", type=float, default=None, help="cephalad angle, degrees")
    p.add_argument("--medial", type=float, default=None, help="medial angle, degrees")
    p.add_argument("--depth", type=float, default=60.0, help="depth advanced, mm")
    p.add_argument("--needle", default="tuohy-17G-90", help="needle type id")
    p.add_argument("--thread", type=float, default=None, help="thread a catheter this far, mm")
    p.add_argument("--direction", choices=["cephalad", "caudad"], default="cephalad")
    p.add_argument(
        "--find-path",
        choices=["intrathecal", "epidural"],
        help="search for a clear path to this space (with --approach, --interspace, --side) "
        "and analyse it at the target depth",
    )
    p.add_argument("--phantom", action="store_true", help="use the box test phantom")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def _pose(anatomy, args):
    from iddsanatomy import needle as nd

    ceph = 0.0 if args.cephalad is None else args.cephalad
    med = 0.0 if args.medial is None else args.medial
    if args.entry is not None:
        side = None if med == 0 else args.side
        pose = nd.pose_at_skin(anatomy, args.entry, ceph, med, needle=args.needle, side=side)
    elif args.landmark:
        side = args.side if (args.lateral or med) else None
        pose = nd.pose_from_landmark(
            anatomy, args.landmark, args.lateral, args.caudal, side, ceph, med, needle=args.needle
        )
    elif args.approach == "paramedian":
        kw = {}
        if args.cephalad is not None:
            kw["cephalad_deg"] = args.cephalad
        if args.medial is not None:
            kw["medial_deg"] = args.medial
        pose = nd.paramedian_pose(anatomy, args.interspace, args.side, needle=args.needle, **kw)
    else:
        pose = nd.midline_pose(anatomy, args.interspace, ceph, needle=args.needle)
    return pose.with_depth(args.depth)


def run(args) -> int:
    from iddsanatomy import needle as nd

    if args.phantom:
        from iddsanatomy.needle.phantom import build_phantom

        anatomy = build_phantom()
    else:
        from iddsanatomy.anatomy import load_anatomy

        anatomy = load_anatomy()
    if args.find_path:
        planned = nd.find_path(
            anatomy, args.interspace, args.approach, args.side, args.find_path, args.needle
        )
        pose = planned.pose
        if not args.json:
            print(
                f"clear path found among {planned.tried} tried; {planned.clearance_mm:.1f} mm "
                "from bone where it crosses the ligamentum flavum"
            )
    else:
        pose = _pose(anatomy, args)
    a = nd.analyse(anatomy, pose)
    cat, cat_error = None, None
    if args.thread:
        from iddsanatomy.errors import IddsError

        try:
            cat = nd.thread_catheter(anatomy, a, args.thread, args.direction)
        except IddsError as exc:  # still show the needle's analysis
            cat_error = str(exc)
    if args.json:
        out = {
            "entry_lps": list(pose.entry_lps),
            "direction": list(pose.direction),
            "needle": pose.needle_type,
            "tip_depth_mm": a.tip_depth_mm,
            "tip_structure": a.tip_structure,
            "tip_level": a.tip_level,
            "interlaminar": a.interlaminar,
            "crossings": [
                {
                    "id": c.structure_id,
                    "tissue": c.tissue,
                    "part": c.part_id,
                    "entry_mm": c.entry_depth_mm,
                    "exit_mm": c.exit_depth_mm,
                }
                for c in a.crossings
            ],
            "events": [
                {
                    "kind": e.kind,
                    "depth_mm": e.depth_mm,
                    "structure": e.structure_id,
                    "part": e.part_id,
                    "severity": e.severity,
                }
                for e in a.events
            ],
            "distance_to_dura_mm": a.distance_to_dura_mm,
            "distance_to_conus_mm": a.distance_to_conus_mm,
            "distance_to_bone_mm": a.distance_to_bone_mm,
        }
        if cat_error is not None:
            out["catheter_error"] = cat_error
        if cat is not None:
            out["catheter"] = {
                "space": cat.space,
                "tip_level": cat.tip_level,
                "tip_lps": cat.tip_lps.tolist(),
                "truncated": cat.truncated,
            }
        print(json.dumps(out, indent=2))
        return 1 if cat_error else 0
    c_deg, m_deg = pose.angles_deg()
    e = pose.entry_lps
    print(
        f"{pose.needle.display_name}; entry ({e[0]:.1f}, {e[1]:.1f}, {e[2]:.1f}) mm LPS; "
        f"cephalad {c_deg:.1f}°, medial {m_deg:.1f}°; depth {pose.depth_mm:.1f} mm"
    )
    print(f"{'structure':<34}{'tissue':<10}{'from mm':>9}{'to mm':>9}")
    for c in a.crossings:
        print(f"{c.structure_id:<34}{c.tissue:<10}{c.entry_depth_mm:>9.1f}{c.exit_depth_mm:>9.1f}")
    for ev in a.events:
        print(f"[{ev.severity}] {ev.message}")
    print(
        f"tip: {a.tip_structure or 'outside'} at {a.tip_depth_mm:.1f} mm, level {a.tip_level}; "
        f"interlaminar space {a.interlaminar or '-'}"
    )

    def fmt(d):
        return "-" if d is None else f"{d:.1f} mm"

    print(
        f"distance to dura {fmt(a.distance_to_dura_mm)}, conus {fmt(a.distance_to_conus_mm)}, "
        f"bone {fmt(a.distance_to_bone_mm)}"
    )
    if cat_error is not None:
        print(f"catheter: {cat_error}")
        return 1
    if cat is not None:
        print(
            f"catheter ({cat.space}, {args.direction}, {cat.length_mm:g} mm): tip at "
            f"{cat.tip_level}"
            + (" — the space ended, the rest would coil" if cat.truncated else "")
        )
    return 0
