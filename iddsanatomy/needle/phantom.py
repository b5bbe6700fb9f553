"""A layered box phantom of the lumbar back where every crossing depth can be computed by hand.

For tests and benchmarks of the needle code, not for teaching. LPS mm, prone: the skin surface
is the plane y = 0 and the needle goes in along -y. Vertebral bodies are 28 mm tall with 10 mm
discs (38 mm per level); L3's body is centred at z = 0, L4's at z = -38, and so on.

A midline needle perpendicular to the skin at the L3–L4 interspace (entry (0, 0, -22)) crosses::

    skin 0–3, subcutaneous_fat 3–20, supraspinous_ligament 20–25,
    interspinous_ligament.L3-L4 25–45, ligamentum_flavum.L3-L4 45–50, epidural_fat 50–54,
    dura 54–55, csf 55–66, cauda_equina 66–82, csf 82–84, dura 84–85, disc.L3-L4 95–125
"""

from __future__ import annotations

import itertools

import numpy as np

from iddsanatomy.anatomy.model import Anatomy, Structure

BODY_HALF_MM = 14.0
DISC_MM = 10.0
PITCH_MM = 2 * BODY_HALF_MM + DISC_MM
PHANTOM_LEVELS = ("T12", "L1", "L2", "L3", "L4", "L5")
Z_TOP, Z_BOTTOM = 200.0, -150.0
SAC_Z = (-110.0, 170.0)


def level_centre_z(level: str) -> float:
    """z (mm) of the centre of ``level``'s body in the phantom (L3 = 0)."""
    return (PHANTOM_LEVELS.index("L3") - PHANTOM_LEVELS.index(level)) * PITCH_MM


#: Default conus tip: the lower third of L1 (Saifuddin 1998 mean; REFERENCE §8).
DEFAULT_CONUS_TIP_Z = level_centre_z("L1") - BODY_HALF_MM + 2 * BODY_HALF_MM / 6


def _box(lo, hi):
    import trimesh

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    return trimesh.creation.box(bounds=np.array([lo, hi]))


def _bone(level: str, with_arch: bool):
    import trimesh

    c = level_centre_z(level)
    parts = {"body": _box([-22, -125, c - BODY_HALF_MM], [22, -95, c + BODY_HALF_MM])}
    if with_arch:
        parts["lamina.left"] = _box([1, -50, c - 10], [20, -45, c + 10])
        parts["lamina.right"] = _box([-20, -50, c - 10], [-1, -45, c + 10])
        # 0.5 mm clear of the laminae: one structure's faces must not coincide
        parts["spinous_process"] = _box([-3, -44.5, c - 12], [3, -25, c + 6])
    names = tuple(f"{level}.{k}" for k in parts)
    mesh = trimesh.util.concatenate(list(parts.values()))
    labels = np.concatenate([np.full(len(m.faces), i) for i, m in enumerate(parts.values())])
    return mesh, labels, names


