"""How long the annotator waits in textcat.teach: answers of a batch of 10 in, next batch out.

Measured on the controller both drivers use (the web server adds its HTTP round trip): the time
of `receive_answers` (validate, the model update, save, progress) plus `get_questions` (scoring
and sorting the next batch), per batch, for `textcat.teach` from `blank:en` on SMS spam with gold
answers. The same loop over `mark` (no model) on the same texts is the baseline. Two sources:
4,000 messages (the pool phase: the source never runs dry) and 500 messages (the stream runs dry
after about 100 answers, and the held-back questions are re-scored and served).

Usage: python bench/teach_latency.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import srsly
from sms_spam import load_sms

HERE = Path(__file__).resolve().parent
BATCHES = 100


def measure(recipe_name: str, args: tuple[Any, ...], kwargs: dict[str, Any], gold: Path) -> dict:
    from recipe_runner.gold import gold_policy
    from recipe_runner.runner import find_recipe, prepare_run

    run = prepare_run(find_recipe(recipe_name), args, kwargs)
    controller = run.controller
    policy = gold_policy(gold)
    session = controller.session_id("bench")
    waits: list[float] = []
    updates: list[float] = []
    try:
        tasks = controller.get_questions(session)
        for _ in range(BATCHES):
            if not tasks:
                break
            answers = [policy(task) for task in tasks]
            t0 = time.perf_counter()
            controller.receive_answers(session, answers)
            t1 = time.perf_counter()
            tasks = controller.get_questions(session)
            t2 = time.perf_counter()
            waits.append((t2 - t0) * 1000)
            updates.append((t1 - t0) * 1000)
    finally:
        controller.close()
        if controller.db is not None:
            controller.db.close()
    return {"waits": waits, "updates": updates}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    sys.path.insert(0, str(HERE))
    from results import write_section

    data = load_sms()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RR_HOME"] = str(work)
        gold = work / "gold.jsonl"
        srsly.write_jsonl(
            gold,
            [{"text": t, "label": "SPAM", "answer": "accept" if s else "reject"} for t, s in data],
        )
        for size in (4000, 500):
            source = work / f"sms-{size}.jsonl"
            srsly.write_jsonl(source, [{"text": t} for t, _ in data[:size]])
            teach = measure(
                "textcat.teach",
                (f"teach{size}", "blank:en", str(source)),
                {"label": ["SPAM"]},
                gold,
            )
            base = measure(
                "mark",
                (f"mark{size}", str(source)),
                {"label": ["SPAM"], "view_id": "classification"},
                gold,
            )
            row = (
                f"| {size:,} | {len(teach['waits'])} | {statistics.median(teach['updates']):.1f} "
                f"| {statistics.median(teach['waits']):.1f} | {p95(teach['waits']):.1f} "
                f"| {max(teach['waits']):.1f} | {statistics.median(base['waits']):.1f} "
                f"| {p95(base['waits']):.1f} |"
            )
            rows.append(row)
            print(row, file=sys.stderr)
    body = "\n".join(
        [
            "textcat.teach from `blank:en` on SMS spam, one label, batches of 10, gold answers; "
            "times in ms per batch on the controller (no HTTP). 'wait' = answers received "
            "(model update, save, progress) + next batch ready (scoring, sorting). Baseline: "
            "`mark` over the same texts (no model).",
            "",
            "| source messages | batches | update median | wait median | wait p95 | wait max "
            "| baseline wait median | baseline wait p95 |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Target: the next batch ready in under 100 ms after the answers arrive.",
        ]
    )
    print(body)
    write_section("teach_latency", body)


if __name__ == "__main__":
    main()
