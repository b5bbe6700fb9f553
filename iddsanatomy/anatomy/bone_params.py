"""Per-level bone parameters for the parametric vertebrae (T12, L1–L5).

Every literature figure carries its source as a comment: "REF §n" is a section of
``shared/anatomy/REFERENCE.md`` followed by the paper it quotes; [R] read in the paper, [TU]
textbook value that REFERENCE.md marks unverified. Numbers marked **[shape]** are not literature
values: they place and proportion parts whose size REFERENCE.md does not give (where the spinous
process sits craniocaudally, how far the transverse processes tilt, ...). They were chosen by
looking at bones and by the surface-distance comparison of ``compare.py`` against the Clouthier
2023 mean shape, which only scores the generator; it never feeds it any vertex.

All lengths in mm, angles in degrees; local vertebra frame LPS-aligned (+x left, +y posterior,
+z superior), origin at the centre of the vertebral body at mid-height.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from iddsanatomy.errors import ValidationError

LEVELS: tuple[str, ...] = ("T12", "L1", "L2", "L3", "L4", "L5")


@dataclass(frozen=True)
class VertebraParams:
    """The numbers that shape one vertebra (mm, degrees). See the module docstring for sources.

    Positions of posterior elements along y are measured from the posterior body wall
    (y = body_depth / 2) unless they say otherwise; z is measured from the body's mid-height.
    """

    level: str
    # --- vertebral body (REF §1)
    body_width: float  # transverse width, mean over the height (rims wider, waist narrower)
    body_depth: float  # AP depth, mean over the height
    body_ha: float  # anterior height
    body_hp: float  # posterior height
    body_waist: float = 0.15  # [shape] rim-to-waist difference as a fraction of the width
    body_waist_power: float = 1.2  # [shape] <2 concentrates the waist at mid-height
    body_waist_depth_share: float = 0.5  # [shape] the AP depth narrows by this share of it
    body_squareness_anterior: float = 2.4  # [shape] superellipse exponent, anterior half
    body_squareness_posterior: float = 3.2  # [shape] superellipse exponent, posterior half
    body_posterior_concavity: float = 3.0  # [shape] midline dip of the posterior body wall
    endplate_concavity_superior: float = 0.7  # REF §1 Wang 2012 [R]: caudal endplate of a disc
    endplate_concavity_inferior: float = 1.5  # REF §1 Wang 2012 [R]: cranial endplate of a disc
    endplate_central_fraction: float = 0.70  # REF §1 Wang 2012 [R]: central endplate ≈70 %
    rim_radius: float = 2.0  # [shape] rounding of the ring apophysis
    # --- pedicles (REF §2)
    pedicle_width: float = 10.0
    pedicle_height: float = 15.0
    pedicle_transverse_deg: float = 14.0
    pedicle_sagittal_deg: float = 3.0  # REF §2 [TU]: 0–10° cephalad, smallest at L5
    pedicle_length: float = 16.0  # [shape] along the axis, posterior wall to the pars
    pedicle_top_gap: float = 1.0  # [shape] pedicle top below the posterior-superior body corner
    # --- canal (REF §3a)
    canal_width: float = 25.0  # interpedicular
    canal_depth: float = 16.7  # midsagittal AP, from the (concave) posterior body wall
    # --- laminae (REF §3b Wang 2024 [R])
    lamina_height: float = 22.0
    lamina_thickness: float = 6.0
    laminar_angle_deg: float = 125.0
    lamina_sagittal_deg: float = 33.0  # [shape] inferior edge posterior of the superior edge
    lamina_top_z: float = 8.0  # [shape] superior laminar edge (midline)
    lamina_top_lateral_z: float = 4.0  # [shape] superior edge where it meets the SAP; the
    #                                     inferior edge there is lamina_height lower (Wang [R])
    lamina_bottom_z: float = -9.0  # [shape] inferior edge at the midline (SP base)
    # --- spinous process (REF §3c): a sagittal plate, thin above and thick below
    sp_length: float = 47.0  # [shape] posterior body wall to tip (Clouthier's 51.6 [R] uses
    #                          another start point; the mesh's value is measured in tests)
    sp_height: float = 23.5  # Clouthier 2023 [R]: craniocaudal, at the base
    sp_top_base_z: float = 8.0  # [shape]
    sp_top_tip_z: float = 2.0  # [shape] the upper border slopes down posteriorly
    sp_tip_height: float = 15.0  # [shape]
    sp_bottom_z: float = -18.5  # [shape] lowest point of the inferior border (near the tip)
    sp_bottom_y: float = 35.0  # [shape] where it is, behind the posterior wall
    sp_base_bottom_z: float = -7.0  # [shape] inferior border where it leaves the laminae
    sp_half_thickness_top: float = 1.6  # [shape] REF §3c [TU]: plate 6–10 mm thick overall
    sp_half_thickness_bottom: float = 3.4  # [shape]
    sp_bulb_radius: float = 4.5  # [shape] bulbous posterior-inferior tip
    # --- transverse processes (REF §3c [TU] tip-to-tip span)
    tp_span: float = 85.0
    tp_height: float = 11.0  # [shape] craniocaudal at the root
    tp_thickness: float = 6.0  # [shape] AP
    tp_root_y: float = 10.0  # [shape] root behind the posterior wall
    tp_z: float = 5.0  # [shape] root height
    tp_back_deg: float = 14.0  # [shape] posterior sweep of the TP axis
    tp_up_deg: float = 2.0  # [shape] cranial tilt of the TP axis
    tp_body_root: float = 0.0  # [shape] >0: L5-like TP rooted on the body side as well
    tp_body_root_y: float = -6.0  # [shape] where that root leaves the body, from the wall (y)
    tp_body_root_z: float = -2.0  # [shape] ... and from the TP root height (z)
    # --- articular processes (REF §3d facet orientation to the sagittal plane)
    sap_facet_deg: float = 33.0  # joint with the vertebra above
    iap_facet_deg: float = 42.0  # joint with the vertebra below
    sap_joint_x: float = 13.0  # [shape] joint centre (axis of the upper IAP), from the midline
    sap_joint_y: float = 19.0  # [shape] joint centre behind the posterior wall
    iap_joint_x: float = 14.0  # [shape] axis of this vertebra's IAP
    iap_joint_y: float = 20.0  # [shape]
    iap_radius: float = 5.5  # [shape] IAP half thickness (short semi-axis of its section)
    sap_joint_radius: float = 5.5  # [shape] the upper vertebra's iap_radius, which the SAP wraps
    facet_gap: float = 1.5  # [shape] joint space (cartilage) between SAP and IAP
    sap_thickness: float = 5.0  # [shape]
    sap_top_z: float = 23.0  # [shape] cranial tip of the SAP
    sap_arc_deg: float = 70.0  # [shape] J-hook of the SAP around the IAP's front
    sap_post_gap_deg: float = 15.0  # [shape] where the SAP's joint face ends posteriorly
    iap_top_z: float = -2.0  # [shape]
    iap_bottom_z: float = -26.0  # [shape] caudal tip of the inferior articular process
    mammillary_radius: float = 2.5  # [shape] mammillary process on the SAP's posterior border
    # --- thoracic features
    costal_facet: bool = False  # T12 carries the 12th rib head on its body/pedicle junction


# Per-level table. Sources per column:
#   width, depth, Ha, Hp: REF §1 per-level defaults [TU], anchored to Clouthier 2023 L2–L5 means [R]
#   pedicle width/height/transverse angle: REF §2 Zindrick 1987 [TU]; T12 width 7–8, angle 0–5 [TU]
#   canal width: REF §3a per-level interpedicular [TU]; canal depth: Clouthier mean 16.68 [R]
#     over L2–L5 with the minimum at L3 (Griffith 2016 [R])
#   laminar angle: REF §3b Wang 2024 [R] (T12 takes the L1 value)
#   SP height: Clouthier 2023 L2–L5 mean 23.5 [R], spread per level [shape]
#   TP span: REF §3c [TU]; T12 TPs are short tubercles [TU]
#   facets: see FACET_DEG and JOINTS below
_TABLE: dict[str, dict] = {
    "T12": dict(
        body_width=40,
        body_depth=31,
        body_ha=23,
        body_hp=25,
        pedicle_width=7.5,
        pedicle_height=16.0,
        pedicle_transverse_deg=3.0,
        canal_width=21,
        canal_depth=17.0,
        laminar_angle_deg=124.08,
        sp_height=21.0,
        tp_span=55.0,
        costal_facet=True,
    ),
    "L1": dict(
        body_width=42,
        body_depth=33,
        body_ha=25,
        body_hp=27,
        pedicle_width=8.7,
        pedicle_height=15.0,
        pedicle_transverse_deg=11.0,
        canal_width=23,
        canal_depth=17.5,
        laminar_angle_deg=124.08,
        sp_height=22.0,
        tp_span=72.0,
    ),
    "L2": dict(
        body_width=44,
        body_depth=34,
        body_ha=26.5,
        body_hp=27.5,
        pedicle_width=8.9,
        pedicle_height=15.0,
        pedicle_transverse_deg=12.0,
        canal_width=24,
        canal_depth=17.0,
        laminar_angle_deg=125.45,
        sp_height=24.0,
        tp_span=80.0,
    ),
    "L3": dict(
        body_width=46,
        body_depth=35,
        body_ha=27.5,
        body_hp=28,
        pedicle_width=10.3,
        pedicle_height=15.0,
        pedicle_transverse_deg=14.0,
        canal_width=25,
        canal_depth=16.2,
        laminar_angle_deg=125.00,
        sp_height=25.0,
        tp_span=92.0,
    ),
    "L4": dict(
        body_width=48,
        body_depth=35.5,
        body_ha=28,
        body_hp=27.5,
        pedicle_width=12.9,
        pedicle_height=14.0,
        pedicle_transverse_deg=18.0,
        canal_width=26,
        canal_depth=16.5,
        laminar_angle_deg=116.19,
        sp_height=24.0,
        tp_span=88.0,
    ),
    "L5": dict(
        body_width=50,
        body_depth=36,
        body_ha=29,
        body_hp=26,
        pedicle_width=18.0,
        pedicle_height=14.0,
        pedicle_transverse_deg=30.0,
        canal_width=28,
        canal_depth=17.0,
        laminar_angle_deg=108.31,
        sp_height=21.0,
        tp_span=92.0,
    ),
}


#: Facet joints (mm): centre x from the midline and y behind the posterior body wall of the
#: vertebrae's frames (the axis of the upper vertebra's inferior articular process), and that
#: IAP's half thickness. One table for both partners keeps the SAP of a level wrapped around the
#: IAP of the level above at a constant joint gap. [shape] L1–L2 … L5–S1 are the means of the
#: two partners' tuned values; T12–L1 continues the trend upwards; T11–T12 is a thoracic
#: joint whose superior facets face backwards, so it sits further out. L1–L2 … L4–L5 then moved
#: 1.5–3 mm laterally: the tuned joints (an SSM of older spines, mean age 61) left the
#: interlaminar windows narrower than Sakçı 2018's lateral-recess-line widths (REF §5 [R]).
JOINTS: dict[str, tuple[float, float, float]] = {
    "T11-T12": (10.0, 16.8, 4.5),
    "T12-L1": (9.5, 17.8, 5.0),
    "L1-L2": (10.5, 17.8, 5.0),
    "L2-L3": (11.0, 19.85, 5.59),
    "L3-L4": (13.5, 19.15, 5.8),
    "L4-L5": (16.5, 19.5, 6.81),
    "L5-S1": (19.0, 19.3, 6.6),
}

#: Facet angles to the sagittal plane per joint. REF §3d per-level defaults [TU] from the
#: Masharawi 2004 ranges [R]; T11–T12 is thoracic, ≈25–30° from the frontal plane (Masharawi
#: [R]) = ≈62° from the sagittal plane [D]; T12–L1 ≈ L1–L2 (Masharawi T12–L2: 25.9–33.9° [R]).
FACET_DEG: dict[str, float] = {
    "T11-T12": 62.0,
    "T12-L1": 28.0,
    "L1-L2": 28.0,
    "L2-L3": 33.0,
    "L3-L4": 42.0,
    "L4-L5": 50.0,
    "L5-S1": 53.0,
}

_ABOVE = {
    "T12": "T11-T12",
    "L1": "T12-L1",
    "L2": "L1-L2",
    "L3": "L2-L3",
    "L4": "L3-L4",
    "L5": "L4-L5",
}
_BELOW = {
    "T12": "T12-L1",
    "L1": "L1-L2",
    "L2": "L2-L3",
    "L3": "L3-L4",
    "L4": "L4-L5",
    "L5": "L5-S1",
}

#: Per-level shape numbers ([shape], see the module docstring). L2–L5 were tuned by coordinate
#: descent on the symmetric surface distance to the Clouthier 2023 mean shape (compare.py; the
#: tuning script only scores candidates, it copies no geometry); T12 and L1 take L2's values
#: with shorter spinous and transverse processes. The tuned SP lengths (46–51 mm, mean 49)
#: agree with Clouthier's measured mean of 51.6 mm (43–61) [R]; the TP spans stay near the
#: REF §3c [TU] values (L3 ends at 87.8 mm against ≈90–95). Then the laminar edges
#: (lamina_top_z, lamina_top_lateral_z, lamina_bottom_z) and the spinous outline (sp_*_z,
#: sp_tip_height) of L1–L5 were moved to open the interlaminar windows to Sakçı 2018's heights
#: (REF §5 [R]) and to give a ≈10 mm interspinous gap through which a midline needle
#: perpendicular to the spine reaches the window; L4 and L5 were retuned afterwards with those
#: parameters held (``compare.tune_level(..., hold=WINDOW_PARAMS)``). L5's transverse-process
#: root leaves the body behind the pedicle (tp_body_root_y), so that it no longer widens the
#: pedicle's isthmus (REF §2: 12–20 mm). Last, the spinous processes were shortened (sp_length:
#: L1 47→44, L2 50→41, L3 51→42, L4 50→48) and L5's lengthened (46→48), so that the
#: supraspinous + interspinous ligament on the midline needle path (``measure.midline_depths``,
#: isl_length) is 29–31 mm at L1–L2…L3–L4 (Lawrence's median 29.7, IQR 25.5–33.4, REF §10 [R])
#: and 26 mm at L4–L5, instead of 34–36 mm, which kept a lean patient's skin-to-epidural depth
#: above Ravi 2011's line (REF §11b). The soft tissue lays the ligament on a smooth curve through
#: all the tips, so each level moves the neighbouring ones too. The measured SP lengths
#: (45–50 mm) stay in Clouthier's 43–61 mm [R]; the surface distance to the Clouthier mean rose
#: by ≤ 0.11 mm (mean) and ≤ 0.32 mm (p95; worst L3, 3.22 mm).
_SHAPE: dict[str, dict] = {
    "T12": dict(
        body_squareness_posterior=4.28,
        body_waist=0.23,
        body_waist_depth_share=0.9,
        body_waist_power=1.8,
        iap_top_z=-9.4,
        lamina_bottom_z=-12.0,
        lamina_sagittal_deg=15.4,
        lamina_top_lateral_z=7.0,
        lamina_top_z=11.0,
        mammillary_radius=4.66,
        pedicle_length=11.4,
        sap_arc_deg=40.0,
        sap_post_gap_deg=25.0,
        sap_thickness=5.32,
        sap_top_z=21.5,
        sp_base_bottom_z=-8.5,
        sp_bottom_y=38.4,
        sp_bulb_radius=6.9,
        sp_half_thickness_bottom=3.9,
        sp_length=43.0,
        sp_tip_height=20.1,
        sp_top_base_z=9.95,
        sp_top_tip_z=3.5,
        tp_height=8.0,
        tp_root_y=11.5,
        tp_span=55.0,
        tp_thickness=7.6,
    ),
    "L1": dict(
        body_squareness_posterior=4.28,
        body_waist=0.23,
        body_waist_depth_share=0.9,
        body_waist_power=1.8,
        iap_top_z=-9.4,
        lamina_bottom_z=-9.0,
        lamina_sagittal_deg=15.4,
        lamina_top_lateral_z=5.0,
        lamina_top_z=9.0,
        mammillary_radius=4.66,
        pedicle_length=11.4,
        sap_arc_deg=40.0,
        sap_post_gap_deg=25.0,
        sap_thickness=5.32,
        sap_top_z=21.5,
        sp_base_bottom_z=-5.5,
        sp_bottom_y=38.4,
        sp_bottom_z=-8.5,
        sp_bulb_radius=6.9,
        sp_half_thickness_bottom=3.9,
        sp_length=44.0,
        sp_tip_height=18.1,
        sp_top_base_z=9.95,
        sp_top_tip_z=7.5,
        tp_height=13.0,
        tp_root_y=11.5,
        tp_span=72.0,
        tp_thickness=7.6,
    ),
    "L2": dict(
        body_squareness_posterior=4.28,
        body_waist=0.23,
        body_waist_depth_share=0.9,
        body_waist_power=1.8,
        iap_top_z=-9.4,
        lamina_bottom_z=-9.0,
        lamina_sagittal_deg=15.4,
        lamina_top_lateral_z=5.0,
        lamina_top_z=9.0,
        mammillary_radius=4.66,
        pedicle_length=11.4,
        sap_arc_deg=40.0,
        sap_post_gap_deg=25.0,
        sap_thickness=5.32,
        sap_top_z=21.5,
        sp_base_bottom_z=-5.5,
        sp_bottom_y=38.4,
        sp_bottom_z=-8.5,
        sp_bulb_radius=6.9,
        sp_half_thickness_bottom=3.9,
        sp_length=41.0,
        sp_tip_height=18.1,
        sp_top_base_z=9.95,
        sp_top_tip_z=7.5,
        tp_height=13.0,
        tp_root_y=11.5,
        tp_span=77.9,
        tp_thickness=7.6,
    ),
    "L3": dict(
        body_posterior_concavity=2.2,
        body_squareness_posterior=4.4,
        body_waist=0.24,
        body_waist_depth_share=0.7,
        body_waist_power=2.01,
        iap_top_z=-7.4,
        lamina_bottom_z=-6.0,
        lamina_sagittal_deg=15.4,
        lamina_top_lateral_z=2.0,
        lamina_top_z=6.45,
        mammillary_radius=3.06,
        pedicle_length=14.0,
        pedicle_top_gap=1.3,
        sap_arc_deg=19.0,
        sap_post_gap_deg=25.0,
        sap_thickness=5.56,
        sap_top_z=21.5,
        sp_base_bottom_z=-4.0,
        sp_bottom_y=36.4,
        sp_bottom_z=-10.0,
        sp_bulb_radius=5.3,
        sp_half_thickness_bottom=3.9,
        sp_half_thickness_top=2.4,
        sp_length=42.0,
        sp_tip_height=18.1,
        sp_top_base_z=8.9,
        sp_top_tip_z=7.5,
        tp_height=13.3,
        tp_span=87.8,
        tp_thickness=7.04,
    ),
    "L4": dict(
        body_posterior_concavity=0.84,
        body_squareness_anterior=2.19,
        body_squareness_posterior=3.84,
        body_waist=0.23,
        body_waist_depth_share=0.7,
        body_waist_power=1.8,
        iap_bottom_z=-24.5,
        iap_top_z=-7.4,
        lamina_bottom_z=-6.0,
        lamina_sagittal_deg=16.6,
        lamina_top_lateral_z=4.05,
        lamina_top_z=8.05,
        mammillary_radius=2.26,
        pedicle_length=14.0,
        pedicle_top_gap=1.7,
        rim_radius=0.8,
        sap_arc_deg=19.0,
        sap_thickness=5.56,
        sap_top_z=20.0,
        sp_base_bottom_z=-5.5,
        sp_bottom_y=37.8,
        sp_bottom_z=-8.5,
        sp_bulb_radius=5.54,
        sp_half_thickness_bottom=3.9,
        sp_half_thickness_top=2.28,
        sp_length=48.0,
        sp_tip_height=17.55,
        sp_top_base_z=8.45,
        sp_top_tip_z=7.5,
        tp_back_deg=14.0,
        tp_height=13.0,
        tp_root_y=7.0,
        tp_thickness=7.04,
        tp_up_deg=8.0,
        tp_z=3.5,
    ),
    "L5": dict(
        body_posterior_concavity=0.28,
        body_squareness_anterior=2.1,
        body_squareness_posterior=4.0,
        body_waist=0.26,
        body_waist_depth_share=0.56,
        body_waist_power=1.8,
        iap_bottom_z=-23.0,
        iap_top_z=-5.4,
        lamina_bottom_z=-8.1,
        lamina_sagittal_deg=20.6,
        lamina_top_lateral_z=3.0,
        lamina_top_z=7.6,
        mammillary_radius=1.46,
        pedicle_length=15.2,
        pedicle_top_gap=1.4,
        rim_radius=2.42,
        sap_arc_deg=34.0,
        sap_thickness=6.68,
        sap_top_z=18.5,
        sp_base_bottom_z=-4.0,
        sp_bottom_y=34.4,
        sp_bottom_z=-15.5,
        sp_bulb_radius=6.1,
        sp_half_thickness_bottom=3.9,
        sp_half_thickness_top=2.92,
        sp_length=48.0,
        sp_tip_height=18.6,
        sp_top_base_z=9.35,
        sp_top_tip_z=-6.05,
        tp_back_deg=12.2,
        tp_body_root=1.0,
        tp_body_root_y=2.0,
        tp_height=13.0,
        tp_root_y=4.9,
        tp_span=95.0,
        tp_thickness=8.96,
        tp_up_deg=5.0,
        tp_z=3.5,
    ),
}


_Z_FIELDS = frozenset(
    {
        "lamina_top_z",
        "lamina_top_lateral_z",
        "lamina_bottom_z",
        "sp_top_base_z",
        "sp_top_tip_z",
        "sp_tip_height",
        "sp_bottom_z",
        "sp_base_bottom_z",
        "tp_z",
        "sap_top_z",
        "iap_top_z",
        "iap_bottom_z",
    }
)


def vertebra_params(level: str) -> VertebraParams:
    """Default parameters of vertebra ``level`` (one of T12, L1, L2, L3, L4, L5)."""
    key = level.upper()
    if key not in _TABLE:
        raise ValidationError(f"vertebra level {level!r} is not modelled; expected one of {LEVELS}")
    up, down = _ABOVE[key], _BELOW[key]
    joints = dict(
        sap_joint_x=JOINTS[up][0],
        sap_joint_y=JOINTS[up][1],
        sap_joint_radius=JOINTS[up][2],
        iap_joint_x=JOINTS[down][0],
        iap_joint_y=JOINTS[down][1],
        iap_radius=JOINTS[down][2],
        sap_facet_deg=FACET_DEG[up],
        iap_facet_deg=FACET_DEG[down],
    )
    shape = dict(_SHAPE[key])
    if key in ("T12", "L1"):
        # L2's tuned heights, scaled to the smaller body (posterior height ratio)
        ratio = _TABLE[key]["body_hp"] / _TABLE["L2"]["body_hp"]
        shape.update({k: v * ratio for k, v in shape.items() if k in _Z_FIELDS})
    if key == "T12":
        # T12's inferior processes are short: they must clear L1's laminae over the thin
        # T12–L1 disc (≈0.9 × L1–L2, REF §4 [TU]; posterior ≈6.6 mm) [shape]
        shape["iap_bottom_z"] = -20.0
    return VertebraParams(level=key, **{**_TABLE[key], **joints, **shape})


def with_changes(params: VertebraParams, **changes) -> VertebraParams:
    """A copy of ``params`` with some fields changed (for patient variants and tuning)."""
    return replace(params, **changes)
