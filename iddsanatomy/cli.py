"""Command line: ``iddsanatomy`` opens the app; subcommands do headless work.

``--help`` and ``--version`` import nothing heavy (no Qt, no VTK, no trimesh): each subcommand
lives in its own module, imported only when that subcommand runs. A subcommand module exposes
``build_parser(prog) -> argparse.ArgumentParser`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from iddsanatomy import __version__
from iddsanatomy.errors import IddsError

# name -> (module, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "snapshot": ("iddsanatomy.render.snapshot_cli", "render the anatomy offscreen to a PNG"),
    "build-meshes": ("iddsanatomy.anatomy.build_cli", "regenerate meshes/ from the generator"),
    "anatomy": ("iddsanatomy.anatomy.report_cli", "measure the anatomy: report, compare"),
    "needle": ("iddsanatomy.needle_cli", "analyse a needle path headless"),
    "fluoro": ("iddsanatomy.fluoro.cli", "render a simulated fluoroscopy shot to PNG"),
    "lessons": ("iddsanatomy.lessons.cli", "check, create, render lessons; export the schema"),
    "results": ("iddsanatomy.quiz.cli", "export and summarise quiz results"),
    "bench": ("iddsanatomy.bench", "run the benchmarks and print a table"),
}


def _top_parser() -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(f"  {k:<14}{h}" for k, (_, h) in COMMANDS.items())
    epilog += "\n\nRun 'iddsanatomy COMMAND --help' for a command's options."
    p = argparse.ArgumentParser(
        prog="iddsanatomy",
        description="3D anatomy of IDDS trial needle placement. With no command, opens the app.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"iddsanatomy {__version__}")
    p.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    ns = top.parse_args(argv)
    if ns.command is None:
        from iddsanatomy.ui.launch import launch

        return launch()
    if ns.command not in COMMANDS:
        from iddsanatomy.anatomy.model import suggest

        top.error(f"unknown command {ns.command!r}{suggest(ns.command, COMMANDS)}")
    module_name, _help = COMMANDS[ns.command]
    module = importlib.import_module(module_name)
    parser = module.build_parser(f"iddsanatomy {ns.command}")
    args = parser.parse_args(ns.rest)
    try:
        return int(module.run(args) or 0)
    except IddsError as exc:
        print(f"iddsanatomy {ns.command}: error: {exc}", file=sys.stderr)
        return 1
