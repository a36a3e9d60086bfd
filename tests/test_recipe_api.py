"""The public recipe API: loaders, preprocess, hashes, model wrappers, the pattern matcher and
the recipe database, used as a recipe author would, from `recipe_runner` only."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import pytest
import spacy
import srsly

import recipe_runner as rr
from recipe_runner import (
    JSONL,
    TXT,
    EntityRecognizer,
    PatternMatcher,
    SourceError,
    TextClassifier,
    add_label_options,
    add_tokens,
    combine_models,
    connect,
    get_stream,
    recipe,
    run_headless,
    set_hashes,
    split_sentences,
    split_spans,
    split_string,
)

from .spacy_data import WNUT_TRAIN, train_ner_pipeline, write_sms

Task = dict[str, Any]


def write_jsonl(path: Path, rows: list[Task]) -> Path:
    srsly.write_jsonl(path, rows)
    return path


# hashes ----------------------------------------------------------------------------------
def test_set_hashes_with_keys_ignore_and_overwrite() -> None:
    a = set_hashes({"text": "hi", "label": "A", "meta": {"x": 1}})
    b = set_hashes({"text": "hi", "label": "B"})
    assert a["_input_hash"] == b["_input_hash"] and a["_task_hash"] != b["_task_hash"]
    # Input keys of our own: the hash follows "question", not "text".
    c = set_hashes({"text": "one", "question": "q"}, input_keys=("question",))
    d = set_hashes({"text": "two", "question": "q"}, input_keys=("question",))
    assert c["_input_hash"] == d["_input_hash"]
    # Task keys of our own, and keys to ignore.
    e = set_hashes({"text": "hi", "label": "A", "flag": 1}, task_keys=("label", "flag"))
    f = set_hashes({"text": "hi", "label": "A", "flag": 2}, task_keys=("label", "flag"))
    assert e["_task_hash"] != f["_task_hash"]
    g = set_hashes(
        {"text": "hi", "label": "A", "flag": 2}, task_keys=("label", "flag"), ignore=["flag"]
    )
    h = set_hashes(
        {"text": "hi", "label": "A", "flag": 3}, task_keys=("label", "flag"), ignore=["flag"]
    )
    assert g["_task_hash"] == h["_task_hash"]
    # Hashes present are kept unless overwrite.
    kept = set_hashes({"text": "x", "_input_hash": 1, "_task_hash": 2})
    assert (kept["_input_hash"], kept["_task_hash"]) == (1, 2)
    new = set_hashes({"text": "x", "_input_hash": 1, "_task_hash": 2}, overwrite=True)
    assert new["_input_hash"] == set_hashes({"text": "x"})["_input_hash"]


def test_split_string() -> None:
    assert split_string("A, B,,C ") == ["A", "B", "C"]
    assert split_string(None) == []


# loaders ---------------------------------------------------------------------------------
def test_get_stream_rehash_dedup_input_key_and_in_memory(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [
            {"text": "a", "_input_hash": 7, "_task_hash": 8},
            {"text": "b"},
            {"text": "a"},
        ],
    )
    plain = list(JSONL(path))
    assert plain[0]["_input_hash"] == 7 and len(JSONL(path)) == 3
    rehashed = list(get_stream(path, rehash=True))
    assert rehashed[0]["_input_hash"] == set_hashes({"text": "a"})["_input_hash"]
    deduped = list(get_stream(path, rehash=True, dedup=True))
    assert [t["text"] for t in deduped] == ["a", "b"]
    txt = tmp_path / "q.txt"
    txt.write_text("first\n\nsecond\n", encoding="utf8")
    assert list(TXT(txt)) == [{"text": "first"}, {"text": "second"}]
    assert list(get_stream(txt, input_key="question")) == [
        {"question": "first"},
        {"question": "second"},
    ]
    memory = get_stream([{"text": "x"}, {"text": "y"}])
    assert len(memory) == 2 and list(memory) == list(memory)
    with pytest.raises(SourceError, match=r"missing\.jsonl"):
        JSONL(tmp_path / "missing.jsonl")


# preprocess ------------------------------------------------------------------------------
def test_add_tokens_snaps_skips_and_splits_characters(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    tasks = [
        {"text": "New York City", "spans": [{"start": 0, "end": 8, "label": "GPE"}]},
        {"text": "Berlinale", "spans": [{"start": 0, "end": 6, "label": "GPE"}]},
    ]
    stream = get_stream(write_jsonl(tmp_path / "t.jsonl", tasks))
    tokenized = add_tokens(nlp, stream)
    assert len(tokenized) == 2  # type: ignore[arg-type]  # a Stream keeps its length
    first, second = list(tokenized)
    assert [t["text"] for t in first["tokens"]] == ["New", "York", "City"]
    assert (first["spans"][0]["token_start"], first["spans"][0]["token_end"]) == (0, 1)
    assert second["spans"][0]["token_end"] == 0  # "Berlin" snapped out to "Berlinale"
    skipped = list(add_tokens(nlp, stream, skip=True))
    assert [t["text"] for t in skipped] == ["New York City"]
    chars = list(
        add_tokens(nlp, [{"text": "ab c", "spans": [{"start": 1, "end": 4}]}], use_chars=True)
    )
    assert [t["text"] for t in chars[0]["tokens"]] == ["a", "b", "c"]
    assert chars[0]["tokens"][1]["ws"] is True
    assert (chars[0]["spans"][0]["token_start"], chars[0]["spans"][0]["token_end"]) == (1, 2)


def test_split_sentences_adds_a_sentencizer_and_keeps_spans() -> None:
    nlp = spacy.blank("en")
    text = "Ada lives in London. She codes. Bob works at Acme in Paris."
    task = {
        "text": text,
        "meta": {"id": 1},
        "spans": [
            {"start": 13, "end": 19, "label": "GPE"},
            {"start": 53, "end": 58, "label": "GPE"},
        ],
    }
    sents = list(split_sentences(nlp, [task]))
    assert [s["text"] for s in sents] == [
        "Ada lives in London.",
        "She codes.",
        "Bob works at Acme in Paris.",
    ]
    assert sents[0]["spans"] == [{"start": 13, "end": 19, "label": "GPE"}]
    assert sents[2]["text"][sents[2]["spans"][0]["start"] : sents[2]["spans"][0]["end"]] == "Paris"
    assert sents[1]["spans"] == [] and sents[1]["meta"] == {"id": 1}
    assert len({s["_input_hash"] for s in sents}) == 3
    assert "sentencizer" not in nlp.pipe_names  # the caller's pipeline is left as it was
    merged = list(split_sentences(nlp, [task], min_length=25))
    assert [s["text"] for s in merged] == [
        "Ada lives in London. She codes.",
        "Bob works at Acme in Paris.",
    ]


def test_split_spans_and_label_options() -> None:
    task = {
        "text": "a b",
        "spans": [{"start": 0, "end": 1, "label": "X"}, {"start": 2, "end": 3, "label": "Y"}],
    }
    out = list(split_spans([task, {"text": "none"}]))
    assert [t["spans"][0]["label"] for t in out] == ["X", "Y"]
    assert out[0]["_task_hash"] != out[1]["_task_hash"]
    options = list(add_label_options([{"text": "t"}], ["A", "B"]))
    assert options[0]["options"] == [{"id": "A", "text": "A"}, {"id": "B", "text": "B"}]


# pattern matcher -------------------------------------------------------------------------
PATTERNS = [
    {"label": "CITY", "pattern": "New York"},
    {"label": "CITY", "pattern": [{"lower": "paris"}]},
    {"label": "FRUIT", "pattern": [{"lower": "apple"}]},
]


def test_pattern_matcher_spans_tasks_and_learning(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    path = write_jsonl(tmp_path / "patterns.jsonl", PATTERNS)
    matcher = PatternMatcher(nlp, prior_correct=1.0, prior_incorrect=1.0).from_disk(path)
    tasks = [{"text": "From New York to Paris"}, {"text": "nothing here"}]
    found = list(matcher(tasks))
    assert [(t["spans"][0]["text"], t["spans"][0]["label"]) for _, t in found] == [
        ("New York", "CITY"),
        ("Paris", "CITY"),
    ]
    assert [s for s, _ in found] == [0.5, 0.5]
    ny, paris = (t for _, t in found)
    loss = matcher.update([{**ny, "answer": "accept"}, {**paris, "answer": "reject"}])
    assert loss == pytest.approx(0.5)
    rescored = dict((t["spans"][0]["text"], s) for s, t in matcher(tasks))
    assert rescored["New York"] == pytest.approx(2 / 3) and rescored["Paris"] == pytest.approx(
        1 / 3
    )
    assert matcher.update([{**ny, "answer": "ignore"}]) is None  # ignore teaches nothing
    # All matches of a text in one task, and texts without a match too.
    combined = PatternMatcher(nlp, combine_matches=True, all_examples=True).from_disk(path)
    both = [t for _, t in combined(tasks)]
    assert [len(t["spans"]) for t in both] == [2, 0]
    # The label on the task, the span only highlighted.
    textcat = PatternMatcher(nlp, label_span=False, label_task=True).from_disk(path)
    ((_, fruit),) = textcat([{"text": "an apple a day"}])
    assert fruit["label"] == "FRUIT" and "label" not in fruit["spans"][0]


def test_pattern_files_with_mistakes_are_clear_errors(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"label": "A", "pattern": "x"}\n{oops\n', encoding="utf8")
    with pytest.raises(SourceError, match=r"bad.jsonl' line 2"):
        PatternMatcher(nlp).from_disk(bad_json)
    no_label = write_jsonl(tmp_path / "nolabel.jsonl", [{"pattern": "x"}])
    with pytest.raises(SourceError, match="pattern 1 must be an object with 'label'"):
        PatternMatcher(nlp).from_disk(no_label)
    bad_attr = write_jsonl(tmp_path / "attr.jsonl", [{"label": "A", "pattern": [{"NOPE": "x"}]}])
    with pytest.raises(SourceError, match="not a valid spaCy pattern"):
        PatternMatcher(nlp).from_disk(bad_attr)


# models ----------------------------------------------------------------------------------
def test_text_classifier_scores_each_label_and_learns(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 200)
    nlp = spacy.blank("en")
    model = TextClassifier(nlp, ["SPAM", "HAM"])
    tasks = list(islice(JSONL(source), 4))
    pairs = list(model(tasks))
    assert [t["label"] for _, t in pairs] == ["SPAM", "HAM"] * 4
    assert all(0.0 <= s <= 1.0 and t["score"] == s for s, t in pairs)
    assert "_task_hash" not in pairs[0][1] and "label" not in tasks[0]  # the input is untouched
    answers = [{**row, "answer": row["answer"]} for row in srsly.read_jsonl(gold)]
    spam = next(a for a in answers if a["answer"] == "accept")
    before = next(s for s, t in model([{"text": spam["text"]}]) if t["label"] == "SPAM")
    losses = [model.update(answers[i : i + 10]) for i in range(0, 200, 10)]
    assert all(isinstance(loss, float) for loss in losses)
    after = next(s for s, t in model([{"text": spam["text"]}]) if t["label"] == "SPAM")
    assert after > before
    assert model.update([{**spam, "answer": "ignore"}]) is None


@pytest.fixture(scope="module")
def ner_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recipe_runner.conll import read_conll

    tasks = [t for t in read_conll(WNUT_TRAIN) if t["spans"]][:150]
    return train_ner_pipeline(tasks, tmp_path_factory.mktemp("ner") / "m", n_iter=6)


def test_entity_recognizer_suggests_learns_and_makes_the_best_analysis(ner_path: Path) -> None:
    nlp = spacy.load(ner_path)
    model = EntityRecognizer(nlp, label=["person", "location"])
    tasks = [{"text": "Barack Obama visited London and Paris yesterday"}]
    pairs = list(model(tasks))
    assert pairs and all(len(t["spans"]) == 1 and t["tokens"] for _, t in pairs)
    assert {t["spans"][0]["label"] for _, t in pairs} <= {"person", "location"}
    assert [s for s, _ in pairs] == sorted((s for s, _ in pairs), reverse=True)
    text = tasks[0]["text"]
    london = {"start": text.index("London"), "end": text.index("London") + 6, "label": "location"}
    obama = {"start": 0, "end": 12, "label": "person"}
    answers = [
        set_hashes({"text": text, "spans": [london], "answer": "accept", "_view_id": "ner"}),
        set_hashes({"text": text, "spans": [obama], "answer": "reject", "_view_id": "ner"}),
    ]
    loss = model.update(answers)
    assert isinstance(loss, float)
    (best,) = list(model.make_best(answers))
    found = {(s["start"], s["end"], s["label"]) for s in best["spans"]}
    assert (london["start"], london["end"], "location") in found
    assert (0, 12, "person") not in found
    assert best["tokens"] and best["_input_hash"] == answers[0]["_input_hash"]
    with pytest.raises(rr.RecipeRunnerError, match="no entity recognizer"):
        EntityRecognizer(spacy.blank("en"))


def test_combine_models_interleaves_and_updates_both(tmp_path: Path) -> None:
    nlp = spacy.blank("en")
    classifier = TextClassifier(nlp, ["CITY"])
    matcher = PatternMatcher(nlp, label_span=False, label_task=True).from_disk(
        write_jsonl(tmp_path / "p.jsonl", PATTERNS[:2])
    )
    predict, update = combine_models(classifier, matcher)
    pairs = list(predict([{"text": "Paris in spring"}, {"text": "rain"}]))
    kinds = ["pattern" if "spans" in t else "model" for _, t in pairs]
    assert kinds == ["model", "pattern", "model"]
    answer = {**pairs[1][1], "answer": "accept", "_view_id": "classification"}
    before = matcher.score("1")
    assert isinstance(update([answer]), float)
    assert matcher.score("1") > before


# the recipe database ---------------------------------------------------------------------
def test_connect_datasets_examples_and_hashes(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RR_DB_URL", db_url)  # a real SQLite file, and a real PostgreSQL
    with connect() as db:
        assert "silver" not in db and db.datasets == []
        db.add_dataset("silver")
        assert "silver" in db and db.datasets == ["silver"]
        added = db.add_examples(
            [{"text": "a"}, {"text": "b", "answer": "reject"}], datasets=["silver"]
        )
        assert added == 2
        assert db.add_examples([{"text": "a"}], datasets=["silver"]) == 0  # stored once
        rows = db.get_dataset("silver")
        assert [(r["text"], r["answer"]) for r in rows] == [("a", "accept"), ("b", "reject")]
        assert db.get_input_hashes("silver") == {
            set_hashes({"text": t})["_input_hash"] for t in "ab"
        }
        assert len(db.get_task_hashes("silver")) == 2
        with pytest.raises(rr.DatasetError, match="Can't find dataset 'gold'"):
            db.get_dataset("gold")
        with pytest.raises(rr.AnswerError, match="example 1 has answer 'maybe'"):
            db.add_examples([{"text": "c", "answer": "maybe"}], datasets=["silver"])


def test_on_load_sees_the_database_through_ctrl_db(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    @recipe("count.previous")
    def count_previous(dataset: str) -> dict[str, Any]:
        def on_load(ctrl: Any) -> None:
            seen["in"] = dataset in ctrl.db
            seen["rows"] = len(ctrl.db.get_dataset(dataset)) if dataset in ctrl.db else 0
            seen["recipe"] = ctrl.recipe  # the controller's own attributes are there too

        stream = [{"text": f"t{i}"} for i in range(3)]
        return {"dataset": dataset, "stream": stream, "view_id": "text", "on_load": on_load}

    run_headless(count_previous, "ds", show_progress=False, notify=lambda _: None)
    assert seen == {"in": True, "rows": 0, "recipe": "count.previous"}
    run_headless(count_previous, "ds", show_progress=False, notify=lambda _: None)
    assert seen["rows"] == 3


def test_every_public_name_is_importable() -> None:
    for name in rr.__all__:
        assert getattr(rr, name) is not None, name


# the built-in recipes with --patterns ----------------------------------------------------
def test_ner_manual_with_patterns_premarks_matches(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "s.jsonl", [{"text": "Flights from New York to Paris"}, {"text": "no city"}]
    )
    patterns = write_jsonl(tmp_path / "p.jsonl", PATTERNS)
    summary = run_headless(
        "ner.manual", "cities", "blank:en", str(source), label=["CITY"], patterns=str(patterns),
        show_progress=False, notify=lambda _: None,
    )  # fmt: skip
    assert summary.saved == 2
    with connect() as db:
        rows = db.get_dataset("cities")
    marked = [[(s["start"], s["end"], s["label"]) for s in r["spans"]] for r in rows]
    assert marked == [[(13, 21, "CITY"), (25, 30, "CITY")], []]
    assert all(s["token_end"] >= s["token_start"] for s in rows[0]["spans"])


def test_textcat_teach_with_patterns_asks_about_matches_and_learns_their_scores(
    tmp_path: Path,
) -> None:
    source, _ = write_sms(tmp_path, 300)
    patterns = write_jsonl(
        tmp_path / "p.jsonl",
        [{"label": "SPAM", "pattern": [{"lower": "free"}]}, {"label": "SPAM", "pattern": "txt"}],
    )
    summary = run_headless(
        "textcat.teach", "spam", "blank:en", str(source), label=["SPAM"], patterns=str(patterns),
        answer="accept", show_progress=False, notify=lambda _: None,
    )  # fmt: skip
    with connect() as db:
        rows = db.get_dataset("spam")
    from_patterns = [r for r in rows if r.get("spans")]
    assert from_patterns and all(r["label"] == "SPAM" for r in from_patterns)
    assert all("free" in r["text"].lower() or "txt" in r["text"].lower() for r in from_patterns)
    assert summary.saved == len(rows) > len(from_patterns)
    # Every pattern question was accepted: the pattern scores rose above the prior's 0.5.
    late = [r["score"] for r in from_patterns[-5:]]
    assert late and min(late) > 0.5


def test_the_prodigy_signatures_of_add_tokens_and_split_sentences() -> None:
    from recipe_runner.compat.prodigy.components.preprocess import add_tokens as p_add_tokens
    from recipe_runner.compat.prodigy.components.preprocess import (
        split_sentences as p_split_sentences,
    )

    nlp = spacy.blank("en")
    stale = {"text": "New York", "tokens": [{"text": "x", "start": 0, "end": 8, "id": 0}]}
    (kept,) = p_add_tokens(nlp, [dict(stale)])
    assert len(kept["tokens"]) == 1
    (fresh,) = p_add_tokens(nlp, [dict(stale)], overwrite=True)
    assert [t["text"] for t in fresh["tokens"]] == ["New", "York"]
    text = "One. Two. Three."
    assert len(list(p_split_sentences(nlp, [{"text": text}]))) == 3  # min_length=-1: as they are
    assert len(list(p_split_sentences(nlp, [{"text": text}], min_length=5))) == 2


def test_ctrl_db_is_none_when_the_recipe_saves_nothing() -> None:
    seen: list[Any] = []

    @recipe("no.dataset")
    def no_dataset() -> dict[str, Any]:
        return {
            "dataset": None,
            "stream": [{"text": "x"}],
            "view_id": "text",
            "on_load": lambda c: seen.append(c.db),
        }

    run_headless(no_dataset, show_progress=False, notify=lambda _: None)
    assert seen == [None]
