"""Progress estimates: from the losses `update` returns, or from answered / total."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass

MIN_POINTS = 5  # loss points needed before the regression says anything
FLAT_POINTS = 10  # points needed before a loss that is not falling counts as "done"
WINDOW = 200  # points fitted at most (the most recent), to bound the cost per batch
DONE = 0.05  # the curve has flattened when 95% of its fitted drop is behind
# ... and has stayed flat for this share of the answers it took to get there. A learning curve's
# tail is longer than an exponential's: on recorded textcat.teach runs (bench/progress_study.py),
# a share of 0 or 0.25 said 95% well before held-out F1 stopped rising on SMS spam.
STRETCH = 0.5
GRID = 48  # time constants tried
MIN_TAU_STEPS = 3  # the shortest time constant fitted, in batches
# A loss that stops falling means "done" only once it has come down to this share of its early
# level: a model whose loss has not come down has not learned, and must not read as done.
LOW = 0.75
NOT_YET = 0.9  # the most progress shows while the loss is still at its early level
BAND_F = 5.0  # covers the true end about 4 times in 5 on noisy synthetic decays (measured)
# Progress divides by the latest end among the fits nearly as good as the best (this narrower
# band): one noisy stretch of flat losses must not make a short time constant say "done".
PROGRESS_BAND_F = 0.5


@dataclass(frozen=True)
class Forecast:
    """Answers still needed until the model stops learning, with a likely range."""

    remaining: int
    low: int
    high: int

    def as_dict(self) -> dict[str, int]:
        return {"remaining": self.remaining, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class ProgressInfo:
    """What /api/progress and the headless bar show."""

    progress: float | None
    total: int | None
    eta_seconds: float | None
    done: int = 0  # the answers progress counts (earlier runs' too, where it knows them)
    forecast: Forecast | None = None


@dataclass(frozen=True)
class LossFit:
    """loss(n) = floor + drop * exp(-n / tau), fitted by least squares."""

    floor: float
    drop: float
    tau: float
    first: float  # answers at the first point fitted
    last: float  # answers at the last point
    step: float = 0.0  # mean answers between two points (a batch)
    # The range of `end()` over the time constants the points can't tell from the best one.
    end_low: float | None = None
    end_high: float | None = None
    # The latest end within the narrower PROGRESS_BAND_F, which progress divides by.
    end_likely: float | None = None

    def end(self) -> float | None:
        """Answers at which the loss reaches zero, or the curve flattens (95% of its drop behind),
        whichever is first, stretched by STRETCH (what the fit says must hold for that long: a
        near-zero loss on noisy points often fits a line to zero); None when the loss is not
        falling."""
        return _end(self.floor, self.drop, self.tau, self.first)


def _end(floor: float, drop: float, tau: float, first: float) -> float | None:
    if drop <= 0:
        return None
    flat = tau * math.log(1 / DONE)
    if floor < 0:
        flat = min(flat, tau * math.log(drop / -floor))  # where the loss reaches zero
    return first + max(flat, 1e-9) * (1 + STRETCH)


def fit_losses(points: list[tuple[int, float]]) -> LossFit | None:
    """The exponential decay towards a floor that best fits (answers, loss) points.

    For each time constant on a geometric grid (from a few batches up), floor and drop come
    from a linear least-squares regression of the loss on exp(-n / tau); the time constant with
    the smallest error wins. A very long time constant is a straight line, so a loss falling
    linearly to zero fits too.
    """
    recent = [(float(n), float(loss)) for n, loss in points[-WINDOW:] if loss is not None]
    if len(recent) < MIN_POINTS:
        return None
    xs = [x for x, _ in recent]
    ys = [y for _, y in recent]
    span = max(xs) - min(xs)
    if span <= 0:
        return None
    # A drop must be carried by several batches: one noisy batch can't make the curve "flat".
    shortest = MIN_TAU_STEPS * span / (len(xs) - 1)
    ratio = (span * 40 / shortest) ** (1 / (GRID - 1))
    taus = [shortest * ratio**i for i in range(GRID)]  # MIN_TAU_STEPS batches .. span*40
    fits = [f for f in (_fit_tau(xs, ys, tau) for tau in taus) if f is not None]
    if not fits:
        return None
    sse, floor, drop, tau = min(fits)
    # Refine the time constant between its grid neighbours (golden section on log tau), so
    # the estimate moves smoothly as points arrive instead of jumping from one grid step to
    # the next.
    lo, hi = math.log(max(tau / ratio, shortest)), math.log(tau * ratio)
    golden = (math.sqrt(5) - 1) / 2
    for _ in range(24):
        a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
        fa, fb = _fit_tau(xs, ys, math.exp(a)), _fit_tau(xs, ys, math.exp(b))
        if fa is None or fb is None:
            break
        if fa[0] <= fb[0]:
            hi = b
        else:
            lo = a
    refined = _fit_tau(xs, ys, math.exp((lo + hi) / 2))
    if refined is not None and refined[0] <= sse:
        sse, floor, drop, tau = refined
    step = span / (len(xs) - 1)
    # A profile-likelihood band: the fits whose error is within what noise alone would add
    # (an F test with one parameter, its level widened to what covers about 80% in practice),
    # and the ends they predict.
    best = _end(floor, drop, tau, xs[0])

    def band(level: float) -> list[float]:
        allowed = sse * (1 + level / max(1, len(xs) - 3))
        found = [_end(f, d, t, xs[0]) for e, f, d, t in fits if e <= allowed]
        return [e for e in [*found, best] if e is not None]

    ends = band(BAND_F)
    low, high = (min(ends), max(ends)) if ends else (None, None)
    likely = max(band(PROGRESS_BAND_F), default=None)
    return LossFit(floor, drop, tau, xs[0], xs[-1], step, low, high, likely)


def _fit_tau(
    xs: list[float], ys: list[float], tau: float
) -> tuple[float, float, float, float] | None:
    """(squared error, floor, drop, tau) of the best fit with this time constant."""
    fs = [math.exp(-(x - xs[0]) / tau) for x in xs]
    mean_f = sum(fs) / len(fs)
    mean_y = sum(ys) / len(ys)
    var_f = sum((f - mean_f) ** 2 for f in fs)
    if var_f <= 1e-12:
        return None
    drop = sum((f - mean_f) * (y - mean_y) for f, y in zip(fs, ys, strict=True)) / var_f
    floor = mean_y - drop * mean_f
    sse = sum((floor + drop * f - y) ** 2 for f, y in zip(fs, ys, strict=True))
    return sse, floor, drop, tau


def estimate_from_losses(points: list[tuple[int, float]]) -> float | None:
    """Progress in [0, 1] from (answers so far, loss) points, or None until there is enough data.

    Fits the loss curve (`fit_losses`) and predicts the number of answers at which the loss
    reaches zero or the curve flattens (`LossFit.end`); progress is answers so far / that number,
    taking the latest end among the fits nearly as good as the best. A loss that has stopped
    falling means the model has learned what it can from this stream: progress 1.
    """
    fit = fit_losses(points)
    if fit is None:
        return None
    # When the best fit is not falling, a falling fit nearly as good may still be: noise can
    # make a curve that is still coming down look flat, or rising, for a few batches.
    end = max(fit.end() or 0.0, fit.end_likely or 0.0) or None
    down = _came_down(points)
    if end is None:
        return 1.0 if len(points) >= FLAT_POINTS and down else None
    value = max(0.0, min(1.0, fit.last / end))
    return value if down else min(value, NOT_YET)


def _came_down(points: list[tuple[int, float]]) -> bool:
    """Whether the recent loss is at most LOW times the highest loss of the first batches."""
    losses = [loss for _, loss in points if loss is not None]
    recent = losses[-MIN_POINTS:]
    return sum(recent) / len(recent) <= LOW * max(losses[:MIN_POINTS])


def forecast_from_losses(points: list[tuple[int, float]]) -> Forecast | None:
    """Answers still needed until the loss curve flattens (see `estimate_from_losses`), with
    the range the fit allows; None until there is enough data."""
    fit = fit_losses(points)
    if fit is None:
        return None
    # The end progress divides by (the latest among the fits nearly as good as the best), so
    # that the answers left and the percentage shown beside them tell the same story.
    end = max(fit.end() or 0.0, fit.end_likely or 0.0) or None
    if end is None:
        if len(points) >= FLAT_POINTS and _came_down(points):
            return Forecast(0, 0, 0)
        return None
    last = fit.last

    def left(at: float | None) -> int:
        return max(0, round((at if at is not None else end) - last))

    remaining = left(end)
    return Forecast(
        remaining, min(remaining, left(fit.end_low)), max(remaining, left(fit.end_high))
    )


class RateMeter:
    """Answers per second over the recent batches, for the ETA."""

    def __init__(self, window: int = 30) -> None:
        self._events: deque[tuple[float, int]] = deque(maxlen=window)
        self._answers = 0  # the sum of the answers in _events, kept as they come and go

    def add(self, n: int, now: float | None = None) -> None:
        if len(self._events) == self._events.maxlen:
            self._answers -= self._events[0][1]
        self._events.append((now if now is not None else time.monotonic(), n))
        self._answers += n

    def rate(self) -> float | None:
        if len(self._events) < 2:
            return None
        first_time, first_answers = self._events[0]
        elapsed = self._events[-1][0] - first_time
        if elapsed <= 0:
            return None
        # The answers of the first batch came before the window's first instant.
        return (self._answers - first_answers) / elapsed


def eta_seconds(progress: float | None, answered: int, rate: float | None) -> float | None:
    """Seconds until progress reaches 1 at the recent rate, when both are known."""
    if progress is None or rate is None or rate <= 0:
        return None
    if progress >= 1.0:
        return 0.0
    if progress <= 0 or answered <= 0:
        return None
    remaining = answered / progress - answered
    return max(0.0, remaining / rate)
