"""Word vectors in the text classifier rr adds: what the answers teach reaches words no answer
held. The vectors are made here: two groups of words, each near its own direction."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy
import spacy
import srsly
from typer.testing import CliRunner

from recipe_runner import TextClassifier, load_pipeline
from recipe_runner.cli import app
from recipe_runner.textcat_vectors import ARCHITECTURE

# The first four words of each group are in the answers; the last four only in the questions.
GROUPS = {
    "docs": ["docs", "documentation", "readme", "manual", "guide", "tutorial", "wording", "typo"],
    "bugs": ["crash", "error", "bug", "exception", "segfault", "panic", "leak", "hang"],
}
FILLERS = ["the", "in", "on", "fails", "update", "for", "new", "page"]


def vectors_pipeline(path: Path) -> Path:
    rng = numpy.random.default_rng(0)
    nlp = spacy.blank("en")
    for words in GROUPS.values():
        centre = rng.normal(size=32)
        for word in words:
            nlp.vocab.set_vector(word, centre + 0.3 * rng.normal(size=32))
    for word in FILLERS:
        nlp.vocab.set_vector(word, rng.normal(size=32))
    nlp.to_disk(path)
    return path


def texts(group: str, seen: bool) -> list[str]:
    words = GROUPS[group][:4] if seen else GROUPS[group][4:]
    return [f"{a} {w} {b}" for w in words for a, b in zip(FILLERS, FILLERS[::-1], strict=True)]


def answers() -> list[dict[str, object]]:
    out = []
    for group, answer in (("docs", "accept"), ("bugs", "reject")):
        out += [{"text": t, "label": "DOCS", "answer": answer} for t in texts(group, seen=True)]
    return out


def gap_on_unseen_words(scores: list[dict[str, float]]) -> float:
    """Mean DOCS score of the unseen docs texts minus that of the unseen bugs texts."""
    n = len(texts("docs", seen=False))
    docs, bugs = scores[:n], scores[n:]
    return float(numpy.mean([s["DOCS"] for s in docs]) - numpy.mean([s["DOCS"] for s in bugs]))


UNSEEN = texts("docs", seen=False) + texts("bugs", seen=False)


def test_the_online_classifier_carries_answers_to_words_it_never_saw(tmp_path: Path) -> None:
    gaps = {}
    for name, base in (("vectors", str(vectors_pipeline(tmp_path / "vec"))), ("blank", "blank:en")):
        model = TextClassifier(load_pipeline(base), ["DOCS"], seed=0)
        rows = answers()
        numpy.random.default_rng(0).shuffle(rows)  # type: ignore[arg-type]
        for start in range(0, len(rows), 10):
            model.update(rows[start : start + 10])
        gaps[name] = gap_on_unseen_words(model.predict(UNSEEN))
    # A bag of words knows only the filler words of these texts: it can't tell them apart.
    assert abs(gaps["blank"]) < 0.02, gaps
    assert gaps["vectors"] > 0.3, gaps


def test_teach_train_and_load_a_classifier_with_vectors(tmp_path: Path) -> None:
    base = vectors_pipeline(tmp_path / "vec")
    source, gold = tmp_path / "titles.jsonl", tmp_path / "gold.jsonl"
    rows = answers()
    srsly.write_jsonl(source, [{"text": r["text"]} for r in rows])
    srsly.write_jsonl(gold, rows)
    run = ["run", "--headless", "--answer", f"gold:{gold}", "textcat.teach", "titles"]
    taught = CliRunner().invoke(app, [*run, str(base), str(source), "--label", "DOCS"])
    assert taught.exit_code == 0, taught.output
    out = tmp_path / "model"
    trained = CliRunner().invoke(
        app, ["train", "textcat", "titles", str(out), "--base", str(base), "--eval-split", "0"]
    )
    assert trained.exit_code == 0, trained.output
    config = spacy.util.load_config(out / "config.cfg")
    assert config["components"]["textcat_multilabel"]["model"]["@architectures"] == ARCHITECTURE
    # A new interpreter finds the architecture through the entry point, as any user's would.
    script = (
        "import json, sys, spacy; nlp = spacy.load(sys.argv[1]); "
        "print(json.dumps([doc.cats for doc in nlp.pipe(json.loads(sys.argv[2]))]))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(out), json.dumps(UNSEEN)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert gap_on_unseen_words(json.loads(loaded.stdout)) > 0.1  # a bag of words: 0
