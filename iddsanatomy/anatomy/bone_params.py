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
    """The numbers that shape one vertebra (mm, degrees). See the module docstring for sources."""

    level: str
    # --- vertebral body (REF §1)
    body_width: float  # upper endplate width
    body_depth: float  # upper endplate AP depth
    body_ha: float  # anterior height
    body_hp: float  # posterior height
    body_waist: float = 0.07  # [shape] fractional narrowing at mid-height ("waist")
    body_squareness_posterior: float = 3.0  # [shape] superellipse exponent of the posterior half
    endplate_concavity_superior: float = 0.7  # REF §1 Wang 2012 [R]: caudal endplate of a disc
    endplate_concavity_inferior: float = 1.5  # REF §1 Wang 2012 [R]: cranial endplate of a disc
    endplate_central_fraction: float = 0.70  # REF §1 Wang 2012 [R]: central endplate ≈70 %
    rim_radius: float = 2.0  # [shape] rounding of the ring apophysis
    # --- pedicles (REF §2)
    pedicle_width: float = 10.0
    pedicle_height: float = 15.0
    pedicle_transverse_deg: float = 14.0
    pedicle_sagittal_deg: float = 5.0  # REF §2 [TU]: 0–10° cephalad
    pedicle_length: float = 18.0  # [shape] body wall to pars along the axis
    # --- canal (REF §3a)
    canal_width: float = 25.0  # interpedicular
    canal_depth: float = 16.7  # midsagittal AP
    # --- laminae (REF §3b Wang 2024 [R])
    lamina_height: float = 22.0
    lamina_thickness: float = 6.0
    laminar_angle_deg: float = 125.0
    lamina_sagittal_deg: float = 25.0  # [shape] inferior edge posterior of the superior edge
    lamina_top_z: float = 6.0  # [shape] superior laminar edge height in the body frame
    # --- spinous process (REF §3c)
    sp_length: float = 51.6  # Clouthier 2023 [R]: from the posterior body wall to the tip
    sp_height: float = 23.5  # Clouthier 2023 [R]: craniocaudal
    sp_thickness: float = 7.0  # REF §3c [TU]: 6–10 mm plate
    sp_tip_thickness: float = 10.0  # [shape] bulbous tip
    sp_centre_z: float = -5.0  # [shape] craniocaudal centre of the SP plate
    sp_tilt_deg: float = 5.0  # [shape] caudal inclination of the SP axis
    # --- transverse processes (REF §3c [TU] tip-to-tip span)
    tp_span: float = 85.0
    tp_height: float = 11.0  # [shape] craniocaudal at the root
    tp_thickness: float = 5.0  # [shape] AP
    tp_back_deg: float = 10.0  # [shape] posterior sweep of the TP axis
    tp_up_deg: float = 3.0  # [shape] cranial tilt of the TP axis
    # --- articular processes (REF §3d facet orientation to the sagittal plane)
    sap_facet_deg: float = 33.0  # joint with the vertebra above
    iap_facet_deg: float = 42.0  # joint with the vertebra below
    sap_top_z: float = 24.0  # [shape] cranial tip of the superior articular process
    iap_bottom_z: float = -26.0  # [shape] caudal tip of the inferior articular process
    facet_half_gap: float = 15.0  # [shape] half distance between the IAP joint surfaces
    # --- thoracic features
    costal_facet: bool = False  # T12 carries the 12th rib head on its body/pedicle junction


# Per-level table. Sources per column:
#   width, depth, Ha, Hp: REF §1 per-level defaults [TU], anchored to Clouthier 2023 L2–L5 means [R]
#   pedicle width/height/transverse angle: REF §2 Zindrick 1987 [TU]; T12 width 7–8, angle 0–5 [TU]
#   canal width: REF §3a per-level interpedicular [TU]; canal depth: Clouthier mean 16.68 [R]
#     over L2–L5 with the minimum at L3 (Griffith 2016 [R])
#   laminar angle: REF §3b Wang 2024 [R] (T12 takes the L1 value)
#   SP length/height: Clouthier 2023 L2–L5 means 51.6 / 23.5 [R], spread per level [shape]
#   TP span: REF §3c [TU]; T12 TPs are short tubercles [TU]
#   facets: REF §3d per-level defaults [TU] from Masharawi 2004 [R] ranges; T11–T12 is thoracic,
#     ≈25–30° from the frontal plane (Masharawi [R]) = ≈62° from the sagittal plane [D]
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
        sp_length=45.0,
        sp_height=21.0,
        tp_span=55.0,
        sap_facet_deg=62.0,
        iap_facet_deg=28.0,
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
        sp_length=48.0,
        sp_height=22.0,
        tp_span=72.0,
        sap_facet_deg=28.0,
        iap_facet_deg=28.0,
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
        sp_length=51.0,
        sp_height=24.0,
        tp_span=80.0,
        sap_facet_deg=28.0,
        iap_facet_deg=33.0,
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
        sp_length=53.0,
        sp_height=25.0,
        tp_span=92.0,
        sap_facet_deg=33.0,
        iap_facet_deg=42.0,
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
        sp_length=53.0,
        sp_height=24.0,
        tp_span=88.0,
        sap_facet_deg=42.0,
        iap_facet_deg=50.0,
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
        sp_length=49.0,
        sp_height=21.0,
        tp_span=92.0,
        sap_facet_deg=50.0,
        iap_facet_deg=53.0,
    ),
}


def vertebra_params(level: str) -> VertebraParams:
    """Default parameters of vertebra ``level`` (one of T12, L1, L2, L3, L4, L5)."""
    key = level.upper()
    if key not in _TABLE:
        raise ValidationError(f"vertebra level {level!r} is not modelled; expected one of {LEVELS}")
    return VertebraParams(level=key, **_TABLE[key])


def with_changes(params: VertebraParams, **changes) -> VertebraParams:
    """A copy of ``params`` with some fields changed (for patient variants and tuning)."""
    return replace(params, **changes)
