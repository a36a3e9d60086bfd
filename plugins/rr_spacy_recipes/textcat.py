"""textcat.teach and textcat.correct: a text classifier suggests, a person decides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer

from recipe_runner import (
    SCORE_BATCH,
    PatternMatcher,
    RecipeRunnerError,
    Stream,
    TextClassifier,
    batches,
    get_stream,
    load_pipeline,
    prefer_uncertain,
    recipe,
)
from recipe_runner import SORTER_ALGORITHMS as ALGORITHMS

from .probes import Probes

Label = Annotated[list[str] | None, typer.Option(help="Comma-separated labels, e.g. A,B.")]
Loader = Annotated[
    str | None, typer.Option(help="jsonl, json, csv or txt; by suffix when left out.")
]
Dataset = Annotated[str, typer.Argument(help="Dataset to save the answers to.")]
Model = Annotated[str, typer.Argument(help="blank:LANG, an installed pipeline or a path.")]
Source = Annotated[str, typer.Argument(help="JSONL, JSON, CSV or text file; - for stdin.")]
Task = dict[str, Any]
# Questions asked in source order while a new classifier learns its first answers: until it has
# seen a few of each kind, its scores can't tell the uncertain texts apart (see sort_by_priority).
WARMUP = 40
# Texts the uncertainty pool reads per question served: scoring a bag of words is cheap, and a
# wider choice finds more of a rare label sooner.
READ_AHEAD = 10


@recipe("textcat.teach")
def textcat_teach(
    dataset: Dataset,
    spacy_model: Model,
    source: Source,
    label: Label = None,
    loader: Loader = None,
    algorithm: Annotated[
        str, typer.Option(help="Uncertainty sorter: pool, ema or probability.")
    ] = "pool",
    seed: Annotated[int, typer.Option(help="Seed of the sorter and the replay sample.")] = 0,
    order: Annotated[
        str, typer.Option(help="uncertain (most uncertain first) or source (as they come).")
    ] = "uncertain",
    patterns: Annotated[
        str | None,
        typer.Option(
            help="JSONL patterns: texts they match are asked about too, scored by how "
            "often each pattern's matches were accepted."
        ),
    ] = None,
) -> dict[str, Any]:
    """Teach a text classifier: accept or reject its most uncertain suggestions.

    Every text is scored for every label; the questions ("is this LABEL?") whose scores are
    closest to 0.5 come first, and the model learns from each batch of accept / reject answers.
    A new classifier (from blank:LANG, or a pipeline without one) gets its first questions in
    source order, since it can't rank what it knows nothing about; it uses the pipeline's word
    vectors when it has them (e.g. en_core_web_md), which on short texts carry each answer to
    words no answer held. Questions held back are scored again with the updated model and
    served when the source runs dry, so the whole source gets seen. With --patterns, a text a
    pattern matches is also asked about with the pattern's label (the match highlighted), and
    answers teach both the model and the patterns' scores."""
    labels = require_labels("textcat.teach", label)
    if algorithm not in ALGORITHMS:
        raise RecipeRunnerError(
            f"textcat.teach: --algorithm is one of {', '.join(ALGORITHMS)}, not '{algorithm}'."
        )
    if order not in ("uncertain", "source"):
        raise RecipeRunnerError(f"textcat.teach: --order is uncertain or source, not '{order}'.")
    nlp = load_pipeline(spacy_model)
    model = TextClassifier(nlp, labels, seed=seed)
    matcher = None
    if patterns is not None:
        matcher = PatternMatcher(nlp, label_span=False, label_task=True, filter_labels=labels)
        matcher.from_disk(patterns)
    source_stream = get_stream(source, loader)
    probes = Probes(model, classifier_scores(model), every_answer=order == "source")

    def scored() -> Iterator[tuple[float, Task]]:
        for group in batches(source_stream, SCORE_BATCH):
            texts = [task.get("text", "") for task in group]
            for task, scores in zip(group, model.predict(texts), strict=True):
                for lab in labels:
                    yield scores[lab], _question(task, lab, scores[lab])
            if matcher is not None:
                yield from matcher(group)

    def rescore(tasks: list[Task]) -> list[tuple[float, Task]]:
        texts = list(dict.fromkeys(t.get("text", "") for t in tasks))
        by_text = dict(zip(texts, model.cached_predict(texts), strict=True))
        out = []
        for task in tasks:
            found = [s["pattern"] for s in task.get("spans") or [] if "pattern" in s]
            if matcher is not None and found:
                score = matcher.score(found[0])  # a pattern's question keeps the pattern's score
            else:
                score = by_text[task.get("text", "")][task["label"]]
            task["score"] = score
            task.setdefault("meta", {})["score"] = round(score, 3)
            out.append((score, task))
        return out

    def sorted_stream() -> Iterator[Task]:
        if order == "source":
            return (task for _, task in scored())
        warmup = WARMUP if model.new else 0

        def choose(read: Iterator[tuple[float, Task]]) -> Iterator[Task]:
            return prefer_uncertain(
                read,
                algorithm,
                rescore=rescore,
                seed=seed,
                warmup=warmup,  # asked in source order: probes too
                read_ahead=READ_AHEAD,
                # Each question is the most uncertain by the model as it is when the question
                # is taken: a driver reads the next batch's first question before the answers
                # to this one are learned from, so choosing a whole batch at once would choose
                # it with a model one batch behind. Scores are kept until the model learns.
                rescore_every=1,
            )

        return probes.interleave(scored(), choose, rescore, seed=seed, warmup=warmup)

    length = None if matcher is not None else (lambda: len(source_stream) * len(labels))
    stream = Stream(sorted_stream, length, parent=source_stream)
    update = probes.update
    if matcher is not None:
        # The patterns' scores learn too; progress follows the classifier's loss on probes.
        def update(answers: list[Task]) -> float | None:
            loss = probes.update(answers)
            matcher.update(answers)
            return loss

    return {
        "dataset": dataset,  # where the answers go
        "stream": stream,  # one question per text and label, most uncertain first
        "view_id": "classification",  # the text with the label to accept or reject
        "update": update,  # learns from accept / reject, returns the loss on probes
        "config": {"labels": labels},
    }


