"""The sorters: which tasks come first, and that a finite stream is served to its end."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from recipe_runner.sorters import (
    POOL,
    READ_AHEAD,
    prefer_high_scores,
    prefer_low_scores,
    prefer_uncertain,
    uncertainty,
)


def pairs(scores: list[float]) -> list[tuple[float, dict[str, Any]]]:
    return [(s, {"text": f"t{i}", "score": s}) for i, s in enumerate(scores)]


def scores_of(tasks: Any) -> list[float]:
    return [t["score"] for t in tasks]


def test_uncertainty_peaks_at_one_half() -> None:
    assert uncertainty(0.5) == 1.0
    assert uncertainty(0.0) == 0.0 and uncertainty(1.0) == 0.0
    assert uncertainty(0.25) == pytest.approx(0.5)
    assert uncertainty(1.7) == 0.0  # out-of-range scores are clipped, not trusted


@pytest.mark.parametrize("algorithm", ["ema", "probability"])
def test_every_task_of_a_finite_stream_is_served_once(algorithm: str) -> None:
    rng = random.Random(1)
    scores = [rng.random() for _ in range(500)]
    out = list(prefer_uncertain(pairs(scores), algorithm, seed=3))
    assert sorted(t["text"] for t in out) == sorted(f"t{i}" for i in range(500))


def test_ema_serves_uncertain_tasks_before_confident_ones() -> None:
    rng = random.Random(2)
    scores = [rng.random() for _ in range(400)]
    out = scores_of(prefer_uncertain(pairs(scores)))
    first, last = out[:100], out[-100:]
    mean_u = lambda xs: sum(uncertainty(x) for x in xs) / len(xs)  # noqa: E731
    assert mean_u(first) > mean_u(last) + 0.3
    # the held-back tail comes most uncertain first
    tail = [uncertainty(s) for s in out[-50:]]
    assert tail == sorted(tail, reverse=True)


def test_probability_algorithm_is_repeatable_with_a_seed_and_prefers_uncertain() -> None:
    scores = [0.5, 0.02, 0.98] * 200
    a = scores_of(prefer_uncertain(pairs(scores), "probability", seed=7))
    b = scores_of(prefer_uncertain(pairs(scores), "probability", seed=7))
    assert a == b
    # all 200 uncertain tasks are served at once, certain ones only with probability 0.04
    assert a[:200].count(0.5) > 170


def test_high_and_low_scores() -> None:
    scores = [0.1, 0.9, 0.5, 0.95, 0.05, 0.7, 0.3]
    high = scores_of(prefer_high_scores(pairs(scores)))
    low = scores_of(prefer_low_scores(pairs(scores)))
    assert sorted(high) == sorted(scores) == sorted(low)
    # the held-back tasks come out best first: the last task is the worst for each sorter
    assert high[-1] == 0.05 and low[-1] == 0.95


def test_hold_bounds_memory_by_dropping_the_least_interesting() -> None:
    scores = [0.5] * 5 + [0.99] * 50  # ema: after the 0.5s, confident tasks are held back
    out = scores_of(prefer_uncertain(pairs(scores), hold=5))
    assert out.count(0.5) == 5
    assert 10 <= len(out) < 40


def test_rescore_uses_the_updated_model_for_held_back_tasks() -> None:
    model = {"calls": 0}

    def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
        model["calls"] += 1
        # the "updated model" is now unsure about even-numbered tasks only
        return [(0.5 if int(t["text"][1:]) % 2 == 0 else 0.99, t) for t in tasks]

    scores = [0.5] + [0.99] * 40  # everything after the first is held back by ema
    out = list(prefer_uncertain(pairs(scores), rescore=rescore, drain_batch=10))
    assert len(out) == 41 and len({t["text"] for t in out}) == 41
    drained = [int(t["text"][1:]) for t in out[-40:]]
    assert all(n % 2 == 0 for n in drained[:20])  # the newly uncertain come first
    assert model["calls"] >= 2  # re-scored again between groups


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="ema"):
        prefer_uncertain(pairs([0.5]), "bogus")
    with pytest.raises(ValueError, match="score, task"):
        list(prefer_uncertain([{"text": "no score"}]))  # type: ignore[list-item]
    with pytest.raises(ValueError, match="warmup"):
        prefer_uncertain(pairs([0.5]), warmup=-1)
    with pytest.raises(ValueError, match="read_ahead"):
        prefer_uncertain(pairs([0.5]), "pool", read_ahead=0)


def test_pool_serves_the_most_uncertain_of_what_it_read_ahead() -> None:
    rng = random.Random(5)
    scores = [rng.random() for _ in range(1000)]
    calls = []

    def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
        calls.append(len(tasks))
        return [(t["score"], t) for t in tasks]

    out = scores_of(prefer_uncertain(pairs(scores), "pool", rescore=rescore, drain_batch=10))
    assert sorted(out) == sorted(scores)  # the whole finite stream, each task once
    first = [uncertainty(s) for s in out[:200]]
    assert sum(first) / len(first) > 0.85  # the best 10 of every 60 or more
    assert max(calls[:15]) <= POOL + READ_AHEAD * 10  # bounded until the drain
    with_ema = scores_of(prefer_uncertain(pairs(scores), "ema"))
    assert sum(first) > sum(uncertainty(s) for s in with_ema[:200])


def test_a_wider_read_ahead_chooses_from_more_tasks() -> None:
    rng = random.Random(6)
    scores = [rng.random() for _ in range(3000)]
    calls: list[int] = []

    def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
        calls.append(len(tasks))
        return [(t["score"], t) for t in tasks]

    narrow = scores_of(prefer_uncertain(pairs(scores), "pool", read_ahead=2))
    wide = scores_of(prefer_uncertain(pairs(scores), "pool", rescore=rescore, read_ahead=20))
    assert sorted(wide) == sorted(scores)
    assert calls[0] == 20 * 10 and max(calls[:10]) <= POOL + 20 * 10
    mean_u = lambda xs: sum(uncertainty(x) for x in xs) / len(xs)  # noqa: E731
    assert mean_u(wide[:100]) > mean_u(narrow[:100])


@pytest.mark.parametrize("algorithm", ["ema", "probability", "pool"])
def test_warmup_serves_the_first_tasks_as_they_come(algorithm: str) -> None:
    # mostly certain tasks first: a sorter that ranked them would hold them back
    scores = [0.5] + [0.99] * 29 + [0.5, 0.02] * 200
    out = list(prefer_uncertain(pairs(scores), algorithm, seed=1, warmup=30))
    assert [t["text"] for t in out[:30]] == [f"t{i}" for i in range(30)]
    assert sorted(t["text"] for t in out) == sorted(f"t{i}" for i in range(len(scores)))
    assert out[30]["score"] == 0.5  # then the sorting starts
    ranked = scores_of(prefer_uncertain(pairs(scores), algorithm, seed=1))
    assert ranked[:30].count(0.99) < 10


def test_the_drain_rescores_a_bounded_number_of_tasks_at_a_time() -> None:
    from recipe_runner.sorters import RESCORE_MAX

    calls: list[int] = []

    def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
        calls.append(len(tasks))
        return [(t["score"], t) for t in tasks]

    scores = [0.5] + [0.999] * (RESCORE_MAX * 2)  # ema holds back all but the first few
    out = list(prefer_uncertain(pairs(scores), rescore=rescore))
    assert len(out) == len(scores)
    assert calls and max(calls) == RESCORE_MAX


def test_every_group_of_the_drain_is_chosen_from_fresh_scores() -> None:
    # The model learns between groups: the drain must ask it again before each one.
    calls: list[int] = []

    def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
        calls.append(len(tasks))
        return [(t["score"], t) for t in tasks]

    scores = [0.5] + [0.999] * 120  # ema holds back all but the first few
    out = list(prefer_uncertain(pairs(scores), rescore=rescore, drain_batch=10))
    assert len(out) == len(scores)
    held = sum(calls[:1])
    assert len(calls) == -(-held // 10)  # one re-scoring per group of 10


def test_rescore_every_task_chooses_each_task_with_the_latest_scores() -> None:
    # A model that changes its mind after every task served: what it now finds most uncertain
    # must come next, which choosing a whole group at once would miss.
    def follows(every: int) -> int:
        served: list[int] = []

        def rescore(tasks: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
            wanted = (served[-1] + 7) % 100 if served else 0
            return [(0.5 if t["id"] == wanted else 0.99, t) for t in tasks]

        stream = [(0.9, {"id": i}) for i in range(100)]
        for task in prefer_uncertain(
            stream, "pool", rescore=rescore, rescore_every=every, drain_batch=10, read_ahead=2
        ):
            served.append(task["id"])
        assert sorted(served) == list(range(100))
        return sum(b == (a + 7) % 100 for a, b in itertools.pairwise(served))

    assert follows(1) >= 80  # nearly every task is the one the latest scores asked for
    assert follows(10) <= 20  # one choice per group of 10
    with pytest.raises(ValueError, match="rescore_every"):
        prefer_uncertain([], "pool", rescore_every=0)
