"""Progress estimates: from the losses `update` returns, or from answered / total."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

MIN_POINTS = 3  # loss points needed before the regression says anything
WINDOW = 20  # fit the most recent points: the curve's early part says little about its end


@dataclass(frozen=True)
class ProgressInfo:
    """What /api/progress and the headless bar show."""

    progress: float | None
    total: int | None
    eta_seconds: float | None


def estimate_from_losses(points: list[tuple[int, float]]) -> float | None:
    """Progress in [0, 1] from (answers so far, loss) points, or None until there is enough data.

    A least-squares line through the recent points predicts the number of answers at which the
    loss reaches zero; progress is answers / that number. A flat or rising line means the loss
    has stopped falling: the model has learned what it can from this stream, progress is 1.
    """
    recent = [(float(n), float(loss)) for n, loss in points[-WINDOW:] if loss is not None]
    if len(recent) < MIN_POINTS:
        return None
    xs = [x for x, _ in recent]
    ys = [y for _, y in recent]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    var_x = sum((x - mean_x) ** 2 for x in xs)
    if var_x == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in recent) / var_x
    answered = xs[-1]
    if slope >= 0 or mean_y <= 0:
        return 1.0
    intercept = mean_y - slope * mean_x
    zero_at = -intercept / slope
    if zero_at <= 0:
        return 1.0
    return max(0.0, min(1.0, answered / zero_at))


class RateMeter:
    """Answers per second over the recent batches, for the ETA."""

    def __init__(self, window: int = 30) -> None:
        self._events: deque[tuple[float, int]] = deque(maxlen=window)

    def add(self, n: int, now: float | None = None) -> None:
        self._events.append((now if now is not None else time.monotonic(), n))

    def rate(self) -> float | None:
        if len(self._events) < 2:
            return None
        elapsed = self._events[-1][0] - self._events[0][0]
        if elapsed <= 0:
            return None
        return sum(n for _, n in list(self._events)[1:]) / elapsed


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
