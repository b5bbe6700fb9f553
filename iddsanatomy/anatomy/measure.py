"""Measure the anatomy's *meshes* (ray casts and vertex bands), not the generator's parameters.

Each function reads an :class:`~iddsanatomy.anatomy.model.Anatomy` and returns numbers in mm or
degrees; :func:`measure_all` collects them with the reference range each must fall in
(:func:`iddsanatomy.anatomy.soft_params.reference_ranges`). Landmarks are used only to say *where*
to measure (a vertebra's frame, its canal centre); the distances come from the surfaces.

Definitions (chosen to match how the cited papers measure):

* vertebral body width / depth: chords through the body 3 mm below the superior endplate rim,
  across (x) and front-to-back (y) in the vertebra's frame; height: mean of the vertical chords at
  the anterior, middle and posterior thirds of the midline.
* pedicle width: the shortest chord across the pedicle through its centre in the axial plane;
  height: the vertical chord through its centre.
* canal depth / width: chords through the canal centre, front-to-back and left-right.
* spinous process length: posterior body wall to the tip (Clouthier 2023); height: vertical
  extent of the spinous process 10 mm in front of its tip.
* interlaminar window: in the coronal band of the laminae (canal back −1 to +8 mm), height from the
  top of the lower lamina to the bottom of the upper one in the midline; width between the
  articular processes along Sakçı's lateral recess line, the widest transverse chord of the
  window (its base; see :func:`window_width_heights`).
* disc heights: chords through the disc along its mean axis at the anterior and posterior rims
  (7.5 % of the disc's AP length in from its edges) and in the middle.
* lordosis: Cobb angle between planes fitted to the L1 superior and S1 superior endplate rims.
* conus tip and dural sac end: lowest point along the canal, as position units (REF §8).
* midline depths: a ray perpendicular to the spine through the middle of each interlaminar
  window: skin → ligamentum flavum anterior surface (epidural space) and skin → dura.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iddsanatomy import geometry
from iddsanatomy.anatomy.soft_params import RefRange, reference_ranges

LUMBAR = ("L1", "L2", "L3", "L4", "L5")
PAIRS = (("T12", "L1"), ("L1", "L2"), ("L2", "L3"), ("L3", "L4"), ("L4", "L5"), ("L5", "S1"))


@dataclass
class Measurement:
    """One measured quantity at one level, with its reference."""

    quantity: str
    where: str
    value: float
    unit: str
    ref: RefRange | None

    @property
    def ok(self) -> bool | None:
        if self.ref is None or not np.isfinite(self.value):
            return None if self.ref is None else False
        return self.ref.contains(self.value)


# --------------------------------------------------------------------------------------------
# ray helpers
# --------------------------------------------------------------------------------------------
def hits(mesh, origin, direction) -> np.ndarray:
    """Sorted distances (mm) of every crossing of ``mesh`` by the ray ``origin + t·direction``."""
    d = geometry.unit(direction)
    loc, _ray, _tri = mesh.ray.intersects_location(
        np.asarray(origin, float)[None], d[None], multiple_hits=True
    )
    if len(loc) == 0:
        return np.empty(0)
    t = (loc - np.asarray(origin, float)) @ d
    t = np.unique(np.round(t[t > 1e-6], 5))
    return t


def first_hit(mesh, origin, direction) -> float:
    """Distance to the first crossing, or NaN."""
    t = hits(mesh, origin, direction)
    return float(t[0]) if len(t) else float("nan")


def chord(mesh, inside_lps, direction) -> float:
    """Length of the chord of ``mesh`` through a point inside it along ``direction``."""
    return first_hit(mesh, inside_lps, direction) + first_hit(
        mesh, inside_lps, -np.asarray(direction, float)
    )


def _local(anat, level):
    f = anat.lps_from_level[level]
    return f, (lambda p: geometry.apply(f, p)), (lambda v: geometry.apply_direction(f, v))


def _lm_local(anat, level, name):
    f = anat.lps_from_level[level]
    return geometry.apply(np.linalg.inv(f), anat.landmarks_lps[f"{level}.{name}"])


# --------------------------------------------------------------------------------------------
# bones
# --------------------------------------------------------------------------------------------
def vertebral_body(anat, level: str) -> dict[str, float]:
    """Body width, depth and height (mm) of vertebra ``level``, from its mesh."""
    mesh = anat[level].mesh
    _, P, D = _local(anat, level)
    top = _lm_local(anat, level, "superior_endplate_anterior")[2]
    top_p = _lm_local(anat, level, "superior_endplate_posterior")[2]
    z = min(top, top_p) - 3.0
    # width: from outside on each side along x through the body centre line
    w = (
        200.0
        - first_hit(mesh, P([100, 0, z]), D([-1, 0, 0]))
        - first_hit(mesh, P([-100, 0, z]), D([1, 0, 0]))
    )
    # depth: anterior wall from outside, posterior wall from inside the canal
    ant = -100.0 + first_hit(mesh, P([0, -100, z]), D([0, 1, 0]))
    cc = _lm_local(anat, level, "canal_centre")
    post = cc[1] - first_hit(mesh, P([0, cc[1], z]), D([0, -1, 0]))
    depth = post - ant
    hs = []
    for y in (ant + 0.2 * depth, 0.5 * (ant + post), post - 0.2 * depth):
        hs.append(
            200.0
            - first_hit(mesh, P([0, y, 100]), D([0, 0, -1]))
            - first_hit(mesh, P([0, y, -100]), D([0, 0, 1]))
        )
    return {"vb_width": w, "vb_depth": depth, "vb_height": float(np.mean(hs))}


def pedicle(anat, level: str, side: str = "left") -> dict[str, float]:
    """Pedicle width (shortest axial chord through its centre) and height (mm)."""
    mesh = anat[level].mesh
    _, P, D = _local(anat, level)
    c = _lm_local(anat, level, f"pedicle_centre.{side}")
    widths = []
    for th in np.radians(np.arange(-60, 61, 5)):
        widths.append(chord(mesh, P(c), D([np.cos(th), np.sin(th), 0.0])))
    heights = []
    for th in np.radians(np.arange(-20, 21, 5)):
        heights.append(chord(mesh, P(c), D([0.0, np.sin(th), np.cos(th)])))
    return {"pedicle_width": float(np.nanmin(widths)), "pedicle_height": float(np.nanmin(heights))}


def canal(anat, level: str) -> dict[str, float]:
    """Canal AP depth and interpedicular width (mm) through the canal centre."""
    mesh = anat[level].mesh
    _, P, D = _local(anat, level)
    c = _lm_local(anat, level, "canal_centre")
    return {
        "canal_depth": first_hit(mesh, P(c), D([0, 1, 0])) + first_hit(mesh, P(c), D([0, -1, 0])),
        "canal_width": first_hit(mesh, P(c), D([1, 0, 0])) + first_hit(mesh, P(c), D([-1, 0, 0])),
    }


def spinous_process(anat, level: str) -> dict[str, float]:
    """Spinous process length (posterior body wall to tip) and height (mm)."""
    mesh = anat[level].mesh
    f, P, D = _local(anat, level)
    v = geometry.apply(np.linalg.inv(f), mesh.vertices)
    mid = v[np.abs(v[:, 0]) < 2.5]
    tip = mid[np.argmax(mid[:, 1])]
    cc = _lm_local(anat, level, "canal_centre")
    wall = cc[1] - first_hit(mesh, P([0, cc[1], 0.0]), D([0, -1, 0]))
    y = tip[1] - 10.0
    up = first_hit(mesh, P([0, y, 100]), D([0, 0, -1]))
    dn = first_hit(mesh, P([0, y, -100]), D([0, 0, 1]))
    return {"sp_length": float(tip[1] - wall), "sp_height": 200.0 - up - dn}


# --------------------------------------------------------------------------------------------
# interspaces
# --------------------------------------------------------------------------------------------
def _canal_point(anat, level):
    lm = anat.landmarks_lps
    if level == "S1":
        return lm.get("S1.canal_centre", lm["S1.s1_canal_centre"])
    return lm[f"{level}.canal_centre"]


def _canal_back(anat, level):
    if level == "S1":
        return None
    return anat.landmarks_lps[f"{level}.canal_posterior"]


def interspace_frame(anat, upper: str, lower: str) -> np.ndarray:
    """``lps_from_interspace``: origin between the two canal centres, z up the canal, y "
    "posterior."""
    cu, cl = _canal_point(anat, upper), _canal_point(anat, lower)
    z = geometry.unit(cu - cl)
    t = geometry.frame(0.5 * (cu + cl), (1, 0, 0), np.cross(z, (1, 0, 0)))
    return t


