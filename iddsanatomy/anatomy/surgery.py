"""Structural variants: laminectomy, fusion hardware, skin lesions, 12th ribs, transitional L5/S1.

These change which structures exist and their shape, with manifold3d booleans (watertight in,
watertight out). They run after the anatomy has been posed and dressed, and every cut is placed
with the current per-level frames and landmarks, so they follow the patient's posture.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy.model import Anatomy, Structure

METAL_COLOR = (0.72, 0.75, 0.80)
SCAR_COLOR = (0.78, 0.62, 0.66)
LESION_COLOR = (0.62, 0.10, 0.12)

#: Pedicle screw: 6.5 mm diameter, 45 mm long, and a 12 mm tulip head — typical lumbar hardware
#: (a teaching approximation, not from REFERENCE.md).
SCREW_RADIUS_MM = 3.25
SCREW_LENGTH_MM = 45.0
HEAD_RADIUS_MM = 6.0
ROD_RADIUS_MM = 2.75
#: Medial convergence of a lumbar pedicle screw: ≈5° × lumbar number (Dickman 1992; REFERENCE §2).
CONVERGENCE_DEG = {"T12": 2.5, "L1": 5.0, "L2": 10.0, "L3": 15.0, "L4": 20.0, "L5": 25.0}
#: How much of the lower lamina's upper edge a decompression takes (mm; teaching approximation).
LAMINOTOMY_MM = 8.0
#: A short 12th rib is under 5 cm (REFERENCE §12 [TU]).
SHORT_RIB_MM = 45.0


def _m3d(mesh):
    from iddsanatomy.anatomy.softtissue import to_manifold

    return to_manifold(mesh)


def _tm(man):
    from iddsanatomy.anatomy.softtissue import from_manifold

    return from_manifold(man)


def _box(lo, hi, lps_from_local: np.ndarray):
    """A watertight box (trimesh) spanning ``lo``..``hi`` in a local frame, placed in LPS."""
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    box = trimesh.creation.box(extents=hi - lo)
    box.apply_translation((lo + hi) / 2)
    box.apply_transform(lps_from_local)
    return box


def _capsule(a, b, radius: float):
    """A watertight capsule (trimesh) from ``a`` to ``b`` (LPS mm)."""
    import trimesh

    a, b = np.asarray(a, float), np.asarray(b, float)
    axis = b - a
    length = float(np.linalg.norm(axis))
    cap = trimesh.creation.capsule(height=length, radius=radius, count=[16, 16])
    # trimesh's capsule runs along +z from 0 to height
    z = np.array([0.0, 0.0, 1.0])
    u = axis / length
    rot = np.eye(4)
    v = np.cross(z, u)
    if np.linalg.norm(v) > 1e-9:
        ang = np.degrees(np.arccos(np.clip(z @ u, -1, 1)))
        rot = geometry.rotation(v, ang)
    elif z @ u < 0:
        rot = geometry.rotation((1, 0, 0), 180)
    cap.apply_transform(geometry.translation(a) @ rot)
    return cap


def relabel(new_mesh, old: Structure) -> np.ndarray:
    """Part labels for a cut bone: each new face takes the label of the nearest old face."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(old.mesh.triangles_center).query(new_mesh.triangles_center)
    return np.asarray(old.face_labels)[idx]


def replace_bone(structures: dict, bone_id: str, new_mesh) -> None:
    """Swap a bone's mesh for ``new_mesh`` and rebuild its part structures from new labels."""
    old = structures[bone_id]
    labels = relabel(new_mesh, old) if old.face_labels is not None else None
    structures[bone_id] = replace(old, mesh=new_mesh, coarse=None, face_labels=labels)
    if labels is None:
        return
    for k, pid in enumerate(old.part_ids):
        if pid not in structures:
            continue
        faces = np.flatnonzero(labels == k)
        if len(faces) == 0:
            del structures[pid]
            continue
        sub = new_mesh.submesh([faces], append=True)
        structures[pid] = replace(structures[pid], mesh=sub, coarse=None)


def remove(structures: dict, sid: str) -> None:
    """Remove a structure and all its parts."""
    s = structures.pop(sid, None)
    if s is not None:
        for pid in s.part_ids:
            structures.pop(pid, None)


