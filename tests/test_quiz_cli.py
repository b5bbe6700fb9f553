"""``iddsanatomy results export|summary``: export per answer, summarise several trainees."""

from __future__ import annotations

import csv
import json

from iddsanatomy.cli import main
from iddsanatomy.quiz.models import Numeric, SingleChoice
from iddsanatomy.quiz.session import QuizSession
from iddsanatomy.quiz.store import ProgressStore

SC = SingleChoice.model_validate(
    {
        "id": "conus",
        "type": "single_choice",
        "prompt": "p",
        "options": [{"text": "L1", "correct": True}, {"text": "L4"}, {"text": "T10"}],
    }
)
NUM = Numeric.model_validate(
    {"id": "depth", "type": "numeric", "prompt": "p", "answer": 5.7, "tolerance": 0.5}
)


def _trainee_db(tmp_path, name, answers):
    db = tmp_path / f"{name}.sqlite3"
    with ProgressStore(db) as store:
        s = QuizSession([SC, NUM], store=store, trainee=name, source_id="bank")
        for a in answers:
            s.answer(a)
        s.finish()
    return db


def test_export_summary_round_trip(tmp_path, capsys):
    answers = {"ana": ["a", 5.5], "ben": ["b", 4.0], "cai": ["b", 5.9], "dee": ["c", 7.0]}
    exports = []
    for i, (name, ans) in enumerate(answers.items()):
        db = _trainee_db(tmp_path, name, ans)
        fmt = "csv" if i % 2 == 0 else "json"
        out = tmp_path / f"{name}.{fmt}"
        assert main(["results", "export", "--format", fmt, "--db", str(db), "--out", str(out)]) == 0
        exports.append(out)
    capsys.readouterr()

    rows = list(csv.DictReader(exports[0].read_text(encoding="utf-8").splitlines()))
    assert [(r["trainee"], r["question_id"], r["response"], r["correct"]) for r in rows] == [
        ("ana", "conus", '"a"', "1"),
        ("ana", "depth", "5.5", "1"),
    ]
    doc = json.loads(exports[1].read_text(encoding="utf-8"))
    assert doc["answers"][0]["response"] == "b" and doc["answers"][0]["correct"] is False

    assert main(["results", "summary", *map(str, exports), "--format", "json"]) == 0
    items = {d["question_id"]: d for d in json.loads(capsys.readouterr().out)["items"]}
    conus, depth = items["conus"], items["depth"]
    assert conus["answers"] == 4 and conus["trainees"] == 4
    assert conus["share_right"] == 0.25
    assert conus["common_wrong"] == [{"response": "b", "count": 2}, {"response": "c", "count": 1}]
    assert depth["share_right"] == 0.5  # 5.5 and 5.9 within 0.5 of 5.7
    assert sorted(w["response"] for w in depth["common_wrong"]) == ["4.0", "7.0"]

    assert main(["results", "summary", *map(str, exports), str(exports[0])]) == 0  # one twice
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "8 answers from 4 trainees, 2 questions (hardest first)"
    assert text.splitlines()[2].startswith("bank/conus")  # hardest first


def test_summary_refuses_a_file_that_is_not_an_export(tmp_path, capsys):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["results", "summary", str(bad)]) == 1
    assert "not an iddsanatomy results export" in capsys.readouterr().err


def test_export_to_stdout_from_empty_store(tmp_path, capsys):
    assert main(["results", "export", "--db", str(tmp_path / "e.sqlite3")]) == 0
    assert capsys.readouterr().out.startswith("trainee,attempt_id,")


def test_summary_reads_a_csv_saved_by_a_spreadsheet_with_a_bom(tmp_path, capsys):
    db = _trainee_db(tmp_path, "eve", ["a", 5.7])
    out = tmp_path / "eve.csv"
    assert main(["results", "export", "--db", str(db), "--out", str(out)]) == 0
    out.write_bytes(b"\xef\xbb\xbf" + out.read_bytes())
    capsys.readouterr()
    assert main(["results", "summary", str(out), "--format", "json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert {d["question_id"]: d["share_right"] for d in items} == {"conus": 1.0, "depth": 1.0}
