"""Where a progress estimate says 95%, replayed offline on recorded active-learning runs.

Record the runs once (each batch's loss as `update` returned it, the squared errors of the
batch's probe answers, how far the update moved the scores of 200 source texts, the held-out loss
and F1):

    python bench/active_learning.py --data github --seeds 6 --trace --dump gh.json
    python bench/active_learning.py --data sms --seeds 4 --trace --dump sms.json

then compare estimates in seconds, as often as needed:

    python bench/progress_study.py gh.json sms.json

For each data set and order: answers where the mean held-out F1 first came within 0.02 of its
best ('F1 flat', as bench/active_learning.py reports it), the median over seeds of where each
estimate first said 95%, and how far that is from 'F1 flat' (the target is within 20%).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from recipe_runner.progress import estimate_from_losses  # noqa: E402

Points = list[tuple[int, float]]
Estimate = Callable[[Points], "float | None"]


def plateau(curve: list[tuple[int, float]]) -> int:
    best = max(f for _, f in curve)
    return next(n for n, f in curve if f >= best - 0.02)


def mean_curve(runs: list[dict[str, Any]]) -> list[tuple[int, float]]:
    length = min(len(r["curve"]) for r in runs)
    return [
        (runs[0]["curve"][i][0], sum(r["curve"][i][1] for r in runs) / len(runs))
        for i in range(length)
    ]


def signal(run: dict[str, Any], name: str) -> Points:
    if name == "loss":
        return [(int(n), float(loss)) for n, loss in run["losses"]]
    return [(t["n"], t[name]) for t in run["trace"]]


def said_95(points: Points, estimate: Estimate) -> int | None:
    """Answers at which progress (never going back, as the controller shows it) reached 95%."""
    shown = 0.0
    for i in range(1, len(points) + 1):
        value = estimate(points[:i])
        shown = max(shown, value or 0.0)
        if shown >= 0.95:
            return points[i - 1][0]
    return None


def ratio_rule(theta: float, skip: int = 10, recent: int = 5, since: float = 0.0) -> Estimate:
    """95% once the mean of the last `recent` points is below `theta` times the mean of the
    points after the first `skip` (a model's first batches move it most), or of the latest
    (1 - `since`) of those."""

    def estimate(points: Points) -> float | None:
        ys = [y for _, y in points[skip:]]
        if len(ys) < recent + 2:
            return None
        base = ys[int(len(ys) * since) :]
        mean = sum(base) / len(base)
        if mean <= 0:
            return 1.0
        r = sum(ys[-recent:]) / recent / mean
        return 1.0 if r <= theta else max(0.0, 0.95 * (1 - r) / (1 - theta))

    return estimate


def drop_share(curve: Points, share: float) -> int:
    """Answers where a curve (the mean held-out loss) first made `share` of its whole drop;
    known only in hindsight, a bound on what any estimate of the held-out loss could do."""
    high, low = curve[0][1], min(v for _, v in curve)
    return next(n for n, v in curve if high - v >= share * (high - low))


CANDIDATES: list[tuple[str, str, Estimate]] = [
    ("loss `update` returns (on probes), the estimate as it is", "loss", estimate_from_losses),
    ("score shift, recent < 0.4 x its mean", "change", ratio_rule(0.4)),
    ("score shift, recent < 0.6 x its mean since a quarter", "change", ratio_rule(0.6, since=0.25)),
]


def main() -> None:
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for path in args.dumps:  # runs of the same data set and order are pooled
        for key, by_order in json.loads(Path(path).read_text(encoding="utf-8"))["results"].items():
            for order, runs in by_order.items():
                results.setdefault(key, {}).setdefault(order, []).extend(runs)
    print("| data, order | F1 flat | " + " | ".join(c[0] for c in CANDIDATES) + " | held-out "
          "loss 95% / 98% of its drop (hindsight) |")  # fmt: skip
    print("|---" * (len(CANDIDATES) + 3) + "|")
    for key, by_order in results.items():
        for order, runs in by_order.items():
            if not runs[0].get("trace"):
                sys.exit(f"{key}: recorded without --trace")
            flat = plateau(mean_curve(runs))
            most = runs[0]["curve"][-1][0] + 1
            cells = []
            for _, name, estimate in CANDIDATES:
                at = sorted(said_95(signal(r, name), estimate) or most for r in runs)
                median = at[len(at) // 2]
                cells.append(f"{median} ({(median - flat) / flat:+.0%})")
            length = min(len(r["trace"]) for r in runs)
            held = [
                (
                    runs[0]["trace"][i]["n"],
                    sum(r["trace"][i]["test_loss"] for r in runs) / len(runs),
                )
                for i in range(length)
            ]
            hindsight = f"{drop_share(held, 0.95)} / {drop_share(held, 0.98)}"
            print(f"| {key}, {order} | {flat} | " + " | ".join(cells) + f" | {hindsight} |")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("dumps", nargs="+", help="files written by active_learning.py --trace --dump")
args = parser.parse_args()

if __name__ == "__main__":
    main()
