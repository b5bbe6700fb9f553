"""``iddsanatomy lessons``: check, create, render lessons; export the schema.

``lessons check`` imports no Qt, VTK or trimesh, and reads structure ids from the mesh manifest
without loading a mesh, so an instructor can check a folder of lessons in a moment. Only a lesson
with a *planned* needle makes it read the anatomy, to place that needle on the patient of each
step (``--no-needles`` skips this).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Check, create and render lessons.")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    c = sub.add_parser("check", help="print every problem in lesson and bank files; exit 1 if any")
    c.add_argument("paths", nargs="+", metavar="PATH", help="lesson/bank files or folders")
    c.add_argument("--manifest", type=Path, help="check structure ids against this manifest.json")
    c.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    c.add_argument(
        "--no-needles",
        action="store_true",
        help="do not place the planned needles on the lessons' patients (faster; no meshes read)",
    )

    n = sub.add_parser("new", help="write a commented lesson skeleton")
    n.add_argument("id", help="lesson id, e.g. counting-levels")
    n.add_argument("--out", type=Path, help="file to write (default: ID.yaml here)")

    s = sub.add_parser("schema", help="write the JSON Schema of lessons and banks")
    s.add_argument("--out", type=Path, help="file to write (default: standard output)")

    r = sub.add_parser("render", help="render every step to PNG and write an HTML handout")
    r.add_argument("lesson", type=Path, help="the lesson file")
    r.add_argument("--out", type=Path, required=True, help="output folder")
    r.add_argument("--size", type=int, nargs=2, default=(800, 600), metavar=("W", "H"))
    return p


def run(args: argparse.Namespace) -> int:
    return {"check": _check, "new": _new, "schema": _schema, "render": _render}[args.action](args)


def _check(args) -> int:
    from iddsanatomy.lessons import loader, names

    if args.manifest is not None:
        catalog = names.catalog_from_manifest(args.manifest)
    else:
        catalog = names.default_catalog()
    files: list[Path] = []
    problems: list[loader.Problem] = []
    for raw in args.paths:
        p = Path(raw)
        if not p.exists():
            problems.append(loader.Problem(str(p), 1, 1, "", "no such file or folder"))
            continue
        found = loader.yaml_files([p])
        if p.is_dir() and not found:
            problems.append(loader.Problem(str(p), 1, 1, "", "the folder holds no .yaml files"))
        files.extend(found)
    bad_files = 0
    needles = _NeedleCheck(args.manifest) if not args.no_needles else None
    for f in files:
        ps = loader.check_file(f, catalog)
        if not ps and needles is not None:
            ps = needles.problems(f, catalog)
        bad_files += bool(ps)
        problems.extend(ps)
    for prob in problems:
        print(prob.format())
    sys.stdout.flush()
    if not args.quiet:
        if needles is not None and needles.note:
            print(f"note: {needles.note}", file=sys.stderr)
        if catalog is None:
            print(
                "note: structure ids were not checked: no meshes/manifest.json was found "
                "(give --manifest FILE or set IDDSANATOMY_MESHES)",
                file=sys.stderr,
            )
        n = len(problems)
        print(
            f"checked {len(files)} file{'s' if len(files) != 1 else ''}: "
            + (
                f"{n} problem{'s' if n != 1 else ''} in {bad_files} file"
                f"{'s' if bad_files != 1 else ''}"
                if n
                else "no problems"
            ),
            file=sys.stderr,
        )
    return 1 if problems else 0


class _NeedleCheck:
    """Places every planned needle on its step's patient; the anatomy is read only when a lesson
    has one (so checking lessons without planned needles stays light)."""

    def __init__(self, manifest: Path | None):
        self.folder = manifest.parent if manifest is not None else None
        self.anatomy_for = None
        self.note = ""
        self._tried = False

    def _anatomies(self):
        if not self._tried:
            self._tried = True
            from iddsanatomy.anatomy import load_anatomy
            from iddsanatomy.errors import IddsError
            from iddsanatomy.lessons.runner import patient_anatomies

            try:
                base = load_anatomy(folder=self.folder, coarse=False)
            except (IddsError, OSError) as exc:
                self.note = f"planned needles were not checked: no anatomy could be loaded ({exc})"
                return None
            self.anatomy_for = patient_anatomies(base)
        return self.anatomy_for

    def problems(self, path: Path, catalog) -> list:
        from iddsanatomy.lessons import loader

        item = loader.load_file(path, catalog)
        if getattr(item, "kind", "") != "lesson" or not loader.has_planned_needles(item):
            return []
        anatomy_for = self._anatomies()
        if anatomy_for is None:
            return []
        return loader.needle_plan_problems(path, item, anatomy_for)


def _new(args) -> int:
    from iddsanatomy.errors import LessonError
    from iddsanatomy.lessons.authoring import skeleton

    out = args.out or Path(f"{args.id}.yaml")
    if out.exists():
        raise LessonError(f"{out} already exists; choose another --out or remove it first")
    out.write_text(skeleton(args.id, str(out)), encoding="utf-8")
    print(f"wrote {out}; check it with: iddsanatomy lessons check {out}")
    return 0


def _schema(args) -> int:
    from iddsanatomy.lessons.schema import json_schema_text

    text = json_schema_text()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _render(args) -> int:
    from iddsanatomy.lessons.handout import render_handout

    report = render_handout(args.lesson, args.out, size=tuple(args.size))
    for line in report.notes:
        print(f"note: {line}", file=sys.stderr)
    print(f"wrote {report.html} ({report.n_images} images)")
    return 0