def _bone_mesh(anat, level):
    return anat["sacrum" if level == "S1" else level].mesh


LAMINA_PARTS = ("lamina.left", "lamina.right", "spinous_process", "s1_lamina")


def _lamina_points(anat, level) -> np.ndarray:
    """Face centres (LPS) of the laminae and spinous process of a bone (by its face labels)."""
    s = anat["sacrum" if level == "S1" else level]
    if level == "S1":  # the sacrum's arch labels are coarse: its whole posterior surface counts
        return s.mesh.triangles_center
    ids = [i for i, pid in enumerate(s.part_ids) if pid.split(".", 1)[1] in LAMINA_PARTS]
    return s.mesh.triangles_center[np.isin(s.face_labels, ids)]


def interlaminar_window(anat, upper: str, lower: str) -> dict[str, float]:
    """Interlaminar window height and width (mm) in the coronal band of the laminae."""
    f = interspace_frame(anat, upper, lower)
    inv = np.linalg.inv(f)
    backs = [geometry.apply(inv, _canal_back(anat, lv))[1] for lv in (upper, lower) if lv != "S1"]
    y_cb = float(np.mean(backs))
    mu = geometry.apply(inv, _lamina_points(anat, upper))
    ml = geometry.apply(inv, _lamina_points(anat, lower))

    def band(v):
        return v[(np.abs(v[:, 0]) < 3.0) & (v[:, 1] > y_cb - 1.0) & (v[:, 1] < y_cb + 8.0)]

    bu, bl = band(mu), band(ml)
    bl = bl[bl[:, 2] < 25.0]
    if len(bu) == 0 or len(bl) == 0:
        return {"interlaminar_height": float("nan"), "interlaminar_width": float("nan")}
    z_top_lower = float(bl[:, 2].max())
    z_bot_upper = float(bu[:, 2].min())
    import trimesh

    both = trimesh.util.concatenate([_bone_mesh(anat, upper), _bone_mesh(anat, lower)])
    dx = geometry.apply_direction(f, [1.0, 0, 0])
    widths = []
    for z in window_width_heights(z_top_lower, z_bot_upper):
        o = geometry.apply(f, [0.0, y_cb + 2.0, z])
        widths.append(first_hit(both, o, dx) + first_hit(both, o, -dx))
    width = float(np.nanmax(widths)) if np.isfinite(widths).any() else float("nan")
    return {"interlaminar_height": z_bot_upper - z_top_lower, "interlaminar_width": width}


