"""Progress store: answers are never lost (SIGKILL, two writers), a corrupt file is moved aside."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from iddsanatomy.quiz.grading import grade
from iddsanatomy.quiz.models import Numeric
from iddsanatomy.quiz.session import QuizSession
from iddsanatomy.quiz.store import ProgressStore


def numeric(i: int) -> Numeric:
    return Numeric.model_validate(
        {"id": f"q{i}", "type": "numeric", "prompt": "p", "answer": 5.0, "tolerance": 0.5}
    )


# A writer that answers question after question and prints each id only after the commit.
WRITER = textwrap.dedent(
    """\
    import sys, time
    from iddsanatomy.quiz.grading import grade
    from iddsanatomy.quiz.models import Numeric
    from iddsanatomy.quiz.store import ProgressStore
    store = ProgressStore(sys.argv[1])
    attempt = store.start_attempt(sys.argv[2], "bank", n_items=10**6)
    limit = int(sys.argv[3])
    i = 0
    while limit < 0 or i < limit:
        q = Numeric(id=f"q{i}", type="numeric", prompt="p", answer=5.0, tolerance=0.5)
        store.record_answer(attempt, i, grade(q, 5.0 + (i % 3) * 0.4), "numeric")
        print(f"answered {sys.argv[2]} q{i}", flush=True)
        i += 1
    """
)


def test_answers_round_trip(tmp_path):
    db = tmp_path / "p.sqlite3"
    with ProgressStore(db) as store:
        assert store.notice is None
        s = QuizSession([numeric(0), numeric(1)], store=store, trainee="ana", source_id="bank")
        s.answer(5.2)
        s.answer(9)
        res = s.finish()
    assert res.score == 1.0 and res.max_score == 2.0 and res.to_review == ["q1"]
    with ProgressStore(db) as store:
        rows = store.answer_rows("ana")
        assert [(r["question_id"], r["correct"], r["response"]) for r in rows] == [
            ("q0", 1, "5.2"),
            ("q1", 0, "9.0"),
        ]
        (att,) = store.attempt_rows("ana")
        assert att["score"] == 1.0 and att["max_score"] == 2.0 and att["answered"] == 2
        assert store.items_to_review("ana") == [
            {"source_id": "bank", "question_id": "q1", "answered_at": rows[1]["answered_at"]}
        ]
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_lesson_progress_only_grows(tmp_path):
    with ProgressStore(tmp_path / "p.sqlite3") as store:
        store.save_lesson_progress("ana", "orientation", "s3", 3, 5, visited=4, completed=False)
        store.save_lesson_progress("ana", "orientation", "s1", 1, 5, visited=2, completed=False)
        p = store.lesson_progress("ana")["orientation"]
        assert p["step_id"] == "s1" and p["visited"] == 4 and p["fraction"] == 0.8


def test_corrupt_database_is_moved_aside(tmp_path):
    db = tmp_path / "progress.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    with ProgressStore(db) as store:
        assert store.notice and "moved to" in store.notice
        aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
        assert len(aside) == 1 and str(aside[0]) in store.notice
        assert aside[0].read_bytes().startswith(b"this is not a database")
        attempt = store.start_attempt("ana", "bank")
        store.record_answer(attempt, 0, grade(numeric(0), 5), "numeric")
        assert store.count_answers() == 1


def test_truncated_database_is_moved_aside(tmp_path):
    db = tmp_path / "progress.sqlite3"
    with ProgressStore(db) as store:
        a = store.start_attempt("ana", "bank")
        for i in range(200):
            store.record_answer(a, i, grade(numeric(i), 5), "numeric")
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    db.write_bytes(data[:100] + b"\x00" * 50 + data[150 : len(data) // 3])
    with ProgressStore(db) as store:
        assert store.notice is not None and store.count_answers() == 0


def test_newer_store_version_is_not_overwritten(tmp_path):
    db = tmp_path / "progress.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with ProgressStore(db) as store:
        assert "newer" in store.notice
    assert any(".corrupt-" in p.name for p in tmp_path.iterdir())


def test_unwritable_location_keeps_working_in_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with ProgressStore(blocker / "sub" / "progress.sqlite3") as store:
        assert "in memory" in store.notice
        a = store.start_attempt("ana", "bank")
        store.record_answer(a, 0, grade(numeric(0), 5), "numeric")
        assert store.count_answers() == 1


def _spawn(db, name, limit):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), name, str(limit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_quiz_loses_no_answered_item(tmp_path):
    db = tmp_path / "progress.sqlite3"
    proc = _spawn(db, "ana", -1)
    reported = []
    try:
        for line in proc.stdout:
            reported.append(line.split()[-1])
            if len(reported) >= 25:
                break
        os.kill(proc.pid, signal.SIGKILL)
        rest, _err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    reported += [ln.split()[-1] for ln in rest.splitlines() if ln.startswith("answered")]
    assert proc.returncode == -signal.SIGKILL
    with ProgressStore(db) as store:
        assert store.notice is None
        stored = {r["question_id"] for r in store.answer_rows("ana")}
        assert store.integrity_ok()
    assert set(reported) <= stored, sorted(set(reported) - stored)
    assert len(reported) >= 25


@pytest.mark.slow
def test_two_processes_writing_at_once(tmp_path):
    db = tmp_path / "progress.sqlite3"
    ProgressStore(db).close()
    n = 150
    procs = [_spawn(db, name, n) for name in ("ana", "ben")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        assert out.count("answered") == n
    with ProgressStore(db) as store:
        assert store.integrity_ok()
        assert len(store.answer_rows("ana")) == n and len(store.answer_rows("ben")) == n
        assert sorted(store.trainees()) == ["ana", "ben"]
