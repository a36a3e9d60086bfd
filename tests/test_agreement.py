"""`rr metric iaa` and the team figures of `rr stats`: hand-made cases, and real data with
simulated annotators checked against an independent Krippendorff's alpha (the `krippendorff`
package)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
import srsly

from recipe_runner.agreement import (
    binary_units,
    gwet_ac,
    iaa,
    krippendorff_alpha,
    pairable,
    percent_agreement,
    session_agreement,
    session_pace,
    span_units,
)

from .conftest import DATA
from .rr_testing import Result, rr_main

TEXTCAT = DATA / "prodigy_examples" / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"
NER = DATA / "prodigy_examples" / "annotated_news_headlines-ORG-PERSON-LOCATION-ner.jsonl"


@pytest.fixture
def rr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    def call(*args: str) -> Result:
        return rr_main(capsys, monkeypatch, *args)

    return call


def reference_alpha(ratings: dict[Any, dict[str, Any]]) -> float:
    """Krippendorff's alpha by the `krippendorff` package: annotators x units, NaN missing."""
    sessions = sorted({s for values in ratings.values() for s in values})
    units = list(ratings)
    codes: dict[Any, int] = {}
    matrix = np.full((len(sessions), len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, session in enumerate(sessions):
            if session in ratings[unit]:
                matrix[i, j] = codes.setdefault(ratings[unit][session], len(codes))
    return float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))


# hand-made cases --------------------------------------------------------------------------------
def test_figures_of_a_hand_made_case() -> None:
    # Two raters, ten units: 7 agree (5 yes, 2 no), 3 disagree.
    a = ["y"] * 5 + ["n"] * 2 + ["y", "y", "n"]
    b = ["y"] * 5 + ["n"] * 2 + ["n", "n", "y"]
    ratings = {(i,): {"a": a[i], "b": b[i]} for i in range(10)}
    units = pairable(ratings)
    assert percent_agreement(units) == pytest.approx(0.7)
    # Gwet: pi(y) = (7/10 + 6/10) / 2 = 0.65; pe = 2 * 0.65 * 0.35 = 0.455
    assert gwet_ac(ratings, ("y", "n")) == pytest.approx((0.7 - 0.455) / (1 - 0.455))
    # Krippendorff: n = 20; n_y = 13, n_n = 7; observed off-diagonal = 6;
    # expected = (400 - 169 - 49) / 19
    assert krippendorff_alpha(units) == pytest.approx(1 - 6 / (182 / 19))
    assert krippendorff_alpha(units) == pytest.approx(reference_alpha(ratings))


def test_undefined_figures_are_none() -> None:
    same = {(1,): {"a": "y", "b": "y"}, (2,): {"a": "y", "b": "y"}}
    units = pairable(same)
    assert percent_agreement(units) == 1.0
    assert krippendorff_alpha(units) is None  # one value only: no expected disagreement
    assert gwet_ac(same, ("y", "n")) == 1.0  # Gwet's is defined there: pe = 0
    alone = {(1,): {"a": "y"}}
    assert pairable(alone) == []
    assert percent_agreement([]) is None and krippendorff_alpha([]) is None
    assert gwet_ac(alone, ("y", "n")) is None


def test_missing_ratings_in_gwet_use_every_rated_unit() -> None:
    # Three raters, one unit rated once: it counts for the category shares, not for agreement.
    ratings = {
        (1,): {"a": "y", "b": "y", "c": "n"},
        (2,): {"a": "n", "b": "n"},
        (3,): {"a": "y"},
    }
    pa = (1 / 3 + 1) / 2
    pi_y = (2 / 3 + 0 + 1) / 3
    pe = 2 * pi_y * (1 - pi_y)
    assert gwet_ac(ratings, ("y", "n")) == pytest.approx((pa - pe) / (1 - pe))
    assert krippendorff_alpha(pairable(ratings)) == pytest.approx(reference_alpha(ratings))