def window_width_heights(z_top_lower: float, z_bot_upper: float, step_mm: float = 1.0):
    """Heights (interspace frame, mm) at which :func:`interlaminar_window` measures widths.

    Sakçı 2018 [R] measure the window's width on the *lateral recess line* (LRL): the transverse
    line joining the window's two lateral angles, where the inferior edge of the upper lamina and
    its inferior articular process meet the superior articular process below. The window is a
    triangle with its apex up at the spinous-process base, so that line is its base, its widest
    chord. The width is therefore the widest transverse chord of the window, searched every
    ``step_mm`` from 1 mm above the lower lamina to 1 mm below the upper one (a chord at mid-height
    would read about half the base of a triangle).
    """
    lo, hi = z_top_lower + 1.0, z_bot_upper - 1.0
    if hi <= lo:
        return np.array([0.5 * (z_top_lower + z_bot_upper)])
    return np.arange(lo, hi + 1e-9, step_mm)


def disc_heights(anat, upper: str, lower: str) -> dict[str, float]:
    """Anterior, middle and posterior height (mm) of the disc between ``upper`` and ``lower``."""
    seg = f"{upper}-{lower}"
    mesh = anat[f"disc.{seg}"].mesh
    zu = anat.lps_from_level[upper][:3, 2]
    zl = anat.lps_from_level[lower][:3, 2]
    axis = geometry.unit(zu + zl)
    ylat = geometry.unit(np.cross(axis, (1.0, 0, 0)))  # posterior in the disc's plane
    lo_c = anat.landmarks_lps[
        "S1.s1_superior_endplate_centre" if lower == "S1" else f"{lower}.superior_endplate_centre"
    ]
    up_c = anat.landmarks_lps[f"{upper}.inferior_endplate_centre"]
    c = 0.5 * (lo_c + up_c)
    ant = first_hit(mesh, c, -ylat)
    post = first_hit(mesh, c, ylat)
    length = ant + post
    out = {"disc_middle": chord(mesh, c, axis)}
    for key, along in (
        ("disc_anterior", -(ant - 0.075 * length)),
        ("disc_posterior", post - 0.075 * length),
    ):
        out[key] = chord(mesh, c + along * ylat, axis)
    return out


