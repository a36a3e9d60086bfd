"""The spaCy recipes on real data, called directly and through headless mode with gold answers."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
import srsly
from rr_spacy_recipes.ner import ner_correct, ner_teach
from rr_spacy_recipes.probes import probe_key
from rr_spacy_recipes.textcat import textcat_correct, textcat_teach
from typer.testing import CliRunner

from recipe_runner import run_headless
from recipe_runner.cli import app
from recipe_runner.conll import read_conll
from recipe_runner.errors import RecipeRunnerError
from recipe_runner.gold import gold_policy
from recipe_runner.runner import find_recipe, prepare_run
from recipe_runner.transfer import dataset_stats

from .spacy_data import WNUT_TRAIN, train_ner_pipeline, wnut_dev, write_sms

Task = dict[str, Any]


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small entity recognizer trained on 150 WNUT 2017 training sentences with entities."""
    tasks = [t for t in read_conll(WNUT_TRAIN) if t["spans"]][:150]
    return train_ner_pipeline(tasks, tmp_path_factory.mktemp("ner") / "m", n_iter=6)


@pytest.fixture
def wnut(tmp_path: Path) -> Path:
    path = tmp_path / "wnut.jsonl"
    srsly.write_jsonl(path, wnut_dev(120))
    return path


def take(stream: Any, n: int) -> list[Task]:
    return list(islice(iter(stream), n))


def answer_all(tasks: list[Task], gold: Path) -> list[Task]:
    policy = gold_policy(gold)
    return [policy(dict(t)) for t in tasks]


def weights(nlp: Any, name: str) -> bytes:
    return bytes(nlp.get_pipe(name).model.to_bytes())


def check_scores(tasks: list[Task]) -> None:
    assert tasks
    for task in tasks:
        assert 0.0 <= task["score"] <= 1.0
        assert task["meta"]["score"] == round(task["score"], 3)


# textcat.teach ---------------------------------------------------------------------------
def test_textcat_teach_scores_learns_and_ignores_ignore(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 200)
    comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"])
    assert comps["view_id"] == "classification" and len(comps["stream"]) == 200
    it = iter(comps["stream"])
    first = list(islice(it, 10))
    check_scores(first)
    assert all(t["label"] == "SPAM" for t in first)
    update = comps["update"]
    nlp = update.__self__.nlp
    before = weights(nlp, "textcat_multilabel")
    ignored = [{**t, "answer": "ignore"} for t in first]
    assert update(ignored) is None
    assert weights(nlp, "textcat_multilabel") == before
    second = list(islice(it, 10))
    check_scores(second)
    loss = update(answer_all(second, gold))
    assert isinstance(loss, float) and loss > 0
    assert weights(nlp, "textcat_multilabel") != before
    check_scores(list(islice(it, 10)))


def test_ignore_answers_in_a_batch_change_nothing(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 60)
    runs = []
    for extra in (False, True):
        comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"], seed=1)
        tasks = take(comps["stream"], 20)
        batch = answer_all(tasks[:10], gold)
        if extra:
            batch += [{**t, "answer": "ignore"} for t in tasks[10:]]
        loss = comps["update"](batch)
        runs.append((loss, weights(comps["update"].__self__.nlp, "textcat_multilabel")))
    assert runs[0] == runs[1]


def test_textcat_teach_headless_serves_the_whole_source_and_progress_is_monotone(
    tmp_path: Path,
) -> None:
    source, gold = write_sms(tmp_path, 300)
    recipe = find_recipe("textcat.teach")
    run = prepare_run(recipe, ("spam", "blank:en", str(source)), {"label": ["SPAM"]})
    controller = run.controller
    policy = gold_policy(gold)
    session = controller.session_id("test")
    progress: list[float | None] = []
    served = 0
    try:
        while tasks := controller.get_questions(session):
            check_scores(tasks)
            served += len(tasks)
            result = controller.receive_answers(session, [policy(t) for t in tasks])
            progress.append(result.progress.progress)
    finally:
        controller.close()
        assert controller.db is not None
        controller.db.close()
    # every message is asked about: the held-back ones are served when the source runs dry
    assert served == 300
    assert len(controller._losses) == 30
    assert all(loss >= 0 for _, loss in controller._losses)
    known = [p for p in progress if p is not None]
    assert known and all(0.0 <= p <= 1.0 for p in known)
    assert known == sorted(known)
    assert progress[:4] == [None] * 4  # unknown before there is enough data


