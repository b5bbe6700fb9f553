"""Finding the shipped data (``meshes/``, ``lessons/``) and the user's data directory.

Order: an environment variable first (``IDDSANATOMY_MESHES``, ``IDDSANATOMY_LESSONS``), then the
data installed with the package (``iddsanatomy/_data/...`` in a wheel), then the source checkout.
When nothing is found the error lists every place that was looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

from iddsanatomy.errors import DataNotFoundError

_PACKAGE_DIR = Path(__file__).resolve().parent
_ENV = {"meshes": "IDDSANATOMY_MESHES", "lessons": "IDDSANATOMY_LESSONS"}
_MARKER = {"meshes": "manifest.json", "lessons": None}


def data_dir(kind: str) -> Path:
    """Return the folder holding the shipped ``kind`` ("meshes" or "lessons")."""
    if kind not in _ENV:
        raise ValueError(f"unknown data kind {kind!r}; expected one of {sorted(_ENV)}")
    candidates: list[tuple[str, Path]] = []
    env = os.environ.get(_ENV[kind])
    if env:
        candidates.append((f"${_ENV[kind]}", Path(env)))
    candidates.append(("installed package data", _PACKAGE_DIR / "_data" / kind))
    candidates.append(("source checkout", _PACKAGE_DIR.parent / kind))
    for _label, path in candidates:
        marker = _MARKER[kind]
        if path.is_dir() and (marker is None or (path / marker).is_file()):
            return path
    looked = "\n".join(f"  - {label}: {path}" for label, path in candidates)
    raise DataNotFoundError(f"could not find the {kind} folder; looked in:\n{looked}")


def repo_root() -> Path:
    """The source checkout's root (only meaningful when running from a checkout)."""
    return _PACKAGE_DIR.parent


def shared_dir() -> Path | None:
    """``../shared`` beside the checkout when present (reference material, never shipped)."""
    env = os.environ.get("IDDSANATOMY_SHARED")
    p = Path(env) if env else repo_root().parent / "shared"
    return p if p.is_dir() else None


def user_data_dir() -> Path:
    """Per-user folder for progress, results, screenshots (created on demand)."""
    env = os.environ.get("IDDSANATOMY_USER_DATA")
    if env:
        p = Path(env)
    else:
        import platformdirs

        p = Path(platformdirs.user_data_dir("iddsanatomy", appauthor=False))
    p.mkdir(parents=True, exist_ok=True)
    return p
