"""Shared test configuration: test tiers, CI strictness, and the default anatomy fixture.

Tiers (ARCHITECTURE.md): core (no marker), ``render`` (OpenGL context), ``gui`` (pytest-qt under
Xvfb). In CI (``CI=true``) the run fails if no render or no GUI test ran, so a missing OpenGL
context or display can never turn into a silent skip.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

_TIER_OUTCOMES: Counter = Counter()


def _tier(item) -> str:
    if item.get_closest_marker("gui"):
        return "gui"
    if item.get_closest_marker("render"):
        return "render"
    return "core"


def pytest_runtest_logreport(report):
    if report.when == "call":
        tier = dict(report.user_properties).get("tier")
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        _TIER_OUTCOMES[(tier or "core", outcome)] += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rep.user_properties.append(("tier", _tier(item)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    tr.section("test tiers")
    for tier in ("core", "render", "gui"):
        passed = _TIER_OUTCOMES[(tier, "passed")]
        failed = _TIER_OUTCOMES[(tier, "failed")]
        skipped = _TIER_OUTCOMES[(tier, "skipped")]
        xfailed = _TIER_OUTCOMES[(tier, "xfailed")]
        line = f"{tier:>6}: {passed} passed, {failed} failed, {skipped} skipped"
        tr.write_line(line + (f", {xfailed} known gaps (xfail)" if xfailed else ""))


def _release_the_display() -> None:
    """Close Qt's connection to the X server before pytest-xvfb stops Xvfb.

    Otherwise Xlib finds its connection gone at interpreter exit ("XIO: fatal IO error") and
    exits the process with status 1 after every test has passed.
    """
    import sys

    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        return
    app.closeAllWindows()
    app.processEvents()
    import shiboken6

    shiboken6.delete(app)


def pytest_sessionfinish(session, exitstatus):
    """In CI, running no render or no GUI test is a failure, not a quiet success."""
    _release_the_display()
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    if session.config.option.collectonly or getattr(session.config.option, "keyword", ""):
        return
    missing = [t for t in ("render", "gui") if _TIER_OUTCOMES[(t, "passed")] == 0]
    if missing and exitstatus == 0 and not session.config.args_were_narrowed:
        print(f"\nCI: no {' or '.join(missing)} test passed — failing the run.")
        session.exitstatus = 1


def pytest_configure(config):
    default_args = [str(p) for p in config.getini("testpaths")]
    config.args_were_narrowed = list(config.args) not in ([], default_args)


@pytest.fixture(autouse=True, scope="session")
def _private_user_data(tmp_path_factory):
    """Progress, results and settings written by tests go to a temporary folder, never into
    the real user's data directory."""
    path = tmp_path_factory.mktemp("user-data")
    old = os.environ.get("IDDSANATOMY_USER_DATA")
    os.environ["IDDSANATOMY_USER_DATA"] = str(path)
    yield path
    if old is None:
        os.environ.pop("IDDSANATOMY_USER_DATA", None)
    else:
        os.environ["IDDSANATOMY_USER_DATA"] = old


@pytest.fixture(scope="session")
def default_anatomy():
    """The shipped default anatomy, loaded once per test session."""
    from iddsanatomy.anatomy import load_anatomy

    return load_anatomy()


@pytest.fixture(scope="session")
def shared_dir():
    """``../shared`` reference material. Missing in CI is a failure; elsewhere a skip."""
    from iddsanatomy.paths import shared_dir as find

    path = find()
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("../shared is missing, and CI must run the comparison tests")
        pytest.skip("../shared is not beside this checkout")
    return path