def serve_and_learn(comps: dict[str, Any], gold: Path, batches: int) -> list[Task]:
    """What textcat.teach serves over `batches` batches of 10, learning from each."""
    it = iter(comps["stream"])
    served: list[Task] = []
    for _ in range(batches):
        batch = list(islice(it, 10))
        served += batch
        comps["update"](answer_all(batch, gold))
    return served


def test_a_new_classifier_is_asked_in_source_order_first(tmp_path: Path) -> None:
    from rr_spacy_recipes.textcat import WARMUP

    source, gold = write_sms(tmp_path, 400)
    texts = [t["text"] for t in srsly.read_jsonl(source)]
    comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"])
    served = [t["text"] for t in serve_and_learn(comps, gold, WARMUP // 10 + 3)]
    assert served[:WARMUP] == texts[:WARMUP]
    # then the most uncertain of a pool read ahead: texts from further on come in
    assert served[WARMUP:] != texts[WARMUP : len(served)]
    assert max(texts.index(t) for t in served[WARMUP:]) > len(served) + 50
    # a trained classifier ranks from its first batch
    nlp = comps["update"].__self__.nlp
    nlp.to_disk(tmp_path / "trained")
    again = textcat_teach("spam2", str(tmp_path / "trained"), str(source), label=["SPAM"])
    first = [t["text"] for t in serve_and_learn(again, gold, 2)]
    assert first != texts[:20]


def test_textcat_teach_asks_one_question_in_probe_every_at_random(tmp_path: Path) -> None:
    from rr_spacy_recipes.probes import PROBE_EVERY
    from rr_spacy_recipes.textcat import WARMUP

    source, gold = write_sms(tmp_path, 600)
    comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"])
    probes = comps["update"].__self__
    it = iter(comps["stream"])
    marked: list[bool] = []
    for _ in range(WARMUP // 10 + 20):
        batch = list(islice(it, 10))
        marked += [probes.is_probe(t) for t in batch]  # before the answers clear the marks
        comps["update"](answer_all(batch, gold))
    assert all(marked[:WARMUP])  # the warm-up is asked in source order: every answer a probe
    after = marked[WARMUP:]
    assert sum(after) == len(after) // PROBE_EVERY
    assert not probes._keys  # answered probes are forgotten


def scored_errors(probes: Any, answers: list[Task]) -> list[float]:
    scores = probes.model.predict([a["text"] for a in answers])
    pairs = zip(answers, scores, strict=True)
    return [(s["SPAM"] - float(a["answer"] == "accept")) ** 2 for a, s in pairs]


def test_the_loss_textcat_teach_returns_is_on_probes_before_learning(tmp_path: Path) -> None:
    from rr_spacy_recipes.probes import PROBE_WINDOW

    source, gold = write_sms(tmp_path, 200)
    comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"], seed=2)
    probes = comps["update"].__self__
    tasks = answer_all(take(comps["stream"], 30), gold)  # warm-up: all probes
    first = scored_errors(probes, tasks[:10])
    assert comps["update"](tasks[:10]) == pytest.approx(sum(first) / 10)
    # After learning, the same answers score differently: the loss was taken before.
    assert scored_errors(probes, tasks[:10]) != pytest.approx(first)
    # Only probes count, ignored ones neither count nor train; the loss is over the latest
    # PROBE_WINDOW probe answers.
    batch = [dict(t) for t in tasks[10:20]]
    probes._keys.discard(probe_key(batch[0]))  # not a probe
    batch[1]["answer"] = "ignore"
    second = scored_errors(probes, batch[2:])
    loss = comps["update"](batch)
    window = (first + second)[-PROBE_WINDOW:]
    assert loss == pytest.approx(sum(window) / len(window))
    # A batch with no probe learns, but says nothing new about the loss.
    nlp = probes.nlp
    before = weights(nlp, "textcat_multilabel")
    for task in tasks[20:]:
        probes._keys.discard(probe_key(task))
    assert comps["update"](tasks[20:]) is None
    assert weights(nlp, "textcat_multilabel") != before


def test_in_source_order_every_answer_is_a_probe(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 100)
    comps = textcat_teach("spam", "blank:en", str(source), label=["SPAM"], order="source")
    probes = comps["update"].__self__
    it = iter(comps["stream"])
    for _ in range(3):
        batch = answer_all(list(islice(it, 10)), gold)
        errors = scored_errors(probes, batch)
        assert comps["update"](batch) == pytest.approx(sum(errors) / len(errors))


def test_textcat_teach_through_the_cli_with_a_gold_policy(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 80)
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--headless",
            "--answer",
            f"gold:{gold}",
            "textcat.teach",
            "spam",
            "blank:en",
            str(source),
            "--label",
            "SPAM",
        ],
    )
    assert result.exit_code == 0, result.output
    stats = dataset_stats("spam")
    assert isinstance(stats, dict) and stats["total"] == 80
    gold_accepts = sum(1 for g in srsly.read_jsonl(gold) if g["answer"] == "accept")
    assert stats["accept"] == gold_accepts and stats["ignore"] == 0


def test_the_forecast_is_in_the_answers_reply_and_in_rr_stats(tmp_path: Path) -> None:
    source, gold = write_sms(tmp_path, 300)
    recipe = find_recipe("textcat.teach")
    run = prepare_run(recipe, ("spam", "blank:en", str(source)), {"label": ["SPAM"]})
    controller = run.controller
    policy = gold_policy(gold)
    session = controller.session_id("test")
    forecasts = []
    try:
        while tasks := controller.get_questions(session):
            result = controller.receive_answers(session, [policy(t) for t in tasks])
            forecasts.append(result.progress.forecast)
    finally:
        controller.close()
        assert controller.db is not None
        controller.db.close()
    assert forecasts[0] is None  # unknown before there is enough data
    known = [f for f in forecasts if f is not None]
    assert known and all(f.low <= f.remaining <= f.high for f in known)
    last = known[-1]
    shown = CliRunner().invoke(app, ["stats", "spam", "--json"])
    assert shown.exit_code == 0, shown.output
    saved = json.loads(shown.stdout)["forecast"]
    assert (saved["remaining"], saved["low"], saved["high"]) == (
        last.remaining,
        last.low,
        last.high,
    )
    assert saved["answers"] == 300
    text = CliRunner().invoke(app, ["stats", "spam"]).stdout
    assert "forecast: " in text and "after 300 answers learned from" in text


def test_textcat_teach_needs_a_label(tmp_path: Path) -> None:
    source, _ = write_sms(tmp_path, 5)
    with pytest.raises(RecipeRunnerError, match="needs --label"):
        textcat_teach("spam", "blank:en", str(source))


# textcat.correct -------------------------------------------------------------------------
def test_textcat_correct_preselects_and_learns_from_choices(tmp_path: Path) -> None:
    source, _ = write_sms(tmp_path, 40)
    gold = tmp_path / "choice_gold.jsonl"
    srsly.write_jsonl(
        gold,
        [
            {"text": g["text"], "accept": ["SPAM" if g["answer"] == "accept" else "HAM"]}
            for g in srsly.read_jsonl(tmp_path / "sms_gold.jsonl")
        ],
    )
    comps = textcat_correct(
        "sms", "blank:en", str(source), label=["SPAM", "HAM"], exclusive=True, update=True
    )
    assert comps["view_id"] == "choice" and comps["config"]["choice_style"] == "single"
    tasks = take(comps["stream"], 10)
    for task in tasks:
        assert [o["id"] for o in task["options"]] == ["SPAM", "HAM"]
        assert len(task["accept"]) == 1
        assert 0.5 <= task["score"] <= 1.0
        assert set(task["meta"]["scores"]) == {"SPAM", "HAM"}
    loss = comps["update"](answer_all(tasks, gold))
    assert isinstance(loss, float) and loss > 0
    summary = run_headless(
        textcat_correct,
        "sms",
        "blank:en",
        str(source),
        label=["SPAM", "HAM"],
        answer=f"gold:{gold}",
        show_progress=False,
    )
    assert summary.counts["accept"] == 40


# ner.correct -----------------------------------------------------------------------------
def test_ner_correct_prefills_entities_and_learns(ner_model: Path, wnut: Path) -> None:
    comps = ner_correct("ents", str(ner_model), str(wnut), update=True)
    assert comps["view_id"] == "ner_manual" and len(comps["stream"]) == 120
    tasks = take(comps["stream"], 30)
    assert sum(len(t["spans"]) for t in tasks) > 0  # the trained model finds some entities
    for task in tasks:
        for span in task["spans"]:
            tok = task["tokens"]
            assert tok[span["token_start"]]["start"] == span["start"]
            assert tok[span["token_end"]]["end"] == span["end"]
    update = comps["update"]
    before = weights(update.__self__.nlp, "ner")
    assert update([{**t, "answer": "ignore"} for t in tasks[:10]]) is None
    assert weights(update.__self__.nlp, "ner") == before
    loss = update(answer_all(tasks[:10], wnut))
    assert isinstance(loss, float) and loss > 0
    assert weights(update.__self__.nlp, "ner") != before


def test_ner_correct_scores_entities_with_a_beam(ner_model: Path, wnut: Path) -> None:
    tasks = take(ner_correct("s", str(ner_model), str(wnut), scores=True)["stream"], 40)
    check_scores(tasks)
    with_spans = [t for t in tasks if t["spans"]]
    assert with_spans
    for task in with_spans:
        assert all(0.0 <= span["score"] <= 1.0 for span in task["spans"])
        assert task["score"] == min(span["score"] for span in task["spans"])
    plain = take(ner_correct("p", str(ner_model), str(wnut))["stream"], 40)
    assert [t["spans"] for t in plain] == [
        [{k: v for k, v in span.items() if k != "score"} for span in t["spans"]] for t in tasks
    ]


def test_ner_correct_headless_preannotates_with_labels(ner_model: Path, wnut: Path) -> None:
    summary = run_headless(
        "ner.correct", "pre", str(ner_model), str(wnut), label=["person"], show_progress=False
    )
    assert summary.counts == {"accept": 120, "reject": 0, "ignore": 0}
    assert summary.progress == 1.0
    # corrected from the gold spans, learning from each batch
    learned = run_headless(
        "ner.correct",
        "fixed",
        str(ner_model),
        str(wnut),
        update=True,
        answer=f"gold:{wnut}",
        show_progress=False,
    )
    assert learned.counts["accept"] == 120
    assert learned.progress is not None and 0.0 <= learned.progress <= 1.0


def test_ner_correct_without_an_entity_recognizer_is_a_clear_error(wnut: Path) -> None:
    with pytest.raises(RecipeRunnerError, match="rr train ner"):
        ner_correct("x", "blank:en", str(wnut))
    with pytest.raises(RecipeRunnerError, match="n-process"):
        ner_correct("x", "blank:en", str(wnut), label=["person"], update=True, n_process=2)


@pytest.mark.slow
def test_ner_correct_in_two_processes_matches_one(ner_model: Path, wnut: Path) -> None:
    one = take(ner_correct("a", str(ner_model), str(wnut))["stream"], 120)
    two = take(ner_correct("b", str(ner_model), str(wnut), n_process=2)["stream"], 120)
    assert [t["spans"] for t in one] == [t["spans"] for t in two]


# ner.teach -------------------------------------------------------------------------------
def test_ner_teach_one_scored_span_per_task_and_learning(ner_model: Path, wnut: Path) -> None:
    comps = ner_teach("teach", str(ner_model), str(wnut), label=["person", "location"])
    assert comps["view_id"] == "ner"
    tasks = take(comps["stream"], 20)
    check_scores(tasks)
    for task in tasks:
        (span,) = task["spans"]
        assert span["label"] in ("person", "location")
        assert task["text"][span["start"] : span["end"]].strip()
    update = comps["update"]
    probes = update.__self__
    nlp = probes.nlp
    before = weights(nlp, "spancat")
    assert update([{**t, "answer": "ignore"} for t in tasks[:5]]) is None
    assert weights(nlp, "spancat") == before
    answered = answer_all(tasks, wnut)
    assert {a["answer"] for a in answered} <= {"accept", "reject"}
    # The loss is on the probes among them (1 in 10), each scored before learning from it.
    found = [a for a in answered if probes.is_probe(a)]
    assert len(found) == 2
    scores = probes.model.score_tasks(found)
    errors = [(s - float(a["answer"] == "accept")) ** 2 for a, s in zip(found, scores, strict=True)]
    assert update(answered) == pytest.approx(sum(errors) / len(errors))
    assert weights(nlp, "spancat") != before
    assert probes.model.score_tasks(found) != pytest.approx(scores)


def test_ner_teach_headless_with_gold(wnut: Path) -> None:
    summary = run_headless(
        "ner.teach",
        "teach",
        "blank:en",
        str(wnut),
        label=["person"],
        per_text=1,
        answer=f"gold:{wnut}",
        show_progress=False,
    )
    assert summary.counts["accept"] + summary.counts["reject"] == 120
    assert summary.counts["ignore"] == 0
    assert summary.progress is not None and 0.0 <= summary.progress <= 1.0


def test_teach_recipes_check_their_options(tmp_path: Path, wnut: Path) -> None:
    source, _ = write_sms(tmp_path, 5)
    with pytest.raises(RecipeRunnerError, match="--algorithm is one of ema, probability, pool"):
        textcat_teach("spam", "blank:en", str(source), label=["SPAM"], algorithm="best")
    with pytest.raises(RecipeRunnerError, match="--order is uncertain or source"):
        textcat_teach("spam", "blank:en", str(source), label=["SPAM"], order="random")
    with pytest.raises(RecipeRunnerError, match=r"ner\.teach: --algorithm"):
        ner_teach("x", "blank:en", str(wnut), label=["person"], algorithm="best")
