"""The Qt user interface: main window, explorer panels, hosted panels. Wiring only.

Importing this package does not import Qt (``launch`` checks the display first). It applies one
guard, for Python 3.11: PySide6 6.12.0 drops a reference to ``None`` on every call of a
void-returning method (``update()``, ``setText()``, ``processEvents()``...; measured here:
-100 references per 100 calls; 6.11.3 does not). On Python 3.11, where ``None`` is an ordinary
reference-counted object, a few thousand such calls deallocate ``None`` and the interpreter
aborts ("none_dealloc"). Python 3.12+ makes ``None`` immortal, which is all the guard does here:
it adds 2**40 to ``None``'s count. Pin ``PySide6-Essentials!=6.12.0`` as well.
"""

from __future__ import annotations

import sys


def _make_none_immortal() -> None:
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    # ob_refcnt is the first field of every CPython object
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40


_make_none_immortal()
