"""One small error hierarchy. Logic raises these; the UI catches them at the action boundary."""

from __future__ import annotations


class IddsError(Exception):
    """Base class of every error the tool raises on purpose."""


class DataNotFoundError(IddsError):
    """A data folder (meshes, lessons) could not be found; the message lists every place looked."""


class MeshLoadError(IddsError):
    """A mesh file is missing, truncated or not a mesh. Names the structure and the file."""

    def __init__(self, structure_id: str, path: str, reason: str):
        self.structure_id = structure_id
        self.path = path
        self.reason = reason
        super().__init__(f"structure {structure_id!r}: cannot load {path}: {reason}")


class ValidationError(IddsError):
    """A value is out of range or contradicts another; names the field and what was allowed."""


class LessonError(IddsError):
    """A lesson or question bank is invalid; carries a list of located problems."""


class GeometryError(IddsError):
    """A geometric request makes no sense (entry point not on the skin, NaN angle, ...)."""


class DisplayUnavailableError(IddsError):
    """The GUI cannot start: no display or missing system libraries."""
