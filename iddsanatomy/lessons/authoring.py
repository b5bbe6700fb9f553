"""Tools for lesson authors: a commented skeleton, and the current scene written as YAML."""

from __future__ import annotations

import re
from typing import Any

from iddsanatomy.errors import LessonError

SKELETON = """\
# A lesson for iddsanatomy. Check it with:  iddsanatomy lessons check {file}
# The field reference is lessons/README.md; `iddsanatomy lessons schema` gives editor completion.
schema_version: 1
id: {id}
title: {title}
summary: One or two sentences shown in the lesson library.
objectives:                       # what the trainee can do afterwards
  - Name the lumbar vertebrae in 3D
audience: Clinicians preparing for an IDDS trial
minutes: 10                       # estimated time
authors: [Your Name]
references:                       # cite every fact the text states
  - Saifuddin A, Burnett SJ, White J. Spine 1998;23(13):1452-6.

# groups:                         # optional named groups, used as @name below
#   lumbar: [L1, L2, L3, L4, L5]

start_scene:                      # the scene before step 1, and what `reset: true` returns to
  visible: ["@bone"]              # ids, patterns (L*.pedicle.*) or groups (@bone, @ligament)
  camera: posterior               # posterior, anterior, left, right, oblique_left_30, ...

steps:
  - id: intro                     # unique, kept when you edit (live reload keeps the step)
    title: The lumbar spine from behind
    text: |
      Markdown text. **Bold**, lists, and citations (Saifuddin 1998).
    scene:                        # only what changes; left-out fields carry over
      highlight: [L3]

  - id: window
    title: The L3–L4 interlaminar window
    text: The needle passes through this window.
    scene:
      highlight: [interlaminar.L3-L4]
      # variant: obese            # a patient preset, or {{preset: obese, bmi: 45}}
      # carm: {{preset: ap, level: L3-L4}}
      # fluoro_open: true
    # question:                   # optional: see the question types in lessons/README.md
    #   id: q-window
    #   type: identify
    #   prompt: Click the L3–L4 interlaminar space.
    #   answer: interlaminar.L3-L4
"""


def skeleton(lesson_id: str, file: str = "") -> str:
    """A commented lesson skeleton that passes ``lessons check``."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", lesson_id):
        raise LessonError(
            f"lesson id {lesson_id!r} must be lower-case letters, digits, '-', '_' or '.', "
            "e.g. 'counting-levels'"
        )
    title = lesson_id.replace("-", " ").replace("_", " ").capitalize()
    return SKELETON.format(id=lesson_id, title=title, file=file or f"{lesson_id}.yaml")


def _r(v: Any, nd: int = 1) -> Any:
    if isinstance(v, float):
        return round(v, nd)
    if isinstance(v, list | tuple):
        return [_r(x, nd) for x in v]
    return v


def _variant_yaml(variant: Any) -> Any:
    if variant is None:
        return None
    try:
        from iddsanatomy.anatomy.variant import PatientVariant, preset, preset_names
    except ImportError:
        return getattr(variant, "model_dump", lambda: str(variant))()
    if not isinstance(variant, PatientVariant):
        dump = getattr(variant, "model_dump", None)
        return dump(exclude_defaults=True) if dump else str(variant)
    for name in preset_names():
        if preset(name) == variant:
            return name
    default = PatientVariant()
    out: dict[str, Any] = {}
    for k in PatientVariant.model_fields:
        v = getattr(variant, k)
        if k != "name" and v != getattr(default, k):
            out[k] = list(v) if isinstance(v, tuple) else v
    return out or "average adult"


def _carm_yaml(carm: Any) -> Any:
    if carm is None:
        return None
    if hasattr(carm, "model_dump"):
        return carm.model_dump(exclude_none=True)
    out: dict[str, Any] = {
        "orbital_deg": _r(float(getattr(carm, "orbital_deg", 0.0))),
        "cranial_tilt_deg": _r(float(getattr(carm, "cranial_tilt_deg", 0.0))),
    }
    level = getattr(carm, "level", None)
    if level:
        out["level"] = level
    else:
        out["centre_lps"] = _r([float(x) for x in getattr(carm, "centre_lps", (0, 0, 0))])
    return out


def _needle_yaml(needle: Any, mode: str) -> Any:
    if mode == "trainee":
        return "trainee"
    if needle is None:
        return None
    if hasattr(needle, "model_dump"):
        return needle.model_dump(exclude_none=True)
    entry = [float(x) for x in needle.entry_lps]
    direction = [float(x) for x in needle.direction]
    depth = float(getattr(needle, "depth_mm", 0.0))
    reach = depth if depth > 1.0 else 50.0  # a target must differ from the entry
    out: dict[str, Any] = {
        "entry_lps": _r(entry),
        "target_lps": _r([e + d * reach for e, d in zip(entry, direction, strict=True)]),
        "depth_mm": _r(depth),
    }
    if getattr(needle, "needle_type", None):
        out["needle_type"] = needle.needle_type
    return out


def _plan_yaml(plan: Any) -> dict[str, Any]:
    """A planned needle as an author writes it: the fields that differ from their defaults."""
    return plan.model_dump(mode="json", exclude_defaults=True)


def scene_as_yaml(state, plan: Any = None) -> str:
    """The scene of ``state`` as a ``scene:`` block an author can paste into a step.

    ``plan``: the planned needle (a
    :class:`~iddsanatomy.lessons.scene_spec.NeedlePlanSpec`) the scene's needle was placed from
    (:meth:`~iddsanatomy.lessons.runner.LessonRunner.shown_plan`); it is written instead of the
    needle's coordinates, so that the pasted step places the needle on its own patient again.
    """
    import yaml

    cam = state.camera
    if cam.view is not None:
        camera: Any = (
            cam.view
            if cam.zoom == 1.0 and not cam.focus
            else {
                "view": cam.view,
                **({"zoom": _r(cam.zoom, 2)} if cam.zoom != 1.0 else {}),
                **({"focus": cam.focus} if cam.focus else {}),
            }
        )
    else:
        camera = {
            "position_lps": _r(list(cam.position_lps)),
            "focal_point_lps": _r(list(cam.focal_point_lps)),
        }
        if cam.up is not None:
            camera["up"] = _r(list(cam.up), 3)
        if cam.zoom != 1.0:
            camera["zoom"] = _r(cam.zoom, 2)
    scene: dict[str, Any] = {"camera": camera, "visible": sorted(state.visible)}
    if state.highlighted:
        scene["highlight"] = sorted(state.highlighted)
    if state.selected:
        scene["select"] = state.selected
    if state.opacity:
        scene["opacity"] = {k: _r(float(v), 2) for k, v in sorted(state.opacity.items())}
    if state.labels:
        scene["labels"] = sorted(state.labels)
    if state.clip is not None:
        scene["clip"] = {
            "kind": state.clip.kind,
            "origin_lps": _r(list(state.clip.origin_lps)),
            "normal": _r(list(state.clip.normal), 3),
        }
    scene["variant"] = _variant_yaml(state.variant)
    scene["carm"] = _carm_yaml(state.carm)
    scene["fluoro_open"] = bool(state.fluoro_open)
    if plan is not None:
        scene["needle"] = _plan_yaml(plan)
    else:
        scene["needle"] = _needle_yaml(state.needle, state.needle_mode)
    return yaml.safe_dump(
        {"scene": scene}, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100
    )