def test_ignore_and_repeated_answers() -> None:
    answers = [
        {"_input_hash": 1, "_task_hash": 10, "label": "X", "answer": "accept", "_session_id": "a"},
        {"_input_hash": 1, "_task_hash": 10, "label": "X", "answer": "reject", "_session_id": "a"},
        {"_input_hash": 1, "_task_hash": 10, "label": "X", "answer": "reject", "_session_id": "b"},
        {"_input_hash": 1, "_task_hash": 10, "label": "X", "answer": "ignore", "_session_id": "c"},
    ]
    # a's later answer counts; c's ignore is left out.
    assert binary_units(answers) == {(1, "X"): {"a": "reject", "b": "reject"}}
    result = iaa("binary", answers)
    assert result["items"] == 1 and result["annotators"] == 2
    assert result["percent_agreement"] == 1.0


def test_doc_units_from_choice_and_classification() -> None:
    options = [{"id": "A", "text": "A"}, {"id": "B", "text": "B"}]
    answers = [
        {"_input_hash": 1, "_task_hash": 1, "options": options, "accept": ["A"], "answer": "accept",
         "_session_id": "a"},
        {"_input_hash": 1, "_task_hash": 1, "options": options, "accept": ["A", "B"],
         "answer": "accept", "_session_id": "b"},
        {"_input_hash": 1, "_task_hash": 2, "label": "B", "answer": "reject", "_session_id": "c"},
    ]  # fmt: skip
    result = iaa("doc", answers)
    assert result["per_label"]["A"]["percent_agreement"] == 1.0
    # On B: a no, b yes, c no -> 1 agreeing pair of 3.
    assert result["per_label"]["B"]["percent_agreement"] == pytest.approx(1 / 3)
    assert result["annotators"] == 3 and result["items"] == 1


def test_span_units_by_exact_offsets_and_label() -> None:
    answers = [
        {"_input_hash": 1, "_task_hash": 1, "answer": "accept", "_session_id": "a",
         "spans": [{"start": 0, "end": 5, "label": "ORG"}]},
        {"_input_hash": 1, "_task_hash": 1, "answer": "accept", "_session_id": "b",
         "spans": [{"start": 0, "end": 5, "label": "PERSON"}]},
        {"_input_hash": 1, "_task_hash": 1, "answer": "accept", "_session_id": "c",
         "spans": [{"start": 0, "end": 5, "label": "ORG"}, {"start": 7, "end": 9, "label": "ORG"}]},
    ]  # fmt: skip
    units = span_units(answers)
    assert units[(1, "ORG", 0, 5)] == {"a": True, "b": False, "c": True}
    assert units[(1, "PERSON", 0, 5)] == {"a": False, "b": True, "c": False}
    assert units[(1, "ORG", 7, 9)] == {"a": False, "b": False, "c": True}
    result = iaa("span", answers, labels=["ORG"])
    assert list(result["per_label"]) == ["ORG"]
    assert result["percent_agreement"] == pytest.approx((1 / 3 + 1 / 3) / 2)


# real data, simulated annotators ----------------------------------------------------------------
def simulate(
    answers: list[dict[str, Any]], sessions: list[str], flip: float, seed: int
) -> list[dict[str, Any]]:
    """Each session answers most tasks, disagreeing with the original answer now and then."""
    rng = random.Random(seed)
    out = []
    for answer in answers:
        for session in sessions:
            if rng.random() < 0.15:
                continue  # this session never saw the task
            verdict = answer["answer"]
            if rng.random() < flip:
                verdict = "reject" if verdict == "accept" else "accept"
            out.append({**answer, "answer": verdict, "_session_id": f"gh-{session}"})
    return out


