"""Start the app, after checking — without importing Qt — that a window can be opened.

Qt aborts the whole process (a C++ ``qFatal``) when its xcb platform plugin cannot connect to a
display or load a system library, after printing advice that is often wrong (it names
``libxcb-cursor0`` even when another library is missing). So before Qt is imported we check
what the plugin needs with :mod:`ctypes` and print one message that names what is missing and
the command that installs it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# shared library -> Debian/Ubuntu package (the list .ci/run installs; see README)
XCB_LIBRARIES: dict[str, str] = {
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
}

EXIT_NO_DISPLAY = 2


def missing_libraries(libraries: dict[str, str] | None = None) -> dict[str, str]:
    """The shared libraries (of ``libraries``) that cannot be loaded, with their package."""
    missing = {}
    for lib, package in (libraries or XCB_LIBRARIES).items():
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing[lib] = package
    return missing


def _x_display_opens(display: str) -> bool:
    try:
        x11 = ctypes.CDLL("libX11.so.6")
    except OSError:
        return True  # reported as a missing library instead
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        return False
    x11.XCloseDisplay(handle)
    return True


def display_problems(environ=None, platform: str | None = None) -> list[str]:
    """Why the GUI cannot start here, as sentences for a person; empty when it can.

    Only Linux (xcb) is checked; on macOS and Windows Qt brings what it needs.
    """
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if not platform.startswith("linux"):
        return []
    problems: list[str] = []
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa.startswith(("offscreen", "minimal")):
        problems.append(
            f"QT_QPA_PLATFORM={qpa} has no OpenGL window, and the 3D view needs one. "
            "Unset it (or set QT_QPA_PLATFORM=xcb)."
        )
    display = env.get("DISPLAY", "")
    if not display and not env.get("WAYLAND_DISPLAY"):
        problems.append(
            "No display: DISPLAY is not set, so there is no screen to open the window on. "
            "Run it from a desktop session, or under a virtual display: xvfb-run -a iddsanatomy"
        )
    missing = missing_libraries()
    if missing:
        libs = ", ".join(missing)
        pkgs = " ".join(dict.fromkeys(missing.values()))
        problems.append(
            f"Missing system libraries that Qt's window system plugin needs: {libs}. "
            f"Install them with: sudo apt-get install -y {pkgs}"
        )
    elif display and not _x_display_opens(display):
        problems.append(
            f"Cannot connect to the X display DISPLAY={display} (is the X server running, "
            "and may this user use it?)."
        )
    return problems


def launch(argv: list[str] | None = None) -> int:
    """Open the main window; return the exit code (``2`` when no GUI can start here)."""
    problems = display_problems()
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        print(
            "iddsanatomy: cannot open the app window:\n"
            f"{lines}\n"
            "Headless work needs no window: try 'iddsanatomy snapshot --out view.png' "
            "or 'iddsanatomy --help'.",
            file=sys.stderr,
        )
        return EXIT_NO_DISPLAY
    from iddsanatomy.ui.app import run_app

    return run_app(argv)