def _local(anatomy: Anatomy, level: str, name: str) -> np.ndarray:
    return geometry.apply(np.linalg.inv(anatomy.lps_from_level[level]), anatomy.landmarks_lps[name])


def laminectomy(anatomy: Anatomy, structures: dict, seg: str) -> None:
    """Remove the upper vertebra's laminae and spinous process, the ligamentum flavum and the
    interspinous ligament of ``seg`` (e.g. ``L3-L4``), and fill the gap with scar tissue.

    The cut is a box in the upper vertebra's frame, as wide as the canal (the facet joints stay)
    and from the canal's posterior wall backwards.
    """
    upper = seg.split("-")[0]
    frame = anatomy.lps_from_level[upper]
    half_w = 0.5 * np.linalg.norm(
        anatomy.landmarks_lps[f"{upper}.canal_left"] - anatomy.landmarks_lps[f"{upper}.canal_right"]
    )
    post_y = _local(anatomy, upper, f"{upper}.canal_posterior")[1]
    cutter = _box((-half_w - 1.0, post_y - 1.0, -70.0), (half_w + 1.0, post_y + 90.0, 40.0), frame)
    cut_m = _m3d(cutter)
    # scar tissue takes the place of what is removed: the bone cut away, the ligamentum flavum
    # and the interspinous ligaments
    scar = None
    if upper in structures and structures[upper].ok:
        bone_m = _m3d(structures[upper].mesh)
        scar = bone_m ^ cut_m
        replace_bone(structures, upper, _largest(_tm(bone_m - cut_m)))
    # the decompression also takes the upper edge of the lower lamina (a laminotomy), so the
    # operated interspace is open bone-free in the midline
    lower = seg.split("-")[1]
    edge_key = f"{lower}.lamina_superior_edge_midline"
    if lower in structures and structures[lower].ok and edge_key in anatomy.landmarks_lps:
        lframe = anatomy.lps_from_level[lower]
        l_half_w = 0.5 * np.linalg.norm(
            anatomy.landmarks_lps[f"{lower}.canal_left"]
            - anatomy.landmarks_lps[f"{lower}.canal_right"]
        )
        l_post = _local(anatomy, lower, f"{lower}.canal_posterior")[1]
        z_edge = _local(anatomy, lower, edge_key)[2]
        centre_key = f"{seg}.interlaminar_centre"
        if centre_key in anatomy.landmarks_lps:
            # whatever bone reaches into the window's lower half goes too
            z_edge = min(z_edge, _local(anatomy, lower, centre_key)[2] + LAMINOTOMY_MM - 6.0)
        trim = _m3d(
            _box(
                (-l_half_w - 1.0, l_post - 1.0, z_edge - LAMINOTOMY_MM),
                (l_half_w + 1.0, l_post + 40.0, z_edge + 30.0),
                lframe,
            )
        )
        lower_m = _m3d(structures[lower].mesh)
        scar = (lower_m ^ trim) if scar is None else scar + (lower_m ^ trim)
        replace_bone(structures, lower, _largest(_tm(lower_m - trim)))
    above = {"L1": "T12", "L2": "L1", "L3": "L2", "L4": "L3", "L5": "L4"}.get(upper)
    removed = [f"ligamentum_flavum.{seg}", f"interspinous_ligament.{seg}"]
    if above:
        # the interspinous ligament above loses its lower attachment (the spinous process)
        removed.append(f"interspinous_ligament.{above}-{upper}")
    for sid in removed:
        s = structures.get(sid)
        if s is not None and s.ok:
            m = _m3d(s.mesh)
            scar = m if scar is None else scar + m
        remove(structures, sid)
    if "supraspinous_ligament" in structures:
        ssl = _tm(_m3d(structures["supraspinous_ligament"].mesh) - cut_m)
        structures["supraspinous_ligament"] = replace(
            structures["supraspinous_ligament"], mesh=ssl, coarse=None
        )
    scar_mesh = _tm(scar) if scar is not None else None
    if scar_mesh is not None and len(scar_mesh.faces):
        structures[f"scar.{seg}"] = Structure(
            id=f"scar.{seg}",
            tissue="scar",
            display_name=f"{seg} laminectomy scar",
            description=(
                f"Scar tissue where the {upper} lamina, spinous process and the {seg} ligamentum "
                "flavum were removed. The anatomy here is atypical and the epidural space may be "
                "scarred: avoid this level."
            ),
            level=seg,
            mesh=scar_mesh,
            color=SCAR_COLOR,
        )


