"""The spaCy side of the recipes: add or find components, score in batches, learn from answers."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from recipe_runner.errors import RecipeRunnerError
from recipe_runner.models import load_pipeline
from recipe_runner.textcat_vectors import textcat_config

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.training import Example

Task = dict[str, Any]
TEXTCAT_NAMES = ("textcat", "textcat_multilabel")
SHARED = ("tok2vec", "transformer")  # embedding components other components may listen to
SCORE_BATCH = 32  # texts scored per nlp.pipe call: small, so scores come from a recent model
# Online learning from batches of 10 needs bigger steps than Adam's default. A bag of words
# only moves the weights of the words a batch holds: on short texts, each word is met a few times,
# so early steps must be big for the scores to spread out at all; later, smaller steps keep
# long texts' many weights from chasing each batch. Rate = LEARN_RATE / sqrt(1 + n / DECAY_ANSWERS).
LEARN_RATE = 0.1
DECAY_ANSWERS = 200
REPLAY = 40  # earlier answers mixed into each update, so one batch does not pull the model around
STEPS = 3  # gradient steps per batch of answers
MEMORY = 5000  # earlier answers kept for replay


def batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def learnable(answers: list[Task]) -> list[Task]:
    """Only accept and reject teach a model: ignore means the annotator could not say."""
    return [a for a in answers if a.get("answer") in ("accept", "reject") and a.get("text")]


class Learner:
    """The optimizer and a bounded replay memory of earlier answers, shared by the models."""

    def __init__(
        self,
        nlp: Language,
        seed: int = 0,
        learn_rate: float = LEARN_RATE,
        replay: int = REPLAY,
        decay: int | None = None,
    ) -> None:
        self.nlp = nlp
        self.optimizer = nlp.create_optimizer()
        self.optimizer.learn_rate = self.learn_rate = learn_rate
        self.decay = decay  # answers over which the rate falls to 1/sqrt(2); None: constant
        self.seen = 0
        self.replay_size = replay
        self.memory: deque[Any] = deque(maxlen=MEMORY)
        self.rng = random.Random(seed)

    def step(self, answers: int) -> None:
        """Set the learning rate for the next update, after `answers` learned so far."""
        self.seen += answers
        if self.decay:
            self.optimizer.learn_rate = self.learn_rate / math.sqrt(1 + self.seen / self.decay)

    def replay(self) -> list[Any]:
        return self.rng.sample(list(self.memory), min(self.replay_size, len(self.memory)))


class TextcatModel:
    """A text classifier in a pipeline: scores per label, and updates from binary answers."""

    def __init__(self, nlp: Language, labels: list[str], seed: int = 0) -> None:
        self.nlp = nlp
        self.labels = labels
        found = [
            name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in TEXTCAT_NAMES
        ]
        self.new = not found  # a classifier added here, that has learned nothing yet
        if found:
            self.name = found[0]
            missing = [lab for lab in labels if lab not in self.pipe.labels]
            if missing:
                raise RecipeRunnerError(
                    f"The pipeline's '{self.name}' doesn't know the labels {missing}; it has "
                    f"{list(self.pipe.labels)}. Use those, or start from blank:en."
                )
        else:
            self.name = "textcat_multilabel"
            pipe = nlp.add_pipe("textcat_multilabel", config={"model": textcat_config(nlp)})
            for label in labels:
                pipe.add_label(label)
            pipe.initialize(lambda: self._dummy_examples(), nlp=nlp)
        self.exclusive = nlp.get_pipe_meta(self.name).factory == "textcat"
        self.learner = Learner(nlp, seed, decay=DECAY_ANSWERS)
        self.version = 0  # updates learned from so far
        self._cache: dict[str, dict[str, float]] = {}
        self._cache_version = 0

    @property
    def pipe(self) -> Any:
        return self.nlp.get_pipe(self.name)

    def _dummy_examples(self) -> list[Example]:
        from spacy.training import Example

        doc = self.nlp.make_doc("example")
        return [Example.from_dict(doc, {"cats": dict.fromkeys(self.labels, 0.0)})]

    def _others(self) -> list[str]:
        return _but(self.nlp, self.name)

    def predict(self, texts: list[str], batch_size: int = SCORE_BATCH) -> list[dict[str, float]]:
        """The label scores of each text, through nlp.pipe (other components left out)."""
        docs = self.nlp.pipe(texts, batch_size=batch_size, disable=self._others())
        return [{lab: _unit(doc.cats.get(lab, 0.0)) for lab in self.labels} for doc in docs]

    def examples(self, answers: list[Task]) -> list[Example]:
        """Binary answers (`label`) and choice answers (`accept` among `options`) as examples."""
        from spacy.training import Example

        out = []
        for answer in learnable(answers):
            cats: dict[str, float] = {}
            accepted = answer["answer"] == "accept"
            if "options" in answer:
                if not accepted:
                    continue  # a rejected choice task says the text is bad, not which label
                chosen = {str(a) for a in answer.get("accept") or []}
                options = [str(o.get("id")) for o in answer["options"]]
                cats = {lab: float(lab in chosen) for lab in options if lab in self.pipe.labels}
            elif answer.get("label") in self.pipe.labels:
                label = answer["label"]
                cats[label] = 1.0 if accepted else 0.0
                if self.exclusive:
                    others = [lab for lab in self.pipe.labels if lab != label]
                    if accepted:
                        cats.update(dict.fromkeys(others, 0.0))
                    elif len(others) == 1:
                        cats[others[0]] = 1.0
                    else:
                        continue  # an exclusive classifier can't learn "not A" alone
            if cats:
                out.append(Example.from_dict(self.nlp.make_doc(answer["text"]), {"cats": cats}))
        return out

    def update(self, answers: list[Task]) -> float | None:
        """Learn from the accept/reject answers of a batch; the loss on the batch before learning
        from it (None when the batch has nothing to learn from)."""
        examples = self.examples(answers)
        if not examples:
            return None
        self.version += 1
        return _train(self.nlp, self.name, examples, self.learner)

    def cached_predict(self, texts: list[str]) -> list[dict[str, float]]:
        """`predict`, with the scores of texts already scored since the last update kept: a
        sorter may then ask for fresh scores before every question at no cost until the model
        learns again."""
        if self._cache_version != self.version:
            self._cache.clear()
            self._cache_version = self.version
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.predict(missing, batch_size=256), strict=True))
        return [self._cache[t] for t in texts]


def _train(nlp: Language, name: str, examples: list[Example], learner: Learner) -> float:
    """One step on the new examples alone (its loss is measured before the step, so it says how
    wrong the model was on answers it had not seen), then steps with replayed answers."""
    losses: dict[str, float] = {}
    learner.step(len(examples))
    nlp.update(examples, sgd=learner.optimizer, losses=losses, drop=0.0, exclude=_but(nlp, name))
    loss = float(losses.get(name, 0.0))
    for _ in range(STEPS - 1):
        nlp.update(
            examples + learner.replay(),
            sgd=learner.optimizer,
            losses={},
            drop=0.0,
            exclude=_but(nlp, name),
        )
    learner.memory.extend(examples)
    return loss


def _but(nlp: Language, name: str) -> list[str]:
    """The components to leave out when only `name` should run or learn; a shared embedding
    layer stays in, since `name` may listen to it."""
    return [other for other in nlp.pipe_names if other != name and other not in SHARED]


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def open_pipeline(model: str) -> Language:
    """The pipeline named on the command line (`blank:LANG`, a package or a path)."""
    return load_pipeline(model)


def require_labels(recipe: str, label: list[str] | None) -> list[str]:
    if not label:
        raise RecipeRunnerError(f"{recipe} needs --label, e.g. --label SPAM or --label A,B.")
    return label
