"""The gold answer policy: a simulated annotator answering from a gold JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import srsly

from recipe_runner import run_headless
from recipe_runner.errors import SourceError
from recipe_runner.gold import gold_policy, load_gold
from recipe_runner.policies import resolve_policy
from recipe_runner.transfer import export_answers

from .conftest import DATA

GITHUB_RAW = DATA / "prodigy_examples" / "raw_github-issue-titles.jsonl"
GITHUB_GOLD = DATA / "prodigy_examples" / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"
WNUT_DEV = DATA / "ner" / "wnut17" / "emerging.dev.prodigy.jsonl"


def test_binary_label_from_real_annotations() -> None:
    policy = gold_policy(GITHUB_GOLD)
    gold = list(srsly.read_jsonl(GITHUB_GOLD))
    for line in gold[:60]:
        if line["answer"] == "ignore":
            continue
        task = {"text": line["text"], "label": "DOCUMENTATION"}
        assert policy(task)["answer"] == line["answer"]
    # a text the gold file doesn't know is ignored
    assert policy({"text": "not in the gold file", "label": "X"})["answer"] == "ignore"


def test_choice_sets_accept_and_ner_manual_sets_spans() -> None:
    policy = gold_policy(WNUT_DEV)
    line = next(x for x in srsly.read_jsonl(WNUT_DEV) if len(x["spans"]) >= 2)
    task = {"text": line["text"], "tokens": line["tokens"], "spans": []}
    answered = policy(task)
    assert answered["answer"] == "accept"
    want = sorted((s["start"], s["end"], s["label"]) for s in line["spans"])
    assert [(s["start"], s["end"], s["label"]) for s in answered["spans"]] == want
    assert all("token_start" in s for s in answered["spans"])
    # one suggested span with a score: a binary question
    span = dict(line["spans"][0])
    assert policy({"text": line["text"], "spans": [span], "score": 0.4})["answer"] == "accept"
    wrong = {**span, "label": "not-a-label"}
    assert policy({"text": line["text"], "spans": [wrong], "score": 0.4})["answer"] == "reject"


def test_choice_task(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    srsly.write_jsonl(path, [{"text": "a b", "accept": ["B"]}, {"text": "c", "label": "A"}])
    policy = gold_policy(path)
    options = [{"id": "A", "text": "A"}, {"id": "B", "text": "B"}]
    assert policy({"text": "a b", "options": options})["accept"] == ["B"]
    assert policy({"text": "c", "options": options})["accept"] == ["A"]


def test_several_lines_for_one_text_merge(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    rows = [
        {"text": "x", "label": "A", "answer": "accept"},
        {"text": "x", "label": "B", "answer": "reject"},
        {"text": "x", "label": "C", "answer": "ignore"},
    ]
    srsly.write_jsonl(path, rows)
    policy = gold_policy(path)
    assert [policy({"text": "x", "label": lab})["answer"] for lab in "ABC"] == [
        "accept",
        "reject",
        "reject",
    ]


def test_missing_and_malformed_gold_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="Can't find the gold file"):
        gold_policy(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "A"}\n{"text": oops}\n', encoding="utf-8")
    with pytest.raises(SourceError, match=r"bad.jsonl' line 2: malformed JSON"):
        load_gold(bad)
    bad.write_text(json.dumps({"text": "t", "spans": [{"start": 0}]}) + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match="line 1: each span needs"):
        load_gold(bad)
    bad.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(SourceError, match="must be an object with a 'text'"):
        resolve_policy(f"gold:{bad}")


def test_headless_mark_with_gold_answers_matches_the_real_annotations() -> None:
    summary = run_headless(
        "mark",
        "docs",
        str(GITHUB_RAW),
        answer=f"gold:{GITHUB_GOLD}",
        label=["DOCUMENTATION"],
        view_id="classification",
        show_progress=False,
    )
    gold = list(srsly.read_jsonl(GITHUB_GOLD))
    assert summary.counts == {
        "accept": sum(g["answer"] == "accept" for g in gold),
        "reject": sum(g["answer"] == "reject" for g in gold),
        "ignore": sum(g["answer"] == "ignore" for g in gold),
    }
    out = Path("docs.jsonl")
    assert export_answers("docs", out) == len(gold)
