"""The anatomy as the rest of the tool sees it: a registry of named structures.

Structure ids are a public interface (lessons name them); the scheme is documented in
``meshes/README.md``. Examples: ``L3`` (the whole bone), ``L3.pedicle.left`` (a part of it),
``disc.L3-L4``, ``ligamentum_flavum.L3-L4``, ``interlaminar.L3-L4``, ``conus``, ``dura``, ``skin``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import trimesh

TISSUES = (
    "bone",
    "disc",
    "ligament",
    "neural",
    "dura",
    "csf",
    "fat",
    "muscle",
    "skin",
    "scar",
    "metal",
    "region",  # a named space (interlaminar window): shown and targeted, no tissue of its own
)

LEVELS = ("T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1", "S2", "S3", "S4", "S5", "Co")


@dataclass(eq=False)
class Structure:
    """One named structure of the anatomy.

    Attributes
    ----------
    id : str
        Stable id (``L3.pedicle.left``).
    tissue : str
        One of :data:`TISSUES`.
    level : str or None
        Vertebral level (``L3``) or interspace (``L3-L4``) it belongs to, if any.
    display_name, description : str
        For trainees: "L3 left pedicle", and one or two sentences.
    mesh : trimesh.Trimesh or None
        Surface in LPS mm; ``None`` when loading failed (see ``error``).
    color : (3,) float in [0, 1]
    parent : str or None
        For a part of a bone, the bone's id; the part's faces are ``face_labels == part_index``.
    closed : bool
        Whether the mesh is meant to be watertight (bones, discs, soft tissue) or a patch (parts).
    face_labels : (n_faces,) int or None
        For a bone: index into ``part_ids`` for every face of ``mesh``.
    part_ids : tuple of str
        For a bone: the ids of its parts in label order.
    coarse : trimesh.Trimesh or None
        A lighter level of detail to draw while the camera moves.
    error : str or None
        Why the mesh could not be loaded.
    """

    id: str
    tissue: str
    display_name: str
    description: str = ""
    level: str | None = None
    mesh: trimesh.Trimesh | None = None
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    parent: str | None = None
    closed: bool = True
    face_labels: np.ndarray | None = None
    part_ids: tuple[str, ...] = ()
    coarse: trimesh.Trimesh | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.mesh is not None and self.error is None


@dataclass(eq=False)
class Anatomy:
    """A patient's anatomy: structures by id, landmarks and per-level frames, all LPS mm."""

    structures: dict[str, Structure]
    landmarks_lps: dict[str, np.ndarray] = field(default_factory=dict)
    lps_from_level: dict[str, np.ndarray] = field(default_factory=dict)
    variant: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, structure_id: str) -> bool:
        return structure_id in self.structures

    def __getitem__(self, structure_id: str) -> Structure:
        return self.structures[structure_id]

    @property
    def errors(self) -> Mapping[str, str]:
        """Structures that failed to load, with the reason."""
        return {k: s.error for k, s in self.structures.items() if s.error}

    def ids(self, patterns: str | Iterable[str]) -> list[str]:
        """Expand glob patterns (``L*.pedicle.*``) to the matching ids, in registry order.

        A pattern without wildcards must name an existing id, else KeyError with suggestions.
        """
        if isinstance(patterns, str):
            patterns = [patterns]
        out: list[str] = []
        for pat in patterns:
            if any(ch in pat for ch in "*?["):
                out.extend(i for i in self.structures if fnmatch.fnmatchcase(i, pat))
            elif pat in self.structures:
                out.append(pat)
            else:
                raise KeyError(f"unknown structure id {pat!r}{suggest(pat, self.structures)}")
        return list(dict.fromkeys(out))

    def by_tissue(self, tissue: str) -> list[str]:
        return [k for k, s in self.structures.items() if s.tissue == tissue]

    def part_at(self, structure_id: str, face_index: int) -> str:
        """The id of the part that face ``face_index`` of ``structure_id`` belongs to."""
        s = self.structures[structure_id]
        if s.face_labels is None or not s.part_ids:
            return structure_id
        return s.part_ids[int(s.face_labels[face_index])]

    def closed_meshes(self, tissues: Iterable[str] | None = None) -> dict[str, trimesh.Trimesh]:
        """The watertight whole-structure meshes (no parts, no failed ones), by id."""
        wanted = set(tissues) if tissues is not None else None
        return {
            k: s.mesh
            for k, s in self.structures.items()
            if s.ok and s.closed and s.parent is None and (wanted is None or s.tissue in wanted)
        }


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return " (did you mean 'a', 'b'?)" for the closest ``choices`` to ``name``, or ""."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.5)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
