"""The core stays GUI-free: importing it must not pull in Qt, pyvista or VTK."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import iddsanatomy

FORBIDDEN = ("PySide6", "pyvista", "pyvistaqt", "vtk", "vtkmodules", "qtpy", "matplotlib")
GUI_PACKAGES = ("iddsanatomy.render", "iddsanatomy.ui", "iddsanatomy.bench")


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(iddsanatomy.__path__, "iddsanatomy."):
        if info.name.startswith(GUI_PACKAGES) or info.name.endswith("__main__"):
            continue
        names.append(info.name)
    return names


def test_core_module_list_is_not_empty():
    names = core_modules()
    assert "iddsanatomy.geometry" in names and "iddsanatomy.scene" in names


def test_importing_the_core_imports_no_gui_or_vtk():
    code = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    leaked = json.loads(out.stdout.strip().splitlines()[-1])
    assert leaked == [], f"core imported GUI/VTK modules: {leaked}"


def test_cli_help_and_version_import_nothing_heavy():
    code = (
        "import sys, json\n"
        "from iddsanatomy import cli\n"
        "try:\n    cli.main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('PySide6', 'pyvista', 'vtkmodules', 'trimesh', 'numpy')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[0].startswith("iddsanatomy ")
    assert json.loads(out.stdout.splitlines()[-1]) == []
