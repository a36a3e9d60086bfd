"""Datasets as a team uses them: `rr db-merge`, `dataset:NAME` as a source, `rr relabel`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import srsly

from recipe_runner import run_headless
from recipe_runner.config import load_config
from recipe_runner.db import connect
from recipe_runner.hashing import set_hashes

from .conftest import DATA
from .rr_testing import Result, rr_main

TEXTCAT = DATA / "prodigy_examples" / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"


@pytest.fixture
def rr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    def call(*args: str) -> Result:
        return rr_main(capsys, monkeypatch, *args)

    return call


@pytest.fixture
def on_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every command of the test on one database of each backend."""
    monkeypatch.setenv("RR_DB_URL", db_url)
    return db_url


def answers_of(name: str) -> list[dict[str, Any]]:
    db = connect(load_config())
    try:
        return list(db.iter_answers(name))
    finally:
        db.close()


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    srsly.write_jsonl(path, rows)
    return path


# db-merge ---------------------------------------------------------------------------------------
def test_db_merge(rr: Any, tmp_path: Path, on_db: str) -> None:
    rows = list(srsly.read_jsonl(TEXTCAT))[:50]
    ann = [{**r, "_session_id": "a-ann"} for r in rows[:30]]
    bob = [{**r, "_session_id": "b-bob"} for r in rows[20:]]
    rr("db-in", "a", str(write(tmp_path / "a.jsonl", ann)))
    rr("db-in", "b", str(write(tmp_path / "b.jsonl", bob)))
    merged = rr("db-merge", "a,b", "both")
    assert merged.code == 0, merged.err
    assert "Merged 60 answers of a, b into 'both' (60 new)" in merged.err
    both = answers_of("both")
    assert len(both) == 60
    assert {a["_session_id"] for a in both} == {"a-ann", "b-bob"}
    # Prodigy's 32-bit hashes are kept; --rehash computes ours from the content.
    assert both[0]["_task_hash"] == rows[0]["_task_hash"]
    assert rr("db-merge", "a,b", "again").code == 0
    assert "(0 new)" in rr("db-merge", "a,b", "again").err  # merged twice: stored once
    assert rr("db-merge", "a", "rehashed", "--rehash").code == 0
    fresh = answers_of("rehashed")[0]
    plain = {k: v for k, v in rows[0].items() if not k.startswith("_")}
    assert fresh["_task_hash"] == set_hashes(plain)["_task_hash"] != rows[0]["_task_hash"]


def test_db_merge_errors(rr: Any, tmp_path: Path) -> None:
    rr("db-in", "a", str(write(tmp_path / "a.jsonl", [{"text": "x", "answer": "accept"}])))
    missing = rr("db-merge", "a,nope", "out")
    assert missing.code == 1 and "Can't find dataset 'nope'" in missing.err
    assert rr("stats", "out").code == 1  # nothing half-written
    into_itself = rr("db-merge", "a", "a")
    assert into_itself.code == 1 and "'a' is one of the datasets merged" in into_itself.err


# dataset:NAME as a source -----------------------------------------------------------------------
def test_dataset_as_source_picks_answers(rr: Any, tmp_path: Path, on_db: str) -> None:
    rows = list(srsly.read_jsonl(TEXTCAT))
    rr("db-in", "gh", str(TEXTCAT))
    accepted = {r["_task_hash"] for r in rows if r["answer"] == "accept"}
    summary = run_headless("mark", "again", "dataset:gh:accept", answer="accept")
    served = answers_of("again")
    assert summary.saved == len(served) == len(accepted)
    assert {a["_task_hash"] for a in served} == accepted
    # The task keeps its annotations and hashes, not the old answer's session or time.
    assert all(a["_session_id"].startswith("again-headless") for a in served)
    every = run_headless("mark", "all", "dataset:gh", answer="accept")
    assert every.saved == len({r["_task_hash"] for r in rows})
    both = run_headless("mark", "some", "dataset:gh:accept,reject", answer="accept")
    picked = {r["_task_hash"] for r in rows if r["answer"] in ("accept", "reject")}
    assert both.saved == len(picked)


def test_dataset_source_errors(rr: Any, tmp_path: Path) -> None:
    rr("db-in", "gh", str(TEXTCAT))
    wrong = rr("run", "--headless", "mark", "x", "dataset:gh:maybe")
    assert wrong.code == 1 and "'maybe' is not an answer" in wrong.err
    missing = rr("run", "--headless", "mark", "x", "dataset:nope")
    assert missing.code == 1 and "Can't find dataset 'nope'" in missing.err