def build_phantom(
    conus_tip_z: float = DEFAULT_CONUS_TIP_Z, laminectomy: tuple[str, ...] = ()
) -> Anatomy:
    """The phantom as an :class:`Anatomy`.

    Parameters
    ----------
    conus_tip_z : float, mm
        Height of the conus tip (default: lower third of L1).
    laminectomy : tuple of str
        Levels whose laminae and spinous process are removed.
    """
    S: dict[str, Structure] = {}

    def add(sid, tissue, mesh, level=None, color=(0.8, 0.8, 0.8), **kw):
        S[sid] = Structure(
            sid, tissue, sid.replace("_", " "), mesh=mesh, level=level, color=color, **kw
        )

    add("skin", "skin", _box([-100, -3, Z_BOTTOM], [100, 0, Z_TOP]), color=(0.93, 0.76, 0.65))
    add(
        "subcutaneous_fat",
        "fat",
        _box([-100, -20, Z_BOTTOM], [100, -3, Z_TOP]),
        color=(1.0, 0.9, 0.55),
    )
    add(
        "supraspinous_ligament",
        "ligament",
        _box([-4, -25, Z_BOTTOM], [4, -20, Z_TOP]),
        color=(0.6, 0.8, 0.9),
    )
    add(
        "erector_spinae.left",
        "muscle",
        _box([4, -45, Z_BOTTOM], [100, -20, Z_TOP]),
        color=(0.75, 0.3, 0.3),
    )
    add(
        "erector_spinae.right",
        "muscle",
        _box([-100, -45, Z_BOTTOM], [-4, -20, Z_TOP]),
        color=(0.75, 0.3, 0.3),
    )
    for upper, lower in itertools.pairwise(PHANTOM_LEVELS):
        cu, cl = level_centre_z(upper), level_centre_z(lower)
        gap = f"{upper}-{lower}"
        if upper in laminectomy or lower in laminectomy:
            lo_z, hi_z = cl + 10, cu - 10
            if upper in laminectomy:
                hi_z = cu + 10
            if lower in laminectomy:
                lo_z = cl - 10
        else:
            lo_z, hi_z = cl + 10, cu - 10
        add(
            f"interspinous_ligament.{gap}",
            "ligament",
            _box([-3, -45, cl + 6], [3, -25, cu - 12]),
            level=gap,
            color=(0.5, 0.7, 0.85),
        )
        add(
            f"ligamentum_flavum.{gap}",
            "ligament",
            _box([-15, -50, lo_z], [15, -45, hi_z]),
            level=gap,
            color=(0.95, 0.85, 0.3),
        )
        add(f"interlaminar.{gap}", "region", _box([-15, -54, lo_z], [15, -45, hi_z]), level=gap)
        add(
            f"disc.{gap}",
            "disc",
            _box([-22, -125, cl + BODY_HALF_MM], [22, -95, cu - BODY_HALF_MM]),
            level=gap,
            color=(0.55, 0.75, 0.95),
        )
    add(
        "epidural_fat", "fat", _box([-9, -54, SAC_Z[0]], [9, -50, SAC_Z[1]]), color=(1.0, 0.85, 0.4)
    )
    outer = _box([-10, -85, SAC_Z[0]], [10, -54, SAC_Z[1]])
    inner = _box([-9, -84, SAC_Z[0] + 1], [9, -55, SAC_Z[1] - 1])
    inv = inner.copy()
    inv.invert()
    import trimesh

    add("dura", "dura", trimesh.util.concatenate([outer, inv]), color=(0.7, 0.7, 0.9))
    add("csf", "csf", inner, color=(0.6, 0.85, 1.0))
    # cord, conus and cauda all reach back to y = -66: the dorsal CSF is 11 mm deep everywhere
    add(
        "spinal_cord",
        "neural",
        _box([-4, -80, conus_tip_z + 20], [4, -66, SAC_Z[1] - 2]),
        color=(0.95, 0.95, 0.75),
    )
    add(
        "conus",
        "neural",
        _box([-3, -78, conus_tip_z], [3, -66, conus_tip_z + 20]),
        color=(0.95, 0.9, 0.6),
    )
    add(
        "cauda_equina",
        "neural",
        _box([-6, -82, SAC_Z[0] + 2], [6, -66, conus_tip_z]),
        color=(0.95, 0.85, 0.55),
    )
    landmarks: dict[str, np.ndarray] = {}
    frames: dict[str, np.ndarray] = {}
    for lvl in PHANTOM_LEVELS:
        mesh, labels, names = _bone(lvl, lvl not in laminectomy)
        add(
            lvl,
            "bone",
            mesh,
            level=lvl,
            color=(0.95, 0.93, 0.85),
            face_labels=labels,
            part_ids=names,
        )
        c = level_centre_z(lvl)
        if lvl not in laminectomy:
            landmarks[f"{lvl}.spinous_tip"] = np.array([0.0, -25.0, c - 3.0])
            landmarks[f"{lvl}.spinous_inferior_edge_posterior"] = np.array([0.0, -25.0, c - 12])
            landmarks[f"{lvl}.spinous_superior_edge_posterior"] = np.array([0.0, -25.0, c + 6])
        landmarks[f"{lvl}.canal_centre"] = np.array([0.0, -69.5, c])
        f = np.eye(4)
        f[:3, 3] = [0.0, -110.0, c]
        frames[lvl] = f
    return Anatomy(S, landmarks, frames, info={"name": "needle box phantom"})
