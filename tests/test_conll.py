"""The CoNLL reader, on the WNUT 2017 files whose counts the data README gives."""

from __future__ import annotations

from recipe_runner.conll import read_conll

from .conftest import DATA

WNUT = DATA / "ner" / "wnut17"


def test_sentences_and_entities_match_the_published_counts() -> None:
    for name, sentences, entities in (
        ("wnut17train.conll", 3394, 1975),
        ("emerging.dev.conll", 1009, 836),
    ):
        tasks = read_conll(WNUT / name)
        assert len(tasks) == sentences, name
        assert sum(len(t["spans"]) for t in tasks) == entities, name


def test_span_offsets_point_at_the_tokens() -> None:
    for task in read_conll(WNUT / "emerging.dev.conll")[:200]:
        for span in task["spans"]:
            covered = task["text"][span["start"] : span["end"]]
            assert covered == covered.strip() and covered, span
            assert span["label"] in {
                "person", "location", "group", "corporation", "creative-work", "product",
            }  # fmt: skip