def _largest(mesh):
    if mesh is None or len(mesh.faces) == 0:
        return mesh
    parts = mesh.split(only_watertight=False)
    if len(parts) <= 1:
        return mesh
    return max(parts, key=lambda m: len(m.faces))


def fusion(anatomy: Anatomy, structures: dict, seg: str) -> None:
    """Pedicle screws in both vertebrae of ``seg`` and a rod on each side joining their heads."""
    upper, lower = seg.split("-")
    heads = {}
    for level in (upper, lower):
        if level not in anatomy.lps_from_level:
            continue  # S1 screws go in the sacrum: use its frame's pedicle region below
        frame = anatomy.lps_from_level[level]
        for side, sign in (("left", 1.0), ("right", -1.0)):
            key = f"{level}.pedicle_centre.{side}"
            if key not in anatomy.landmarks_lps:
                continue
            centre = anatomy.landmarks_lps[key]
            conv = np.radians(CONVERGENCE_DEG.get(level, 15.0))
            # local direction: anterior (-y) and medial (towards x = 0)
            d_local = np.array([-sign * np.sin(conv), -np.cos(conv), 0.0])
            d = geometry.apply_direction(frame, d_local)
            entry = centre - d * 18.0  # the entry point on the back of the pedicle
            tip = entry + d * SCREW_LENGTH_MM
            head = entry - d * 6.0
            screw = _m3d(_capsule(entry, tip, SCREW_RADIUS_MM)) + _m3d(
                _capsule(head - d * 2.0, entry, HEAD_RADIUS_MM)
            )
            sid = f"hardware.{level}.screw.{side}"
            structures[sid] = Structure(
                id=sid,
                tissue="metal",
                display_name=f"{level} {side} pedicle screw",
                description="A pedicle screw from an earlier fusion: metal that shows black on "
                "fluoroscopy and a level to avoid.",
                level=level,
                mesh=_tm(screw),
                color=METAL_COLOR,
            )
            heads[(level, side)] = head
    for side in ("left", "right"):
        if (upper, side) in heads and (lower, side) in heads:
            sid = f"hardware.{seg}.rod.{side}"
            structures[sid] = Structure(
                id=sid,
                tissue="metal",
                display_name=f"{seg} {side} rod",
                description="A rod joining the pedicle screws of a fused segment.",
                level=seg,
                mesh=_capsule(heads[(upper, side)], heads[(lower, side)], ROD_RADIUS_MM),
                color=METAL_COLOR,
            )


def skin_lesion(anatomy: Anatomy, structures: dict, seg: str) -> None:
    """A patch of broken, infected skin over ``seg`` (on the skin above the interlaminar centre)."""
    import trimesh

    centre = anatomy.landmarks_lps.get(f"{seg}.interlaminar_centre")
    if centre is None or "skin" not in structures:
        return
    skin = structures["skin"].mesh
    hits, _, _ = skin.ray.intersects_location([centre], [[0.0, 1.0, 0.0]])
    if len(hits) == 0:
        return
    top = hits[np.argmax(hits[:, 1])]
    patch = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    patch.apply_scale((16.0, 1.6, 11.0))  # 32 x 22 mm, raised 1.6 mm above the skin
    patch.apply_translation(top + np.array([0.0, 0.4, 0.0]))
    sid = f"skin_lesion.{seg}"
    structures[sid] = Structure(
        id=sid,
        tissue="skin",
        display_name=f"broken skin over {seg}",
        description="Broken or infected skin: never put a needle through it. Choose another "
        "interspace.",
        level=seg,
        mesh=patch,
        color=LESION_COLOR,
    )


