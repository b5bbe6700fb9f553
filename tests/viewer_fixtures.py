"""A small synthetic anatomy for fast render and GUI tests (a few trimesh primitives).

Layout (LPS mm): two "vertebrae" L3 (z = 0) and L4 (z = -40) as ellipsoids, a disc between
them, a ligamentum flavum block behind, a dura tube, an interlaminar window, skin (hidden by
default) and one structure that failed to load. L3 has two parts: its left half
(``L3.pedicle.left``, x > 0) and its right half (``L3.pedicle.right``). Colours are distinct so
that a read-back pixel tells which structure is there.
"""

from __future__ import annotations

import numpy as np
import trimesh

from iddsanatomy.anatomy.model import Anatomy, Structure
from iddsanatomy.geometry import translation

BONE = (0.90, 0.86, 0.74)
DISC = (0.30, 0.55, 0.90)
LIGAMENT = (0.95, 0.80, 0.20)
DURA = (0.40, 0.85, 0.45)
REGION = (0.9, 0.3, 0.8)
SKIN = (0.95, 0.75, 0.65)


def _ellipsoid(radii, centre, subdivisions=4) -> trimesh.Trimesh:
    m = trimesh.creation.icosphere(subdivisions=subdivisions)
    m.apply_scale(radii)
    m.apply_translation(centre)
    return m


def make_anatomy() -> Anatomy:
    """The synthetic anatomy (new objects on every call, so tests cannot leak into each other)."""
    s: dict[str, Structure] = {}

    def add(sid, tissue, name, mesh, color, level=None, **kw):
        s[sid] = Structure(
            id=sid,
            tissue=tissue,
            display_name=name,
            description=f"Synthetic {name.lower()} for tests.",
            level=level,
            mesh=mesh,
            color=color,
            **kw,
        )

    l3 = _ellipsoid((22.0, 16.0, 12.0), (0.0, 0.0, 0.0))
    centres = l3.triangles_center
    labels = np.where(centres[:, 0] > 0, 0, 1)  # 0: left (+x), 1: right
    add(
        "L3",
        "bone",
        "L3 vertebra",
        l3,
        BONE,
        level="L3",
        face_labels=labels,
        part_ids=("L3.pedicle.left", "L3.pedicle.right"),
        coarse=_ellipsoid((22.0, 16.0, 12.0), (0.0, 0.0, 0.0), subdivisions=2),
    )
    for k, side in enumerate(("left", "right")):
        add(
            f"L3.pedicle.{side}",
            "bone",
            f"L3 {side} pedicle",
            l3.submesh([np.nonzero(labels == k)[0]], append=True),
            BONE,
            level="L3",
            parent="L3",
            closed=False,
        )
    add(
        "L4",
        "bone",
        "L4 vertebra",
        _ellipsoid((22.0, 16.0, 12.0), (0.0, 0.0, -40.0)),
        BONE,
        level="L4",
        coarse=_ellipsoid((22.0, 16.0, 12.0), (0.0, 0.0, -40.0), subdivisions=2),
    )
    disc = trimesh.creation.cylinder(radius=18.0, height=12.0, sections=48)
    disc.apply_translation((0.0, 0.0, -20.0))
    add("disc.L3-L4", "disc", "L3–L4 disc", disc, DISC, level="L3-L4")
    lf = trimesh.creation.box(extents=(16.0, 4.0, 14.0))
    lf.apply_transform(translation((0.0, 30.0, -20.0)))
    add("ligamentum_flavum.L3-L4", "ligament", "L3–L4 ligamentum flavum", lf, LIGAMENT, "L3-L4")
    window = trimesh.creation.box(extents=(12.0, 2.0, 10.0))
    window.apply_transform(translation((0.0, 34.0, -20.0)))
    add("interlaminar.L3-L4", "region", "L3–L4 interlaminar space", window, REGION, "L3-L4")
    dura = trimesh.creation.cylinder(radius=7.0, height=90.0, sections=32)
    dura.apply_translation((0.0, 22.0, -20.0))
    add("dura", "dura", "Dural sac", dura, DURA)
    skin = trimesh.creation.box(extents=(160.0, 120.0, 140.0))
    skin.apply_translation((0.0, 10.0, -20.0))
    add("skin", "skin", "Skin", skin, SKIN)
    s["L5"] = Structure(
        id="L5",
        tissue="bone",
        display_name="L5 vertebra",
        level="L5",
        error="cannot load meshes/L5.ply: file is truncated (expected 1200 faces, found 3)",
    )
    frames = {"L3": translation((0.0, 0.0, 0.0)), "L4": translation((0.0, 0.0, -40.0))}
    return Anatomy(structures=s, lps_from_level=frames, info={"synthetic": True})
