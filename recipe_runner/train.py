"""Train spaCy pipelines from datasets of answers (`rr train`), or export them (`rr data-to-spacy`).

Binary answers (one label or one span, accept / reject) and manual ones (choices, corrected spans)
both count; several answers about one text are merged into one example. What a binary answer does
not say stays missing: spaCy then neither rewards nor punishes the model for it.

The examples are put in the order of their input hashes before the seeded split and shuffles, so
the same answers give the same model whatever order they were given in (an active-learning run
and a random-order one that collected the same answers train the same pipeline).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import RecipeRunnerError
from .hashing import INPUT_HASH, input_hash
from .textcat_vectors import textcat_config

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.training import Example

Answer = dict[str, Any]
TEXTCAT_FACTORIES = ("textcat", "textcat_multilabel")


@dataclass
class TrainResult:
    """What `train_textcat` / `train_ner` did."""

    component: str
    output_dir: Path
    n_train: int
    n_eval: int
    labels: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    losses: list[float] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"Trained '{self.component}' on {self.n_train} examples "
            f"({self.n_eval} held out), labels: {', '.join(self.labels)}."
        ]
        out += [f"  {key}: {value:.3f}" for key, value in self.scores.items()]
        out.append(f"Saved the pipeline to '{self.output_dir}'; use it as the MODEL of a recipe.")
        return out


def read_answers(dataset: str) -> list[Answer]:
    """Every answer of `dataset` (an error naming it when it does not exist)."""
    from .config import load_config
    from .db import connect

    db = connect(load_config())
    try:
        db.require_dataset(dataset)
        return list(db.iter_answers(dataset))
    finally:
        db.close()


def _key(answer: Answer) -> int:
    stored = answer.get(INPUT_HASH)
    return stored if isinstance(stored, int) else input_hash(answer)


def textcat_annotations(answers: Iterable[Answer]) -> dict[str, dict[str, float]]:
    """{text: {label: 1.0 or 0.0}} from binary and choice answers; ignore is left out."""
    cats: dict[int, tuple[str, dict[str, float]]] = {}
    for answer in answers:
        verdict = answer.get("answer")
        text = answer.get("text")
        if verdict not in ("accept", "reject") or not text:
            continue
        _, known = cats.setdefault(_key(answer), (text, {}))
        if "options" in answer:
            if verdict == "accept":
                chosen = {str(a) for a in answer.get("accept") or []}
                for option in answer["options"]:
                    known[str(option.get("id"))] = float(str(option.get("id")) in chosen)
        elif isinstance(answer.get("label"), str) and not answer.get("spans"):
            known[answer["label"]] = 1.0 if verdict == "accept" else 0.0
    return {text: known for _, (text, known) in sorted(cats.items()) if known}


def ner_annotations(answers: Iterable[Answer]) -> dict[str, dict[str, Any]]:
    """{text: {"complete": bool, "accept": spans, "reject": spans}}: a corrected text (ner_manual)
    is complete; binary span answers leave the rest of the text missing."""
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    for answer in answers:
        verdict = answer.get("answer")
        text = answer.get("text")
        spans = answer.get("spans")
        if verdict not in ("accept", "reject") or not text or not isinstance(spans, list):
            continue
        _, info = out.setdefault(
            _key(answer), (text, {"complete": False, "accept": [], "reject": []})
        )
        items = [(int(s["start"]), int(s["end"]), str(s["label"])) for s in spans]
        binary = answer.get("_view_id") == "ner" or ("tokens" not in answer and len(items) == 1)
        if binary:
            info["accept" if verdict == "accept" else "reject"].extend(items)
        elif verdict == "accept":
            info["complete"] = True
            info["accept"] = items
    return {text: info for _, (text, info) in sorted(out.items())}


def ner_doc(nlp: Language, text: str, info: dict[str, Any]) -> Doc:
    """A doc whose entities are the accepted spans; tokens of rejected spans are 'O', the others
    'O' for a complete text and missing otherwise."""
    doc = nlp.make_doc(text)
    ents = []
    taken: set[int] = set()
    for start, end, label in sorted(set(info["accept"])):
        span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if span is None or not len(span) or taken & set(range(span.start, span.end)):
            continue
        taken.update(range(span.start, span.end))
        ents.append(span)
    outside = []
    for start, end, _ in sorted(set(info["reject"])):
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or not len(span):
            continue
        tokens = set(range(span.start, span.end))
        if not taken & tokens:  # spaCy wants each token in one span at most
            taken.update(tokens)
            outside.append(span)
    doc.set_ents(ents, outside=outside, default="outside" if info["complete"] else "missing")
    return doc


def _split(items: list[Any], eval_split: float, seed: int) -> tuple[list[Any], list[Any]]:
    if not 0 <= eval_split < 1:
        raise RecipeRunnerError(f"--eval-split must be in [0, 1), not {eval_split}.")
    items = list(items)
    random.Random(seed).shuffle(items)
    n_eval = round(len(items) * eval_split)
    if len(items) - n_eval < 1:
        raise RecipeRunnerError("Too few examples to train on: annotate more first.")
    return items[n_eval:], items[:n_eval]


def train_textcat(
    dataset: str,
    output_dir: str | Path,
    base: str = "blank:en",
    eval_split: float = 0.2,
    n_iter: int = 10,
    seed: int = 0,
) -> TrainResult:
    """Train a text classifier from `dataset`, save the pipeline to `output_dir`."""
    nlp, result = fit_textcat(
        read_answers(dataset), base, eval_split=eval_split, n_iter=n_iter, seed=seed,
        what=f"Dataset '{dataset}'",
    )  # fmt: skip
    return _save(nlp, result, output_dir)


def fit_textcat(
    answers: Iterable[Answer],
    base: str = "blank:en",
    *,
    eval_split: float = 0.2,
    n_iter: int = 10,
    seed: int = 0,
    what: str = "The answers",
) -> tuple[Language, TrainResult]:
    """What `train_textcat` does, on answers in memory and without saving: the pipeline and
    its result (whose `output_dir` is set when saved). `what` names the answers in errors."""
    from spacy.training import Example

    from .models import load_pipeline

    annotations = textcat_annotations(answers)
    if not annotations:
        raise RecipeRunnerError(f"{what}: no accept/reject text labels to learn.")
    labels = sorted({label for cats in annotations.values() for label in cats})
    nlp = load_pipeline(base)
    found = [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in TEXTCAT_FACTORIES]
    name = found[0] if found else "textcat_multilabel"
    examples = [
        Example.from_dict(nlp.make_doc(text), {"cats": cats}) for text, cats in annotations.items()
    ]
    train, dev = _split(examples, eval_split, seed)
    if not found:
        pipe: Any = nlp.add_pipe("textcat_multilabel", config={"model": textcat_config(nlp)})
        for label in labels:
            pipe.add_label(label)
    losses = _fit(nlp, name, train, bool(found), n_iter, seed, learn_rate=0.01)
    scores = _cat_scores(nlp, name, dev) if dev else {}
    return nlp, TrainResult(name, Path(), len(train), len(dev), labels, scores, losses)


def train_ner(
    dataset: str,
    output_dir: str | Path,
    base: str = "blank:en",
    eval_split: float = 0.2,
    n_iter: int = 10,
    seed: int = 0,
    spancat: bool = False,
) -> TrainResult:
    """Train an entity recognizer from `dataset`, save the pipeline to `output_dir`. With
    `spancat`, also a span categorizer on the same spans, which `ner.teach` scores with."""
    from spacy.training import Example

    from .models import load_pipeline

    annotations = ner_annotations(read_answers(dataset))
    if not annotations:
        raise RecipeRunnerError(f"Dataset '{dataset}' has no accept/reject spans to learn.")
    labels = sorted({s[2] for info in annotations.values() for s in info["accept"]})
    if not labels:
        raise RecipeRunnerError(f"Dataset '{dataset}' has no accepted spans: nothing to learn.")
    nlp = load_pipeline(base)
    exists = "ner" in nlp.pipe_names
    examples = []
    for text, info in annotations.items():
        doc = ner_doc(nlp, text, info)
        examples.append(Example(nlp.make_doc(text), doc))
    train, dev = _split(examples, eval_split, seed)
    if not exists:
        pipe: Any = nlp.add_pipe("ner")
        for label in labels:
            pipe.add_label(label)
    losses = _fit(nlp, "ner", train, exists, n_iter, seed, learn_rate=0.001)
    keys = ["ents_p", "ents_r", "ents_f"]
    if spancat:
        _add_spancat(nlp, labels, examples)
        _fit(nlp, "spancat", train, False, n_iter, seed, learn_rate=0.001)
        keys += ["spans_sc_p", "spans_sc_r", "spans_sc_f"]
    scores: dict[str, float] = {}
    if dev:
        found = nlp.evaluate(dev)
        scores = {k: float(found.get(k) or 0.0) for k in keys}
    return _save(
        nlp, TrainResult("ner", Path(), len(train), len(dev), labels, scores, losses), output_dir
    )


def _add_spancat(nlp: Language, labels: list[str], examples: list[Example]) -> None:
    """A span categorizer over spans of 1 to 3 tokens (as ner.teach adds one), taught the
    entities of each example as its spans; spans a binary answer did not cover count as
    wrong for it, unlike for the entity recognizer."""
    if "spancat" in nlp.pipe_names:
        raise RecipeRunnerError("The base pipeline already has a 'spancat'; leave out --spancat.")
    pipe: Any = nlp.add_pipe(
        "spancat",
        config={
            "spans_key": "sc",
            "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": [1, 2, 3]},
        },
    )
    for label in labels:
        pipe.add_label(label)
    for eg in examples:
        eg.reference.spans["sc"] = list(eg.reference.ents)


def _fit(
    nlp: Language,
    name: str,
    train: list[Example],
    exists: bool,
    n_iter: int,
    seed: int,
    learn_rate: float,
) -> list[float]:
    """Epochs of minibatch updates of the one component `name`; the loss of each epoch."""
    from spacy.util import fix_random_seed, minibatch

    fix_random_seed(seed)
    pipe: Any = nlp.get_pipe(name)
    if exists:
        optimizer = nlp.resume_training()
    else:
        pipe.initialize(lambda: train, nlp=nlp)
        optimizer = nlp.create_optimizer()
    optimizer.learn_rate = learn_rate
    others = [n for n in nlp.pipe_names if n != name]
    rng = random.Random(seed)
    losses_per_epoch = []
    for _ in range(max(1, n_iter)):
        rng.shuffle(train)
        losses: dict[str, float] = {}
        for batch in minibatch(train, size=32):
            nlp.update(batch, sgd=optimizer, losses=losses, drop=0.1, exclude=others)
        losses_per_epoch.append(float(losses.get(name, 0.0)))
    return losses_per_epoch


def _cat_scores(nlp: Language, name: str, dev: list[Example]) -> dict[str, float]:
    """Per-label F-score and accuracy over the labels each held-out answer actually knows."""
    texts = [eg.reference.text for eg in dev]
    preds = [doc.cats for doc in nlp.pipe(texts, disable=[n for n in nlp.pipe_names if n != name])]
    counts: dict[str, list[int]] = {}
    right = known = 0
    for eg, pred in zip(dev, preds, strict=True):
        for label, gold in eg.reference.cats.items():
            guess = pred.get(label, 0.0) >= 0.5
            truth = gold >= 0.5
            tp_fp_fn = counts.setdefault(label, [0, 0, 0])
            tp_fp_fn[0] += guess and truth
            tp_fp_fn[1] += guess and not truth
            tp_fp_fn[2] += truth and not guess
            right += guess == truth
            known += 1
    scores = {"accuracy": right / known if known else 0.0}
    fscores = []
    for label, (tp, fp, fn) in sorted(counts.items()):
        f = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
        scores[f"f_{label}"] = f
        fscores.append(f)
    scores["macro_f"] = sum(fscores) / len(fscores) if fscores else 0.0
    return scores


def _save(nlp: Language, result: TrainResult, output_dir: str | Path) -> TrainResult:
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        nlp.to_disk(out)
    except OSError as err:
        raise RecipeRunnerError(f"Can't save the pipeline to '{out}': {err.strerror}.") from None
    result.output_dir = out
    return result


def data_to_spacy(
    output_dir: str | Path,
    textcat: str | None = None,
    ner: str | None = None,
    lang: str = "en",
    eval_split: float = 0.2,
    seed: int = 0,
) -> dict[str, Path]:
    """Write train.spacy, dev.spacy (DocBin) and a config.cfg for `spacy train` from datasets."""
    import spacy
    from spacy.cli.init_config import init_config
    from spacy.tokens import DocBin

    if not textcat and not ner:
        raise RecipeRunnerError(
            "Name at least one dataset: --textcat DATASET and/or --ner DATASET."
        )
    nlp = spacy.blank(lang)
    docs: list[Doc] = []
    pipeline = []
    if textcat:
        pipeline.append("textcat_multilabel")
        for text, cats in textcat_annotations(read_answers(textcat)).items():
            doc = nlp.make_doc(text)
            doc.cats = cats
            docs.append(doc)
    if ner:
        pipeline.append("ner")
        docs.extend(ner_doc(nlp, t, i) for t, i in ner_annotations(read_answers(ner)).items())
    train, dev = _split(docs, eval_split, seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"train": out / "train.spacy", "dev": out / "dev.spacy", "config": out / "config.cfg"}
    DocBin(docs=train, store_user_data=True).to_disk(paths["train"])
    DocBin(docs=dev, store_user_data=True).to_disk(paths["dev"])
    config = init_config(lang=lang, pipeline=pipeline, optimize="efficiency", silent=True)
    config["paths"]["train"] = str(paths["train"])
    config["paths"]["dev"] = str(paths["dev"])
    config.to_disk(paths["config"])
    return paths
