"""The repository keeps its promises: README commands match CI, architecture contracts hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```\n(.*?)```", quick, flags=re.S)]


def test_readme_quick_start_has_exactly_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    install_and_launch, install_and_test = commands
    assert "pip install" in install_and_launch and install_and_launch.endswith("iddsanatomy")
    assert "pytest" in install_and_test
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install_and_test in ci.splitlines(), "CI must run the README's test command verbatim"


def test_ci_installs_the_system_packages_the_readme_lists():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## System libraries", 1)[1].split("```", 2)[1]
    readme_pkgs = set(re.findall(r"\b(?:xvfb|xauth|lib[\w.+-]+)\b", block))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_block = ci.split('SYSTEM_PACKAGES="', 1)[1].split('"', 1)[0]
    assert readme_pkgs == set(ci_block.split())


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken" in out.stdout
