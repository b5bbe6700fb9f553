"""Numbers for the assembly: disc heights, lordosis, neural axis, dura, ligaments, layers.

Every literature figure carries its source: "REF §n" is a section of
``shared/anatomy/REFERENCE.md`` followed by the paper it quotes; [R] read in the paper, [TU]
textbook value that REFERENCE.md marks unverified, [D] derived here from [R] numbers (the
arithmetic is shown). Numbers marked **[shape]** are modelling choices (where a structure sits
when the literature gives no size), not literature values.

The reference *ranges* used by the measurement report and its tests are here too
(:data:`REFERENCE_RANGES`), so that the generator and the check read the same table.

All lengths mm, angles degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Interspaces from T12–L1 to L5–S1, top to bottom.
INTERSPACES: tuple[str, ...] = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
#: Vertebrae that are built by :func:`iddsanatomy.anatomy.vertebra.build_vertebra`.
VERTEBRAE: tuple[str, ...] = ("T12", "L1", "L2", "L3", "L4", "L5")


# --------------------------------------------------------------------------------------------
# §4 discs
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscHeights:
    """Disc heights (mm) at the anterior rim, middle and posterior rim, mean and SD."""

    anterior: float
    anterior_sd: float
    middle: float
    middle_sd: float
    posterior: float
    posterior_sd: float
    source: str


_IRAN = "REF §4, Anatomical Sciences J (Iran) A-10-159-1, MRI, 14 normal adults 40–59 y [R]"
DISC_HEIGHTS: dict[str, DiscHeights] = {
    # T12–L1 is not in the table: ≈ L1/L2 × 0.9 (REF §4 modelling note) [TU]
    "T12-L1": DiscHeights(9.74, 1.43, 9.0, 1.70, 6.58, 1.54, "REF §4: ≈0.9 × L1/L2 [TU]"),
    "L1-L2": DiscHeights(10.82, 1.59, 10.00, 1.89, 7.31, 1.71, _IRAN),
    "L2-L3": DiscHeights(13.09, 1.21, 11.59, 1.51, 8.58, 1.66, _IRAN),
    "L3-L4": DiscHeights(15.21, 1.24, 12.45, 1.79, 9.08, 1.22, _IRAN),
    "L4-L5": DiscHeights(18.14, 1.49, 13.82, 1.96, 10.14, 1.01, _IRAN),
    "L5-S1": DiscHeights(18.71, 1.61, 12.99, 2.53, 8.51, 1.08, _IRAN),
}
#: How far (in SDs) the generator may move a disc's anterior/posterior height away from the
#: published mean to make the requested segmental lordosis. Keeps the default inside ±1 SD.
DISC_WEDGE_SD_LIMIT = 0.8
#: Where on the endplate the rim heights are taken, as a fraction of the disc's half depth from
#: the centre ([shape]: MRI disc heights are read just inside the rounded rim).
DISC_RIM_FRACTION = 0.85
#: Annulus bulge beyond the vertebral body outline at mid-disc height [shape].
DISC_BULGE_MM = 1.0

# --------------------------------------------------------------------------------------------
# §6 lordosis
# --------------------------------------------------------------------------------------------
#: Sacral slope of the default pose, REF §6 Vialle 2005 [TU] ≈40° standing; the same value the
#: iliac crests are placed for (bones.DEFAULT_SACRAL_SLOPE_DEG).
SACRAL_SLOPE_DEG = 40.0
#: L1–S1 lordosis (Cobb) reference, standing: 49.8 ± 11.2° (Asian Spine J 2019, PMC6680033,
#: 627 volunteers; REF §6) [R]. Prone 52.1° (Int J Spine Surg 2025; REF §6) [R]. The default
#: posture and segmental shares come from :mod:`iddsanatomy.anatomy.variant`.
LORDOSIS_STANDING = (49.8, 11.2)

# --------------------------------------------------------------------------------------------
# §8 cord, conus, filum
# --------------------------------------------------------------------------------------------
#: Cord transverse diameter at the lumbar enlargement 9.4 ± 1.5 mm (Frostell 2016; REF §8) [R].
CORD_WIDTH_MM = 9.4
#: Cord AP diameter ≈6–8 mm at T12–L1 (REF §8 [TU]); lower thoracic AP 6.3 mm (Frostell) [R].
CORD_DEPTH_MM = 7.0
#: The conus tapers to its tip over ≈10–20 mm (REF §8 [TU]).
CONUS_TAPER_MM = 16.0
#: Filum terminale ≤2 mm thick (spinebase; REF §8) [S]: we draw 1.2 mm.
FILUM_DIAMETER_MM = 1.2

# --------------------------------------------------------------------------------------------
# §7/§9 dural sac, CSF, roots
# --------------------------------------------------------------------------------------------
#: Thecal AP widest at L1–L2 (15.6 mm) and narrowest at L5–S1 (11.6 mm) on T2 MRI (Chatha 2011;
#: REF §9) [R]. That figure is the whole midsagittal canal/thecal AP; our sac is the dura inside a
#: canal that also holds posterior epidural fat (REF §11a), so the sac's own AP is the canal depth
#: minus the epidural space: Chatha's profile × 0.8 − 1 mm [shape].
THECAL_AP_MM = {"T12": 11.6, "L1": 11.4, "L2": 11.0, "L3": 10.2, "L4": 9.6, "L5": 8.8, "S1": 8.0}
#: Dural sac cross-section ≈150–200 mm² mid-lumbar (Schönström; REF §9 [TU]): with the AP above,
#: an ellipse of this width has area π/4·w·ap ≈ 150–165 mm².
THECAL_WIDTH_MM = {
    "T12": 17.0,
    "L1": 18.0,
    "L2": 18.5,
    "L3": 19.0,
    "L4": 19.0,
    "L5": 18.0,
    "S1": 15.0,
}
#: Dura thickness ≈0.3–0.5 mm [TU]; the CSF surface is this far inside the sac surface.
DURA_THICKNESS_MM = 0.5
#: Gap between the anterior dura and the posterior body wall (posterior longitudinal ligament
#: and anterior epidural veins; A1's wall is concave in the midline) [shape].
ANTERIOR_EPIDURAL_MM = 1.5
#: Nerve root thickness L1 3.9 ± 0.81 → S1 5.45 ± 0.8 mm (Khasawneh 2023; REF §9) [R].
ROOT_DIAMETER_MM = {"L1": 3.9, "L2": 4.3, "L3": 4.7, "L4": 5.0, "L5": 5.3, "S1": 5.45}
#: Roots inside the sac (cauda equina) drawn as 1 mm bundles so that each lies apart in its
#: lane even where the sac narrows at L5–S1 [shape]; the exiting roots outside the sac have the
#: measured thickness above.
CAUDA_ROOT_DIAMETER_MM = 1.0

# --------------------------------------------------------------------------------------------
# §10 ligaments
# --------------------------------------------------------------------------------------------
#: LF thickness (MRI, 200 pts; Asian Spine J 2015, PMC4404540; REF §10) [R], mean of right and
#: left: L3–4 3.45, L4–5 3.77, L5–S1 3.72 mm. L2–3 3.19 (Khasawneh 2023) [R]. T12–L1 and L1–2 are
#: not measured there: 3.0 mm [TU] (thinner cranially).
LF_THICKNESS_MM = {
    "T12-L1": 3.0,
    "L1-L2": 3.0,
    "L2-L3": 3.19,
    "L3-L4": 3.45,
    "L4-L5": 3.77,
    "L5-S1": 3.72,
}
#: Interspinous + supraspinous ligament: median length skin→LF direction 29.7 mm (IQR
#: 25.5–33.4); width posterior 9.2, middle 4.5, anterior 7.3 mm (Lawrence; REF §10) [R].
ISL_LENGTH_MM = (29.7, 25.5, 33.4)
ISL_WIDTH_MM = {"posterior": 9.2, "middle": 4.5, "anterior": 7.3}
#: Supraspinous ligament thickness over the spinous tips and half its width [shape] (a cord
#: narrower than the posterior interspinous ligament, 9.2 mm wide per Lawrence). Between two
#: tips the generator lets it sink into the notch until the ISL+SSL length along the midline
#: needle path is Lawrence's median (ISL_LENGTH_MM[0]), never deeper than the line joining the
#: posterior edges of the two spinous processes (softtissue.build_soft_tissue).
SSL_THICKNESS_MM = 2.0
SSL_HALF_WIDTH_MM = 3.0

# --------------------------------------------------------------------------------------------
# §11 epidural space, layers, BMI
# --------------------------------------------------------------------------------------------
#: Posterior epidural depth 6.9 ± 4 mm (2–25) clinically (Bevacqua 1996; REF §11a) [R]; up to
#: 5–6 mm mid-lumbar (REF §11a [S]). The model's target at mid-window [shape within both].
EPIDURAL_DEPTH_MM = (6.9, 4.0)
#: Skin-to-epidural per level, cm (Cha 2011; 1,653 epidurals; REF §11b) [R]:
SED_CHA_CM = {
    "L2-L3": (4.4, 0.62),
    "L3-L4": (4.6, 0.69),
    "L4-L5": (4.6, 0.69),
    "L5-S1": (4.1, 0.52),
}
#: Skin thickness of the lower back ≈2–3 mm [TU].
SKIN_THICKNESS_MM = 2.5
#: How thick the subcutaneous fat is is not a number here: the generator computes it from the
#: bones it has just built, so that the skin-to-epidural depth along every midline needle path
#: is Ravi 2011's for the default BMI (variant.DEFAULT_BMI; REF §11b), and the habitus stage
#: (variation.HabitusRig) does the same for any other BMI. Below: the physical limits.
#: The thinnest fat left between the skin and the ligaments, muscle or bone (mm) [shape]: a lean
#: back keeps a film of fat, and a thinner layer would not survive the fat mesh's 1.2 mm grid.
#: Where Ravi's line asks for less, the depth stays above Ravi's.
MIN_FAT_MM = 2.0
#: How smooth the skin is along the back (Gaussian sigmas, mm) [shape]: the ligament line under
#: it is smoothed over ``SKIN_BASE_SMOOTH_MM`` for the skin's general course, the per-interspace
#: fat between the calibrated paths over ``SKIN_OFFSET_SMOOTH_MM``, and where the skin rests
#: on the thinnest fat over the spinous tips it bridges them with a ``SKIN_ENVELOPE_SMOOTH_MM``
#: rounding (a real lower back has no horizontal steps; softtissue.smooth_skin_profile).
#: A wider rounding would bridge the gaps between the tips and leave more than the thinnest fat
#: on the L1–L4 paths, where Ravi's depth at the default BMI is shallower than the bones allow.
SKIN_BASE_SMOOTH_MM = 15.0
SKIN_OFFSET_SMOOTH_MM = 8.0
SKIN_ENVELOPE_SMOOTH_MM = 2.5
#: Blend (mm) of the smooth maximum where the calibrated skin meets that rounded floor [shape].
SKIN_FLOOR_BLEND_MM = 2.0
#: Paraspinal muscle depth lamina → thoracolumbar fascia ≈3–5 cm (REF §13 [TU]); the muscle
#: surface follows from the skin and fat above it.
MULTIFIDUS_LATERAL_MM = 32.0  # [shape] multifidus lies medial, from the SP to the facet line
ERECTOR_LATERAL_MM = 80.0  # [shape] lateral border of the erector spinae (iliocostalis)
#: The skin slab: ~T11 to below the sacrum, and how far it reaches to each side [shape].
SKIN_HALF_WIDTH_MM = 140.0


# --------------------------------------------------------------------------------------------
# reference ranges for the measurement report (measured quantity -> per level (lo, hi, ref, src))
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RefRange:
    """A reference value with the range a measurement must fall in, and its source."""

    lo: float
    hi: float
    text: str
    source: str

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi


def _msd(mean: float, sd: float, source: str, unit: str = "mm") -> RefRange:
    return RefRange(mean - sd, mean + sd, f"{mean:g} ± {sd:g} {unit}", source)


def _rng(lo: float, hi: float, source: str, unit: str = "mm") -> RefRange:
    return RefRange(lo, hi, f"{lo:g}–{hi:g} {unit}", source)


_CLOU = "Clouthier 2023 (REF §1/§3) [R], observed range"


def reference_ranges() -> dict[str, dict[str, RefRange]]:
    """Per quantity and level/interspace: the range the model's measurement must fall in."""
    lumbar = ("L1", "L2", "L3", "L4", "L5")
    out: dict[str, dict[str, RefRange]] = {}
    out["vb_width"] = {lv: _rng(39.35, 58.80, _CLOU) for lv in lumbar}
    out["vb_depth"] = {lv: _rng(29.54, 41.95, _CLOU) for lv in lumbar}
    out["vb_height"] = {lv: _rng(23.52, 32.31, _CLOU) for lv in lumbar}
    out["pedicle_width"] = {
        lv: _rng(7.2, 17.8, "PMC2200778 safe zone T11–L5 (REF §2) [R]") for lv in ("T12", *lumbar)
    }
    # L5 pedicles are the widest (Zindrick ≈18 [TU]); the [R] safe zone tops out at 17.8
    out["pedicle_width"]["L5"] = _rng(12.0, 20.0, "REF §2 Zindrick [TU] ≈18; widest at L5 [R]")
    out["pedicle_height"] = {
        lv: _rng(12.0, 18.0, "REF §2 safe zone 13.9–16.7 [R]; Zindrick ≈14–15 [TU]")
        for lv in ("T12", *lumbar)
    }
    out["canal_depth"] = {lv: _rng(13.02, 20.38, _CLOU) for lv in lumbar}
    out["canal_width"] = {lv: _rng(21.49, 31.76, _CLOU) for lv in ("L2", "L3", "L4", "L5")}
    out["canal_width"]["L1"] = _rng(20.0, 31.76, "REF §3a [TU] ≈23; Clouthier upper bound")
    out["sp_length"] = {lv: _rng(43.0, 61.0, _CLOU) for lv in ("L2", "L3", "L4", "L5")}
    out["sp_length"]["L1"] = _rng(40.0, 61.0, "Clouthier L2–L5 range, L1 slightly shorter [shape]")
    out["sp_height"] = {lv: _rng(16.56, 31.04, _CLOU) for lv in ("L2", "L3", "L4", "L5")}
    sak = "Sakçı 2018 (REF §5) [R]"
    out["interlaminar_height"] = {
        "L1-L2": _rng(9.0, 20.0, "REF §5 [TU] / Sakçı trend"),
        "L2-L3": _msd(14.0, 4.1, sak),
        "L3-L4": _rng(11.1 - 2.4, 14.0 + 4.1, sak + ", between the L2 and L5 values"),
        "L4-L5": _rng(11.1 - 2.4, 14.0 + 4.1, sak + ", between the L2 and L5 values"),
        "L5-S1": _msd(11.1, 2.4, sak),
    }
    out["interlaminar_width"] = {
        "L1-L2": _rng(12.0, 20.0, "REF §5 [TU] ≈15–20 upper lumbar"),
        "L2-L3": _msd(16.3, 3.4, sak + " LRL width"),
        "L3-L4": _msd(17.3, 3.3, sak + " LRL width"),
        "L4-L5": _msd(21.7, 3.4, sak + " LRL width"),
        "L5-S1": _msd(27.7, 4.0, sak + " LRL width"),
    }
    for part, key in (
        ("anterior", "disc_anterior"),
        ("middle", "disc_middle"),
        ("posterior", "disc_posterior"),
    ):
        out[key] = {}
        for seg, d in DISC_HEIGHTS.items():
            mean = getattr(d, part)
            sd = getattr(d, f"{part}_sd")
            out[key][seg] = _msd(mean, sd, d.source)
    out["lordosis"] = {
        "L1-S1": _msd(*LORDOSIS_STANDING, "Asian Spine J 2019 (REF §6) standing [R]", "°")
    }
    out["conus_tip"] = {
        "units": RefRange(
            5.0, 16.0, "mean L1 lower third (T12 middle – L3 upper)", "Saifuddin 1998 (REF §8) [R]"
        )
    }
    out["sac_end"] = {
        "units": RefRange(
            31.0,
            36.0,
            "commonest S2 upper third (L5–S1 disc – S3 upper)",
            "Binokay 2006 (REF §7) [R]",
        )
    }
    cha = "Cha 2011 (REF §11b) [R]"
    out["skin_to_epidural"] = {
        seg: _msd(v[0] * 10, v[1] * 10, cha) for seg, v in SED_CHA_CM.items()
    }
    out["skin_to_epidural"]["L1-L2"] = _rng(
        30.0, 65.0, "REF §11b Japanese L1–2 formula 2.5–6.5 cm [S]"
    )
    out["epidural_depth"] = {
        seg: _rng(2.0, 10.9, "Bevacqua 1996 6.9 ± 4 (REF §11a) [R]") for seg in INTERSPACES[1:]
    }
    out["lf_thickness"] = {
        "L3-L4": _msd(3.45, 0.97, "Asian Spine J 2015 (REF §10) [R]"),
        "L4-L5": _msd(3.77, 1.14, "Asian Spine J 2015 (REF §10) [R]"),
        "L5-S1": _msd(3.72, 1.2, "Asian Spine J 2015 (REF §10) [R]"),
    }
    out["isl_length"] = {
        seg: _rng(25.5 - 4, 33.4 + 4, "Lawrence (REF §10) [R] IQR 25.5–33.4, ±4 mm")
        for seg in ("L2-L3", "L3-L4", "L4-L5")
    }
    return out
