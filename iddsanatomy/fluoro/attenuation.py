"""Linear attenuation coefficients per tissue for the simulated fluoroscopy (1/mm).

A fluoroscopy beam is polychromatic (70–90 kVp, mean energy roughly 45–60 keV after filtration
and the patient). The DRR is monochromatic at one *effective energy*, :data:`EFFECTIVE_KEV`
= 60 keV: a teaching approximation that keeps bone–soft-tissue contrast close to what a pain
physician sees, without beam hardening or scatter.

Sources
-------
* Mass attenuation coefficients μ/ρ at 60 keV and densities ρ: Hubbell JH, Seltzer SM, *Tables of
  X-ray mass attenuation coefficients and mass energy-absorption coefficients*, NISTIR 5632
  (NIST, 1995/2004), Table 4 (compounds, ICRU-44 tissue compositions) and Table 3 (iron):
  water 0.2059 cm²/g (ρ 1.00); cortical bone (ICRU-44) 0.3148 cm²/g (ρ 1.92);
  iron 1.205 cm²/g (ρ 7.874), used for a stainless-steel needle.
* Tissues without their own NIST entry are set from typical CT numbers, μ = μ_water (1 + HU/1000)
  — a **teaching approximation** (HU values are textbook-typical, not measured for this model):
  cancellous vertebral bone +250 HU, disc +90 HU, ligament +80 HU, spinal cord and roots +35 HU,
  dura +50 HU, CSF +5 HU, fat −100 HU, muscle +45 HU, skin +40 HU, scar +60 HU, air −1000 HU.
"""

from __future__ import annotations

EFFECTIVE_KEV = 60.0

#: 1/mm at 60 keV: (μ/ρ in cm²/g) × (ρ in g/cm³) / 10.
MU_WATER = 0.2059 * 1.00 / 10.0
MU_CORTICAL = 0.3148 * 1.92 / 10.0
MU_IRON = 1.205 * 7.874 / 10.0


def mu_from_hu(hu: float) -> float:
    """Linear attenuation (1/mm) of a tissue with CT number ``hu`` at the effective energy."""
    return MU_WATER * (1.0 + hu / 1000.0)


#: Absolute linear attenuation coefficient of each tissue (1/mm). ``region`` is a named space,
#: not a tissue: it does not attenuate (see :func:`mu_of`).
MU_PER_MM: dict[str, float] = {
    "bone": MU_CORTICAL,  # the outer surface of a bone encloses cortex; see MU_CANCELLOUS
    "cancellous": mu_from_hu(250.0),
    "disc": mu_from_hu(90.0),
    "ligament": mu_from_hu(80.0),
    "neural": mu_from_hu(35.0),
    "dura": mu_from_hu(50.0),
    "csf": mu_from_hu(5.0),
    "fat": mu_from_hu(-100.0),
    "muscle": mu_from_hu(45.0),
    "skin": mu_from_hu(40.0),
    "scar": mu_from_hu(60.0),
    "soft": MU_WATER,  # the body background that encloses everything else
    "metal": MU_IRON,
    "air": mu_from_hu(-1000.0),
}

MU_CANCELLOUS = MU_PER_MM["cancellous"]

#: Thickness of the cortical shell (mm) under every bone surface. Vertebral cortex is thin
#: (about 0.3–1 mm histologically); a radiograph blurs it to a rim 1–2 mm wide, so 1.2 mm
#: is a teaching approximation chosen for a visible rim at 0.4–0.6 mm pixels.
CORTEX_MM = 1.2


def mu_of(tissue: str) -> float:
    """Absolute μ (1/mm) of ``tissue``; 0 for ``region`` (a named space, not matter).

    Raises
    ------
    KeyError
        For an unknown tissue name, with the known ones listed.
    """
    if tissue == "region":
        return 0.0
    try:
        return MU_PER_MM[tissue]
    except KeyError:
        raise KeyError(
            f"no attenuation coefficient for tissue {tissue!r}; known: {sorted(MU_PER_MM)}"
        ) from None