def endplate_normal(anat, level: str) -> np.ndarray:
    """Unit normal (LPS) of the superior endplate rim of ``level`` (``S1`` = sacrum), plane fit."""
    mesh = _bone_mesh(anat, level)
    f = anat.lps_from_level[level]
    if level == "S1":
        c_local = np.zeros(3)
        rx, ry, r0 = 20.0, 14.0, 0.0
    else:
        c_local = _lm_local(anat, level, "superior_endplate_centre")
        sa = _lm_local(anat, level, "superior_endplate_anterior")
        sp_ = _lm_local(anat, level, "superior_endplate_posterior")
        ry = 0.5 * (sp_[1] - sa[1]) * 0.85
        rx = ry * 1.25
        r0 = 0.78
    pts = []
    for th in np.linspace(0, 2 * np.pi, 36, endpoint=False):
        if np.sin(th) > 0.3:
            continue  # the posterior rim is crowded by pedicles and articular processes
        for rr in ((r0 + 1) / 2, 0.9) if r0 else (0.3, 0.6, 0.9):
            q = np.array([rx * rr * np.cos(th), ry * rr * np.sin(th), c_local[2] + 40.0])
            o = geometry.apply(f, q)
            d = geometry.apply_direction(f, [0, 0, -1.0])
            t = first_hit(mesh, o, d)
            if np.isfinite(t):
                pts.append(o + t * d)
    pts = np.asarray(pts)
    keep = np.ones(len(pts), bool)
    for _ in range(3):  # drop hits on other parts (articular processes) and refit
        c0 = pts[keep].mean(0)
        n = np.linalg.svd(pts[keep] - c0)[2][-1]
        r = np.abs((pts - c0) @ n)
        keep = r < max(1.0, 2.5 * np.median(r[keep]))
    if n @ f[:3, 2] < 0:
        n = -n
    return n


def lordosis_deg(anat) -> float:
    """L1–S1 Cobb angle (degrees) between the L1 and S1 superior endplates, sagittal plane."""
    from iddsanatomy.anatomy.variation import sagittal_angle_deg

    return sagittal_angle_deg(endplate_normal(anat, "S1"), endplate_normal(anat, "L1"))


# --------------------------------------------------------------------------------------------
# neural axis and midline depths
# --------------------------------------------------------------------------------------------
def _units_of_lowest(anat, sid):
    from iddsanatomy.anatomy.softtissue import canal_curve, unit_table, units_at_s

    curve = canal_curve(anat.landmarks_lps)
    _, s, _ = curve.coords(anat[sid].mesh.vertices)
    table = unit_table(anat.landmarks_lps, curve)
    return units_at_s(float(s.min()), table)


def conus_tip_units(anat) -> float:
    """Position units (REF §8) of the lowest point of the conus."""
    return _units_of_lowest(anat, "conus")


def sac_end_units(anat) -> float:
    """Position units of the lowest point of the dural sac."""
    return _units_of_lowest(anat, "dura")


def midline_ray(landmarks, upper: str, lower: str) -> tuple[np.ndarray, np.ndarray]:
    """The midline needle path of an interspace: (origin outside the skin, unit direction).

    It enters between the spinous processes (midway between the lower border of the upper one
    and the upper border of the lower one, or the top of the median sacral crest) and aims at
    the centre of the interlaminar window, as a midline loss-of-resistance needle does.
    """
    seg = f"{upper}-{lower}"
    c = np.asarray(landmarks[f"{seg}.interlaminar_centre"], float)
    a = np.asarray(landmarks[f"{upper}.spinous_inferior_edge_posterior"], float)
    key = "S1.median_crest_top" if lower == "S1" else f"{lower}.spinous_superior_edge_posterior"
    b = np.asarray(landmarks[key], float)
    m = 0.5 * (a + b)
    m[0] = c[0] = 0.0
    d = geometry.unit(c - m)
    return m - 150.0 * d, d