def ribs(anatomy: Anatomy, structures: dict, kind: str) -> None:
    """Shorten (``short``) or remove (``absent``) both 12th ribs."""
    import trimesh

    for side in ("left", "right"):
        sid = f"rib12.{side}"
        if sid not in structures:
            continue
        if kind == "absent":
            remove(structures, sid)
            continue
        head = anatomy.landmarks_lps.get(f"T12.rib12.{side}.head")
        if head is None:
            continue
        ball = trimesh.creation.icosphere(subdivisions=3, radius=SHORT_RIB_MM)
        ball.apply_translation(head)
        short = _largest(_tm(_m3d(structures[sid].mesh) ^ _m3d(ball)))
        replace_bone(structures, sid, short)


def sacralise_l5(anatomy: Anatomy, structures: dict) -> None:
    """Fuse the L5 transverse processes to the sacral alae (a Castellvi III-like LSTV, §12)."""
    if "L5" not in structures or "sacrum" not in structures:
        return
    sacrum = structures["sacrum"].mesh
    l5 = _m3d(structures["L5"].mesh)
    for side in ("left", "right"):
        tip = anatomy.landmarks_lps.get(f"L5.transverse_tip.{side}")
        if tip is None:
            continue
        closest, _, _ = sacrum.nearest.on_surface([tip])
        bridge = _capsule(tip, closest[0], 8.0)
        l5 = l5 + _m3d(bridge)
    l5 = l5 - _m3d(sacrum)
    replace_bone(structures, "L5", _largest(_tm(l5)))
    s = structures["L5"]
    structures["L5"] = replace(
        s,
        description=s.description
        + " In this patient L5 is sacralised: its transverse processes are fused to the sacrum.",
    )


def lumbarise_s1(anatomy: Anatomy, structures: dict) -> None:
    """Separate S1 from the sacrum by a thin gap, so it looks like a sixth lumbar vertebra."""
    lm = anatomy.landmarks_lps
    if "sacrum" not in structures or "S1.s1_level" not in lm or "S1.s2_level" not in lm:
        return
    frame = anatomy.lps_from_level["S1"]
    s1 = geometry.apply(np.linalg.inv(frame), lm["S1.s1_level"])
    s2 = geometry.apply(np.linalg.inv(frame), lm["S1.s2_level"])
    mid = 0.5 * (s1 + s2)
    axis = geometry.unit(s1 - s2)
    # a 3 mm slab across the sacrum at the S1-S2 junction, square to the sacrum's long axis
    tilt = geometry.frame(mid, (1.0, 0.0, 0.0), np.cross(axis, (1.0, 0.0, 0.0)))
    slab = _box((-150, -150, -1.5), (150, 150, 1.5), frame @ tilt)
    pieces = _tm(_m3d(structures["sacrum"].mesh) - _m3d(slab)).split(only_watertight=False)
    if len(pieces) < 2:
        return
    pieces = sorted(pieces, key=lambda m: -m.bounds[1][2])
    top, rest = pieces[0], pieces[1:]
    import trimesh

    rest_mesh = trimesh.util.concatenate(rest)
    old = structures["sacrum"]
    replace_bone(structures, "sacrum", rest_mesh)
    structures["S1"] = Structure(
        id="S1",
        tissue="bone",
        display_name="lumbarised S1",
        description="In this patient S1 is separate from the sacrum and moves like a sixth lumbar "
        "vertebra (a lumbosacral transitional vertebra, REFERENCE §12): count carefully.",
        level="S1",
        mesh=top,
        color=old.color,
    )


def apply_structural(anatomy: Anatomy, variant) -> Anatomy:
    """All structural variants of ``variant`` applied to a (posed, dressed) ``anatomy``."""
    structures = dict(anatomy.structures)
    for seg in variant.laminectomy_levels:
        laminectomy(anatomy, structures, seg)
    for seg in variant.fusion_levels:
        fusion(anatomy, structures, seg)
    for seg in variant.skin_lesion_levels:
        skin_lesion(anatomy, structures, seg)
    if variant.rib12 != "normal":
        ribs(anatomy, structures, variant.rib12)
    if variant.transitional == "sacralised_L5":
        sacralise_l5(anatomy, structures)
    elif variant.transitional == "lumbarised_S1":
        lumbarise_s1(anatomy, structures)
    return Anatomy(
        structures, dict(anatomy.landmarks_lps), anatomy.lps_from_level, variant, dict(anatomy.info)
    )
