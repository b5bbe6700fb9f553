"""``iddsanatomy results``: export a trainee's answers, and summarise a class's exports.

``results export --format csv|json`` writes one row per answer (with its attempt and trainee)
from the progress store; ``results summary FILES...`` reads several trainees' exports (CSV or
JSON, mixed) and prints, per question, how many answered, the share right (difficulty) and the
most common wrong answers, so a class can be reviewed without a server.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from iddsanatomy.errors import IddsError

EXPORT_FIELDS = (
    "trainee",
    "attempt_id",
    "kind",
    "source_id",
    "mode",
    "seed",
    "started_at",
    "finished_at",
    "position",
    "question_id",
    "question_type",
    "response",
    "expected",
    "correct",
    "score",
    "points",
    "elapsed_s",
    "answered_at",
)


def build_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Export and summarise quiz results.")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = sub.add_parser(
        "export", help="write every answer in the progress store (per attempt, per item)"
    )
    e.add_argument("--format", choices=("csv", "json"), default="csv")
    e.add_argument("--out", type=Path, help="file to write (default: standard output)")
    e.add_argument("--db", type=Path, help="progress store (default: the user's)")
    e.add_argument("--trainee", help="only this trainee")
    s = sub.add_parser(
        "summary", help="per-item difficulty and common wrong answers over several exports"
    )
    s.add_argument("files", nargs="+", type=Path, metavar="FILE")
    s.add_argument("--format", choices=("text", "json", "csv"), default="text")
    return p


def run(args: argparse.Namespace) -> int:
    return _export(args) if args.action == "export" else _summary(args)


def export_rows(rows: list[dict[str, Any]], fmt: str) -> str:
    """Rows as CSV or JSON text (``response`` stays a JSON string in CSV)."""
    clean = [{k: r.get(k) for k in EXPORT_FIELDS} for r in rows]
    if fmt == "json":
        for r in clean:
            r["response"] = (
                json.loads(r["response"]) if isinstance(r["response"], str) else (r["response"])
            )
            r["correct"] = bool(r["correct"])
        return (
            json.dumps(
                {"format": "iddsanatomy-results", "version": 1, "answers": clean},
                indent=1,
                ensure_ascii=False,
            )
            + "\n"
        )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in clean:
        w.writerow(r)
    return buf.getvalue()


def _export(args) -> int:
    from iddsanatomy.quiz.store import ProgressStore

    with ProgressStore(args.db) as store:
        if store.notice:
            print(f"note: {store.notice}", file=sys.stderr)
        rows = store.answer_rows(args.trainee)
    text = export_rows(rows, args.format)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} answers to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def read_export(path: Path) -> list[dict[str, Any]]:
    """Rows of one export file (CSV or JSON), with ``response`` decoded and types restored."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may add a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise IddsError(f"cannot read {path}: {exc}") from None
    rows: list[dict[str, Any]]
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            rows = list(data["answers"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IddsError(f"{path} is not an iddsanatomy results export: {exc}") from None
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        missing = {"trainee", "question_id", "correct", "response"} - set(rows[0] if rows else {})
        if rows and missing:
            raise IddsError(
                f"{path} is not an iddsanatomy results export (no "
                f"{', '.join(sorted(missing))} column)"
            )
        for r in rows:
            try:
                r["response"] = json.loads(r["response"])
            except (TypeError, ValueError):
                pass
            r["correct"] = str(r["correct"]).strip().lower() in ("1", "true", "yes")
            r["score"] = float(r["score"]) if r.get("score") not in (None, "") else None
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (source, question): answers, trainees, share right, mean score, common wrong answers.

    Hardest first (lowest share right).
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(str(r.get("source_id", "")), str(r["question_id"]))].append(r)
    out = []
    for (source, qid), items in groups.items():
        n = len(items)
        right = sum(bool(r["correct"]) for r in items)
        scores = [float(r["score"]) for r in items if r.get("score") not in (None, "")]
        wrong = Counter(
            json.dumps(r["response"], ensure_ascii=False, sort_keys=True)
            if not isinstance(r["response"], str)
            else r["response"]
            for r in items
            if not r["correct"]
        )
        out.append(
            {
                "source_id": source,
                "question_id": qid,
                "question_type": items[0].get("question_type", ""),
                "answers": n,
                "trainees": len({r["trainee"] for r in items}),
                "share_right": right / n,
                "mean_score": sum(scores) / len(scores) if scores else None,
                "common_wrong": [{"response": k, "count": c} for k, c in wrong.most_common(3)],
            }
        )
    out.sort(key=lambda d: (d["share_right"], d["source_id"], d["question_id"]))
    return out


def _summary(args) -> int:
    rows: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    for f in args.files:
        for r in read_export(f):
            # the same answer in two files (an export given twice) counts once
            key = (
                r.get("trainee"),
                str(r.get("attempt_id")),
                str(r.get("position")),
                r.get("question_id"),
                r.get("answered_at"),
            )
            if key not in seen:
                seen.add(key)
                rows.append(r)
    table = summarise(rows)
    if args.format == "json":
        sys.stdout.write(json.dumps({"items": table}, indent=1, ensure_ascii=False) + "\n")
        return 0
    if args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(
            [
                "source_id",
                "question_id",
                "answers",
                "trainees",
                "share_right",
                "mean_score",
                "common_wrong",
            ]
        )
        for d in table:
            w.writerow(
                [
                    d["source_id"],
                    d["question_id"],
                    d["answers"],
                    d["trainees"],
                    f"{d['share_right']:.3f}",
                    "" if d["mean_score"] is None else f"{d['mean_score']:.3f}",
                    "; ".join(f"{w['response']} ×{w['count']}" for w in d["common_wrong"]),
                ]
            )
        return 0
    trainees = len({r["trainee"] for r in rows})
    print(
        f"{len(rows)} answers from {trainees} trainee{'s' if trainees != 1 else ''}, "
        f"{len(table)} questions (hardest first)"
    )
    print(f"{'question':<40} {'n':>4} {'right':>6}  common wrong answers")
    for d in table:
        wrong = ", ".join(f"{w['response']} ×{w['count']}" for w in d["common_wrong"]) or "—"
        name = f"{d['source_id']}/{d['question_id']}"
        print(f"{name:<40} {d['answers']:>4} {d['share_right']:>6.0%}  {wrong}")
    return 0