def midline_depths(anat, upper: str, lower: str) -> dict[str, float]:
    """Depths (mm) along the midline needle path of an interspace (:func:`midline_ray`)."""
    seg = f"{upper}-{lower}"
    o, d = midline_ray(anat.landmarks_lps, upper, lower)
    t_skin = first_hit(anat["skin"].mesh, o, d)
    lf = hits(anat[f"ligamentum_flavum.{seg}"].mesh, o, d)
    t_dura = first_hit(anat["dura"].mesh, o, d)
    out = {"skin_to_dura": t_dura - t_skin}
    if len(lf) >= 2:
        out["skin_to_epidural"] = lf[1] - t_skin
        # thickness across the ligament (as on axial MRI), through the point the path crosses it
        mid = o + d * 0.5 * (lf[0] + lf[1])
        across = interspace_frame(anat, upper, lower)[:3, 1]
        out["lf_thickness"] = chord(anat[f"ligamentum_flavum.{seg}"].mesh, mid, across)
        out["epidural_depth"] = t_dura - lf[1]
        ssl = hits(anat["supraspinous_ligament"].mesh, o, d)
        isl = hits(anat[f"interspinous_ligament.{seg}"].mesh, o, d)
        first = ssl[0] if len(ssl) else (isl[0] if len(isl) else np.nan)
        out["isl_length"] = lf[0] - first
        out["skin_plus_fat"] = first - t_skin
    return out


# --------------------------------------------------------------------------------------------
# all of it
# --------------------------------------------------------------------------------------------
UNITS = {"lordosis": "°", "conus_tip": "units", "sac_end": "units"}


def measure_all(anat) -> list[Measurement]:
    """Every measured quantity with its reference range (see the module docstring)."""
    refs = reference_ranges()
    out: list[Measurement] = []

    def put(q, where, value):
        ref = refs.get(q, {}).get(where)
        out.append(Measurement(q, where, float(value), UNITS.get(q, "mm"), ref))

    for lv in LUMBAR:
        for q, v in vertebral_body(anat, lv).items():
            put(q, lv, v)
    for lv in ("T12", *LUMBAR):
        for q, v in pedicle(anat, lv).items():
            put(q, lv, v)
    for lv in LUMBAR:
        for q, v in canal(anat, lv).items():
            put(q, lv, v)
        for q, v in spinous_process(anat, lv).items():
            put(q, lv, v)
    for up, lo in PAIRS:
        seg = f"{up}-{lo}"
        if up != "T12":
            for q, v in interlaminar_window(anat, up, lo).items():
                put(q, seg, v)
        for q, v in disc_heights(anat, up, lo).items():
            put(q, seg, v)
    put("lordosis", "L1-S1", lordosis_deg(anat))
    put("conus_tip", "units", conus_tip_units(anat))
    put("sac_end", "units", sac_end_units(anat))
    for up, lo in PAIRS[1:]:
        seg = f"{up}-{lo}"
        for q, v in midline_depths(anat, up, lo).items():
            put(q, seg, v)
    return out


def format_report(ms: list[Measurement]) -> str:
    """A table: quantity, where, measured, reference, source, in range."""
    from iddsanatomy.anatomy.variant import position_label

    rows = [("quantity", "where", "measured", "reference", "ok", "source")]
    for m in ms:
        if m.unit == "units":
            val = f"{m.value:.1f} ({position_label(np.floor(m.value))})"
        else:
            val = f"{m.value:.1f} {m.unit}"
        ok = {True: "yes", False: "NO", None: "-"}[m.ok]
        rows.append(
            (
                m.quantity,
                m.where,
                val,
                m.ref.text if m.ref else "",
                ok,
                m.ref.source if m.ref else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for k, r in enumerate(rows):
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        )
        if k == 0:
            lines.append("-" * (sum(widths) + 2 * 5 + 20))
    return "\n".join(lines)
