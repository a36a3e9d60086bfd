"""rr train and rr data-to-spacy: from datasets of real answers to pipelines that predict."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin
from typer.testing import CliRunner

from recipe_runner.cli import app
from recipe_runner.errors import RecipeRunnerError
from recipe_runner.train import (
    fit_textcat,
    ner_annotations,
    textcat_annotations,
    train_ner,
    train_textcat,
)
from recipe_runner.transfer import import_answers

from .conftest import DATA
from .spacy_data import wnut_dev, write_sms

GITHUB_GOLD = DATA / "prodigy_examples" / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"


def test_rr_train_textcat_from_binary_answers_loads_and_predicts(tmp_path: Path) -> None:
    _, gold = write_sms(tmp_path, 400)
    import_answers("sms", gold)  # binary answers: SPAM accept / reject
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "textcat", "sms", str(out), "--eval-split", "0.25"])
    assert result.exit_code == 0, result.output
    assert "f_SPAM" in result.output and "macro_f" in result.output
    f_spam = float(result.output.split("f_SPAM:")[1].split()[0])
    assert f_spam > 0.5  # bag-of-words on 300 messages finds most spam
    # About one message in eight is spam: a model right on at least 85% of the held-out ones
    # beats saying "ham" to all of them, and an accuracy counted the wrong way round can't.
    accuracy = float(result.output.split("accuracy:")[1].split()[0])
    assert accuracy >= 0.85
    nlp = spacy.load(out)
    doc = nlp("WINNER!! You have won a free prize, call 09061701461 now to claim")
    assert set(doc.cats) == {"SPAM"} and 0.0 <= doc.cats["SPAM"] <= 1.0
    # the saved pipeline is a MODEL for textcat.teach
    taught = CliRunner().invoke(
        app,
        [
            "run",
            "--headless",
            "--answer",
            f"gold:{gold}",
            "textcat.teach",
            "more",
            str(out),
            str(tmp_path / "sms.jsonl"),
            "--label",
            "SPAM",
        ],
    )
    assert taught.exit_code == 0, taught.output


def test_train_textcat_from_prodigy_annotations_and_choices(tmp_path: Path) -> None:
    import_answers("docs", GITHUB_GOLD)
    result = train_textcat("docs", tmp_path / "m", n_iter=3)
    assert result.labels == ["DOCUMENTATION"]
    assert result.n_train + result.n_eval == 786  # 830 minus 44 ignored
    assert 0.0 <= result.scores["accuracy"] <= 1.0
    assert len(result.losses) == 3
    choices = [
        {"text": "a b", "options": [{"id": "A"}, {"id": "B"}], "accept": ["B"], "answer": "accept"},
        {"text": "c", "options": [{"id": "A"}, {"id": "B"}], "accept": [], "answer": "reject"},
    ]
    assert textcat_annotations(choices) == {"a b": {"A": 0.0, "B": 1.0}}


def test_rr_train_ner_from_manual_answers(tmp_path: Path) -> None:
    source = tmp_path / "wnut.jsonl"
    srsly.write_jsonl(source, wnut_dev(80))
    import_answers("ents", source)
    out = tmp_path / "ner"
    result = CliRunner().invoke(
        app, ["train", "ner", "ents", str(out), "--n-iter", "2", "--spancat"]
    )
    assert result.exit_code == 0, result.output
    assert "ents_f" in result.output and "spans_sc_f" in result.output
    nlp = spacy.load(out)
    assert nlp.pipe_names == ["ner", "spancat"]
    doc = nlp("I saw Justin Bieber in London")
    assert all(ent.label_ in nlp.get_pipe("ner").labels for ent in doc.ents)
    # the saved pipeline is a MODEL for ner.correct, and ner.teach scores with its spancat
    from rr_spacy_recipes.ner import ner_correct, ner_teach

    first = next(iter(ner_correct("c", str(out), str(source))["stream"]))
    assert "spans" in first and "tokens" in first
    teach = ner_teach("t", str(out), str(source), label=["person"])
    assert teach["update"].__self__.nlp.pipe_names == ["ner", "spancat"]
    assert 0.0 <= next(iter(teach["stream"]))["score"] <= 1.0


def test_train_ner_learns_its_training_answers(tmp_path: Path) -> None:
    # The loss over the training answers must fall: a learning rate of 0 (or an update that
    # never reaches the model) leaves it where it started, epoch after epoch.
    source = tmp_path / "wnut.jsonl"
    srsly.write_jsonl(source, wnut_dev(80))
    import_answers("ents", source)
    result = train_ner("ents", tmp_path / "ner", n_iter=4, eval_split=0.0)
    assert len(result.losses) == 4
    assert result.losses[-1] < result.losses[0] / 2


def test_binary_span_answers_leave_the_rest_missing() -> None:
    answers = [
        {"text": "Anna met Bob", "spans": [{"start": 0, "end": 4, "label": "P"}],
         "answer": "accept", "_view_id": "ner"},
        {"text": "Anna met Bob", "spans": [{"start": 5, "end": 8, "label": "P"}],
         "answer": "reject", "_view_id": "ner"},
        {"text": "Anna met Bob", "spans": [{"start": 9, "end": 12, "label": "P"}],
         "answer": "ignore", "_view_id": "ner"},
    ]  # fmt: skip
    (info,) = ner_annotations(answers).values()
    assert info == {"complete": False, "accept": [(0, 4, "P")], "reject": [(5, 8, "P")]}
    from recipe_runner.train import ner_doc

    doc = ner_doc(spacy.blank("en"), "Anna met Bob", info)
    assert [t.ent_iob_ for t in doc] == ["B", "O", ""]  # Bob: missing, not "O"


def test_data_to_spacy_writes_docbins_and_a_config(tmp_path: Path) -> None:
    _, gold = write_sms(tmp_path, 50)
    import_answers("sms", gold)
    source = tmp_path / "wnut.jsonl"
    srsly.write_jsonl(source, wnut_dev(50))
    import_answers("ents", source)
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app, ["data-to-spacy", str(out), "--textcat", "sms", "--ner", "ents"]
    )
    assert result.exit_code == 0, result.output
    nlp = spacy.blank("en")
    train = list(DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab))
    dev = list(DocBin().from_disk(out / "dev.spacy").get_docs(nlp.vocab))
    assert len(train) + len(dev) == 100
    assert any(d.cats for d in train) and any(d.ents for d in train)
    config = spacy.util.load_config(out / "config.cfg")
    assert config["nlp"]["pipeline"][-2:] == ["textcat_multilabel", "ner"]
    assert config["paths"]["train"] == str(out / "train.spacy")


def test_train_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RecipeRunnerError, match="nope"):
        train_textcat("nope", tmp_path / "m")
    span = {"text": "a b", "spans": [{"start": 0, "end": 1, "label": "X"}], "answer": "accept"}
    with pytest.raises(RecipeRunnerError, match="The answers: no accept/reject text labels"):
        fit_textcat([span])
    result = CliRunner().invoke(app, ["train", "parser", "x", str(tmp_path)])
    assert result.exit_code != 0


def test_rr_train_ner_from_binary_ner_teach_answers(tmp_path: Path) -> None:
    from recipe_runner import run_headless

    source = tmp_path / "wnut.jsonl"
    srsly.write_jsonl(source, wnut_dev(60))
    summary = run_headless(
        "ner.teach",
        "binary",
        "blank:en",
        str(source),
        label=["person", "location"],
        answer=f"gold:{source}",
        show_progress=False,
    )
    assert summary.counts["reject"] > 0
    out = tmp_path / "from_binary"
    result = CliRunner().invoke(app, ["train", "ner", "binary", str(out), "--n-iter", "2"])
    # a blank model's suggestions are mostly wrong: with no accepted span there is nothing to
    # learn, which is a clear error; with some, a pipeline that loads and runs
    if summary.counts["accept"] == 0:
        assert "no accepted spans" in str(result.exception)
        return
    assert result.exit_code == 0, result.output
    doc = spacy.load(out)("Paris is in France")
    assert isinstance(doc.ents, tuple)


def test_the_same_answers_in_another_order_train_the_same_model() -> None:
    # An active-learning run and a random-order run that collected the same answers must be
    # scored on the same model, so only which answers were chosen can tell them apart.
    answers = [a for a in srsly.read_jsonl(GITHUB_GOLD) if a["answer"] != "ignore"][:120]
    shuffled = list(reversed(answers))
    texts = [a["text"] for a in answers[:40]]
    first, _ = fit_textcat(answers, eval_split=0.25, n_iter=3, seed=1)
    second, result = fit_textcat(shuffled, eval_split=0.25, n_iter=3, seed=1)
    assert result.n_train == 90 and result.n_eval == 30
    before = [doc.cats["DOCUMENTATION"] for doc in first.pipe(texts)]
    after = [doc.cats["DOCUMENTATION"] for doc in second.pipe(texts)]
    assert before == after
    assert len(set(before)) > 1  # a model that learned something, not a constant
