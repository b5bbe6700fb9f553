"""Anatomy benchmarks: loading ``meshes/`` through trimesh, and the measurement report."""

from __future__ import annotations

from iddsanatomy.benchmarks import Figure, summarise, timings_ms


def run(quick: bool = False) -> list[Figure]:
    """Median load time of the whole default anatomy (target < 300 ms), its size and triangles."""
    from iddsanatomy.anatomy import load_anatomy

    load_anatomy()  # imports and the first read of the files
    samples = timings_ms(load_anatomy, repeat=5 if quick else 15, warmup=1)
    anat = load_anatomy()
    full = sum(len(s.mesh.faces) for s in anat.structures.values() if s.ok and s.parent is None)
    coarse = sum(len(s.coarse.faces) for s in anat.structures.values() if s.coarse is not None)
    figures = [
        summarise("anatomy: load meshes/ (all structures, both LODs)", samples, "ms", 300.0),
        Figure("anatomy: triangles, full detail", float(full), 0.0, "tri", None),
        Figure("anatomy: triangles, coarse LOD", float(coarse), 0.0, "tri", 500_000.0),
    ]
    if not quick:
        from iddsanatomy.anatomy.measure import measure_all

        samples = timings_ms(lambda: measure_all(anat), repeat=3, warmup=0)
        figures.append(summarise("anatomy: measure every quantity", samples, "ms"))
    return figures


def figures_dict(quick: bool = False) -> dict[str, float]:
    """The figures as a plain dict of medians (for scripts)."""
    return {f.name: f.median for f in run(quick)}
