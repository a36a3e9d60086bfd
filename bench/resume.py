"""A resumed run costs what is left: `ner.correct` headless over 20,000 texts, stopped half way
and started again with the same arguments, against a full run, in the same run.

The pipeline: `rr train ner` on the WNUT 2017 training split (data/ner/wnut17), imported as
answers. The texts: two WNUT 2017 sentences each, 20,000 unique texts (as bench/preannotate.py).
The first half is answered by a run stopped after 10,000 answers (as a second Ctrl-C stops it,
between two batches); the restart with the same arguments is timed against a full run over a
fresh dataset, alternating, for each round.

Also: how fast a Ctrl-C acts while a resumed run skips what the dataset holds.

Usage: python bench/resume.py [--texts 20000] [--rounds 2] [--n-iter 1] [--no-write]
[--ctrl-c-only] [--ctrl-c-texts 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import srsly
from wnut_texts import WNUT, texts

from recipe_runner.conll import read_conll

HERE = Path(__file__).resolve().parent


def run(model: Path, source: Path, dataset: str, answer: Any = "accept") -> tuple[float, Any]:
    from recipe_runner import run_headless

    started = time.perf_counter()
    summary = run_headless(
        "ner.correct", dataset, str(model), str(source), answer=answer, show_progress=False
    )
    return time.perf_counter() - started, summary


def stop_after(n: int) -> Any:
    answered = 0

    def policy(task: dict[str, Any]) -> str:
        nonlocal answered
        if answered == n:
            raise KeyboardInterrupt
        answered += 1
        return "accept"

    return policy


def ctrl_c(model: Path, source: Path, dataset: str, interrupt: bool) -> float:
    """Seconds from the bar's first output to the end of `rr run --headless ner.correct` over a
    source the dataset holds entirely (the whole run is the skip of answered texts); with
    `interrupt`, a Ctrl-C (SIGINT) is sent 0.1 s after the bar appears, and the seconds count
    from it."""
    command = [sys.executable, "-m", "recipe_runner", "run", "--headless", "ner.correct"]
    process = subprocess.Popen(
        [*command, dataset, str(model), str(source)], stderr=subprocess.PIPE, env=os.environ
    )
    assert process.stderr is not None
    process.stderr.read(1)  # the bar is drawn before the first batch is asked for
    started = time.perf_counter()
    if interrupt:
        time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        started = time.perf_counter()
    process.stderr.read()
    process.wait()
    return time.perf_counter() - started


def main() -> None:
    sys.path.insert(0, str(HERE))
    from results import write_section

    from recipe_runner.train import train_ner
    from recipe_runner.transfer import import_answers

    half = args.texts // 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RR_HOME"] = str(work)
        train = work / "wnut_train.jsonl"
        manual = [{**t, "_view_id": "ner_manual"} for t in read_conll(WNUT / "wnut17train.conll")]
        srsly.write_jsonl(train, manual)
        import_answers("wnut_train", train)
        train_ner("wnut_train", work / "model", n_iter=args.n_iter, eval_split=0.1)
        source = work / "texts.jsonl"
        srsly.write_jsonl(source, [{"text": t} for t in texts(args.texts)])
        model = work / "model"
        full: list[float] = []
        first: list[float] = []
        restart: list[float] = []
        for round_ in range(0 if args.ctrl_c_only else args.rounds):
            seconds, summary = run(model, source, f"full{round_}")
            assert summary.saved == args.texts, summary
            full.append(seconds)
            started = time.perf_counter()
            with contextlib.suppress(KeyboardInterrupt):
                run(model, source, f"half{round_}", answer=stop_after(half))
            first.append(time.perf_counter() - started)
            seconds, summary = run(model, source, f"half{round_}")
            assert summary.saved == args.texts - half and summary.progress == 1.0, summary
            restart.append(seconds)
            print(
                f"round {round_}: full {full[-1]:.1f}s, first half {first[-1]:.1f}s, "
                f"restart {restart[-1]:.1f}s",
                file=sys.stderr,
            )
        # Ctrl-C while a resumed run skips what the dataset holds: a source of many texts,
        # all of them answered (imported), so that the whole run is the skip.
        many = work / "many.jsonl"
        srsly.write_jsonl(many, [{"text": t} for t in texts(args.ctrl_c_texts)])
        import_answers("answered", many)  # the same texts, as accepted answers
        skip = [ctrl_c(model, many, "answered", interrupt=False) for _ in range(args.rounds)]
        stop = [ctrl_c(model, many, "answered", interrupt=True) for _ in range(args.rounds)]

    stopping = [
        f"**Ctrl-C during the skip phase: {max(stop):.2f} s to exit** (worst of {len(stop)}; "
        "before: 3.1 s). The same command over a source of "
        f"{args.ctrl_c_texts:,} texts the dataset already holds (imported as answers) spends "
        f"{min(skip):.2f} s from its bar to its exit, skipping them: before this change a first "
        "Ctrl-C waited for that skip to end and for the first batch to be asked; now, with no "
        "batch in hand, it stops the wait at once (the time left is the process's exit). The "
        "SIGINT is sent 0.1 s after the bar appears.",
    ]
    if args.ctrl_c_only:
        print("\n".join(stopping))
        return
    ratios = [r / f for r, f in zip(restart, full, strict=True)]
    body = "\n".join(
        [
            f"`rr run --headless ner.correct` over {args.texts:,} unique texts (two WNUT 2017 "
            f"sentences each; a pipeline from `rr train ner`, {args.n_iter} epoch), SQLite. "
            f"'restart': the same command again after a run stopped at {half:,} answers; "
            "'full': the whole source into a fresh dataset. Rounds alternate the two, since "
            "the machine's load drifts.",
            "",
            "| round | full run (s) | first half, stopped (s) | restart (s) | restart / full |",
            "|---|---|---|---|---|",
            *(
                f"| {i + 1} | {f:.1f} | {h:.1f} | {r:.1f} | {r / f:.2f} |"
                for i, (f, h, r) in enumerate(zip(full, first, restart, strict=True))
            ),
            "",
            f"**Restart at half way / full run: {min(ratios):.2f} to {max(ratios):.2f}** "
            "(target: at most 0.6); a restart does the model work of the stopped first half "
            "(restart / first half: "
            + ", ".join(f"{r / h:.2f}" for r, h in zip(restart, first, strict=True))
            + "). Before this change a restart cost as much as a full run "
            "(21.0 s against 21.0 s): the model ran over every text already answered before "
            "the controller skipped it. Now the answered texts are left out in chunks of 256, "
            "by one database look-up each, before `nlp.pipe` sees them.",
            "",
            *stopping,
        ]
    )
    print(body)
    if args.no_write:
        return
    write_section("resume", body)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--texts", type=int, default=20000)
parser.add_argument("--rounds", type=int, default=2)
parser.add_argument("--n-iter", type=int, default=1)
parser.add_argument("--ctrl-c-texts", type=int, default=100_000)
parser.add_argument("--ctrl-c-only", action="store_true", help="only the Ctrl-C figure; no write")
parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as is")
args = parser.parse_args()

if __name__ == "__main__":
    main()
