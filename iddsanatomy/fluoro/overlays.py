"""Where overlay text and lines go on a fluoroscopy image: pixel positions from a pose.

All functions return pixel coordinates (col, row) for :func:`iddsanatomy.fluoro.display.overlay`.
"""

from __future__ import annotations

import numpy as np

from iddsanatomy.fluoro.pose import CArmPose


def level_labels(anatomy, pose: CArmPose, beside_mm: float | None = None) -> dict:
    """Each level's name beside its body, where it hides no bone.

    The body centre is projected and moved ``beside_mm`` (at the isocentre) along the image
    rows: to the right in AP; in obliques and laterals to the side the vertebral bodies face
    (anterior), because the posterior elements swing to the other side.
    """
    u, _, _ = pose.image_axes_lps
    if beside_mm is None:
        # the body's half-extent along the image axis (half width 23, half depth 17.5 mm)
        half = 23.0 * abs(u[0]) + 17.5 * abs(u[1])
        if abs(u[1]) < 0.2:
            beside_mm = half + 9.0  # the text runs rightwards from here
        elif u[1] > 0:  # posterior to the image right: write on the left, text ending short
            beside_mm = -(half + 27.0)
        else:
            beside_mm = half + 9.0
    shift = beside_mm * pose.magnification / pose.pixel_mm
    out = {}
    for level, frame in (getattr(anatomy, "lps_from_level", None) or {}).items():
        col, row = pose.project(np.asarray(frame)[:3, 3])
        out[level] = (float(col + shift), float(row))
    return out


def rib_labels(anatomy, pose: CArmPose) -> dict:
    """Each rib's name at its free (lateral) end."""
    out = {}
    for sid, s in anatomy.structures.items():
        if "rib" in sid and s.tissue == "bone" and s.ok and s.parent is None:
            v = np.asarray(s.mesh.vertices)
            tip = v[np.argmax(np.abs(v[:, 0]))]
            col, row = pose.project(tip)
            out[s.display_name or sid] = (float(col), float(row))
    return out


def orientation_marker(pose: CArmPose, margin_px: float | None = None) -> dict:
    """The side marker a radiographer puts on the image: "R" or "L" on the side where the
    patient's right or left is (AP and obliques), "A" or "P" in a lateral."""
    n = pose.pixels
    m = margin_px if margin_px is not None else n * 0.06
    u, _, _ = pose.image_axes_lps
    if abs(u[0]) >= abs(u[1]):
        text = "R" if u[0] < 0 else "L"  # u points to the patient's right when u·x < 0
    else:
        text = "P" if u[1] > 0 else "A"
    return {text: (float(n - m - 0.03 * n), float(m))}


def needle_path(needle, pose: CArmPose, length_mm: float | None = None) -> np.ndarray | None:
    """The planned path of a needle (entry along its direction, its full length), projected:
    (k, 2) pixels, or None if the object is not a needle pose."""
    entry = getattr(needle, "entry_lps", None)
    direction = getattr(needle, "direction", None)
    if entry is None or direction is None:
        return None
    e, d = np.asarray(entry, float), np.asarray(direction, float)
    if length_mm is None:
        length_mm = float(getattr(getattr(needle, "needle", None), "length_mm", 120.0))
    pts = e + np.outer(np.linspace(0.0, length_mm, 24), d / np.linalg.norm(d))
    return pose.project(pts)
