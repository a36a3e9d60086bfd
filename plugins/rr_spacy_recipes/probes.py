"""Probes: the loss a teach recipe's `update` returns, on questions its model did not choose.

Progress comes from that loss. The loss of questions the model chose as its most uncertain stays
near its first level for as long as uncertain questions are left (each is a near coin-flip),
whatever the model has learned. The loss on questions it did not choose (probes: a new model's
warm-up, then 1 question in PROBE_EVERY drawn at random from those read) is an unbiased estimate
of its loss on new questions, measured before it learns from them (they are learned from like
the others).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

Task = dict[str, Any]
Scored = tuple[float, Task]

PROBE_EVERY = 10
PROBE_WINDOW = 10  # probe answers the returned loss averages (the most recent)
PROBE_RESERVE = 200  # questions set aside for probes at most (an endless stream stays bounded)


class Probes:
    """Marks probes as they are served; `update` learns from a batch and returns the mean squared
    error of the model's scores on the latest PROBE_WINDOW probe answers, each scored before it
    was learned from."""

    def __init__(
        self,
        model: Any,
        score: Callable[[list[Task]], Sequence[float | None]],
        every_answer: bool = False,
    ) -> None:
        self.model = model  # has .nlp and .update(answers)
        self.nlp = model.nlp
        self.score = score  # the model's score of each answer's question; None: it has none
        self.every_answer = every_answer  # questions in source order: every one is a probe
        self._keys: set[tuple[Any, ...]] = set()
        self.recent: deque[float] = deque(maxlen=PROBE_WINDOW)
        self.last: list[float] = []  # the squared errors of the last batch's probes

    def mark(self, task: Task) -> Task:
        self._keys.add(probe_key(task))
        return task

    def is_probe(self, task: Task) -> bool:
        return self.every_answer or probe_key(task) in self._keys

    def update(self, answers: list[Task]) -> float | None:
        """Learn from the batch (the model's own update: accept / reject only); the loss on
        probes, or None when the batch holds no probe answer the model can score."""
        found = [a for a in answers if a.get("answer") in ("accept", "reject") and self.is_probe(a)]
        scores = self.score(found) if found else []
        self.last = [
            (score - float(a["answer"] == "accept")) ** 2
            for a, score in zip(found, scores, strict=True)
            if score is not None
        ]
        self.recent.extend(self.last)
        for answer in answers:
            self._keys.discard(probe_key(answer))
        self.model.update(answers)
        if not self.last:
            return None  # no new probe: nothing new to say about the loss on unseen questions
        return sum(self.recent) / len(self.recent)

    def interleave(
        self,
        scored: Iterator[Scored],
        choose: Callable[[Iterator[Scored]], Iterator[Task]],
        rescore: Callable[[list[Task]], list[Scored]],
        seed: int,
        warmup: int = 0,
    ) -> Iterator[Task]:
        """The questions `choose` picks from `scored`, with probes between them: the first
        `warmup` questions read (which `choose` is expected to serve in order) are probes, then
        1 in PROBE_EVERY of those read is set aside and served at random, one after every
        PROBE_EVERY - 1 chosen, the rest once the chosen run out."""
        reserve: list[Task] = []
        rng = random.Random(seed)

        def read() -> Iterator[Scored]:
            for index, (score, task) in enumerate(scored):
                if index < warmup:
                    self.mark(task)
                elif len(reserve) < PROBE_RESERVE and rng.random() < 1 / PROBE_EVERY:
                    reserve.append(task)
                    continue
                yield score, task

        def probe() -> Task:
            task = reserve.pop(rng.randrange(len(reserve)))
            rescore([task])  # its score as the model stands now
            return self.mark(task)

        for served, task in enumerate(choose(read()), start=1):
            yield task
            if served > warmup and (served - warmup) % (PROBE_EVERY - 1) == 0 and reserve:
                yield probe()
        while reserve:
            yield probe()


def probe_key(task: Task) -> tuple[Any, ...]:
    """A question's identity that survives the round trip through a page: its text and label,
    and the span it asks about, if any."""
    spans = task.get("spans") or []
    span = (spans[0].get("start"), spans[0].get("end"), spans[0].get("label")) if spans else None
    return (str(task.get("text", "")), str(task.get("label", "")), span)
