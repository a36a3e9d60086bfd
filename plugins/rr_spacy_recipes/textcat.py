"""textcat.teach and textcat.correct: a text classifier suggests, a person decides."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
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
# Progress comes from the loss `update` returns. The loss of questions the model chose as its
# most uncertain stays near its first level for as long as uncertain texts are left, whatever the
# model has learned; the loss on questions it did not choose (probes: the warm-up, then 1 question
# in PROBE_EVERY drawn at random from the texts read) is an unbiased estimate of its loss on new
# texts, measured before it learns from them (they are learned from like the others).
PROBE_EVERY = 10
PROBE_WINDOW = 10  # probe answers the returned loss averages (the most recent)
PROBE_RESERVE = 200  # texts set aside for probes at most (an endless stream stays bounded)


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
    source order, since it can't rank what it knows nothing about. Questions held back are
    scored again with the updated model and served when the source runs dry, so the whole
    source gets seen. With --patterns, a text a pattern matches is also asked about with the
    pattern's label (the match highlighted), and answers teach both the model and the patterns'
    scores."""
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
    probes = Probes(model, every_answer=order == "source")

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
        reserve: list[Task] = []  # questions set aside, served at random as probes
        rng = random.Random(seed)

        def read() -> Iterator[tuple[float, Task]]:
            for index, (score, task) in enumerate(scored()):
                if index < warmup:
                    probes.mark(task)  # the warm-up is asked in source order: probes too
                elif len(reserve) < PROBE_RESERVE and rng.random() < 1 / PROBE_EVERY:
                    reserve.append(task)
                    continue
                yield score, task

        def probe() -> Task:
            task = reserve.pop(rng.randrange(len(reserve)))
            rescore([task])  # its score as the model stands now
            return probes.mark(task)

        def with_probes(chosen: Iterator[Task]) -> Iterator[Task]:
            for served, task in enumerate(chosen, start=1):
                yield task
                if served > warmup and (served - warmup) % (PROBE_EVERY - 1) == 0 and reserve:
                    yield probe()
            while reserve:
                yield probe()

        return with_probes(prefer_uncertain(
            read(),
            algorithm,
            rescore=rescore,
            seed=seed,
            warmup=WARMUP if model.new else 0,
            read_ahead=READ_AHEAD,
            # Each question is the most uncertain by the model as it is when the question is
            # taken: a driver reads the next batch's first question before the answers to
            # this one are learned from, so choosing a whole batch at once would choose it
            # with a model one batch behind. Scores are kept until the model learns again.
            rescore_every=1,
        ))  # fmt: skip

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


class Probes:
    """The classifier's loss on answers to questions it did not choose (probes), each measured
    before it learns from it: an unbiased estimate of its loss on texts it has not seen, which
    the loss of the questions it chose as the most uncertain is not."""

    def __init__(self, model: TextClassifier, every_answer: bool = False) -> None:
        self.model = model
        self.nlp = model.nlp
        self.every_answer = every_answer  # questions in source order: every one is a probe
        self._keys: set[tuple[str, str]] = set()
        self.recent: deque[float] = deque(maxlen=PROBE_WINDOW)
        self.last: list[float] = []  # the squared errors of the last batch's probes

    def mark(self, task: Task) -> Task:
        self._keys.add(_probe_key(task))
        return task

    def is_probe(self, task: Task) -> bool:
        return self.every_answer or _probe_key(task) in self._keys

    def update(self, answers: list[Task]) -> float | None:
        """Learn from the batch (accept / reject only); return the mean squared error of the
        classifier's scores on the latest PROBE_WINDOW probe answers, each scored before it was
        learned from (None when the batch holds no probe answer)."""
        found = [a for a in answers if a.get("answer") in ("accept", "reject") and self.is_probe(a)]
        found = [a for a in found if a.get("label") in self.model.labels and a.get("text")]
        scores = self.model.predict([a["text"] for a in found]) if found else []
        self.last = [
            (s[a["label"]] - float(a["answer"] == "accept")) ** 2
            for a, s in zip(found, scores, strict=True)
        ]
        self.recent.extend(self.last)
        for answer in answers:
            self._keys.discard(_probe_key(answer))
        self.model.update(answers)
        if not self.last:
            return None  # no new probe: nothing new to say about the loss on unseen texts
        return sum(self.recent) / len(self.recent)


def _probe_key(task: Task) -> tuple[str, str]:
    return (str(task.get("text", "")), str(task.get("label", "")))


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
