"""Bone generation: time to build every bone at full detail, triangle counts, and (when
``../shared`` is present) the realism comparison against the Clouthier 2023 mean L2–L5.

Each timed run clears the builders' caches, so the figure is the cold cost of generation.
"""

from __future__ import annotations

import time

from iddsanatomy.benchmarks import Figure, summarise

VERTEBRAE = ("T12", "L1", "L2", "L3", "L4", "L5")


def _clear_caches() -> None:
    from iddsanatomy.anatomy import bones, vertebra

    for fn in (
        vertebra._build_cached,
        bones._sacrum_cached,
        bones._rib_cached,
        bones._iliac_cached,
    ):
        fn.cache_clear()


def build_all():
    """Every bone at its default (full-detail) resolution; returns {name: BoneMesh}."""
    from iddsanatomy.anatomy.bones import build_iliac_crest, build_rib, build_sacrum
    from iddsanatomy.anatomy.vertebra import build_vertebra

    out = {lv: build_vertebra(lv) for lv in VERTEBRAE}
    out["sacrum"] = build_sacrum()
    for n in (11, 12):
        for side in ("left", "right"):
            out[f"rib{n}.{side}"] = build_rib(n, side)
    for side in ("left", "right"):
        out[f"iliac_crest.{side}"] = build_iliac_crest(side)
    return out


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    samples, bones = [], None
    for _ in range(1 if quick else 3):
        _clear_caches()
        t0 = time.perf_counter()
        bones = build_all()
        samples.append((time.perf_counter() - t0) * 1000.0)
    figures.append(
        summarise("bones: generate all at full detail (cold)", samples, "ms", target=60000.0)
    )
    tri = [len(bones[lv].mesh.faces) for lv in VERTEBRAE]
    figures.append(
        summarise("bones: vertebra triangles (full detail)", tri, "triangles", target=50000.0)
    )
    figures.append(
        summarise(
            "bones: all bones triangles (full detail)",
            [sum(len(b.mesh.faces) for b in bones.values())],
            "triangles",
        )
    )
    from iddsanatomy.anatomy.vertebra import build_vertebra

    t0 = time.perf_counter()
    coarse = [build_vertebra(lv, 1.6) for lv in VERTEBRAE]
    figures.append(
        summarise(
            "bones: vertebra triangles (coarse LOD 1.6 mm)",
            [len(b.mesh.faces) for b in coarse],
            "triangles",
            note=f"built in {(time.perf_counter() - t0) * 1000:.0f} ms",
        )
    )
    from iddsanatomy.paths import shared_dir

    shared = shared_dir()
    if shared is not None and not quick:
        from iddsanatomy.anatomy.compare import compare_vertebrae

        rows = compare_vertebrae(shared / "realmeshes" / "clouthier_ssm")
        for r in rows:
            figures.append(
                summarise(f"realism {r.level}: mean surface distance", [r.mean_mm], "mm", 1.5)
            )
            figures.append(
                summarise(f"realism {r.level}: p95 surface distance", [r.p95_mm], "mm", 3.5)
            )
    return figures


if __name__ == "__main__":  # pragma: no cover - manual use
    from iddsanatomy.bench import format_table

    print(format_table(run()))
