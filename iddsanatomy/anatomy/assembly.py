"""The generator: stack the bones into a spine and build every structure of the default anatomy.

Pipeline (all LPS mm):

1. :func:`spine_layout` poses the sacrum at the default sacral slope and stacks L5 … T12 on it.
   Each disc is a wedge between the lower vertebra's superior endplate and the upper one's
   inferior endplate; its anterior and posterior heights start from the published means
   (REF §4) and are moved (within ±0.9 SD) so that each segment carries its share of the
   lordosis (REF §6). The result is one 4×4 ``lps_from_level`` per vertebra (and ``S1`` for the
   sacrum): the patient-variation code re-poses the model by changing these transforms.
2. Bones are A1's labelled signed-distance meshes (:mod:`vertebra`, :mod:`bones`) moved by their
   level's transform.
3. Soft tissue is built in :mod:`softtissue`: discs fill the space between endplates (their
   surface *is* the endplate, by a boolean difference with the bones), then the neural axis, the
   dura and CSF, ligaments, epidural fat, muscle, fat and skin, each trimmed against the bones
   and the structures that take precedence over it.

:func:`generate` returns a :class:`Generated` (meshes, coarse meshes, labels, landmarks, frames),
which :mod:`io` writes to ``meshes/``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy import soft_params as sp


# --------------------------------------------------------------------------------------------
# layout
# --------------------------------------------------------------------------------------------
@dataclass
class DiscSpec:
    """One disc: the heights the generator chose (mm) and its wedge angle (degrees)."""

    name: str
    upper: str
    lower: str
    anterior_mm: float
    posterior_mm: float
    wedge_deg: float
    rim_half_depth_mm: float


@dataclass
class SpineLayout:
    """Per-level frames and disc choices of one posed spine."""

    lps_from_level: dict[str, np.ndarray]
    discs: dict[str, DiscSpec]
    segment_target_deg: dict[str, float]
    sacral_slope_deg: float


def _endplate_frames(params) -> tuple[np.ndarray, np.ndarray]:
    """``level_from_superior`` and ``level_from_inferior`` endplate frames of a vertebra.

    Each frame has its origin at the centre of the endplate's rim plane and +z along the plane's
    upward normal (A1's body: heights vary linearly from Ha anteriorly to Hp posteriorly).
    """
    ha, hp, depth = params.body_ha, params.body_hp, params.body_depth
    slope = (hp - ha) / (2.0 * depth)  # dz/dy of the superior rim plane
    c = (ha + hp) / 4.0
    sup = geometry.frame((0, 0, c), (1, 0, 0), (0, 1, slope))
    inf = geometry.frame((0, 0, -c), (1, 0, 0), (0, 1, -slope))
    return sup, inf


def half_wedge_deg(params) -> float:
    """Lordotic tilt of one endplate from the body's z axis (half the body's wedge), degrees."""
    return float(
        np.degrees(np.arctan((params.body_ha - params.body_hp) / (2.0 * params.body_depth)))
    )


def _disc_heights(
    seg: str, angle_deg: float, rim_half_depth: float, concavity: float
) -> tuple[float, float]:
    """Anterior and posterior rim heights giving ``angle_deg`` of wedge, kept near REF §4."""
    d = sp.DISC_HEIGHTS[seg]
    want_diff = 2.0 * rim_half_depth * np.tan(np.radians(angle_deg))
    mean = 0.5 * (d.anterior + d.posterior)
    # the middle height as measured includes both endplates' central concavity: keep it in range
    mid_lo = d.middle - 0.8 * d.middle_sd - concavity
    mid_hi = d.middle + 0.8 * d.middle_sd - concavity
    mean = float(np.clip(mean, mid_lo, mid_hi))
    lim = sp.DISC_WEDGE_SD_LIMIT
    a = float(
        np.clip(
            mean + want_diff / 2, d.anterior - lim * d.anterior_sd, d.anterior + lim * d.anterior_sd
        )
    )
    # the posterior rim is not thinned below its published mean: the rounded posterior corners
    # of the endplates read ≈1 mm lower on the mesh than the rim plane (measure.disc_heights)
    p = float(
        np.clip(
            mean - want_diff / 2,
            d.posterior + 0.1 * d.posterior_sd,
            d.posterior + lim * d.posterior_sd,
        )
    )
    return a, p


def spine_layout(variant=None) -> SpineLayout:
    """Pose the default spine: sacrum at the default slope, L5 … T12 stacked on their discs.

    Parameters
    ----------
    variant : PatientVariant, optional
        Only its lordosis is read here (posture or explicit); None is the default patient.
    """
    from iddsanatomy.anatomy.bone_params import vertebra_params
    from iddsanatomy.anatomy.variant import PatientVariant

    v = variant if variant is not None else PatientVariant()
    targets = v.segment_lordosis_deg()
    lps_from_sacrum = np.eye(4)
    # the S1 endplate faces up and forward at the sacral slope (REF §6 [TU]); LPS origin at its
    # centre. Rotation about +x by +slope tips the sacrum's +z towards -y (anterior).
    lps_from_sacrum[:3, :3] = geometry.rotation((1, 0, 0), sp.SACRAL_SLOPE_DEG)[:3, :3]
    frames: dict[str, np.ndarray] = {"S1": lps_from_sacrum}
    discs: dict[str, DiscSpec] = {}
    below = "S1"
    below_sup = np.eye(4)  # sacrum frame: its endplate frame is the identity
    below_half_wedge = 0.0
    below_depth = 34.0  # S1 endplate depth ≈33–35 mm (REF §7 [TU])
    below_concavity = 0.0  # S1 superior endplate is flat (REF §7 [R])
    for level in ("L5", "L4", "L3", "L2", "L1", "T12"):
        pr = vertebra_params(level)
        sup, inf = _endplate_frames(pr)
        seg = f"{level}-{below}"
        wedge = targets.get(seg, 0.0) - below_half_wedge - half_wedge_deg(pr)
        r = sp.DISC_RIM_FRACTION * 0.25 * (below_depth + pr.body_depth)
        conc = below_concavity + pr.endplate_concavity_inferior
        a, p = _disc_heights(seg, wedge, r, conc)
        w = float(np.degrees(np.arctan((a - p) / (2.0 * r))))
        g = 0.5 * (a + p) * np.cos(np.radians(w))
        # lordosis: the upper vertebra leans back, a rotation about -x (variation.py convention)
        t = (
            frames[below]
            @ below_sup
            @ geometry.rotation((-1, 0, 0), w)
            @ geometry.translation((0, 0, g))
            @ np.linalg.inv(inf)
        )
        frames[level] = t
        discs[seg] = DiscSpec(seg, level, below, a, p, w, r)
        below, below_sup = level, sup
        below_half_wedge = half_wedge_deg(pr)
        below_depth = pr.body_depth
        below_concavity = pr.endplate_concavity_superior
    order = ("T12", "L1", "L2", "L3", "L4", "L5", "S1")
    return SpineLayout(
        {k: frames[k] for k in order},
        {k: discs[k] for k in sp.INTERSPACES},
        targets,
        sp.SACRAL_SLOPE_DEG,
    )


# --------------------------------------------------------------------------------------------
# generated content
# --------------------------------------------------------------------------------------------
@dataclass
class Part:
    """One generated structure before it is written: mesh in LPS mm plus its registry fields."""

    id: str
    tissue: str
    display_name: str
    description: str
    mesh: object
    coarse: object | None = None
    level: str | None = None
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    face_labels: np.ndarray | None = None
    part_ids: tuple[str, ...] = ()
    parent: str | None = None
    closed: bool = True


@dataclass
class Generated:
    """Everything :func:`generate` makes."""

    parts: dict[str, Part]
    landmarks_lps: dict[str, np.ndarray]
    lps_from_level: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)


COLORS = {
    "bone": (0.93, 0.89, 0.80),
    "disc": (0.55, 0.70, 0.85),
    "ligament": (0.93, 0.80, 0.35),
    "neural": (0.98, 0.93, 0.55),
    "dura": (0.55, 0.80, 0.75),
    "csf": (0.55, 0.75, 0.98),
    "fat": (0.98, 0.86, 0.55),
    "muscle": (0.75, 0.30, 0.28),
    "skin": (0.93, 0.75, 0.65),
    "region": (0.30, 0.85, 0.40),
}

_PART_TEXT = {
    "body": (
        "body",
        "The weight-bearing cylinder at the front of the vertebra; discs sit on its endplates.",
    ),
    "pedicle": (
        "pedicle",
        "The short strut joining the body to the arch; in an AP view its oval is the 'eye' of "
        "the vertebra.",
    ),
    "lamina": (
        "lamina",
        "The plate of the arch behind the canal; the needle meets it when it strays off the "
        "interlaminar window.",
    ),
    "spinous_process": (
        "spinous process",
        "The midline blade you palpate; in the lumbar spine it points nearly straight back.",
    ),
    "transverse_process": ("transverse process", "The lateral bar where deep back muscles attach."),
    "superior_articular_process": (
        "superior articular process",
        "Rises to meet the vertebra above at the facet joint; it forms the lateral border of the "
        "interlaminar window.",
    ),
    "inferior_articular_process": (
        "inferior articular process",
        "Hangs down to meet the vertebra below at the facet joint.",
    ),
    "s1_body": ("S1 body and promontory", "The top of the sacrum; the L5–S1 disc rests on it."),
    "ala": ("ala", "The wing of the sacrum beside the S1 body, towards the sacroiliac joint."),
    "lateral_mass": (
        "lateral mass",
        "The fused transverse elements of the sacrum that carry the foramina.",
    ),
    "s1_lamina": (
        "S1 lamina",
        "The roof of the sacral canal at S1, the floor of the L5–S1 interlaminar window.",
    ),
    "median_crest": (
        "median sacral crest",
        "The fused spinous processes of the sacrum, felt in the midline.",
    ),
    "dorsal_foramina": (
        "dorsal sacral foramina",
        "Openings through which the dorsal rami of the sacral nerves leave.",
    ),
    "sacral_hiatus": (
        "sacral hiatus",
        "The gap at the lower end of the sacral canal, the caudal route into the epidural space.",
    ),
    "coccyx": ("coccyx", "The tail bone below the sacrum."),
    "head": ("head", "The end of the rib that articulates with its vertebra."),
    "shaft": ("shaft", "The body of the rib."),
    "iliac_crest": (
        "iliac crest",
        "The rim of the pelvis; the line joining the crests (Tuffier's line) usually crosses L4 "
        "or L4–L5.",
    ),
    "ilium": ("ilium", "The blade of the pelvis."),
    "posterior_superior_iliac_spine": (
        "posterior superior iliac spine",
        "The bony point under the dimple of the lower back.",
    ),
}


def part_text(level_name: str, part: str) -> tuple[str, str]:
    """Display name and description of a bone part (``pedicle.left`` of ``L3``)."""
    base, _, side = part.partition(".")
    name, desc = _PART_TEXT.get(base, (base.replace("_", " "), ""))
    side_txt = f"{side} " if side else ""
    return f"{level_name} {side_txt}{name}", desc


def _bone_description(level: str) -> str:
    if level == "T12":
        return (
            "The last thoracic vertebra: it carries the 12th ribs, the usual landmark for "
            "counting down to the lumbar levels."
        )
    n = int(level[1])
    extra = {
        1: "The conus medullaris usually ends behind its lower third.",
        2: "Intrathecal catheters usually enter at L2–L3 or below, away from the conus.",
        3: "Its interlaminar windows above and below are common targets for intrathecal access.",
        4: "Tuffier's line across the iliac crests usually passes through L4 or L4–L5.",
        5: "The last lumbar vertebra; its body is wedged to make the lumbosacral angle.",
    }[n]
    return f"The {['first', 'second', 'third', 'fourth', 'fifth'][n - 1]} lumbar vertebra. {extra}"


def bone_part(
    sid: str, level_name: str, level: str | None, bm, lps_from_local, description: str
) -> Part:
    """The bone ``sid`` (a :class:`BoneMesh` in its local frame) moved to LPS."""
    mesh = bm.mesh.copy()
    mesh.apply_transform(lps_from_local)
    part_ids = tuple(f"{sid}.{p}" for p in bm.part_names)
    return Part(
        sid,
        "bone",
        level_name,
        description,
        mesh,
        None,
        level,
        COLORS["bone"],
        np.asarray(bm.face_labels, dtype=np.int16),
        part_ids,
    )


def part_structures(bone: Part) -> list[Part]:
    """Open sub-meshes of a labelled bone, one per part, so that picking can name the part."""
    out = []
    for i, pid in enumerate(bone.part_ids):
        faces = np.nonzero(bone.face_labels == i)[0]
        if len(faces) == 0:
            continue
        sub = bone.mesh.submesh([faces], append=True)
        name, desc = part_text(bone.display_name, pid[len(bone.id) + 1 :])
        out.append(
            Part(
                pid,
                "bone",
                name,
                desc,
                sub,
                None,
                bone.level,
                COLORS["bone"],
                parent=bone.id,
                closed=False,
            )
        )
    return out


def finish_lods(part: Part, coarse_tol: float, full_tol: float | None = None) -> None:
    """Simplify ``part.mesh`` within the full-detail tolerance, make its coarse level of detail,
    and carry bone face labels over to the simplified faces (nearest original face centre)."""
    from scipy.spatial import cKDTree

    from iddsanatomy.anatomy.softtissue import FULL_TOLERANCE_MM, simplify

    raw = part.mesh
    part.mesh = simplify(raw, FULL_TOLERANCE_MM if full_tol is None else full_tol)
    part.coarse = simplify(part.mesh, coarse_tol)
    if part.face_labels is not None and part.mesh is not raw:
        tree = cKDTree(raw.triangles_center)
        _, idx = tree.query(part.mesh.triangles_center)
        part.face_labels = np.asarray(part.face_labels[idx], dtype=np.int16)


def resolve_bone_contacts(parts: dict[str, Part]) -> str:
    """Cut each vertebra where it runs into the one below, so that no bone overlaps another.

    The stacked laminae and articular processes of A1's vertebrae can touch or overlap their
    neighbour's by a few millimetres at the published disc heights; the needle analysis and the
    fluoroscopy both need disjoint bones. The upper bone loses the overlap (a boolean difference)
    and its faces keep the part label of the nearest original face. Returns a short summary.
    """
    from scipy.spatial import cKDTree

    from iddsanatomy.anatomy.softtissue import from_manifold, signed_volume, to_manifold

    chain = (*sp.VERTEBRAE, "sacrum")
    notes = []
    for upper, lower in itertools.pairwise(chain):
        u, lo = parts[upper], parts[lower]
        if not (u.mesh.is_watertight and lo.mesh.is_watertight):
            notes.append(f"{upper}/{lower} skipped (not watertight)")
            continue
        inter = to_manifold(u.mesh) ^ to_manifold(lo.mesh)
        vol = inter.volume()
        if vol <= 0.0:
            continue
        cut = from_manifold(to_manifold(u.mesh) - to_manifold(lo.mesh))
        pieces = cut.split(only_watertight=False)
        if len(pieces) > 1:  # keep the bone, drop any sliver cut off from it
            cut = max(pieces, key=signed_volume)
        tree = cKDTree(u.mesh.triangles_center)
        _, idx = tree.query(cut.triangles_center)
        u.face_labels = np.asarray(u.face_labels[idx], dtype=np.int16)
        u.mesh = cut
        notes.append(f"{upper}∩{lower} {vol:.0f} mm³")
    return ", ".join(notes) if notes else "none"


def generate(
    variant=None, progress: Callable[[str], None] | None = None, fast: bool = False
) -> Generated:
    """Build the whole default anatomy.

    Parameters
    ----------
    variant : PatientVariant, optional
        Only ``None`` (the default patient) is supported now; the layout already reads the
        variant's lordosis so that posture can be generated as well as re-posed.
    progress : callable, optional
        Called with one line of text per step.
    fast : bool
        Coarser meshes everywhere (tests, previews); not for ``meshes/``.
    """
    from iddsanatomy.anatomy import softtissue
    from iddsanatomy.anatomy.bones import build_iliac_crest, build_rib, build_sacrum
    from iddsanatomy.anatomy.vertebra import build_vertebra

    log = progress or (lambda _m: None)
    t0 = time.perf_counter()
    # bones at A1's default resolutions (tuned against the real shapes); coarser when fast
    res_kw = {"resolution_mm": 1.4} if fast else {}
    layout = spine_layout(variant)
    frames = layout.lps_from_level
    parts: dict[str, Part] = {}
    landmarks: dict[str, np.ndarray] = {}
    bones_local = {}

    def add(p: Part) -> None:
        parts[p.id] = p

    for level in sp.VERTEBRAE:
        bm = build_vertebra(level, **res_kw)
        bones_local[level] = bm
        add(bone_part(level, level, level, bm, frames[level], _bone_description(level)))
        for k, p in bm.landmarks.items():
            landmarks[f"{level}.{k}"] = geometry.apply(frames[level], p)
        log(f"[build] {level}: {len(bm.mesh.faces)} faces ({time.perf_counter() - t0:.1f} s)")

    sac = build_sacrum(**res_kw)
    bones_local["S1"] = sac
    add(
        bone_part(
            "sacrum",
            "sacrum",
            "S1",
            sac,
            frames["S1"],
            "Five fused vertebrae (S1–S5) with the coccyx below; the dural sac usually ends "
            "inside it at S2.",
        )
    )
    for k, p in sac.landmarks.items():
        landmarks[f"S1.{k}"] = geometry.apply(frames["S1"], p)
    log(f"[build] sacrum ({time.perf_counter() - t0:.1f} s)")

    for number in (12, 11):
        for side in ("left", "right"):
            bm = build_rib(number, side, **res_kw)
            desc = (
                "The 12th rib, about 11 cm long; short or absent 12th ribs make counting levels "
                "from the ribs unreliable."
                if number == 12
                else "The lower end of the 11th rib, for orientation when counting down from "
                "the ribs."
            )
            add(
                bone_part(
                    f"rib{number}.{side}", f"{side} {number}th rib", "T12", bm, frames["T12"], desc
                )
            )
            for k, p in bm.landmarks.items():
                landmarks[f"T12.rib{number}.{side}.{k}"] = geometry.apply(frames["T12"], p)
    for side in ("left", "right"):
        bm = build_iliac_crest(side, **res_kw)
        add(
            bone_part(
                f"iliac_crest.{side}",
                f"{side} posterior iliac crest",
                "S1",
                bm,
                frames["S1"],
                "The back of the pelvis. The line joining the tops of the two crests (Tuffier's "
                "line) is the usual surface guide to L4–L5.",
            )
        )
        for k, p in bm.landmarks.items():
            landmarks[f"S1.{k}.{side}"] = geometry.apply(frames["S1"], p)
    log(f"[build] ribs and iliac crests ({time.perf_counter() - t0:.1f} s)")

    carved = resolve_bone_contacts(parts)
    log(f"[build] bone contacts resolved ({carved}) ({time.perf_counter() - t0:.1f} s)")

    soft, soft_landmarks, info = softtissue.build_soft_tissue(
        layout, bones_local, parts, landmarks, fast=fast, log=log, t0=t0
    )
    for p in soft:
        parts[p.id] = p
    landmarks.update(soft_landmarks)
    for p in list(parts.values()):
        thin = p.tissue in ("neural",) or p.id.startswith(("ligamentum_flavum", "interlaminar"))
        # large, soft, smooth surfaces carry less detail than bone (triangle budget)
        broad = p.tissue in ("muscle", "skin") or p.id in ("subcutaneous_fat", "epidural_fat")
        finish_lods(p, 0.15 if thin else (0.6 if broad else 0.4), 0.15 if broad else None)
        if p.face_labels is not None:
            for q in part_structures(p):
                parts[q.id] = q
    log(f"[build] levels of detail ({time.perf_counter() - t0:.1f} s)")
    info.pop("curve", None)
    info["generation_s"] = time.perf_counter() - t0
    info["discs"] = {
        k: {"anterior_mm": d.anterior_mm, "posterior_mm": d.posterior_mm, "wedge_deg": d.wedge_deg}
        for k, d in layout.discs.items()
    }
    info["sacral_slope_deg"] = layout.sacral_slope_deg
    log(f"[build] done: {len(parts)} structures in {info['generation_s']:.1f} s")
    return Generated(parts, landmarks, dict(frames), info)
