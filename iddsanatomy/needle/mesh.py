"""Needle meshes to scale, for the 3D view and the simulated fluoroscopy."""

from __future__ import annotations

import numpy as np

from iddsanatomy.needle.needles import QUINCKE_BEVEL_DEG, TUOHY_CURVE_DEG
from iddsanatomy.needle.pose import NeedlePose

HUB_DIAMETER_MM = 7.0  # plastic hub [TU]; radiolucent, so leave it out of the DRR (hub=False)
HUB_LENGTH_MM = 15.0
TUOHY_CURVE_LENGTH_MM = 4.0
SECTIONS = 16


def _frame(pose: NeedlePose, bevel_towards=(0.0, 0.0, 1.0)):
    e3 = pose.unit_direction
    b = np.asarray(bevel_towards, float)
    e1 = b - (b @ e3) * e3
    if np.linalg.norm(e1) < 1e-6:
        e1 = np.array([1.0, 0.0, 0.0]) - e3[0] * e3
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(e3, e1), e3


def _tube_arrays(rings: list[np.ndarray], cap_first: np.ndarray, cap_last: np.ndarray):
    """Vertices and faces of a closed tube through ``rings`` ((n, 3) each, counter-clockwise
    about the tube's axis, first to last), closed by two fan caps; normals point outward."""
    n = len(rings[0])
    nr = len(rings)
    v = np.concatenate([*rings, cap_first[None], cap_last[None]])
    i = np.arange(n)
    j = (i + 1) % n
    r = np.arange(nr - 1)[:, None] * n
    a_i, a_j, b_i, b_j = r + i, r + j, r + n + i, r + n + j
    side = np.concatenate(
        [np.stack([a_i, a_j, b_j], -1).reshape(-1, 3), np.stack([a_i, b_j, b_i], -1).reshape(-1, 3)]
    )
    c0, c1 = nr * n, nr * n + 1
    last = (nr - 1) * n
    caps = np.concatenate(
        [
            np.stack([np.full(n, c0), j, i], -1),
            np.stack([np.full(n, c1), last + i, last + j], -1),
        ]
    )
    return v, np.concatenate([side, caps])


def _tube(rings: list[np.ndarray], cap_first: np.ndarray, cap_last: np.ndarray):
    import trimesh

    v, f = _tube_arrays(rings, cap_first, cap_last)
    return trimesh.Trimesh(v, f, process=False)


def needle_mesh(
    pose: NeedlePose, depth_mm: float | None = None, hub: bool = True, bevel_towards=(0, 0, 1)
):
    """The needle of ``pose`` as a ``trimesh.Trimesh`` in LPS mm, to scale.

    The shaft (outer diameter of the gauge) runs from the tip back by the needle's length; the
    tip is a Quincke cutting bevel, a pencil-point cone or a curved Tuohy end whose opening faces
    ``bevel_towards`` (cephalad by default). ``depth_mm`` overrides the pose's depth (use the
    analysis's ``tip_depth_mm`` when bone stopped the needle). ``hub=False`` leaves out the
    plastic hub (radiolucent: the DRR should not draw it).
    """
    import trimesh

    needle = pose.needle
    depth = pose.depth_mm if depth_mm is None else float(depth_mm)
    r = needle.outer_diameter_mm / 2
    e1, e2, e3 = _frame(pose, bevel_towards)
    tip = pose.entry + depth * e3
    hub_end = tip - needle.length_mm * e3
    th = np.linspace(0, 2 * np.pi, SECTIONS, endpoint=False)
    circle = np.cos(th)[:, None] * e1 + np.sin(th)[:, None] * e2  # (n, 3) unit offsets
    base = hub_end + r * circle
    if needle.tip == "quincke":
        # a plane cut: sharp point on the -e1 side at the tip, heel L_b behind on the +e1 side
        lb = 2 * r / np.tan(np.radians(QUINCKE_BEVEL_DEG))
        x = np.cos(th)
        back = lb * (x + 1) / 2
        top = tip + r * circle - back[:, None] * e3
        mesh = _tube([base, top], hub_end, tip - lb / 2 * e3)
    elif needle.tip == "pencil_point":
        lc = 3 * needle.outer_diameter_mm
        ring = tip - lc * e3 + r * circle
        mesh = _tube([base, ring], hub_end, tip)
    else:  # Tuohy: the last few mm curve by TUOHY_CURVE_DEG towards the opening
        L = TUOHY_CURVE_LENGTH_MM
        start = tip - L * e3
        rings = [base]
        k = 6
        rad = L / np.radians(TUOHY_CURVE_DEG)
        for i in range(k + 1):
            a = np.radians(TUOHY_CURVE_DEG) * i / k
            c = start + rad * np.sin(a) * e3 + rad * (1 - np.cos(a)) * e1
            t = np.cos(a) * e3 + np.sin(a) * e1
            n1 = np.cos(a) * e1 - np.sin(a) * e3
            rings.append(c + r * (np.cos(th)[:, None] * n1 + np.sin(th)[:, None] * e2))
        end_c = rings[-1].mean(axis=0)
        mesh = _tube(rings, hub_end, end_c + 0.2 * r * t)
    if hub:
        back = hub_end - HUB_LENGTH_MM * e3
        rh = HUB_DIAMETER_MM / 2
        hv, hf = _tube_arrays([back + rh * circle, hub_end + rh * circle], back, hub_end)
        mesh = trimesh.Trimesh(
            np.concatenate([mesh.vertices, hv]),
            np.concatenate([mesh.faces, hf + len(mesh.vertices)]),
            process=False,
        )
    return mesh
