"""Lessons and quiz benchmarks: check start-up, loading, stepping, answer commit, click grading."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from iddsanatomy.benchmarks import summarise, timings_ms


def _example() -> Path:
    from iddsanatomy.paths import data_dir

    return data_dir("lessons") / "example_orientation.yaml"


def run(quick: bool = False) -> list:
    """Figures: ``lessons check`` wall time, load, step, answer commit, fluoro click grading."""
    from iddsanatomy.lessons import loader
    from iddsanatomy.lessons.names import default_catalog
    from iddsanatomy.lessons.runner import LessonRunner
    from iddsanatomy.quiz.grading import click_distance_px
    from iddsanatomy.quiz.grading import grade as grade_fn
    from iddsanatomy.quiz.models import Numeric
    from iddsanatomy.quiz.store import ProgressStore

    path = _example()
    figures = []

    cli = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "iddsanatomy", "lessons", "check", "-q", str(path)],
            capture_output=True,
            check=False,
        )
        cli.append((time.perf_counter() - t0) * 1000)
    figures.append(
        summarise(
            "lessons: `lessons check` of one lesson, new process",
            cli,
            "ms",
            target=1500,
            note="includes Python start-up; no Qt/VTK/trimesh imported",
        )
    )

    catalog = default_catalog()
    figures.append(
        summarise(
            "lessons: load and validate the example lesson",
            timings_ms(lambda: loader.load_lesson(path, catalog), 10 if quick else 50),
            "ms",
            target=50,
        )
    )

    runner = LessonRunner(loader.load_lesson(path, catalog), catalog=catalog)
    n = runner.n_steps
    it = iter(range(10**9))
    figures.append(
        summarise(
            "lessons: apply one step to the scene",
            timings_ms(lambda: runner.jump(next(it) % n), 20 if quick else 200),
            "ms",
            target=5,
            note="scene assignments only (no renderer attached)",
        )
    )

    q = Numeric(id="q", type="numeric", prompt="p", answer=5.0, tolerance=0.5)
    g = grade_fn(q, 5.2)
    with tempfile.TemporaryDirectory() as tmp:
        store = ProgressStore(Path(tmp) / "bench.sqlite3")
        attempt = store.start_attempt("bench", "bench")
        k = iter(range(10**9))
        figures.append(
            summarise(
                "quiz: commit one answer (WAL, synchronous=FULL)",
                timings_ms(
                    lambda: store.record_answer(attempt, next(k), g, "numeric"),
                    20 if quick else 200,
                ),
                "ms",
                target=50,
            )
        )
        store.close()

    rng = np.random.default_rng(0)
    tri = rng.uniform(0, 512, size=(20000, 3, 2))
    figures.append(
        summarise(
            "quiz: grade a fluoro click against 20k projected triangles",
            timings_ms(lambda: click_distance_px((256.0, 256.0), tri), 10 if quick else 50),
            "ms",
            target=50,
        )
    )
    return figures


if __name__ == "__main__":  # pragma: no cover
    for f in run(quick="--quick" in sys.argv):
        print(f"{f.name}: {f.median:.3g} {f.unit} (±{f.spread:.2g}), target {f.target}")
