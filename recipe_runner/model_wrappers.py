"""The models recipe authors put in the loop: `model(stream)` yields `(score, task)` pairs and
`model.update(answers)` learns and returns a loss. Wrappers over a spaCy pipeline, and
`combine_models` to ask two models at once."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RecipeRunnerError
from .hashing import INPUT_HASH, TASK_HASH, set_hashes
from .models import tokens_of
from .spacy_model import SCORE_BATCH, TextcatModel, _but, _unit, batches, learnable
from .spacy_spans import EntityModel

if TYPE_CHECKING:
    from spacy.language import Language

Task = dict[str, Any]
Scored = tuple[float, Task]
MIN_SCORE = 0.01  # entity candidates less likely than this are not worth a question


class Model(Protocol):
    """What `combine_models` and the sorters expect of a model."""

    def __call__(self, stream: Iterable[Task]) -> Iterator[Scored]: ...

    def update(self, answers: list[Task]) -> float | None: ...


def _question(task: Task, score: float, **keys: Any) -> Task:
    """A copy of `task` asking about one suggestion: its keys, its score (also in `meta`), and
    no hashes (the controller sets them for the new question)."""
    out = {k: copy.deepcopy(v) for k, v in task.items() if k not in (INPUT_HASH, TASK_HASH)}
    out.update(keys)
    out["score"] = score
    out["meta"] = {**(task.get("meta") or {}), "score": round(score, 3)}
    return out


class TextClassifier(TextcatModel):
    """A spaCy text classifier in the loop: one question per text and label, scored by the
    classifier, and learning from accept / reject answers (and `choice` answers).

    The pipeline's `textcat` or `textcat_multilabel` is used (`pipe_name` picks one); without
    one, a `textcat_multilabel` is added and knows nothing yet: a bag of words, plus the pipeline's
    word vectors when it has them (`textcat_vectors`)."""

    def __init__(
        self,
        nlp: Language,
        labels: list[str],
        pipe_name: str | None = None,
        seed: int = 0,
    ) -> None:
        if not labels:
            raise RecipeRunnerError("TextClassifier needs labels, e.g. ['SPAM'].")
        super().__init__(nlp, list(labels), seed=seed)
        if pipe_name is not None and pipe_name != self.name:
            if pipe_name not in nlp.pipe_names:
                raise RecipeRunnerError(
                    f"TextClassifier: the pipeline has no component '{pipe_name}'; it has "
                    f"{', '.join(nlp.pipe_names) or 'none'}."
                )
            self.name = pipe_name
            self.exclusive = nlp.get_pipe_meta(pipe_name).factory == "textcat"

    def __call__(self, stream: Iterable[Task]) -> Iterator[Scored]:
        """For every task, `(score, question)` per label: the question is the task with that
        `label`; the score is the classifier's probability of it."""
        for group in batches(stream, SCORE_BATCH):
            texts = [task.get("text", "") for task in group]
            for task, scores in zip(group, self.predict(texts), strict=True):
                for label in self.labels:
                    score = scores[label]
                    yield score, _question(task, score, label=label)


