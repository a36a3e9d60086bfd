"""The `review` recipe headless: versions grouped by input across datasets, --auto-accept, and
scripted adjudication with an answer policy, for each kind of view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import srsly

from recipe_runner import run_headless
from recipe_runner.config import load_config
from recipe_runner.db import connect
from recipe_runner.transfer import import_answers

from .conftest import DATA

NER = DATA / "prodigy_examples" / "annotated_news_headlines-ORG-PERSON-LOCATION-ner.jsonl"


def load(tmp_path: Path, dataset: str, rows: list[dict[str, Any]]) -> None:
    path = tmp_path / f"{dataset}.jsonl"
    srsly.write_jsonl(path, rows)
    import_answers(dataset, path)


def answers_of(name: str) -> list[dict[str, Any]]:
    db = connect(load_config())
    try:
        return list(db.iter_answers(name))
    finally:
        db.close()


def test_review_groups_versions_across_datasets_and_auto_accepts(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RR_DB_URL", db_url)
    texts = ["same everywhere", "they differ", "one said so", "all ignored"]
    ann = [
        {"text": texts[0], "label": "X", "answer": "accept", "_session_id": "a-ann"},
        {"text": texts[1], "label": "X", "answer": "accept", "_session_id": "a-ann"},
        {"text": texts[2], "label": "X", "answer": "reject", "_session_id": "a-ann"},
        {"text": texts[3], "label": "X", "answer": "ignore", "_session_id": "a-ann"},
    ]
    bob = [
        {"text": texts[0], "label": "X", "answer": "accept", "_session_id": "b-bob"},
        {"text": texts[1], "label": "X", "answer": "reject", "_session_id": "b-bob"},
        {"text": texts[3], "label": "X", "answer": "ignore", "_session_id": "b-bob"},
    ]
    load(tmp_path, "a", ann)
    load(tmp_path, "b", bob)
    seen: list[dict[str, Any]] = []

    def judge(task: dict[str, Any]) -> dict[str, Any]:
        seen.append(task)
        return {**task, "answer": "reject"}

    summary = run_headless("review", "final", "a,b", auto_accept=True, answer=judge)
    # The unanimous one is saved without asking; the ignored one is not reviewed at all.
    assert sorted(t["text"] for t in seen) == sorted([texts[1], texts[2]])
    differ = next(t for t in seen if t["text"] == texts[1])
    assert [(v["answer"], v["sessions"]) for v in differ["versions"]] == [
        ("accept", ["a-ann"]),
        ("reject", ["b-bob"]),
    ]
    assert differ["review_view_id"] == "classification"
    assert summary.saved == 2
    final = {a["text"]: a for a in answers_of("final")}
    assert set(final) == {texts[0], texts[1], texts[2]}
    auto = final[texts[0]]
    assert auto["answer"] == "accept" and auto["_session_id"] == "final-auto"
    assert auto["versions"] == [
        {**auto["versions"][0], "answer": "accept", "sessions": ["a-ann", "b-bob"]}
    ]
    assert final[texts[1]]["answer"] == "reject"
    # Run again: every input is reviewed, nothing is asked twice.
    seen.clear()
    assert run_headless("review", "final", "a,b", answer=judge).saved == 0
    assert seen == []


def test_review_of_ner_manual_by_majority(tmp_path: Path) -> None:
    tasks = [t for t in srsly.read_jsonl(NER) if t["answer"] == "accept" and t.get("spans")][:20]
    for name in ("ann", "bob", "cat"):
        rows = []
        for i, task in enumerate(tasks):
            spans = task["spans"]
            if name == "cat" and i % 2 == 0:
                spans = spans[1:]  # cat misses the first entity of every other text
            rows.append({**task, "spans": spans, "_session_id": f"ner-{name}"})
        load(tmp_path, f"ner_{name}", rows)
    # The accept policy saves what the editor holds: the version most sessions gave.
    summary = run_headless("review", "gold", "ner_ann,ner_bob,ner_cat", answer="accept")
    assert summary.saved == 20
    saved = {a["_input_hash"]: a for a in answers_of("gold")}
    for i, task in enumerate(tasks):
        answer = saved[task["_input_hash"]]
        assert answer["spans"] == task["spans"]
        assert answer["_view_id"] == "review" and answer["review_view_id"] == "ner_manual"
        sessions = [v["sessions"] for v in answer["versions"]]
        if i % 2 == 0 and len(task["spans"]) > 0:
            assert sessions == [["ner-ann", "ner-bob"], ["ner-cat"]]
        else:
            assert sessions == [["ner-ann", "ner-bob", "ner-cat"]]


def test_review_of_choice_and_text(tmp_path: Path) -> None:
    options = [{"id": "A", "text": "A"}, {"id": "B", "text": "B"}]
    load(
        tmp_path,
        "c",
        [
            {"text": "t", "options": options, "accept": ["A"], "answer": "accept",
             "_session_id": "c-1", "_view_id": "choice"},
            {"text": "t", "options": options, "accept": ["B", "A"], "answer": "accept",
             "_session_id": "c-2", "_view_id": "choice"},
            {"text": "t", "options": options, "accept": ["A"], "answer": "accept",
             "_session_id": "c-3", "_view_id": "choice"},
        ],
    )  # fmt: skip
    run_headless("review", "c_final", "c", answer="accept")
    (saved,) = answers_of("c_final")
    assert saved["accept"] == ["A"] and saved["review_view_id"] == "choice"
    assert [v["sessions"] for v in saved["versions"]] == [["c-1", "c-3"], ["c-2"]]
    load(
        tmp_path,
        "t",
        [
            {"text": "plain", "answer": "accept", "_session_id": "t-1"},
            {"text": "plain", "answer": "reject", "_session_id": "t-2"},
        ],
    )
    run_headless("review", "t_final", "t", view_id="text", answer="reject")
    (text,) = answers_of("t_final")
    assert text["answer"] == "reject" and len(text["versions"]) == 2


def test_review_errors(tmp_path: Path) -> None:
    from recipe_runner.errors import RecipeRunnerError

    load(tmp_path, "a", [{"text": "x", "answer": "accept"}])
    with pytest.raises(RecipeRunnerError, match="Can't find dataset 'nope'"):
        run_headless("review", "out", "a,nope")
    with pytest.raises(RecipeRunnerError, match="save the review elsewhere"):
        run_headless("review", "a", "a")
    with pytest.raises(RecipeRunnerError, match="can't be reviewed"):
        run_headless("review", "out", "a", view_id="blocks!")


def test_review_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from .rr_testing import rr_main

    listed = rr_main(capsys, monkeypatch, "recipes", "--json")
    assert "review" in {r["name"] for r in json.loads(listed.out)}
    load(
        tmp_path,
        "x",
        [
            {"text": "a", "label": "L", "answer": "accept", "_session_id": "x-1"},
            {"text": "a", "label": "L", "answer": "accept", "_session_id": "x-2"},
            {"text": "b", "label": "L", "answer": "accept", "_session_id": "x-1"},
            {"text": "b", "label": "L", "answer": "reject", "_session_id": "x-2"},
        ],
    )
    result = rr_main(
        capsys, monkeypatch, "run", "--headless", "--answer", "reject", "review", "y", "x",
        "--auto-accept",
    )  # fmt: skip
    assert result.code == 0, result.err
    final = {a["text"]: a["answer"] for a in answers_of("y")}
    assert final == {"a": "accept", "b": "reject"}  # a: unanimous, saved as given
    help_text = rr_main(capsys, monkeypatch, "run", "review", "--help")
    assert "--auto-accept" in help_text.out and "--view-id" in help_text.out


def test_review_of_spans_manual_keeps_overlapping_spans(tmp_path: Path) -> None:
    text = "New York Times Square"
    city = {"start": 0, "end": 8, "label": "CITY"}
    place = {"start": 0, "end": 21, "label": "PLACE"}
    square = {"start": 15, "end": 21, "label": "PLACE"}
    base = {"text": text, "answer": "accept", "_view_id": "spans_manual"}
    load(
        tmp_path,
        "s",
        [
            {**base, "spans": [city, place], "_session_id": "s-1"},
            {**base, "spans": [place, city], "_session_id": "s-2"},  # the same, in another order
            {**base, "spans": [city, square], "_session_id": "s-3"},
        ],
    )
    run_headless("review", "s_final", "s", answer="accept")
    (saved,) = answers_of("s_final")
    assert saved["review_view_id"] == "spans_manual"
    assert sorted((s["start"], s["end"], s["label"]) for s in saved["spans"]) == [
        (0, 8, "CITY"),
        (0, 21, "PLACE"),
    ]
    assert [v["sessions"] for v in saved["versions"]] == [["s-1", "s-2"], ["s-3"]]
