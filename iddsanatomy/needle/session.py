"""A needle-placement attempt as a sequence of moves, with the metrics that simulators score.

The metrics follow what validated needle-insertion simulators report (number of passes and
redirections, bone contacts, path length, time, final position versus target, dural puncture,
neural contact): the trainee sees them after each attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from iddsanatomy.anatomy.model import Anatomy
from iddsanatomy.errors import GeometryError, ValidationError
from iddsanatomy.needle.analysis import NeedleAnalysis, NeedleEvent, analyser_for
from iddsanatomy.needle.catheter import Catheter, thread_catheter
from iddsanatomy.needle.pose import NeedlePose

TARGETS = ("epidural", "intrathecal")


@dataclass(frozen=True)
class NeedlePlan:
    """What the trainee means to do.

    Attributes
    ----------
    target : {"epidural", "intrathecal"}
    interspace : str or None
        ``"L3-L4"``.
    catheter_level : str or None
        Where the catheter tip should end: ``"L1.lower"`` or ``"T12-L1"``.
    """

    target: str = "intrathecal"
    interspace: str | None = "L3-L4"
    catheter_level: str | None = None

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValidationError(f"plan target must be one of {TARGETS}, got {self.target!r}")
        if self.catheter_level is not None:
            from iddsanatomy.anatomy.variant import position_units

            position_units(self.catheter_level)


@dataclass(frozen=True)
class NeedleMetrics:
    """The scores of one attempt (see the module docstring)."""

    skin_punctures: int
    redirections: int
    withdrawals: int
    bone_contacts: int
    path_length_mm: float  # distance the tip travelled in tissue, forwards and back
    time_s: float
    final_structure: str | None
    final_level: str | None
    target_reached: bool
    interlaminar: str | None
    interspace_as_planned: bool | None
    dural_puncture: bool
    unplanned_dural_puncture: bool
    neural_contacts: tuple[str, ...]
    catheter_level: str | None
    catheter_error_units: float | None  # catheter tip vs planned level, position units (+ caudal)

    @property
    def passes(self) -> int:
        return self.skin_punctures + self.redirections

    def as_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        d["passes"] = self.passes
        return d

    def summary_lines(self, name: Callable[[str], str] | None = None) -> list[str]:
        """Short lines for the summary panel; ``name`` turns a structure id into words."""
        if name is None:

            def name(sid: str) -> str:
                if sid == "unlabelled":
                    return "tissue not modelled"
                return sid.replace("_", " ")

        lines = [
            f"Passes: {self.passes} ({self.skin_punctures} skin, {self.redirections} redirections)",
            f"Bone contacts: {self.bone_contacts}",
            f"Path in tissue: {self.path_length_mm:.0f} mm; time {self.time_s:.0f} s",
            f"Tip: {name(self.final_structure) if self.final_structure else 'outside'} at "
            f"{self.final_level or '?'}"
            + (" — target reached" if self.target_reached else " — target not reached"),
        ]
        if self.interlaminar:
            ok = {True: " (as planned)", False: " (not the planned level)", None: ""}
            lines.append(f"Interlaminar space: {self.interlaminar}{ok[self.interspace_as_planned]}")
        if self.unplanned_dural_puncture:
            lines.append("Dural puncture during an epidural — a complication.")
        if self.neural_contacts:
            lines.append("Neural contact: " + ", ".join(name(i) for i in self.neural_contacts))
        if self.catheter_level:
            err = self.catheter_error_units
            tail = "" if err is None else f" ({err:+.0f} units from the plan)"
            lines.append(f"Catheter tip: {self.catheter_level}{tail}")
        return lines


@dataclass
class _Tally:
    punctures: int = 0
    redirections: int = 0
    withdrawals: int = 0
    bone_contacts: int = 0
    path_mm: float = 0.0
    t0: float | None = None
    dural: bool = False
    neural: list[str] = field(default_factory=list)


def _fat_end(crossings, default: float) -> float:
    return next((c.entry_depth_mm for c in crossings if c.tissue not in ("skin", "fat")), default)


class NeedleSession:
    """Records moves on one anatomy and produces :class:`NeedleMetrics`.

    Every move validates first and changes nothing if it fails. ``on_event(callback)``
    registers ``callback(event: NeedleEvent)``, called for each event a move newly causes
    (a dural puncture during a planned epidural is raised to ``"critical"``).
    """

    def __init__(
        self,
        anatomy: Anatomy,
        plan: NeedlePlan | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.anatomy = anatomy
        self.plan = plan or NeedlePlan()
        self.clock = clock
        self.analyser = analyser_for(anatomy)
        self.pose: NeedlePose | None = None
        self.analysis: NeedleAnalysis | None = None
        self.catheter: Catheter | None = None
        self.history: list[NeedleMetrics] = []
        self._tally = _Tally()
        self._callbacks: list[Callable[[NeedleEvent], None]] = []

    # -- events -----------------------------------------------------------------------------
    def on_event(self, callback: Callable[[NeedleEvent], None]) -> None:
        self._callbacks.append(callback)

    def _grade(self, e: NeedleEvent) -> NeedleEvent:
        if e.kind == "dural_puncture" and self.plan.target == "epidural":
            return replace(
                e,
                severity="critical",
                message=f"Accidental dural puncture at {e.depth_mm:.1f} mm — an epidural "
                "was planned.",
            )
        return e

    def _emit(self, before: NeedleAnalysis | None, after: NeedleAnalysis) -> None:
        old = {(e.kind, e.structure_id) for e in before.events} if before else set()
        for e in after.events:
            if (e.kind, e.structure_id) not in old:
                e = self._grade(e)
                if e.kind == "bone_contact":
                    self._tally.bone_contacts += 1
                if e.kind == "dural_puncture":
                    self._tally.dural = True
                if e.kind == "neural_contact" and e.structure_id not in self._tally.neural:
                    self._tally.neural.append(e.structure_id)
                for cb in list(self._callbacks):
                    cb(e)

    def graded_events(self) -> tuple[NeedleEvent, ...]:
        """The current analysis's events, graded against the plan."""
        return tuple(self._grade(e) for e in self.analysis.events) if self.analysis else ()

    # -- moves ------------------------------------------------------------------------------
    def _apply(self, pose: NeedlePose) -> NeedleAnalysis:
        analysis = self.analyser.analyse(pose)  # validates; raises before anything changes
        if analysis.blocked and pose.depth_mm > analysis.tip_depth_mm:
            pose = pose.with_depth(analysis.tip_depth_mm)  # bone stops the needle
            analysis = self.analyser.analyse(pose)
        before_depth = self.analysis.tip_depth_mm if self.analysis else 0.0
        before = self.analysis
        if self._tally.t0 is None:
            self._tally.t0 = self.clock()
        if before_depth <= 0.0 and analysis.tip_depth_mm > 0.0:
            self._tally.punctures += 1
        self._tally.path_mm += abs(analysis.tip_depth_mm - before_depth)
        # a contact counts again only after the needle left the bone
        if (
            before is not None
            and before.blocked
            and analysis.blocked
            and (before.bone_contact.structure_id == analysis.bone_contact.structure_id)
        ):
            before_events = before
        else:
            before_events = (
                before
                if before is None
                else replace(
                    before, events=tuple(e for e in before.events if e.kind != "bone_contact")
                )
            )
        self.pose, self.analysis = pose, analysis
        if before is not None and before.pose.entry_lps != pose.entry_lps:
            before_events = None
        self._emit(before_events, analysis)
        return analysis

    def place(self, pose: NeedlePose) -> NeedleAnalysis:
        """Put the needle at a new entry (withdrawing it from the old one)."""
        self.analyser.analyse(pose)  # validate before anything changes
        if self.analysis is not None and self.analysis.tip_depth_mm > 0:
            self.withdraw(self.analysis.tip_depth_mm)
        self.catheter = None
        return self._apply(pose)

    def _need_pose(self) -> NeedlePose:
        if self.pose is None:
            raise GeometryError("place the needle on the skin first")
        return self.pose

    def advance(self, step_mm: float) -> NeedleAnalysis:
        """Advance by ``step_mm`` (> 0); bone stops the tip."""
        pose = self._need_pose()
        if not step_mm > 0:
            raise ValidationError(f"advance needs a positive step in mm, got {step_mm!r}")
        self.catheter = None
        return self._apply(pose.with_depth(self.analysis.tip_depth_mm + float(step_mm)))

    def withdraw(self, step_mm: float) -> NeedleAnalysis:
        """Withdraw by ``step_mm`` (> 0), at most to the skin."""
        pose = self._need_pose()
        if not step_mm > 0:
            raise ValidationError(f"withdraw needs a positive step in mm, got {step_mm!r}")
        self._tally.withdrawals += 1
        self.catheter = None
        return self._apply(pose.with_depth(self.analysis.tip_depth_mm - float(step_mm)))

    def redirect(self, cephalad_deg: float, medial_deg: float = 0.0) -> NeedleAnalysis:
        """Change the angles. In tissue, the needle first comes back to the subcutaneous layer
        (one cannot steer a needle through ligament), then points the new way."""
        pose = self._need_pose()
        new = pose.with_angles(cephalad_deg, medial_deg)  # validates the angles first
        depth = self.analysis.tip_depth_mm
        if depth > 0:
            # the deepest point still in skin or fat, along the old path and the new one
            new_line = self.analyser.line_profile(new.entry_lps, new.direction).crossings
            shallow = min(_fat_end(self.analysis.crossings, depth), _fat_end(new_line, depth))
            new = new.with_depth(min(depth, shallow))
            self._tally.redirections += 1
        self.catheter = None
        return self._apply(new)

    def thread(self, length_mm: float, direction: str = "cephalad") -> Catheter:
        """Thread the catheter ``length_mm`` from the needle tip (epidural or CSF only)."""
        if self.analysis is None:
            raise GeometryError("place and advance the needle first")
        self.catheter = thread_catheter(self.anatomy, self.analysis, length_mm, direction)
        return self.catheter

    # -- scoring ----------------------------------------------------------------------------
    def metrics(self) -> NeedleMetrics:
        """The metrics of the attempt so far."""
        a = self.analysis
        t = self._tally
        target = self.plan.target
        reached = bool(a) and (a.in_epidural_space if target == "epidural" else a.intrathecal)
        cat_level = self.catheter.tip_level if self.catheter else None
        err = None
        if cat_level and self.plan.catheter_level:
            from iddsanatomy.anatomy.variant import position_units

            try:
                err = position_units(cat_level) - position_units(self.plan.catheter_level)
            except ValidationError:
                err = None
        inter = a.interlaminar if a else None
        return NeedleMetrics(
            skin_punctures=t.punctures,
            redirections=t.redirections,
            withdrawals=t.withdrawals,
            bone_contacts=t.bone_contacts,
            path_length_mm=t.path_mm,
            time_s=0.0 if t.t0 is None else self.clock() - t.t0,
            final_structure=a.tip_structure if a else None,
            final_level=a.tip_level if a else None,
            target_reached=reached and not (a.critical if a else False),
            interlaminar=inter,
            interspace_as_planned=None
            if inter is None or self.plan.interspace is None
            else inter == self.plan.interspace,
            dural_puncture=t.dural,
            unplanned_dural_puncture=t.dural and target == "epidural",
            neural_contacts=tuple(t.neural),
            catheter_level=cat_level,
            catheter_error_units=err,
        )

    def finish_attempt(self) -> NeedleMetrics:
        """Close the attempt: store and return its metrics, and start a fresh tally."""
        m = self.metrics()
        self.history.append(m)
        self._tally = _Tally()
        self.pose = self.analysis = self.catheter = None
        return m
