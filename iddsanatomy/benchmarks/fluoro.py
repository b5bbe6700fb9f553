"""Fluoroscopy benchmarks: DRR time per shot (medians after warm-up), full anatomy.

Targets (issue 6): 512² ≤ 100 ms, 256² ≤ 30 ms (live mode). The meshes are uploaded once
(first call, untimed: it is reported separately); every timed shot is a new pose.
"""

from __future__ import annotations

import time


def _anatomy():
    from iddsanatomy.anatomy import load_anatomy

    return load_anatomy()


def measure(anatomy=None, quick: bool = False) -> dict:
    """Medians (ms) of DRRs of ``anatomy`` (default: the shipped one) at 512² and 256².

    Returns a dict: ``upload_ms`` (first shot: simplification, upload), ``drr512_ms``,
    ``drr256_ms`` (wall-clock medians) with their samples, CPU-time samples, ``triangles``,
    ``renderer``.
    """
    import statistics

    from iddsanatomy.benchmarks import timings_ms
    from iddsanatomy.fluoro import drr
    from iddsanatomy.fluoro.pose import CArmPose

    anatomy = anatomy if anatomy is not None else _anatomy()
    t0 = time.perf_counter()
    drr.line_integral(anatomy, CArmPose(pixels=64))
    upload_ms = (time.perf_counter() - t0) * 1000
    centre = tuple(anatomy.lps_from_level["L3"][:3, 3]) if "L3" in anatomy.lps_from_level else None
    out = {"upload_ms": upload_ms}
    repeat = 7 if quick else 25
    for n in (512, 256):
        k = [0]

        def shot(n=n, k=k):
            k[0] += 1  # a new pose each time, as when the C-arm moves
            pose = CArmPose(
                orbital_deg=(k[0] % 30) - 15.0,
                cranial_tilt_deg=(k[0] % 7) - 3.0,
                pixels=n,
                **({"centre_lps": centre} if centre else {}),
            )
            drr.line_integral(anatomy, pose)

        samples = timings_ms(shot, repeat=repeat, warmup=3)
        out[f"drr{n}_ms"] = statistics.median(samples)
        out[f"drr{n}_samples"] = samples
        # CPU time (all of llvmpipe's threads) per shot: less sensitive than wall time to other
        # processes competing for this machine's two cores
        cpu = []
        for _ in range(repeat):
            t0 = time.process_time()
            shot()
            cpu.append((time.process_time() - t0) * 1000)
        out[f"drr{n}_cpu_samples"] = cpu
    info = drr.scene_info(anatomy)
    out["renderer"] = info["renderer"]
    out["triangles"] = info["triangles"].get("full", 0)
    out["triangles_live"] = info["triangles"].get("live", 0)
    return out


def run(quick: bool = False):
    """Figures for ``iddsanatomy bench``."""
    from iddsanatomy.benchmarks import Figure, summarise

    m = measure(quick=quick)
    note = f"{m['triangles']} / {m['triangles_live']} triangles (full/live), {m['renderer']}"
    return [
        summarise("fluoro DRR 512² full anatomy", m["drr512_samples"], "ms", 100.0, note=note),
        summarise("fluoro DRR 256² (live)", m["drr256_samples"], "ms", 30.0, note=note),
        summarise("fluoro DRR 512² CPU time", m["drr512_cpu_samples"], "ms", note="all threads"),
        summarise("fluoro DRR 256² CPU time", m["drr256_cpu_samples"], "ms", note="all threads"),
        Figure("fluoro scene preparation + upload", m["upload_ms"], 0.0, "ms", None, samples=1),
    ]
