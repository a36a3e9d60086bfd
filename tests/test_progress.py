"""Loss-based progress: synthetic loss curves whose answer is known."""

from __future__ import annotations

import itertools
import math
import random
import statistics
import time

import pytest

from recipe_runner.progress import (
    DONE,
    MIN_POINTS,
    NOT_YET,
    STRETCH,
    Forecast,
    RateMeter,
    estimate_from_losses,
    eta_seconds,
    fit_losses,
    forecast_from_losses,
)


def curve(func, upto: int, step: int = 10) -> list[tuple[int, float]]:  # type: ignore[no-untyped-def]
    return [(n, func(n)) for n in range(step, upto + 1, step)]


def test_unknown_before_enough_points() -> None:
    points = curve(lambda n: 1.0 / n, 10 * (MIN_POINTS - 1))
    assert estimate_from_losses(points) is None
    assert estimate_from_losses([]) is None


def test_linear_loss_reaching_zero_at_a_known_point() -> None:
    # loss = 1 - n/200 reaches zero after 200 answers, 190 after the first point; done once
    # that has held for STRETCH of it again
    line = lambda n: 1.0 - n / 200  # noqa: E731
    end = 10 + 190 * (1 + STRETCH)
    for n in (50, 100, 150):
        assert estimate_from_losses(curve(line, n)) == pytest.approx(n / end, abs=0.03)


def flattens(tau: float, first: float = 10) -> float:
    """Where a decay from `first` has made 1 - DONE of its drop, stretched by STRETCH."""
    return first + tau * math.log(1 / DONE) * (1 + STRETCH)


def test_exponential_decay_to_a_floor_flattens_at_a_known_point() -> None:
    # 95% of the drop from the first point (n=10) is behind at n = 10 + 60 ln 20 = 189.7,
    # and the curve must stay flat for STRETCH of that again
    decay = lambda n: 0.1 + 2.0 * math.exp(-n / 60)  # noqa: E731
    end = flattens(60)
    fit = fit_losses(curve(decay, 120))
    assert fit is not None and fit.tau == pytest.approx(60, rel=0.1)
    assert estimate_from_losses(curve(decay, 120)) == pytest.approx(120 / end, abs=0.04)
    assert estimate_from_losses(curve(decay, 250)) == pytest.approx(250 / end, abs=0.04)
    assert estimate_from_losses(curve(decay, 300)) == 1.0


@pytest.mark.parametrize(
    "func",
    [
        lambda n: 1.0 - n / 500,
        lambda n: 0.2 + math.exp(-n / 80),
        lambda n: 5.0 / math.sqrt(n),
        lambda n: 1.0 / (1 + n / 30),
    ],
    ids=["linear", "exponential", "inverse-sqrt", "hyperbolic"],
)
def test_monotone_on_decreasing_curves(func) -> None:  # type: ignore[no-untyped-def]
    points = curve(func, 480)
    values = [estimate_from_losses(points[:k]) for k in range(MIN_POINTS, len(points) + 1)]
    assert all(v is not None and 0.0 <= v <= 1.0 for v in values)
    for before, after in itertools.pairwise(values):
        assert after >= before - 1e-9  # type: ignore[operator]
    assert values[-1] > values[0]


def test_an_early_drop_alone_does_not_say_done() -> None:
    # the loss falls at once, then stays flat: done only once it has stayed flat a while
    points = [(10, 0.25), (20, 0.1), (30, 0.1), (40, 0.1), (50, 0.1), (60, 0.1)]
    value = estimate_from_losses(points)
    assert value is not None and value < 1.0
    more = points + [(n, 0.1) for n in range(70, 260, 10)]
    assert estimate_from_losses(more) == 1.0


def test_flat_loss_means_done_only_once_it_has_come_down() -> None:
    flat = [(n, 0.3) for n in range(10, 10 * (MIN_POINTS + 1), 10)]
    assert estimate_from_losses(flat) is None
    # A loss that stays at its early level (batches of near coin-flips, as the most uncertain
    # texts are) or rises is not a model that has learned what it can.
    for stuck in ([(n, 0.25) for n in range(10, 310, 10)], curve(lambda n: 0.1 + n / 1000, 200)):
        assert estimate_from_losses(stuck) is None
        assert forecast_from_losses(stuck) is None
    # Once it has come down well below its early level and stays there, done.
    down = curve(lambda n: 0.25 if n <= 100 else 0.05, 600)
    assert estimate_from_losses(down) == 1.0
    assert forecast_from_losses(down) == Forecast(0, 0, 0)


def test_progress_holds_below_done_while_the_loss_is_high() -> None:
    # Falling, but still near its early level: never more than NOT_YET.
    points = curve(lambda n: 0.25 - n / 10000, 300)
    value = estimate_from_losses(points)
    assert value is not None and value <= NOT_YET


