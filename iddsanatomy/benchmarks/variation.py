"""Patient variation: re-posing, BMI change, laminectomy and fusion on the shipped anatomy.

Each timed call builds a variant that is not in the builder's caches (the lordosis or BMI
changes by a small step every call), so the figure is the real cost of a slider move.
"""

from __future__ import annotations

import time

from iddsanatomy.benchmarks import summarise


def run(quick: bool = False):
    from iddsanatomy.anatomy import load_anatomy
    from iddsanatomy.anatomy.variant import make_variant
    from iddsanatomy.anatomy.variation import VariantBuilder

    base = load_anatomy()
    builder = VariantBuilder(base)
    builder.build(make_variant(lordosis_deg=40.0))  # warm-up: skinning weights, measurement
    builder.build(make_variant(lordosis_deg=40.0, bmi=30.0))
    n = 5 if quick else 15

    def timed(variants):
        out = []
        for v in variants:
            t0 = time.perf_counter()
            builder.build(v)
            out.append((time.perf_counter() - t0) * 1000.0)
        return out

    pose = timed(make_variant(lordosis_deg=20.0 + 0.5 * i) for i in range(n))
    scol = timed(
        make_variant(scoliosis_cobb_deg=20.0 + i, apical_rotation_deg=10.0 + 0.5 * i)
        for i in range(n)
    )
    bmi = timed(make_variant(lordosis_deg=40.0, bmi=31.0 + 0.5 * i) for i in range(n))
    k = 3 if quick else 5
    lam = timed(make_variant(laminectomy_levels=("L4-L5",), bmi=24.0 + 0.1 * i) for i in range(k))
    fus = timed(make_variant(fusion_levels=("L4-L5",), bmi=24.0 + 0.1 * i) for i in range(k))
    note = "fresh variant each call (no cache hit)"
    return [
        summarise("re-pose: lordosis change", pose, "ms", 50, note=note),
        summarise("re-pose: scoliosis change", scol, "ms", 50, note=note),
        summarise("BMI change", bmi, "ms", 100, note=note),
        summarise("laminectomy L4-L5 (incl. BMI stage)", lam, "ms", 1000, note=note),
        summarise("fusion L4-L5 (incl. BMI stage)", fus, "ms", 1000, note=note),
    ]
