"""The names a lesson may use: structure ids, patient presets, C-arm presets, named views.

Everything here is cheap: structure ids come from ``meshes/manifest.json`` (no mesh is loaded),
presets from the registries of the modules that own them, imported lazily. Where an owning
module does not exist yet, a small fallback list kept *only here* stands in for it.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from iddsanatomy.errors import DataNotFoundError, LessonError

#: Stand-in patient presets, used only while ``iddsanatomy.anatomy.variant`` is missing.
FALLBACK_PATIENT_PRESETS = ("average adult", "obese", "slim")
#: Stand-in C-arm presets, used only while ``iddsanatomy.fluoro.pose`` is missing.
FALLBACK_CARM_PRESETS = ("ap", "lateral", "oblique_left_30", "oblique_right_30")
#: Label sets the 3D view can draw (``SceneState.labels``).
LABEL_SETS = ("levels", "ribs", "interlaminar")


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Closest-name hint, via the anatomy registry's :func:`~iddsanatomy.anatomy.model.suggest`."""
    from iddsanatomy.anatomy.model import suggest as _suggest

    return _suggest(name, choices, n=n)


def patient_presets() -> tuple[str, ...]:
    """Names of the patient presets a lesson may name (the variant registry's, else fallback)."""
    try:
        from iddsanatomy.anatomy.variant import preset_names
    except ImportError:
        return FALLBACK_PATIENT_PRESETS
    return tuple(preset_names())


def carm_presets() -> tuple[str, ...]:
    """Names of the C-arm presets (``fluoro.pose.PRESETS`` and aliases, else fallback)."""
    try:
        from iddsanatomy.fluoro.pose import PRESET_ALIASES, PRESETS
    except ImportError:
        return FALLBACK_CARM_PRESETS
    return (*PRESETS, *PRESET_ALIASES)


@dataclass(frozen=True)
class StructureCatalog:
    """Structure ids and their tissues, as the manifest lists them; expands patterns and groups.

    A reference is an exact id (``L3.pedicle.left``), a glob pattern (``L*.pedicle.*``), or a group
    ``@name``: a tissue (``@bone``, ``@ligament``) or a group the lesson defines under ``groups``.
    """

    ids: tuple[str, ...]
    tissues: Mapping[str, str] = field(default_factory=dict)
    source: str = ""
    parts: frozenset[str] = frozenset()  # part ids (L3.pedicle.left): in no tissue group

    def tissue_groups(self) -> dict[str, tuple[str, ...]]:
        """Whole structures by tissue (``@bone`` is every bone, not every part of one)."""
        out: dict[str, list[str]] = {}
        for i in self.ids:
            if i in self.parts:
                continue
            t = self.tissues.get(i)
            if t:
                out.setdefault(t, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    def problem(self, ref: str, groups: Mapping[str, Iterable[str]] | None = None) -> str | None:
        """Why ``ref`` names nothing, with suggestions; ``None`` when it is fine."""
        groups = dict(groups or {})
        if ref.startswith("@"):
            name = ref[1:]
            known = {**self.tissue_groups(), **groups}
            if name in known:
                return None
            return f"unknown group {ref!r}{suggest(ref, ['@' + k for k in known])}"
        if any(ch in ref for ch in "*?["):
            if any(fnmatch.fnmatchcase(i, ref) for i in self.ids):
                return None
            return f"the pattern {ref!r} matches no structure id"
        if ref in self.ids:
            return None
        return f"unknown structure id {ref!r}{suggest(ref, self.ids)}"

    def expand(
        self, refs: Iterable[str], groups: Mapping[str, Iterable[str]] | None = None
    ) -> list[str]:
        """Concrete ids for ``refs`` in catalog order; raises :class:`LessonError` on a bad one."""
        groups = dict(groups or {})
        tissue = self.tissue_groups()
        out: list[str] = []
        for ref in refs:
            if ref.startswith("@"):
                name = ref[1:]
                if name in groups:
                    out.extend(self.expand(groups[name]))
                elif name in tissue:
                    out.extend(tissue[name])
                else:
                    raise LessonError(self.problem(ref, groups) or ref)
            elif any(ch in ref for ch in "*?["):
                out.extend(i for i in self.ids if fnmatch.fnmatchcase(i, ref))
            elif ref in self.ids:
                out.append(ref)
            else:
                raise LessonError(self.problem(ref, groups) or ref)
        return list(dict.fromkeys(out))


def _entries(data) -> list[dict]:
    """Manifest entries whatever the manifest's top-level shape (list, {"structures": ...}, map)."""
    if isinstance(data, dict):
        for key in ("structures", "meshes", "entries"):
            if key in data:
                return _entries(data[key])
        if all(isinstance(v, dict) for v in data.values()):
            return [{"id": k, **v} for k, v in data.items()]
    if isinstance(data, list):
        return [e if isinstance(e, dict) else {"id": str(e)} for e in data]
    raise LessonError("the mesh manifest has an unknown layout: expected a list of structures")


def catalog_from_manifest(path: str | Path) -> StructureCatalog:
    """Read structure ids (and tissues, and part ids of bones) from a manifest JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LessonError(f"cannot read the mesh manifest {path}: {exc}") from None
    ids: list[str] = []
    tissues: dict[str, str] = {}
    parts: set[str] = set()
    for e in _entries(data):
        sid = str(e.get("id", ""))
        if not sid:
            continue
        ids.append(sid)
        if e.get("tissue"):
            tissues[sid] = str(e["tissue"])
        if e.get("parent"):
            parts.add(sid)
        for part in e.get("parts", ()) or e.get("part_ids", ()) or ():
            pid = part.get("id") if isinstance(part, dict) else str(part)
            if pid:
                ids.append(pid)
                parts.add(pid)
    return StructureCatalog(
        tuple(dict.fromkeys(ids)), tissues, source=str(path), parts=frozenset(parts)
    )


@lru_cache(maxsize=8)
def _cached_catalog(path: str, mtime_ns: int) -> StructureCatalog:
    return catalog_from_manifest(path)


def default_catalog() -> StructureCatalog | None:
    """The shipped manifest's catalog, or ``None`` when no ``meshes/manifest.json`` exists yet."""
    from iddsanatomy.paths import data_dir

    try:
        path = data_dir("meshes") / "manifest.json"
    except DataNotFoundError:
        return None
    return _cached_catalog(str(path), path.stat().st_mtime_ns)


def catalog_from_anatomy(anatomy) -> StructureCatalog:
    """A catalog from a loaded :class:`~iddsanatomy.anatomy.model.Anatomy` (ids and tissues)."""
    ids: list[str] = []
    tissues: dict[str, str] = {}
    parts: set[str] = set()
    for sid, s in anatomy.structures.items():
        ids.append(sid)
        tissues[sid] = s.tissue
        if s.parent is not None:
            parts.add(sid)
        for pid in getattr(s, "part_ids", ()) or ():
            ids.append(pid)
            parts.add(pid)
    return StructureCatalog(
        tuple(dict.fromkeys(ids)), tissues, source="anatomy", parts=frozenset(parts)
    )
