"""LessonRunner: steps through a lesson and sets the scene. Core only (no GUI).

The scene of step *k* is a pure function of the lesson: the start scene, then every step's
``scene`` up to *k* folded in order (a field a step leaves out keeps its previous value; a step
with ``reset: true`` starts again from the start scene). Applying a step only *assigns* the
resulting values to :class:`~iddsanatomy.scene.SceneState` fields, so step *k* always gives the
same scene however the trainee got there (next, back or a jump).

A *planned* needle (``needle: {interspace: L3-L4, approach: midline, target: intrathecal}``) is
placed when its step is shown, by the needle path finder on the anatomy of the patient that step
shows: ``anatomy_for(variant)`` when the runner was given one, else the runner's ``anatomy`` when
it is that patient. Until the patient's anatomy is there (the app builds it in the background and
calls :meth:`LessonRunner.set_anatomy`) the needle waits; a plan with no clear path on that patient
is a :class:`~iddsanatomy.lessons.scene_spec.NeedlePlanError` that the step shows in its message
(and :meth:`LessonRunner.needle_problem` returns) while the lesson goes on.

Placing a plan searches a few hundred needle paths (≈0.1 s, plus ≈1.5 s the first time on a new
patient, whose needle analyser is built then). A runner made with ``place_later=True`` (the app's)
does not place plans itself: the step is shown without its needle and
``events.needle_pending(index, plan, anatomy)`` asks the caller to run :func:`place_plan` (on a
worker thread) and hand the result back with :meth:`LessonRunner.placed`, which shows the needle
if the trainee is still on a step that shows that plan on that patient.
"""

from __future__ import annotations

from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any

from psygnal import Signal, SignalGroup

from iddsanatomy.errors import IddsError, LessonError
from iddsanatomy.lessons import names
from iddsanatomy.lessons.scene_spec import NeedlePlanError, NeedlePlanSpec, SceneSpec
from iddsanatomy.scene import Camera, ClipPlane, SceneState

#: The SceneState fields a lesson sets at every step (``catheter`` only through a planned needle).
CONTROLLED = (
    "visible",
    "highlighted",
    "selected",
    "opacity",
    "labels",
    "camera",
    "clip",
    "variant",
    "carm",
    "fluoro_open",
    "needle",
    "needle_mode",
    "catheter",
    "message",
)

_DEFAULT = object()


def default_scene() -> dict[str, Any]:
    """The values of a fresh :class:`SceneState` for the fields a lesson controls."""
    fresh = SceneState()
    return {f.name: getattr(fresh, f.name) for f in dc_fields(SceneState) if f.name in CONTROLLED}


class RefResolver:
    """Expands structure references with a catalog (or passes exact ids through without one)."""

    def __init__(self, catalog, groups):
        self.catalog = catalog
        self.groups = groups

    def __call__(self, refs) -> list[str]:
        if self.catalog is None:
            out: list[str] = []
            for r in refs:
                if r.startswith("@") and r[1:] in self.groups:
                    out.extend(self(self.groups[r[1:]]))
                elif not r.startswith("@") and not any(c in r for c in "*?["):
                    out.append(r)
            return list(dict.fromkeys(out))
        return self.catalog.expand(refs, self.groups)


def same_patient(a: Any, b: Any) -> bool:
    """Whether two patient variants are the same patient (``None`` is the default one)."""
    try:
        from iddsanatomy.anatomy.variant import PatientVariant
    except ImportError:
        return a == b
    return (a or PatientVariant()) == (b or PatientVariant())


def patient_anatomies(base: Any) -> Any:
    """``anatomy_for(variant)``: the anatomy of each patient, built from the default ``base``
    (cached; ``base`` itself for the default patient), for headless runs of a lesson."""
    cache: dict[str, Any] = {}

    def anatomy_for(variant: Any) -> Any:
        if same_patient(variant, getattr(base, "variant", None)):
            return base
        key = variant.model_dump_json() if hasattr(variant, "model_dump_json") else repr(variant)
        if key not in cache:
            from iddsanatomy.anatomy.variation import apply_variant

            cache[key] = apply_variant(base, variant)
        return cache[key]

    return anatomy_for


