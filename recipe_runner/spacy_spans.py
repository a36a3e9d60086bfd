"""Entity models for the ner recipes: a span categorizer that scores one span at a time for
ner.teach, and the entity recognizer that ner.correct pre-annotates with."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from recipe_runner.errors import RecipeRunnerError
from recipe_runner.models import tokens_of

from .spacy_model import SHARED, STEPS, Learner, _but, _unit, learnable

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc
    from spacy.training import Example

Task = dict[str, Any]
SPANCAT = "spancat"
SIZES = [1, 2, 3]  # span lengths (tokens) the categorizer considers
BEAM_WIDTH = 8  # parses kept by the beam search that scores ner.correct's entities


class SpanModel:
    """A span categorizer: every candidate span gets an independent probability per label, which
    is exactly the score a binary "is this span a LABEL?" question needs."""

    def __init__(self, nlp: Language, labels: list[str], seed: int = 0) -> None:
        self.nlp = nlp
        self.labels = labels
        if SPANCAT in nlp.pipe_names:
            missing = [lab for lab in labels if lab not in self.pipe.labels]
            if missing:
                raise RecipeRunnerError(
                    f"The pipeline's '{SPANCAT}' doesn't know the labels {missing}; it has "
                    f"{list(self.pipe.labels)}. Use those, or start from blank:en."
                )
        else:
            pipe = nlp.add_pipe(
                SPANCAT,
                config={
                    "spans_key": "sc",
                    "suggester": {"@misc": "spacy.ngram_suggester.v1", "sizes": SIZES},
                },
            )
            for label in labels:
                pipe.add_label(label)
            pipe.initialize(lambda: [self._dummy()], nlp=nlp)
        self.label_index = {lab: i for i, lab in enumerate(self.pipe.labels)}
        # A CNN over tokens: smaller steps and a smaller replay than the bag-of-words textcat.
        self.learner = Learner(nlp, seed, learn_rate=0.002, replay=10)

    @property
    def pipe(self) -> Any:
        return self.nlp.get_pipe(SPANCAT)

    def _dummy(self) -> Example:
        from spacy.training import Example

        doc = self.nlp.make_doc("an example")
        return Example.from_dict(doc, {"spans": {"sc": [(0, 2, self.labels[0])]}})

    def tokenize(self, texts: list[str]) -> list[Doc]:
        idle = [name for name in self.nlp.pipe_names if name not in SHARED]
        return list(self.nlp.pipe(texts, batch_size=64, disable=idle))

    def suggest(
        self, docs: list[Doc], per_text: int
    ) -> Iterator[list[tuple[int, int, str, float]]]:
        """For each doc, its `per_text` best (token start, token end, label, score) candidates."""
        if not docs:
            return
        indices = self.pipe.suggester(docs, ops=self.pipe.model.ops)
        scores = self.pipe.model.ops.to_numpy(self.pipe.model.predict((docs, indices)))
        data = self.pipe.model.ops.to_numpy(indices.dataXd)
        offset = 0
        wanted = [self.label_index[lab] for lab in self.labels]
        for doc, length in zip(docs, self.pipe.model.ops.to_numpy(indices.lengths), strict=True):
            found = []
            for row in range(offset, offset + int(length)):
                start, end = int(data[row, 0]), int(data[row, 1])
                if all(t.is_punct or t.is_space for t in doc[start:end]):
                    continue
                for k in wanted:
                    found.append((start, end, self.pipe.labels[k], float(scores[row, k])))
            found.sort(key=lambda c: -c[3])
            yield found[:per_text]
            offset += int(length)

    def _forward(self, items: list[tuple[Doc, int, int, str]], train: bool) -> Any:
        """Scores of exactly the given (doc, start, end, label) spans, and the backprop."""
        from thinc.types import Ragged

        ops = self.pipe.model.ops
        docs: list[Doc] = []
        rows: list[list[int]] = []
        lengths: list[int] = []
        for doc, start, end, _ in items:
            if not docs or docs[-1] is not doc:
                docs.append(doc)
                lengths.append(0)
            rows.append([start, end])
            lengths[-1] += 1
        indices = Ragged(ops.asarray2i(rows), ops.asarray1i(lengths))
        if train:
            return self.pipe.model.begin_update((docs, indices))
        return self.pipe.model.predict((docs, indices)), None

    def score_tasks(self, tasks: list[Task]) -> list[float]:
        """The current score of each task's one span."""
        items = self._items(tasks)
        if not items:
            return [0.5] * len(tasks)
        scores, _ = self._forward([i for i, _ in items], train=False)
        scores = self.pipe.model.ops.to_numpy(scores)
        out = [0.5] * len(tasks)
        for row, ((_, _, _, label), pos) in enumerate(items):
            out[pos] = _unit(scores[row, self.label_index[label]])
        return out

    def _items(self, tasks: list[Task]) -> list[tuple[tuple[Doc, int, int, str], int]]:
        texts = [t.get("text", "") for t in tasks]
        unique = list(dict.fromkeys(texts))
        docs = dict(zip(unique, self.tokenize(unique), strict=True))
        items = []
        for pos, task in enumerate(tasks):
            spans = task.get("spans") or []
            if len(spans) != 1 or spans[0].get("label") not in self.label_index:
                continue
            doc = docs[task.get("text", "")]
            span = doc.char_span(spans[0]["start"], spans[0]["end"], alignment_mode="expand")
            if span is None or not len(span):
                continue
            items.append(((doc, span.start, span.end, spans[0]["label"]), pos))
        items.sort(key=lambda item: id(item[0][0]))  # the spans of one doc side by side
        return items

    def update(self, answers: list[Task]) -> float | None:
        """Learn from binary answers: accept = this span is this label, reject = it is not; every
        other span and label stays unknown (spaCy's own update would call them all wrong). The
        loss is the mean squared error on the batch before learning from it."""
        from thinc.api import set_dropout_rate

        learn = learnable(answers)
        items = self._items(learn)
        if not items:
            return None
        batch = [(item, 1.0 if learn[pos]["answer"] == "accept" else 0.0) for item, pos in items]
        set_dropout_rate(self.pipe.model, 0.1)
        loss = self._step(batch)
        self._step(batch + self.learner.replay())
        self.learner.memory.extend(batch)
        return loss

    def _step(self, batch: list[tuple[tuple[Doc, int, int, str], float]]) -> float:
        batch = sorted(batch, key=lambda b: id(b[0][0]))
        scores, backprop = self._forward([item for item, _ in batch], train=True)
        ops = self.pipe.model.ops
        d_scores = ops.alloc2f(*scores.shape)
        for row, ((_, _, _, label), target) in enumerate(batch):
            k = self.label_index[label]
            d_scores[row, k] = scores[row, k] - target
        backprop(d_scores)
        self.pipe.finish_update(self.learner.optimizer)
        return float((d_scores**2).sum()) / len(batch)