def classifier_scores(model: TextClassifier) -> Callable[[list[Task]], list[float | None]]:
    """The classifier's score of each answer's label (None for a label it does not have)."""

    def score(answers: list[Task]) -> list[float | None]:
        known = [
            i for i, a in enumerate(answers) if a.get("label") in model.labels and a.get("text")
        ]
        out: list[float | None] = [None] * len(answers)
        for i, scores in zip(
            known, model.predict([answers[i]["text"] for i in known]), strict=True
        ):
            out[i] = scores[answers[i]["label"]]
        return out

    return score


def require_labels(recipe: str, label: list[str] | None) -> list[str]:
    if not label:
        raise RecipeRunnerError(f"{recipe} needs --label, e.g. --label SPAM or --label A,B.")
    return label


def _question(task: Task, label: str, score: float) -> Task:
    meta = dict(task.get("meta") or {})
    meta["score"] = round(score, 3)
    question = {k: v for k, v in task.items() if k not in ("_input_hash", "_task_hash", "label")}
    question.update({"label": label, "score": score, "meta": meta})
    return question


@recipe("textcat.correct")
def textcat_correct(
    dataset: Dataset,
    spacy_model: Model,
    source: Source,
    label: Label = None,
    loader: Loader = None,
    threshold: Annotated[
        float, typer.Option(help="Labels scoring at least this are pre-selected.")
    ] = 0.5,
    exclusive: Annotated[bool, typer.Option(help="One label per text.")] = False,
    update: Annotated[bool, typer.Option(help="Learn from each batch of answers.")] = False,
) -> dict[str, Any]:
    """Correct a text classifier: its predicted labels come pre-selected in a choice.

    Each task's `score` is the model's confidence in the whole pre-selection: the least sure of
    its per-label decisions (scores per label are in `meta.scores`)."""
    labels = require_labels("textcat.correct", label)
    nlp = load_pipeline(spacy_model)
    model = TextClassifier(nlp, labels)
    exclusive = exclusive or model.exclusive
    options = [{"id": lab, "text": lab} for lab in labels]
    source_stream = get_stream(source, loader)

    def suggest(tasks: Iterator[Task]) -> Iterator[Task]:
        for group in batches(tasks, SCORE_BATCH):
            texts = [task.get("text", "") for task in group]
            for task, scores in zip(group, model.predict(texts), strict=True):
                if exclusive:
                    best = max(labels, key=lambda lab: scores[lab])
                    chosen = [best] if scores[best] >= threshold or len(labels) > 1 else []
                else:
                    chosen = [lab for lab in labels if scores[lab] >= threshold]
                confidence = min(max(s, 1.0 - s) for s in scores.values())
                meta = dict(task.get("meta") or {})
                meta["scores"] = {lab: round(s, 3) for lab, s in scores.items()}
                yield {
                    **task,
                    "options": options,
                    "accept": chosen,
                    "score": confidence,
                    "meta": meta,
                }

    return {
        "dataset": dataset,
        "stream": source_stream.apply(suggest),  # the same length as the source
        "view_id": "choice",
        "update": model.update if update else None,
        "config": {
            "labels": labels,
            "choice_style": "single" if exclusive else "multiple",
            "exclude_by": "input",  # one question per text, whatever the model suggests
        },
    }