def apply_spec(
    prev: dict[str, Any],
    spec: SceneSpec,
    refs,
    anatomy: Any = None,
    resolve_needles: bool = True,
) -> dict[str, Any]:
    """The scene after ``spec``: fields ``spec`` sets replace (or merge into) ``prev``'s.

    A planned needle is placed on ``anatomy`` (raises
    :class:`~iddsanatomy.lessons.scene_spec.NeedlePlanError` when it cannot be); with
    ``resolve_needles=False`` the plan itself is kept as the scene's needle, for the caller to
    place (the runner does, on the patient of each step).
    """
    s = dict(prev)
    given = spec.model_fields_set
    if "camera" in given:
        c = spec.camera
        s["camera"] = (
            Camera()
            if c is None
            else Camera(
                view=c.view,
                position_lps=c.position_lps,
                focal_point_lps=c.focal_point_lps,
                up=c.up,
                zoom=c.zoom,
                focus=refs([c.focus])[0] if c.focus else None,
            )
        )
    if "visible" in given:
        s["visible"] = frozenset(refs(spec.visible or []))
    if spec.show:
        s["visible"] = s["visible"] | frozenset(refs(spec.show))
    if spec.hide:
        s["visible"] = s["visible"] - frozenset(refs(spec.hide))
    if "highlight" in given:
        s["highlighted"] = frozenset(refs(spec.highlight or []))
    if "select" in given:
        s["selected"] = refs([spec.select])[0] if spec.select else None
    if "opacity" in given:
        if spec.opacity is None:
            s["opacity"] = {}
        else:
            merged = dict(s["opacity"])
            for ref, value in spec.opacity.items():
                for sid in refs([ref]):
                    merged[sid] = float(value)
            s["opacity"] = merged
    if "labels" in given:
        s["labels"] = frozenset(spec.labels or [])
    if "clip" in given:
        c = spec.clip
        s["clip"] = (
            None
            if c is None
            else ClipPlane(origin_lps=c.origin_lps, normal=c.plane_normal(), kind=c.kind)
        )
    if "variant" in given:
        s["variant"] = spec.variant.build() if spec.variant is not None else None
    if "carm" in given:
        s["carm"] = spec.carm.build(anatomy) if spec.carm is not None else None
    if "fluoro_open" in given:
        s["fluoro_open"] = bool(spec.fluoro_open)
    if "needle" in given:
        s["catheter"] = None  # a catheter belongs to the needle it was threaded through
        if spec.needle is None:
            s["needle"], s["needle_mode"] = None, "off"
        elif spec.needle == "trainee":
            s["needle"], s["needle_mode"] = None, "trainee"
        elif isinstance(spec.needle, NeedlePlanSpec):
            if not resolve_needles:
                s["needle"] = spec.needle
            elif anatomy is None:
                raise NeedlePlanError(
                    f"the planned {spec.needle.describe()} needs an anatomy to be placed on"
                )
            else:
                s["needle"] = spec.needle.build(anatomy)
                s["catheter"] = spec.needle.build_catheter(anatomy, s["needle"])
            s["needle_mode"] = "fixed"
        else:
            s["needle"], s["needle_mode"] = spec.needle.build(), "fixed"
    if "message" in given:
        s["message"] = spec.message or ""
    return s


def place_plan(plan: NeedlePlanSpec, anatomy: Any) -> tuple[tuple[Any, Any], Any]:
    """``((pose, catheter), problem)``: ``plan`` placed on ``anatomy`` (the needle path finder,
    then the catheter threaded through the needle); ``((None, None), NeedlePlanError)`` when it
    cannot be. Pure: safe to run on a worker thread while the scene is shown."""
    try:
        pose = plan.build(anatomy)
        return (pose, plan.build_catheter(anatomy, pose)), None
    except NeedlePlanError as exc:
        return (None, None), exc


class RunnerEvents(SignalGroup):
    """``step_changed(index, step)``, ``needle_problem(index, message)``,
    ``needle_pending(index, plan, anatomy)``, ``finished()``, ``reloaded()``."""

    step_changed = Signal(int, object)
    #: (index, message): a planned needle of the step shown could not be placed ("" when fine)
    needle_problem = Signal(int, str)
    #: (index, plan, anatomy): with ``place_later``, the step shown waits for this plan to be
    #: placed on this anatomy (run :func:`place_plan`, then :meth:`LessonRunner.placed`)
    needle_pending = Signal(int, object, object)
    finished = Signal()
    reloaded = Signal()