def test_binary_agreement_on_real_data_matches_the_krippendorff_package(
    rr: Any, tmp_path: Path
) -> None:
    original = [a for a in srsly.read_jsonl(TEXTCAT) if a["answer"] != "ignore"]
    answers = simulate(original, ["ann", "bob", "cat"], flip=0.12, seed=3)
    path = tmp_path / "team.jsonl"
    srsly.write_jsonl(path, answers)
    assert rr("db-in", "gh", str(path)).code == 0
    result = rr("metric", "iaa", "binary", "gh", "--json")
    assert result.code == 0, result.err
    figures = json.loads(result.out)
    ratings = binary_units(answers)
    expected = reference_alpha(ratings)
    assert 0.3 < expected < 0.9  # disagreement there is, and agreement too
    assert figures["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
    assert figures["annotators"] == 3
    items = {u[0] for u, v in ratings.items() if len(v) >= 2}
    assert figures["items"] == len(items) > 700
    assert set(figures["per_label"]) == {"DOCUMENTATION"}
    label = figures["per_label"]["DOCUMENTATION"]
    assert label["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
    assert 0.7 < figures["percent_agreement"] < 0.85  # two flips of 12% per pair
    assert figures["gwet_ac2"] is not None and figures["gwet_ac2"] > expected
    table = rr("metric", "iaa", "binary", "gh")
    assert "DOCUMENTATION" in table.out and f"{expected:.3f}" in table.out


def test_span_agreement_on_real_data_matches_the_krippendorff_package(
    rr: Any, tmp_path: Path
) -> None:
    rng = random.Random(7)
    answers = []
    for task in srsly.read_jsonl(NER):
        if task["answer"] != "accept":
            continue
        for session in ("ann", "bob"):
            spans = [s for s in task.get("spans", []) if rng.random() > 0.1]
            if rng.random() < 0.1 and spans:
                spans[0] = {**spans[0], "label": "ORG" if spans[0]["label"] != "ORG" else "PERSON"}
            answers.append({**task, "spans": spans, "_session_id": f"news-{session}"})
    path = tmp_path / "spans.jsonl"
    srsly.write_jsonl(path, answers)
    assert rr("db-in", "news", str(path)).code == 0
    figures = json.loads(rr("metric", "iaa", "span", "news", "--json").out)
    ratings = span_units(answers)
    assert figures["krippendorff_alpha"] == pytest.approx(reference_alpha(ratings), abs=1e-9)
    for label in ("ORG", "PERSON", "LOCATION"):
        mine = {u: v for u, v in ratings.items() if u[1] == label}
        assert figures["per_label"][label]["krippendorff_alpha"] == pytest.approx(
            reference_alpha(mine), abs=1e-9
        )
    only = json.loads(rr("metric", "iaa", "span", "news", "--labels", "ORG", "--json").out)
    assert list(only["per_label"]) == ["ORG"]
    assert only["percent_agreement"] == figures["per_label"]["ORG"]["percent_agreement"]


def test_metric_errors(rr: Any) -> None:
    bad = rr("metric", "iaa", "tokens", "gh")
    assert bad.code == 2 and "binary, doc, span" in bad.err
    missing = rr("metric", "iaa", "binary", "nope")
    assert missing.code == 1 and "Can't find dataset 'nope'" in missing.err


# rr stats: pace and agreement per session ---------------------------------------------------------
def test_session_pace_from_timestamps() -> None:
    # 4 answers 10 s apart, then a break of an hour, then a batch of 3 saved together 30 s later.
    times = [0.0, 10.0, 20.0, 30.0, 3630.0, 3660.0, 3660.0, 3660.0]
    rate, median = session_pace(times)
    # timed: three of 10 s, three of 10 s (30 s over a batch of 3); the answer after the break
    # is not timed.
    assert median == 10.0
    assert rate == pytest.approx(360.0)
    assert session_pace([5.0]) == (None, None)


def test_stats_adds_pace_and_agreement(rr: Any, tmp_path: Path) -> None:
    base = {"label": "X", "_input_hash": 1}
    answers = [
        {**base, "text": "a", "_task_hash": 1, "answer": "accept", "_session_id": "ds-ann",
         "_timestamp": 100},
        {**base, "text": "b", "_task_hash": 2, "answer": "accept", "_session_id": "ds-ann",
         "_timestamp": 112},
        {**base, "text": "a", "_task_hash": 1, "answer": "accept", "_session_id": "ds-bob",
         "_timestamp": 100},
        {**base, "text": "b", "_task_hash": 2, "answer": "reject", "_session_id": "ds-bob",
         "_timestamp": 130},
        {**base, "text": "c", "_task_hash": 3, "answer": "reject", "_session_id": "ds-cat",
         "_timestamp": 5},
    ]  # fmt: skip
    path = tmp_path / "a.jsonl"
    srsly.write_jsonl(path, answers)
    rr("db-in", "ds", str(path))
    stats = json.loads(rr("stats", "ds", "--json").out)
    ann, bob, cat = (stats["sessions"][f"ds-{n}"] for n in ("ann", "bob", "cat"))
    assert ann["median_seconds"] == 12.0 and ann["answers_per_hour"] == 300.0
    assert bob["median_seconds"] == 30.0
    assert ann["agreement"] == 0.5 and bob["agreement"] == 0.5
    assert cat["agreement"] is None and cat["answers_per_hour"] is None
    text = rr("stats", "ds").out
    assert "ds-ann: 2 (2 accept, 0 reject, 0 ignore); 300/hour, median 12 s/answer" in text
    assert "agrees with others 50%" in text


def test_session_agreement_by_task() -> None:
    span = [{"start": 0, "end": 1}]
    answers = [
        {"_task_hash": 1, "answer": "accept", "_session_id": "a", "spans": span},
        {"_task_hash": 1, "answer": "accept", "_session_id": "b", "spans": span},
        {"_task_hash": 1, "answer": "accept", "_session_id": "c", "spans": []},
    ]
    assert session_agreement(answers) == {"a": 0.5, "b": 0.5, "c": 0.0}


def test_doc_agreement_on_real_texts_matches_the_krippendorff_package(
    rr: Any, tmp_path: Path
) -> None:
    from recipe_runner.agreement import doc_units

    labels = ["POLITICS", "TECH", "BUSINESS"]
    options = [{"id": label, "text": label.title()} for label in labels]
    rng = random.Random(11)
    answers = []
    texts = {
        t["text"] for t in srsly.read_jsonl(DATA / "prodigy_examples" / "news_headlines.jsonl")
    }
    for text in sorted(texts):  # a headline given twice is stored once per session
        truth = {label for label in labels if rng.random() < 0.35}
        for session in ("ann", "bob", "cat"):
            chosen = {label for label in labels if (label in truth) != (rng.random() < 0.1)}
            answers.append(
                {"text": text, "options": options, "accept": sorted(chosen),
                 "answer": "accept", "_session_id": f"topics-{session}"}
            )  # fmt: skip
    srsly.write_jsonl(tmp_path / "topics.jsonl", answers)
    rr("db-in", "topics", str(tmp_path / "topics.jsonl"))
    figures = json.loads(rr("metric", "iaa", "doc", "topics", "--json").out)
    stored = list(srsly.read_jsonl(tmp_path / "topics.jsonl"))
    from recipe_runner.hashing import set_hashes

    ratings = doc_units([set_hashes(a) for a in stored])
    assert figures["krippendorff_alpha"] == pytest.approx(reference_alpha(ratings), abs=1e-9)
    assert set(figures["per_label"]) == set(labels)
    for label in labels:
        mine = {u: v for u, v in ratings.items() if u[1] == label}
        assert figures["per_label"][label]["krippendorff_alpha"] == pytest.approx(
            reference_alpha(mine), abs=1e-9
        )
        assert figures["per_label"][label]["items"] == figures["items"]
    assert figures["annotators"] == 3 and 0.4 < figures["krippendorff_alpha"] < 0.9
