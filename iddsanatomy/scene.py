"""SceneState: *what* is shown — pure data that emits change events.

Upper layers (renderer, panels) subscribe to ``state.events.<field>``; lower layers and lessons
assign new values (``state.visible = state.visible | {"L3"}``) and never mutate in place, so
that every change is seen. Nothing here knows how anything is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import evented

NAMED_VIEWS = (
    "posterior",  # the prone patient seen from above: looking along -y (anterior)
    "anterior",
    "left",
    "right",
    "oblique_left_30",
    "oblique_right_30",
    "oblique_left_45",
    "oblique_right_45",
    "cranial",
    "caudal",
)


@dataclass(frozen=True)
class Camera:
    """A named view, or an explicit camera (LPS mm). ``view`` wins when both are given."""

    view: str | None = "posterior"
    position_lps: tuple[float, float, float] | None = None
    focal_point_lps: tuple[float, float, float] | None = None
    up: tuple[float, float, float] | None = None
    zoom: float = 1.0
    focus: str | None = None  # structure id to frame, if any


@dataclass(frozen=True)
class ClipPlane:
    """A cutting plane: ``origin_lps`` and ``normal``; what lies on the +normal side is removed."""

    origin_lps: tuple[float, float, float]
    normal: tuple[float, float, float]
    kind: str = "custom"  # sagittal | coronal | axial | oblique | custom


@evented
@dataclass
class SceneState:
    """Everything that decides what the 3D view (and the fluoro panel) shows.

    ``visible`` lists whole-structure ids (bones, soft tissue, spaces); a part id
    (``L3.lamina.left``) in ``highlighted`` or ``selected`` highlights that part of its bone.
    """

    visible: frozenset[str] = frozenset()
    highlighted: frozenset[str] = frozenset()
    selected: str | None = None
    opacity: dict[str, float] = field(default_factory=dict)
    labels: frozenset[str] = frozenset()  # "levels", "ribs", "interlaminar"
    camera: Camera = Camera()
    clip: ClipPlane | None = None
    variant: Any = None  # a PatientVariant (anatomy.variant) or None for the default anatomy
    carm: Any = None  # a fluoro CArmPose or None
    fluoro_open: bool = False
    needle: Any = None  # a needle NeedlePose or None
    needle_mode: str = "off"  # off | fixed | trainee
    catheter: Any = None
    message: str = ""  # a short line for the status bar