class LessonRunner:
    """Runs one lesson against a :class:`SceneState`.

    Parameters
    ----------
    lesson : Lesson
        A validated lesson (see :func:`iddsanatomy.lessons.loader.load_lesson`).
    state : SceneState, optional
        The scene to drive; a fresh one by default.
    catalog : StructureCatalog or None, optional
        Expands patterns and groups (``L*.pedicle.*``, ``@bone``) to ids. Default: the shipped
        manifest's. The app passes the catalog of the anatomy it has loaded.
    path : Path, optional
        The lesson's file, for :meth:`reload`.
    anatomy : Anatomy, optional
        Centres C-arm poses on the level a step names (without it they stay at the origin), and
        carries the planned needles of the steps that show its patient.
    anatomy_for : callable, optional
        ``anatomy_for(variant)`` → the anatomy of that patient (``None``: the default one), for
        planned needles on every step (see :func:`patient_anatomies`). Without it a planned
        needle waits until :meth:`set_anatomy` gives the runner the step's patient.
    """

    def __init__(
        self,
        lesson,
        state: SceneState | None = None,
        catalog: Any = _DEFAULT,
        path: str | Path | None = None,
        anatomy: Any = None,
        anatomy_for: Any = None,
        place_later: bool = False,
    ):
        self.anatomy = anatomy
        self.anatomy_for = anatomy_for
        self.place_later = place_later
        self._placed: dict[tuple, tuple[Any, Any]] = {}
        self.state = state if state is not None else SceneState()
        self.catalog = names.default_catalog() if catalog is _DEFAULT else catalog
        self.path = Path(path) if path is not None else None
        self.events = RunnerEvents()
        self.index = -1
        self.visited: set[int] = set()
        self._set_lesson(lesson)

    @classmethod
    def load(
        cls,
        path: str | Path,
        state: SceneState | None = None,
        catalog: Any = _DEFAULT,
        anatomy: Any = None,
    ):
        """Load the lesson at ``path`` (raises :class:`LessonLoadError`) and make a runner."""
        from iddsanatomy.lessons.loader import load_lesson

        cat = names.default_catalog() if catalog is _DEFAULT else catalog
        return cls(load_lesson(path, cat), state, cat, path, anatomy)

    def _set_lesson(self, lesson) -> None:
        self.lesson = lesson
        refs = RefResolver(self.catalog, lesson.groups)
        start = apply_spec(
            default_scene(), lesson.start_scene, refs, self.anatomy, resolve_needles=False
        )
        self._scenes: list[dict[str, Any]] = []
        prev = start
        for step in lesson.steps:
            base = start if step.reset else prev
            prev = apply_spec(base, step.scene, refs, self.anatomy, resolve_needles=False)
            self._scenes.append(prev)
        self._start = start
        self._refs = refs

    # --- queries ------------------------------------------------------------------------------

    @property
    def n_steps(self) -> int:
        return len(self.lesson.steps)

    @property
    def step(self):
        """The current :class:`~iddsanatomy.lessons.schema.Step`, or ``None`` before start."""
        return self.lesson.steps[self.index] if self.index >= 0 else None

    @property
    def progress(self) -> float:
        """Share of the steps seen so far, 0–1."""
        return len(self.visited) / self.n_steps

    @property
    def at_end(self) -> bool:
        return self.index == self.n_steps - 1

    @property
    def finished(self) -> bool:
        return len(self.visited) == self.n_steps

    def scene_at(self, index: int, with_question: bool = True) -> dict[str, Any]:
        """The SceneState values step ``index`` sets (a new dict; pure for a given anatomy).

        A planned needle is placed on the step's patient: its pose, or ``None`` while that
        patient's anatomy is not there yet; when it cannot be placed the needle is off and the
        message says why (see :meth:`needle_problem`).
        """
        return self._scene_and_problem(index, with_question)[0]

    def needle_problem(self, index: int, with_question: bool = True) -> NeedlePlanError | None:
        """Why the planned needle of step ``index`` cannot be placed on its patient, or ``None``
        (no planned needle, placed, or waiting for the patient's anatomy)."""
        return self._scene_and_problem(index, with_question)[1]

    def planned_needle(self, index: int, with_question: bool = True) -> tuple[Any, Any]:
        """``(plan, variant)``: the planned needle step ``index`` shows (``None`` if it shows none)
        and the patient it is placed on."""
        s = self._unplaced(index, with_question)
        plan = s["needle"] if isinstance(s["needle"], NeedlePlanSpec) else None
        return plan, s["variant"]

    def _unplaced(self, index: int, with_question: bool) -> dict[str, Any]:
        s = dict(self._scenes[index])
        q = self.lesson.steps[index].question
        if with_question and q is not None and q.scene is not None:
            s = apply_spec(s, q.scene, self._refs, self.anatomy, resolve_needles=False)
        return s

    def _scene_and_problem(self, index: int, with_question: bool):
        s = self._unplaced(index, with_question)
        plan = s["needle"]
        if not isinstance(plan, NeedlePlanSpec):
            return s, None
        (pose, catheter), problem = self._place(plan, s["variant"])
        s["needle"], s["catheter"] = pose, catheter
        if problem is not None:
            step = self.lesson.steps[index]
            problem = NeedlePlanError(f"step {step.id!r}: {problem}")
            s["needle_mode"] = "off"
            s["message"] = f"Needle not shown: {problem}"
        return s, problem

    def _patient_anatomy(self, variant: Any) -> Any:
        if self.anatomy_for is not None:
            return self.anatomy_for(variant)
        if self.anatomy is not None and same_patient(
            variant, getattr(self.anatomy, "variant", None)
        ):
            return self.anatomy
        return None  # the app is still building this patient: set_anatomy will bring it

    def _place(self, plan: NeedlePlanSpec, variant: Any) -> tuple[tuple[Any, Any], Any]:
        """((pose, catheter), problem): ``plan`` placed on ``variant``'s anatomy (cached);
        ``(None, None)`` and the :class:`NeedlePlanError` when it cannot be; ``(None, None)``
        and no problem while it waits (for the patient, or with ``place_later``)."""
        try:
            anatomy = self._patient_anatomy(variant)
        except IddsError as exc:
            return (None, None), NeedlePlanError(
                f"the patient could not be built for the planned {plan.describe()}: {exc}"
            )
        if anatomy is None:
            return (None, None), None
        hit = self._placed.get((plan, id(anatomy)))
        if hit is None or hit[0] is not anatomy:
            if self.place_later:
                return (None, None), None
            result = place_plan(plan, anatomy)
            hit = self._placed[(plan, id(anatomy))] = (anatomy, result)
        return hit[1]

    def pending_placement(self, index: int, with_question: bool = True) -> tuple[Any, Any] | None:
        """``(plan, anatomy)`` when step ``index`` shows a planned needle that waits to be placed
        on that anatomy (``place_later``), else ``None``."""
        plan, variant = self.planned_needle(index, with_question)
        if plan is None:
            return None
        try:
            anatomy = self._patient_anatomy(variant)
        except IddsError:
            return None  # a problem, not a wait: _place reports it
        if anatomy is None:
            return None
        hit = self._placed.get((plan, id(anatomy)))
        return None if hit is not None and hit[0] is anatomy else (plan, anatomy)

    def placed(self, plan: NeedlePlanSpec, anatomy: Any, result: tuple) -> bool:
        """Take the ``result`` of :func:`place_plan` for ``plan`` on ``anatomy`` (computed
        elsewhere, e.g. on a worker thread); show it if the current step still waits for it and
        the trainee has not changed the needle since. Returns whether it was shown.

        A result for an anatomy the runner no longer uses (the patient changed meanwhile) is
        dropped; one for another step's plan is kept for when that step is shown.
        """
        current = self.anatomy_for is not None or anatomy is self.anatomy
        if not current:
            return False
        self._placed[(plan, id(anatomy))] = (anatomy, result)
        if self.index < 0:
            return False
        now, variant = self.planned_needle(self.index)
        if now != plan or self._patient_anatomy(variant) is not anatomy:
            return False  # the trainee has moved on
        st = self.state
        if st.needle is not None or st.needle_mode != "fixed":
            return False  # the trainee took the needle meanwhile
        scene, problem = self._scene_and_problem(self.index, True)
        for name in ("needle", "needle_mode", "catheter", "message"):
            setattr(st, name, scene[name])
        self.events.needle_problem.emit(self.index, "" if problem is None else str(problem))
        return True

    def shown_plan(self) -> NeedlePlanSpec | None:
        """The planned needle the scene shows for the current step (placed, waiting to be placed,
        or not placeable), or ``None`` when the step has none or the needle in the scene is no
        longer the one the runner put there (the trainee moved it). "Copy scene as YAML" writes
        this plan rather than the needle's coordinates."""
        if self.index < 0:
            return None
        plan, _variant = self.planned_needle(self.index)
        if plan is None:
            return None
        scene = self.scene_at(self.index)
        st = self.state
        if st.needle is scene["needle"] and st.needle_mode == scene["needle_mode"]:
            return plan
        return None

    def _ask_placement(self, index: int) -> None:
        wait = self.pending_placement(index) if self.place_later else None
        if wait is not None:
            self.events.needle_pending.emit(index, *wait)

    # --- navigation ---------------------------------------------------------------------------

    def start(self) -> None:
        """Go to the first step."""
        self.jump(0)

    def next(self) -> bool:
        """Go to the next step; ``False`` (and nothing changes) at the last one."""
        if self.index >= self.n_steps - 1:
            return False
        self.jump(self.index + 1)
        return True

    def back(self) -> bool:
        """Go to the previous step; ``False`` at the first one."""
        if self.index <= 0:
            return False
        self.jump(self.index - 1)
        return True

    def jump(self, step: int | str) -> None:
        """Go to step ``step`` (index or id)."""
        if isinstance(step, str):
            try:
                index = self.lesson.step_index(step)
            except KeyError:
                ids = [s.id for s in self.lesson.steps]
                raise LessonError(
                    f"lesson {self.lesson.id!r} has no step {step!r}{names.suggest(step, ids)}"
                ) from None
        else:
            index = int(step)
            if not 0 <= index < self.n_steps:
                raise LessonError(
                    f"step {index} is out of range: lesson {self.lesson.id!r} has steps "
                    f"0–{self.n_steps - 1}"
                )
        was_finished = self.finished
        self.index = index
        self.visited.add(index)
        self.apply(index)
        self.events.step_changed.emit(index, self.lesson.steps[index])
        if self.finished and not was_finished:
            self.events.finished.emit()

    def apply(self, index: int) -> None:
        """Assign step ``index``'s scene to the state (only assignments, so every change emits)."""
        scene, problem = self._scene_and_problem(index, True)
        for name, value in scene.items():
            setattr(self.state, name, value)
        self.events.needle_problem.emit(index, "" if problem is None else str(problem))
        self._ask_placement(index)

    def set_anatomy(self, anatomy: Any) -> None:
        """Use another anatomy (a new patient): re-centres the current step's C-arm pose and
        places its planned needle on it, unless the trainee changed them since the step was
        applied."""
        before = self.scene_at(self.index) if self.index >= 0 else None
        self.anatomy = anatomy
        self._placed.clear()
        self._set_lesson(self.lesson)
        if before is None:
            return
        after, problem = self._scene_and_problem(self.index, True)
        if self.state.carm == before["carm"]:
            self.state.carm = after["carm"]
        st = self.state
        if st.needle is before["needle"] and st.needle_mode == before["needle_mode"]:
            for name in ("needle", "needle_mode", "catheter", "message"):
                setattr(self.state, name, after[name])
            self.events.needle_problem.emit(self.index, "" if problem is None else str(problem))
            self._ask_placement(self.index)

    def reload(self, lesson=None) -> None:
        """Swap in an edited lesson (from ``self.path`` by default), keeping the current step by
        id (or the nearest index when it was removed). Raises :class:`LessonLoadError` and keeps
        the old lesson when the new one is broken."""
        if lesson is None:
            if self.path is None:
                raise LessonError("this runner has no lesson file to reload from")
            from iddsanatomy.lessons.loader import load_lesson

            lesson = load_lesson(self.path, self.catalog)
        current = self.step.id if self.step is not None else None
        self._set_lesson(lesson)
        ids = [s.id for s in lesson.steps]
        self.visited = {i for i in self.visited if i < self.n_steps}
        self.events.reloaded.emit()
        if current is None:
            return
        index = ids.index(current) if current in ids else min(self.index, self.n_steps - 1)
        self.jump(index)
