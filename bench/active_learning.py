"""Active learning on SMS spam: textcat.teach with uncertainty ordering against random order.

Data: SMS Spam Collection v.1 (Almeida, Gómez Hidalgo, Yamakami, DocEng 2011), in
data/textcat/sms_spam.
1,000 unique messages are held out as the test set; the rest, shuffled by each seed, is the source
of `textcat.teach` from `blank:en`. A simulated annotator answers from the gold labels (the
`gold:PATH` policy). After every batch the recipe's own model is scored on the test set (spam F1).
Both orders run the same recipe, the same model and the same updates; only the order differs
(`--order uncertain` against `--order source` over the shuffled source).

Usage: python bench/active_learning.py [--seeds 10] [--max-answers 1000]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import srsly
from sms_spam import load_sms

HERE = Path(__file__).resolve().parent
TARGET_F1 = 0.85
CHECK_EVERY = 20  # answers between two test-set evaluations


def spam_f1(nlp: Any, test: list[tuple[str, bool]]) -> float:
    docs = nlp.pipe([t for t, _ in test], batch_size=256)
    tp = fp = fn = 0
    for doc, (_, gold) in zip(docs, test, strict=True):
        guess = doc.cats.get("SPAM", 0.0) >= 0.5
        tp += guess and gold
        fp += guess and not gold
        fn += gold and not guess
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def run_one(
    order: str, seed: int, pool: list[tuple[str, bool]], test: list[tuple[str, bool]], work: Path
) -> dict[str, Any]:
    from recipe_runner.gold import gold_policy
    from recipe_runner.runner import find_recipe, prepare_run

    shuffled = list(pool)
    random.Random(seed).shuffle(shuffled)
    source = work / f"source-{seed}.jsonl"
    gold = work / "gold.jsonl"
    srsly.write_jsonl(source, [{"text": t} for t, _ in shuffled])
    srsly.write_jsonl(
        gold,
        [{"text": t, "label": "SPAM", "answer": "accept" if s else "reject"} for t, s in pool],
    )
    dataset = f"al-{order}-{seed}"
    recipe = find_recipe("textcat.teach")
    options = {"label": ["SPAM"], "order": order, "seed": seed}
    run = prepare_run(recipe, (dataset, "blank:en", str(source)), options)
    controller = run.controller
    update = controller.components.update
    assert update is not None
    nlp = update.__self__.nlp  # type: ignore[attr-defined]
    policy = gold_policy(gold)
    session = controller.session_id("bench")
    curve: list[tuple[int, float]] = []
    progress: list[tuple[int, float | None]] = []
    answered = 0
    spam_seen = 0
    try:
        while answered < args.max_answers:
            tasks = controller.get_questions(session)
            if not tasks:
                break
            answers = [policy(task) for task in tasks]
            spam_seen += sum(a["answer"] == "accept" for a in answers)
            result = controller.receive_answers(session, answers)
            answered += len(answers)
            progress.append((answered, result.progress.progress))
            if answered % CHECK_EVERY == 0:
                curve.append((answered, spam_f1(nlp, test)))
    finally:
        controller.close()
        if controller.db is not None:
            controller.db.close()
    return {"curve": curve, "progress": progress, "spam_seen": spam_seen}


def first_reaching(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, f in curve if f >= target), None)


def stays_from(curve: list[tuple[int, float]], target: float) -> int | None:
    """Answers from which F1 never again fell below `target` in this run."""
    found = None
    for n, f in curve:
        if f < target:
            found = None
        elif found is None:
            found = n
    return found


def mean_curve(runs: list[dict[str, Any]]) -> list[tuple[int, float]]:
    length = min(len(r["curve"]) for r in runs)
    return [
        (runs[0]["curve"][i][0], sum(r["curve"][i][1] for r in runs) / len(runs))
        for i in range(length)
    ]


def plateau(curve: list[tuple[int, float]]) -> int:
    """Answers at which the mean F1 first came within 0.02 of its best."""
    best = max(f for _, f in curve)
    return next(n for n, f in curve if f >= best - 0.02)


def progress_done(progress: list[tuple[int, float | None]], level: float = 0.95) -> int | None:
    return next((n for n, p in progress if p is not None and p >= level), None)


def plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = {"uncertain": "tab:blue", "source": "tab:orange"}
    names = {"uncertain": "prefer_uncertain (pool)", "source": "random order"}
    for order, runs in results.items():
        for run in runs:
            xs, ys = zip(*run["curve"], strict=True)
            ax.plot(xs, ys, color=colours[order], alpha=0.25, linewidth=0.8)
        xs, ys = zip(*mean_curve(runs), strict=True)
        ax.plot(xs, ys, color=colours[order], linewidth=2, label=f"{names[order]}, mean")
    ax.axhline(TARGET_F1, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("answers")
    ax.set_ylabel("spam F1 on 1,000 held-out messages")
    ax.set_ylim(0, 1)
    ax.set_title("textcat.teach on SMS spam, blank:en, online updates")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def report(results: dict[str, list[dict[str, Any]]], seconds: float) -> str:
    rows = []
    early: list[str] = []  # how the progress estimate compared with the flattening F1 curve
    reach: dict[str, list[int | None]] = {}
    stays: dict[str, list[int | None]] = {}
    for order, runs in results.items():
        mean = mean_curve(runs)
        at = dict(mean)
        reach[order] = [first_reaching(r["curve"], TARGET_F1) for r in runs]
        stays[order] = [stays_from(r["curve"], TARGET_F1) for r in runs]
        flat = plateau(mean)
        done = [progress_done(r["progress"]) for r in runs]
        said = sorted(n if n else args.max_answers + 1 for n in done)
        early.append(
            f"{'uncertainty' if order == 'uncertain' else 'random'}: median "
            f"{said[len(said) // 2]} against {flat}"
        )
        rows.append(
            f"| {'prefer_uncertain' if order == 'uncertain' else 'random'} "
            f"| {at.get(100, 0):.2f} | {at.get(200, 0):.2f} | {at.get(400, 0):.2f} "
            f"| {at.get(args.max_answers, mean[-1][1]):.2f} "
            f"| {', '.join(str(n) if n else f'>{args.max_answers}' for n in reach[order])} "
            f"| {', '.join(str(n) if n else f'>{args.max_answers}' for n in stays[order])} "
            f"| {flat} | {', '.join(str(n) if n else '-' for n in done)} "
            f"| {sum(r['spam_seen'] for r in runs) / len(runs):.0f} |"
        )

    def mean_reach(values: list[int | None]) -> float:
        return sum(v if v else args.max_answers * 1.0 for v in values) / len(values)

    def ratio(values: dict[str, list[int | None]]) -> str:
        unc, rnd = mean_reach(values["uncertain"]), mean_reach(values["source"])
        censored = any(v is None for v in values["source"])
        return f"{unc / rnd:.2f}" + (" (at most: random fell short in a run)" if censored else "")

    return "\n".join(
        [
            "SMS Spam Collection v.1 (Almeida, Gómez Hidalgo, Yamakami, DocEng 2011), "
            f"{len(results['uncertain'])} seeds, 1,000 held-out unique messages, textcat.teach "
            "from `blank:en` (bag-of-words textcat, online updates per batch of 10), answers "
            "from the gold labels (`gold:PATH` policy). F1 is the mean over seeds. "
            "prefer_uncertain asks a new model's first 40 questions in source order (its "
            "warm-up), then the most uncertain of a pool read ahead.",
            "",
            "| order | F1 @100 | F1 @200 | F1 @400 | F1 @max | answers to F1 "
            f"{TARGET_F1} (per seed) | answers until F1 stays >= {TARGET_F1} | F1 curve flat at "
            "| progress estimate >= 0.95 at (per seed) | spam answers seen (of max) |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Answers to first reach spam F1 {TARGET_F1}, uncertainty / random (means over "
            f"seeds): **{ratio(reach)}**; answers until it stays there: **{ratio(stays)}** "
            "(target: at most 0.5).",
            "",
            "'F1 curve flat at': answers where the mean F1 first came within 0.02 of its best. "
            "'progress estimate >= 0.95 at': where the loss-based progress (contract section 5, "
            "point 2) first said 95%; the median of the seeds against where F1 flattened: "
            f"{'; '.join(early)}.",
            "",
            f"Plot: `bench/active_learning.png`. Total run time {seconds:.0f}s.",
        ]
    )


def main() -> None:
    sys.path.insert(0, str(HERE))
    from results import write_section

    started = time.monotonic()
    data = load_sms()
    random.Random(0).shuffle(data)
    test, pool = data[:1000], data[1000:]
    results: dict[str, list[dict[str, Any]]] = {"uncertain": [], "source": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RR_HOME"] = str(work / "home")
        (work / "home").mkdir()
        for seed in range(args.seeds):
            for order in ("uncertain", "source"):
                t0 = time.monotonic()
                run = run_one(order, seed, pool, test, work)
                results[order].append(run)
                f1 = run["curve"][-1][1] if run["curve"] else 0.0
                print(
                    f"seed {seed} {order:9}: F1 {f1:.3f} after {run['curve'][-1][0]} answers, "
                    f"reached {TARGET_F1} at {first_reaching(run['curve'], TARGET_F1)} "
                    f"({time.monotonic() - t0:.0f}s)",
                    file=sys.stderr,
                )
    plot(results, HERE / "active_learning.png")
    body = report(results, time.monotonic() - started)
    print(body)
    write_section("active_learning", body)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--seeds", type=int, default=10)
parser.add_argument("--max-answers", type=int, default=1000)
args = parser.parse_args()

if __name__ == "__main__":
    main()
