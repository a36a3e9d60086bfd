"""ner.correct and ner.teach: an entity model suggests spans, a person corrects or decides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from recipe_runner import (
    SCORE_BATCH,
    EntityRecognizer,
    RecipeRunnerError,
    SpanCategorizer,
    Stream,
    batches,
    get_stream,
    load_pipeline,
    prefer_uncertain,
    recipe,
)
from recipe_runner import SORTER_ALGORITHMS as ALGORITHMS
from recipe_runner import doc_tokens as tokens_of

from .probes import Probes
from .textcat import Dataset, Label, Loader, Model, Source, require_labels

Task = dict[str, Any]


@recipe("ner.correct")
def ner_correct(
    dataset: Dataset,
    spacy_model: Model,
    source: Source,
    label: Label = None,
    loader: Loader = None,
    update: Annotated[bool, typer.Option(help="Learn from each batch of answers.")] = False,
    n_process: Annotated[
        int, typer.Option(help="Processes for nlp.pipe on large corpora (not with --update).")
    ] = 1,
    batch_size: Annotated[int, typer.Option(help="Texts per nlp.pipe batch.")] = 256,
    scores: Annotated[
        bool, typer.Option(help="Score each entity (a beam search: about twice the work).")
    ] = False,
) -> dict[str, Any]:
    """Correct an entity recognizer: its entities come pre-filled for a person to fix.

    Headless with --answer accept, this pre-annotates a corpus: texts go through nlp.pipe in
    batches (in several processes with --n-process) and the entities are saved as answers.
    With --scores, each entity gets the probability the model gives it, and each task the
    least of those, so a person can start with the texts the model is least sure of."""
    if n_process < 1:
        raise RecipeRunnerError("ner.correct: --n-process must be 1 or more.")
    if update and n_process > 1:
        raise RecipeRunnerError(
            "ner.correct: --update learns in this process, so it can't use --n-process > 1."
        )
    nlp = load_pipeline(spacy_model)
    model = EntityRecognizer(nlp, label, add=update)
    # Only what the entities need runs: a text classifier in the same pipeline stays idle.
    idle = model.other_pipes

    def annotate(tasks: Iterator[Task]) -> Iterator[Task]:
        pairs = ((task.get("text", ""), task) for task in tasks)
        docs = nlp.pipe(
            pairs, as_tuples=True, batch_size=batch_size, n_process=n_process, disable=idle
        )
        if not scores:
            for doc, task in docs:
                yield model.annotate(task, doc)
            return
        for group in batches(docs, SCORE_BATCH):
            probs = model.span_probs([doc.text for doc, _ in group])
            for (doc, task), found in zip(group, probs, strict=True):
                yield model.annotate(task, doc, found)

    return {
        "dataset": dataset,  # where the answers go
        "stream": get_stream(source, loader).apply(annotate),  # the source's length is kept
        "view_id": "ner_manual",  # tokens with the model's spans, to be corrected
        "update": model.update if update else None,  # learns from accepted texts
        # A text is one question whatever the model suggests in it: a text answered before is
        # left out before the model runs over it again (a resumed run costs what is left).
        "config": {"exclude_by": "input", **({"labels": label} if label else {})},
    }


@recipe("ner.teach")
def ner_teach(
    dataset: Dataset,
    spacy_model: Model,
    source: Source,
    label: Label = None,
    loader: Loader = None,
    per_text: Annotated[
        int, typer.Option(help="Suggestions per text: its best-scoring candidate spans.")
    ] = 3,
    algorithm: Annotated[
        str, typer.Option(help="Uncertainty sorter: pool, ema or probability.")
    ] = "pool",
    seed: Annotated[int, typer.Option(help="Seed of the sorter and the replay sample.")] = 0,
) -> dict[str, Any]:
    """Teach an entity model: accept or reject one suggested entity at a time.

    A span categorizer (the pipeline's 'spancat', added when it has none) scores every span of
    up to three tokens for every label; each text's best candidates are asked about, the most
    uncertain first, and each batch of answers updates the model. One question in 10 is a
    candidate drawn at random instead (a probe): progress follows the model's loss on those."""
    labels = require_labels("ner.teach", label)
    if algorithm not in ALGORITHMS:
        raise RecipeRunnerError(
            f"ner.teach: --algorithm is one of {', '.join(ALGORITHMS)}, not '{algorithm}'."
        )
    nlp = load_pipeline(spacy_model)
    model = SpanCategorizer(nlp, labels, seed=seed)
    source_stream = get_stream(source, loader)

    def scored() -> Iterator[tuple[float, Task]]:
        for group in batches(source_stream, SCORE_BATCH):
            docs = model.tokenize([task.get("text", "") for task in group])
            for task, doc, found in zip(group, docs, model.suggest(docs, per_text), strict=True):
                tokens = tokens_of(doc)
                for start, end, lab, score in found:
                    yield score, _question(task, doc, tokens, start, end, lab, score)

    def rescore(tasks: list[Task]) -> list[tuple[float, Task]]:
        scores = model.score_tasks(tasks)
        for task, score in zip(tasks, scores, strict=True):
            task["score"] = score
            task.setdefault("meta", {})["score"] = round(score, 3)
        return list(zip(scores, tasks, strict=True))

    # Progress follows the loss on probes (see probes.py), scored before the model learns.
    probes = Probes(model, model.score_tasks)

    def choose(read: Iterator[tuple[float, Task]]) -> Iterator[Task]:
        return prefer_uncertain(read, algorithm, rescore=rescore, seed=seed)

    def sorted_stream() -> Iterator[Task]:
        return probes.interleave(scored(), choose, rescore, seed=seed)

    return {
        "dataset": dataset,
        "stream": Stream(sorted_stream, parent=source_stream),  # length unknown: per-text varies
        "view_id": "ner",  # the text with one highlighted span to accept or reject
        "update": probes.update,  # learns from accept / reject, returns the loss on probes
        "config": {"labels": labels},
    }


def _question(
    task: Task,
    doc: Any,
    tokens: list[dict[str, Any]],
    start: int,
    end: int,
    label: str,
    score: float,
) -> Task:
    span = doc[start:end]
    meta = dict(task.get("meta") or {})
    meta["score"] = round(score, 3)
    question = {k: v for k, v in task.items() if k not in ("_input_hash", "_task_hash", "spans")}
    question.update(
        {
            "tokens": tokens,
            "spans": [
                {
                    "start": span.start_char,
                    "end": span.end_char,
                    "token_start": start,
                    "token_end": end - 1,
                    "label": label,
                }
            ],
            "score": score,
            "meta": meta,
        }
    )
    return question