def test_forecast_of_a_decay_counts_the_answers_to_its_end_with_a_range() -> None:
    true_left = flattens(100) - 200
    covered = 0
    widths = []
    for seed in range(20):
        rng = random.Random(seed)
        points = [
            (n, 0.05 + 0.5 * math.exp(-n / 100) + rng.gauss(0, 0.01)) for n in range(10, 201, 10)
        ]
        fit = fit_losses(points)
        forecast = forecast_from_losses(points)
        assert fit is not None and forecast is not None
        end = fit.end()
        assert end is not None
        assert forecast.remaining == round(max(end, fit.end_likely or 0.0) - 200)
        # The answers left and the percentage shown beside them tell the same story.
        progress = estimate_from_losses(points)
        assert progress is not None and abs(200 / progress - 200 - forecast.remaining) <= 1
        assert forecast.low <= forecast.remaining <= forecast.high
        covered += forecast.low <= true_left <= forecast.high
        widths.append(forecast.high - forecast.low)
    assert covered >= 13  # the range holds the truth about 4 times in 5 (16 of 20 here)
    # Without noise, hardly any range.
    clean = forecast_from_losses(curve(lambda n: 0.05 + 0.5 * math.exp(-n / 100), 200))
    assert clean is not None and clean.high - clean.low < min(widths)


def test_noisy_decreasing_curve_gives_a_sane_estimate() -> None:
    # One noisy curve's estimate moves by tens of percent from one draw of the noise to the
    # next, so a single draw can't be held tightly; the median over 20 draws can. Progress
    # divides by the latest end among the fits nearly as good as the best, so it errs low.
    end = flattens(100)
    values = []
    for seed in range(20):
        rng = random.Random(seed)
        points = curve(
            lambda n, rng=rng: max(0.0, 0.05 + 0.5 * math.exp(-n / 100) + rng.gauss(0, 0.02)), 200
        )
        value = estimate_from_losses(points)
        assert value is not None and 0.0 < value < 1.0
        values.append(value)
    assert 0.85 * 200 / end <= statistics.median(values) <= 1.02 * 200 / end


def test_eta_from_rate() -> None:
    meter = RateMeter()
    meter.add(10, now=0.0)
    meter.add(10, now=5.0)
    meter.add(10, now=10.0)
    assert meter.rate() == pytest.approx(2.0)
    assert eta_seconds(0.25, 100, 2.0) == pytest.approx(150.0)
    assert eta_seconds(1.0, 100, 2.0) == 0.0
    assert eta_seconds(None, 100, 2.0) is None


def test_rate_counts_only_the_recent_window() -> None:
    meter = RateMeter(window=3)
    for second, answers in enumerate([100, 100, 10, 20, 30]):
        meter.add(answers, now=float(second))
    # The window holds the last three batches (10, 20, 30 at seconds 2 to 4): the answers
    # after its first instant, 20 + 30, over 2 seconds.
    assert meter.rate() == pytest.approx(25.0)


def test_the_api_gives_an_eta_from_the_rate_of_answers() -> None:
    import httpx

    from recipe_runner.loaders import get_stream

    from .conftest import NEWS
    from .webserver import live_server

    def news(dataset: str = "news") -> dict[str, object]:
        return {"dataset": dataset, "stream": get_stream(NEWS), "view_id": "text"}

    with live_server(news) as server:
        first = time.monotonic()
        for _ in range(3):
            tasks = httpx.get(server.url + "/api/questions?session=a", timeout=10).json()["tasks"]
            answers = [{**task, "answer": "accept"} for task in tasks]
            reply = httpx.post(
                server.url + "/api/answers",
                json={"session": "a", "answers": answers},
                timeout=10,
            ).json()
            time.sleep(0.05)
        took = time.monotonic() - first
        info = httpx.get(server.url + "/api/progress?session=a", timeout=10).json()
    assert reply["progress"] == info["progress"] == 30 / 178  # 178 distinct headlines
    # 148 answers to go at the rate measured between the first batch saved and the last: 20
    # answers in at least the two pauses (0.1 s) and at most the whole `took`.
    assert reply["eta_seconds"] is not None and info["eta_seconds"] is not None
    assert 148 / 20 * 0.1 <= info["eta_seconds"] <= 148 / 20 * took


def test_progress_takes_the_latest_end_the_noisy_points_allow() -> None:
    # On noisy points, fits with a longer time constant are nearly as good as the best: progress
    # divides by the latest of their ends, so one lucky flat stretch doesn't read as done.
    lower = 0
    for seed in range(10):
        rng = random.Random(seed)
        points = curve(lambda n, rng=rng: 0.05 + 0.5 * math.exp(-n / 100) + rng.gauss(0, 0.03), 200)
        fit = fit_losses(points)
        value = estimate_from_losses(points)
        assert fit is not None and value is not None
        end = fit.end()
        assert end is not None and fit.end_likely is not None
        assert end <= fit.end_likely <= (fit.end_high or 0)
        assert value == pytest.approx(200 / fit.end_likely)
        lower += value < 200 / end - 0.01
    assert lower >= 5