class EntityRecognizer(EntityModel):
    """A spaCy entity recognizer in the loop: one question per candidate entity, scored by its
    probability in a beam search, learning from binary answers (accepted spans) and from
    corrected texts; `make_best` merges binary answers into whole analyses to correct.

    The pipeline's `ner` is used; a pipeline without one gets a new, untrained `ner` for
    `label` (unless `add=False`)."""

    def __init__(
        self, nlp: Language, label: list[str] | None = None, add: bool = True, seed: int = 0
    ) -> None:
        if "ner" not in nlp.pipe_names and not (add and label):
            raise RecipeRunnerError(
                "EntityRecognizer: the pipeline has no entity recognizer ('ner'): train one "
                "with 'rr train ner', or give labels to start a new one."
            )
        super().__init__(nlp, list(label) if label else None, add=add, seed=seed)

    @property
    def other_pipes(self) -> list[str]:
        """The pipeline's components the entity recognizer does not need (to disable)."""
        return _but(self.nlp, "ner")

    def __call__(self, stream: Iterable[Task]) -> Iterator[Scored]:
        """For every task, `(score, question)` per candidate entity of the wanted labels: the
        question is the task with `tokens` and that one span."""
        for group in batches(stream, SCORE_BATCH):
            texts = [task.get("text", "") for task in group]
            docs = [self.nlp.make_doc(text) for text in texts]
            for task, doc, probs in zip(group, docs, self.span_probs(texts), strict=True):
                tokens = tokens_of(doc)
                ranked = sorted(probs.items(), key=lambda item: -item[1])
                for (start, end, label), prob in ranked:
                    if (self.labels and label not in self.labels) or prob < MIN_SCORE:
                        continue
                    score = _unit(prob)
                    span = _span(doc, start, end, label)
                    yield score, _question(task, score, tokens=tokens, spans=[span])

    def update(self, answers: list[Task]) -> float | None:
        """Learn from accepted spans of binary answers (the rest of the text unknown) and
        from accepted corrected texts (every entity marked); the loss before learning."""
        binary = [a for a in answers if a.get("_view_id") == "ner"]
        manual = [a for a in answers if a.get("_view_id") != "ner"]
        losses = [self._update_binary(binary), super().update(manual)]
        found = [loss for loss in losses if loss is not None]
        return sum(found) if found else None

    def _update_binary(self, answers: list[Task]) -> float | None:
        from spacy.training import Example
        from spacy.training.iob_utils import offsets_to_biluo_tags

        examples = []
        for answer in learnable(answers):
            if answer["answer"] != "accept":
                continue  # a rejected span says what is not an entity: spaCy can't learn that
            doc = self.nlp.make_doc(answer["text"])
            ents = [(s["start"], s["end"], s["label"]) for s in answer.get("spans") or []]
            tags = offsets_to_biluo_tags(doc, ents)
            if not ents or "-" in tags:
                continue  # a span off the token boundaries
            tags = ["-" if tag == "O" else tag for tag in tags]  # the rest of the text: unknown
            examples.append(Example.from_dict(doc, {"entities": tags}))
        if not examples:
            return None
        losses: dict[str, float] = {}
        self.nlp.update(
            examples,
            sgd=self.learner.optimizer,
            losses=losses,
            drop=0.1,
            exclude=_but(self.nlp, "ner"),
        )
        return float(losses.get("ner", 0.0)) / len(examples)

    def make_best(self, answers: Iterable[Task]) -> Iterator[Task]:
        """One task per text of `answers` (binary accept / reject answers about spans) with the
        best analysis they allow: every accepted span, plus the model's most probable entities
        that overlap none of them and were not rejected. For `ner_manual`, to be corrected."""
        texts: dict[int, Task] = {}
        accepted: dict[int, set[tuple[int, int, str]]] = {}
        rejected: dict[int, set[tuple[int, int, str]]] = {}
        for answer in answers:
            if not answer.get("text"):
                continue
            key = answer.get(INPUT_HASH)
            if not isinstance(key, int):
                key = set_hashes(dict(answer))[INPUT_HASH]
            texts.setdefault(key, answer)
            spans = {(s["start"], s["end"], s["label"]) for s in answer.get("spans") or []}
            if answer.get("answer") == "accept":
                accepted.setdefault(key, set()).update(spans)
            elif answer.get("answer") == "reject":
                rejected.setdefault(key, set()).update(spans)
        keys = list(texts)
        for group in batches(keys, SCORE_BATCH):
            group_texts = [texts[k]["text"] for k in group]
            for key, text, probs in zip(
                group, group_texts, self.span_probs(group_texts), strict=True
            ):
                doc = self.nlp.make_doc(text)
                chosen = sorted(accepted.get(key, set()))
                taken = [(s, e) for s, e, _ in chosen]
                for (start, end, label), prob in sorted(probs.items(), key=lambda i: -i[1]):
                    if prob < 0.5 or (self.labels and label not in self.labels):
                        continue
                    span = doc[start:end]
                    item = (span.start_char, span.end_char, label)
                    if item in rejected.get(key, set()):
                        continue
                    if any(item[0] < e and s < item[1] for s, e in taken):
                        continue
                    chosen.append(item)
                    taken.append((item[0], item[1]))
                found = []
                for start_char, end_char, label in sorted(chosen):
                    snapped = doc.char_span(start_char, end_char, alignment_mode="expand")
                    if snapped is not None and len(snapped):
                        found.append(_span(doc, snapped.start, snapped.end, label))
                task = {"text": text, "tokens": tokens_of(doc), "spans": found}
                if texts[key].get("meta"):
                    task["meta"] = dict(texts[key]["meta"])
                yield set_hashes(task)


def _span(doc: Any, start: int, end: int, label: str) -> dict[str, Any]:
    span = doc[start:end]
    return {
        "start": span.start_char,
        "end": span.end_char,
        "token_start": start,
        "token_end": end - 1,
        "label": label,
    }


def combine_models(
    one: Model, two: Model, batch_size: int = SCORE_BATCH
) -> tuple[Callable[[Iterable[Task]], Iterator[Scored]], Callable[[list[Task]], float | None]]:
    """Ask two models at once: `predict(stream)` reads the stream in batches and interleaves
    the `(score, task)` pairs both models yield for each batch; `update(answers)` updates
    both and returns the sum of their losses (None when neither returned one)."""

    def predict(stream: Iterable[Task]) -> Iterator[Scored]:
        for group in batches(stream, batch_size):
            first = list(one(copy.deepcopy(group)))
            second = list(two(copy.deepcopy(group)))
            for a, b in zip_longest(first, second):
                if a is not None:
                    yield a
                if b is not None:
                    yield b

    def update(answers: list[Task]) -> float | None:
        losses = [loss for loss in (one.update(answers), two.update(answers)) if loss is not None]
        return float(sum(losses)) if losses else None

    return predict, update