# relabel ----------------------------------------------------------------------------------------
def test_relabel_rename_binary(rr: Any, tmp_path: Path, on_db: str) -> None:
    rr("db-in", "gh", str(TEXTCAT))
    before = answers_of("gh")
    dry = rr("relabel", "gh", "--rename", "DOCUMENTATION=DOCS", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"gh: {len(before)} answers change" in dry.out
    assert "DOCUMENTATION -> DOCS" in dry.out and "Dry run: nothing changed." in dry.out
    assert answers_of("gh") == before
    done = rr("relabel", "gh", "--rename", "DOCUMENTATION=DOCS")
    assert done.code == 0, done.err
    after = answers_of("gh")
    assert len(after) == len(before)
    assert {a["label"] for a in after} == {"DOCS"}
    old = {a["_input_hash"]: a for a in before}
    for answer in after:
        (change,) = answer["_history"]
        assert change["label"] == "DOCUMENTATION"
        assert change["relabel"] == "DOCUMENTATION=DOCS"
        # Prodigy's own hashes were not computed from the content: they stay.
        assert answer["_task_hash"] == old[answer["_input_hash"]]["_task_hash"]
    again = rr("relabel", "gh", "--rename", "DOCUMENTATION=DOCS")
    assert again.code == 1 and "nothing to do" in again.err


def test_relabel_merge_choice_and_spans_folds_duplicates(rr: Any, tmp_path: Path) -> None:
    options = [{"id": "A", "text": "A"}, {"id": "B", "text": "B"}, {"id": "Z", "text": "Zed"}]
    rows = [
        {"text": "one", "options": options, "accept": ["A", "B"], "answer": "accept",
         "_session_id": "d-ann"},
        {"text": "two", "label": "A", "answer": "accept", "_session_id": "d-ann"},
        {"text": "two", "label": "B", "answer": "reject", "_session_id": "d-ann"},
        {"text": "three", "spans": [{"start": 0, "end": 5, "label": "B"}], "answer": "accept",
         "_session_id": "d-bob"},
        {"text": "four", "label": "Z", "answer": "accept", "_session_id": "d-bob"},
    ]  # fmt: skip
    rr("db-in", "d", str(write(tmp_path / "d.jsonl", rows)))
    result = rr("relabel", "d", "--merge", "A,B=C")
    assert result.code == 0, result.err
    assert "1 answers become a duplicate" in result.out
    after = {(a["text"], a.get("label")): a for a in answers_of("d")}
    assert len(after) == 4
    one = after[("one", None)]
    assert one["options"] == [{"id": "C", "text": "C"}, {"id": "Z", "text": "Zed"}]
    assert one["accept"] == ["C"]
    assert one["_history"][0]["accept"] == ["A", "B"]
    two = after[("two", "C")]
    # Both of ann's answers on "two" are the task "two is C" now: the later is kept, the
    # earlier is in its history; the hash is computed again from the new label.
    assert two["answer"] == "reject"
    assert two["_history"][-1]["folded"]["label"] == "A"
    assert two["_task_hash"] == set_hashes({"text": "two", "label": "C"})["_task_hash"]
    assert after[("three", None)]["spans"][0]["label"] == "C"
    assert "_history" not in after[("four", "Z")]


def test_relabel_requeue_serves_the_tasks_again(rr: Any, tmp_path: Path, on_db: str) -> None:
    rows = [
        {"text": f"t{i}", "label": "OLD" if i < 3 else "KEEP", "answer": "accept",
         "_session_id": "r-ann"}
        for i in range(5)
    ]  # fmt: skip
    rr("db-in", "r", str(write(tmp_path / "r.jsonl", rows)))
    result = rr("relabel", "r", "--rename", "OLD=NEW", "--requeue")
    assert result.code == 0, result.err
    assert "r.requeue" in result.out
    assert [a["label"] for a in answers_of("r")] == ["KEEP", "KEEP"]
    requeued = answers_of("r.requeue")
    assert [a["label"] for a in requeued] == ["NEW"] * 3
    assert all(a["_history"][0]["label"] == "OLD" for a in requeued)
    # A second look: the relabelled tasks, served again into the dataset.
    summary = run_headless("mark", "r", "dataset:r.requeue", answer="accept")
    assert summary.saved == 3
    assert sorted(a["label"] for a in answers_of("r")) == ["KEEP", "KEEP", "NEW", "NEW", "NEW"]


def test_relabel_usage_errors(rr: Any, tmp_path: Path) -> None:
    rr("db-in", "r", str(write(tmp_path / "r.jsonl", [{"text": "x", "label": "A"}])))
    assert rr("relabel", "r").code == 2
    bad = rr("relabel", "r", "--rename", "A")
    assert bad.code == 2 and "--rename takes OLD=NEW" in bad.err
    assert rr("relabel", "r", "--merge", "A,B").code == 2
    assert rr("relabel", "nope", "--rename", "A=B").code == 1
    assert json.loads(rr("stats", "r", "--json").out)["total"] == 1