class EntityModel:
    """spaCy's entity recognizer: pre-annotates whole texts; learns from corrected texts."""

    def __init__(self, nlp: Language, labels: list[str] | None, add: bool, seed: int = 0) -> None:
        self.nlp = nlp
        self.labels = labels
        if "ner" not in nlp.pipe_names:
            if not add or not labels:
                raise RecipeRunnerError(
                    "ner.correct needs a pipeline with an entity recognizer ('ner'): train one "
                    "with 'rr train ner', or pass --update and --label to start from a blank one."
                )
            from spacy.training import Example

            pipe = nlp.add_pipe("ner")
            for label in labels:
                pipe.add_label(label)
            doc = nlp.make_doc("an example")
            pipe.initialize(lambda: [Example.from_dict(doc, {"entities": ["O", "O"]})], nlp=nlp)
        self.learner = Learner(nlp, seed, learn_rate=0.002, replay=10)

    def annotate(
        self, task: Task, doc: Doc, probs: dict[tuple[int, int, str], float] | None = None
    ) -> Task:
        """The task with the doc's tokens and entities; with `probs` (from `span_probs`), each
        span's `score` and the task's: its least sure span, or for a text without entities,
        how sure the model is that it has none."""
        ents = [e for e in doc.ents if not self.labels or e.label_ in self.labels]
        spans: list[dict[str, Any]] = [
            {
                "start": e.start_char,
                "end": e.end_char,
                "token_start": e.start,
                "token_end": e.end - 1,
                "label": e.label_,
            }
            for e in ents
        ]
        out = {**task, "tokens": tokens_of(doc), "spans": spans}
        if probs is not None:
            for span, ent in zip(spans, ents, strict=True):
                span["score"] = _unit(probs.get((ent.start, ent.end, ent.label_), 0.0))
            if spans:
                score = min(span["score"] for span in spans)
            else:
                wanted = [p for (_, _, lab), p in probs.items() if lab in (self.labels or [lab])]
                score = 1.0 - _unit(max(wanted, default=0.0))
            meta = dict(task.get("meta") or {})
            meta["score"] = round(score, 3)
            out.update({"score": score, "meta": meta})
        return out

    def span_probs(self, texts: list[str]) -> list[dict[tuple[int, int, str], float]]:
        """For each text, the probability of each (token start, token end, label) entity, from
        a beam search with the same entity recognizer (spaCy's greedy search gives none)."""
        ner: Any = self.nlp.get_pipe("ner")
        docs = [self.nlp.make_doc(text) for text in texts]
        beams = ner.beam_parse(docs, beam_width=BEAM_WIDTH)
        return [dict(found) for found in ner.scored_ents(beams)]

    def update(self, answers: list[Task]) -> float | None:
        """Learn from accepted (corrected) texts; a rejected text says nothing about its spans."""
        from spacy.training import Example

        examples = []
        for answer in learnable(answers):
            if answer["answer"] != "accept":
                continue
            doc = self.nlp.make_doc(answer["text"])
            ents = []
            for span in answer.get("spans") or []:
                found = doc.char_span(span["start"], span["end"], alignment_mode="expand")
                if found is not None and len(found):
                    ents.append((found.start_char, found.end_char, span["label"]))
            examples.append(Example.from_dict(doc, {"entities": _no_overlap(ents)}))
        if not examples:
            return None
        losses: dict[str, float] = {}
        exclude = _but(self.nlp, "ner")
        sgd = self.learner.optimizer
        self.nlp.update(examples, sgd=sgd, losses=losses, drop=0.1, exclude=exclude)
        for _ in range(STEPS - 1):
            self.nlp.update(examples + self.learner.replay(), sgd=sgd, drop=0.1, exclude=exclude)
        self.learner.memory.extend(examples)
        return float(losses.get("ner", 0.0)) / len(examples)


def _no_overlap(ents: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for ent in sorted(set(ents)):
        if not out or ent[0] >= out[-1][1]:
            out.append(ent)
    return out
