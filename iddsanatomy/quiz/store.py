"""The progress store: one SQLite file in the user's data directory that never loses an answer.

* Every answer is its own committed transaction, written as it is given (``synchronous=FULL``),
  so an abrupt exit, even SIGKILL, loses nothing already answered.
* WAL journal, ``BEGIN IMMEDIATE`` writes and a busy timeout: two app instances can write at
  once without corrupting the file or losing a write.
* A file that is not a readable database is moved aside as
  ``progress.corrupt-<UTC timestamp>.sqlite3`` and a fresh store is started; :attr:`notice` says
  where the old one went, and the app keeps working.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DB_NAME = "progress.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trainees (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    trainee_id INTEGER NOT NULL REFERENCES trainees(id),
    kind TEXT NOT NULL,            -- quiz | lesson
    source_id TEXT NOT NULL,       -- bank or lesson id
    mode TEXT NOT NULL,            -- practice | exam
    seed TEXT NOT NULL,
    n_items INTEGER NOT NULL,
    time_limit_s REAL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    score REAL,
    max_score REAL
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    position INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    question_type TEXT NOT NULL,
    response TEXT NOT NULL,        -- JSON
    expected TEXT NOT NULL,
    correct INTEGER NOT NULL,
    score REAL NOT NULL,
    points REAL NOT NULL,
    elapsed_s REAL,
    answered_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answers_attempt ON answers(attempt_id);
CREATE TABLE IF NOT EXISTS lesson_progress (
    trainee_id INTEGER NOT NULL REFERENCES trainees(id),
    lesson_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    step_index INTEGER NOT NULL,
    n_steps INTEGER NOT NULL,
    visited INTEGER NOT NULL,
    completed INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (trainee_id, lesson_id)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def default_path() -> Path:
    from iddsanatomy.paths import user_data_dir

    return user_data_dir() / DB_NAME


class ProgressStore:
    """Trainees, quiz attempts and answers, and lesson progress, in one SQLite file.

    Parameters
    ----------
    path : path, optional
        The database file; by default ``progress.sqlite3`` in :func:`paths.user_data_dir`.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.notice: str | None = None
        self._conn = self._open()

    # --- opening and recovery --------------------------------------------------------------

    def _connect(self, target: Path | str | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(target or self.path, timeout=30.0, isolation_level=None)
        try:
            return self._prepare(conn, in_memory=target == ":memory:")
        except BaseException:
            conn.close()
            raise

    def _prepare(self, conn: sqlite3.Connection, in_memory: bool = False) -> sqlite3.Connection:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 30000")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal" and not in_memory:
            raise sqlite3.DatabaseError(f"could not switch to WAL (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"made by a newer iddsanatomy (store version {version} > {SCHEMA_VERSION})"
            )
        with self._write(conn):
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._connect()
        except (sqlite3.DatabaseError, OSError) as exc:
            reason = str(exc)
        try:
            moved = self._move_aside()
            conn = self._connect()
        except (sqlite3.Error, OSError) as exc:
            # nowhere to write: keep the app working, and say that nothing will be kept
            self.notice = (
                f"The progress file {self.path} cannot be used ({reason}; {exc}). Answers are "
                "kept in memory only for this session."
            )
            return self._connect(":memory:")
        self.notice = (
            f"The progress file {self.path} could not be read ({reason}). It was moved to "
            f"{moved} and a new, empty progress file was started."
        )
        return conn

    def _move_aside(self) -> Path:
        if not self.path.exists():
            raise OSError(f"{self.path} does not exist")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.with_name(f"{self.path.stem}.corrupt-{stamp}{self.path.suffix}")
        self.path.replace(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.replace(target.with_name(target.name + suffix))
        return target

    @staticmethod
    @contextmanager
    def _write(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so two writers queue instead of deadlocking
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ProgressStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------

    def trainee_id(self, name: str) -> int:
        """The id of the trainee called ``name`` (created on first use)."""
        name = name.strip() or "trainee"
        with self._write(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO trainees(name, created_at) VALUES (?, ?)", (name, _now())
            )
            row = self._conn.execute("SELECT id FROM trainees WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def start_attempt(
        self,
        trainee: str,
        source_id: str,
        *,
        kind: str = "quiz",
        mode: str = "practice",
        seed: Any = 0,
        n_items: int = 0,
        time_limit_s: float | None = None,
    ) -> int:
        tid = self.trainee_id(trainee)
        with self._write(self._conn):
            cur = self._conn.execute(
                "INSERT INTO attempts(trainee_id, kind, source_id, mode, seed, n_items, "
                "time_limit_s, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (tid, kind, source_id, mode, str(seed), n_items, time_limit_s, _now()),
            )
        return int(cur.lastrowid)

    def record_answer(
        self,
        attempt_id: int,
        position: int,
        grade: Any,
        question_type: str,
        points: float = 1.0,
        elapsed_s: float | None = None,
    ) -> int:
        """Store one graded answer and commit it before returning."""
        with self._write(self._conn):
            cur = self._conn.execute(
                "INSERT INTO answers(attempt_id, position, question_id, question_type, response, "
                "expected, correct, score, points, elapsed_s, answered_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    attempt_id,
                    position,
                    grade.question_id,
                    question_type,
                    json.dumps(grade.response, ensure_ascii=False),
                    grade.expected,
                    int(grade.correct),
                    float(grade.score),
                    float(points),
                    elapsed_s,
                    _now(),
                ),
            )
        return int(cur.lastrowid)

    def finish_attempt(self, attempt_id: int, score: float, max_score: float) -> None:
        with self._write(self._conn):
            self._conn.execute(
                "UPDATE attempts SET finished_at = ?, score = ?, max_score = ? WHERE id = ?",
                (_now(), score, max_score, attempt_id),
            )

    def save_lesson_progress(
        self,
        trainee: str,
        lesson_id: str,
        step_id: str,
        step_index: int,
        n_steps: int,
        visited: int,
        completed: bool,
    ) -> None:
        tid = self.trainee_id(trainee)
        with self._write(self._conn):
            self._conn.execute(
                "INSERT INTO lesson_progress VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(trainee_id, lesson_id) DO UPDATE SET step_id = excluded.step_id, "
                "step_index = excluded.step_index, n_steps = excluded.n_steps, "
                "visited = max(visited, excluded.visited), "
                "completed = max(completed, excluded.completed), updated_at = excluded.updated_at",
                (tid, lesson_id, step_id, step_index, n_steps, visited, int(completed), _now()),
            )

    # --- reading ----------------------------------------------------------------------------

    def trainees(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM trainees ORDER BY name")]

    def lesson_progress(self, trainee: str) -> dict[str, dict[str, Any]]:
        """Per lesson id: step_id, step_index, n_steps, visited, completed, fraction."""
        rows = self._conn.execute(
            "SELECT p.* FROM lesson_progress p JOIN trainees t ON t.id = p.trainee_id "
            "WHERE t.name = ?",
            (trainee,),
        ).fetchall()
        return {
            r["lesson_id"]: {
                "step_id": r["step_id"],
                "step_index": r["step_index"],
                "n_steps": r["n_steps"],
                "visited": r["visited"],
                "completed": bool(r["completed"]),
                "fraction": min(1.0, r["visited"] / max(1, r["n_steps"])),
            }
            for r in rows
        }

    def answer_rows(self, trainee: str | None = None) -> list[dict[str, Any]]:
        """One row per answer with its attempt and trainee (the export format)."""
        sql = (
            "SELECT t.name AS trainee, a.id AS attempt_id, a.kind, a.source_id, a.mode, a.seed, "
            "a.started_at, a.finished_at, n.position, n.question_id, n.question_type, "
            "n.response, n.expected, n.correct, n.score, n.points, n.elapsed_s, n.answered_at "
            "FROM answers n JOIN attempts a ON a.id = n.attempt_id "
            "JOIN trainees t ON t.id = a.trainee_id"
        )
        args: tuple = ()
        if trainee is not None:
            sql += " WHERE t.name = ?"
            args = (trainee,)
        sql += " ORDER BY n.answered_at, n.id"
        return [dict(r) for r in self._conn.execute(sql, args)]

    def attempt_rows(self, trainee: str | None = None) -> list[dict[str, Any]]:
        """One row per attempt with its score so far (history: scores over time)."""
        sql = (
            "SELECT t.name AS trainee, a.id AS attempt_id, a.kind, a.source_id, a.mode, "
            "a.started_at, a.finished_at, a.n_items, "
            "COUNT(n.id) AS answered, COALESCE(SUM(n.score * n.points), 0) AS score, "
            "COALESCE(SUM(n.points), 0) AS max_score "
            "FROM attempts a JOIN trainees t ON t.id = a.trainee_id "
            "LEFT JOIN answers n ON n.attempt_id = a.id"
        )
        args: tuple = ()
        if trainee is not None:
            sql += " WHERE t.name = ?"
            args = (trainee,)
        sql += " GROUP BY a.id ORDER BY a.started_at, a.id"
        return [dict(r) for r in self._conn.execute(sql, args)]

    def items_to_review(self, trainee: str) -> list[dict[str, Any]]:
        """Questions whose latest answer by ``trainee`` was wrong, most recent first."""
        rows = self._conn.execute(
            "SELECT a.source_id, n.question_id, n.correct, n.answered_at "
            "FROM answers n JOIN attempts a ON a.id = n.attempt_id "
            "JOIN trainees t ON t.id = a.trainee_id WHERE t.name = ? "
            "ORDER BY n.answered_at DESC, n.id DESC",
            (trainee,),
        ).fetchall()
        seen: set[tuple[str, str]] = set()
        out = []
        for r in rows:
            key = (r["source_id"], r["question_id"])
            if key in seen:
                continue
            seen.add(key)
            if not r["correct"]:
                out.append(
                    {"source_id": key[0], "question_id": key[1], "answered_at": r["answered_at"]}
                )
        return out

    def count_answers(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def integrity_ok(self) -> bool:
        return self._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
