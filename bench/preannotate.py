"""Scripted pre-annotation: `rr run --headless --answer accept ner.correct` against a plain
`nlp.pipe` loop writing the same entities as JSONL, over the same 20,000 texts, in one run.

The pipeline: `rr train ner` on the WNUT 2017 training split (Derczynski et al., W-NUT 2017),
data/ner/wnut17, imported as answers. The texts: sentences of the three WNUT 2017 splits,
two per text, 20,000 unique texts. Both sides load the pipeline, read the texts from a JSONL
file and write every entity; ner.correct also hashes, deduplicates and commits each batch of
answers to SQLite.

Usage: python bench/preannotate.py [--texts 20000] [--n-iter 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import srsly
from wnut_texts import WNUT, texts

from recipe_runner.conll import read_conll

HERE = Path(__file__).resolve().parent
ROUNDS = 2


def plain_loop(model: Path, source: Path, out: Path) -> float:
    import spacy

    started = time.perf_counter()
    nlp = spacy.load(model)
    texts = (task["text"] for task in srsly.read_jsonl(source))
    with out.open("w", encoding="utf-8") as file:
        for doc in nlp.pipe(texts, batch_size=256):
            spans = [
                {"start": e.start_char, "end": e.end_char, "label": e.label_} for e in doc.ents
            ]
            file.write(srsly.json_dumps({"text": doc.text, "spans": spans}) + "\n")
    return time.perf_counter() - started


def headless(model: Path, source: Path, dataset: str, **options: Any) -> tuple[float, Any]:
    from recipe_runner import run_headless

    config = options.pop("config", None)
    started = time.perf_counter()
    summary = run_headless(
        "ner.correct",
        dataset,
        str(model),
        str(source),
        answer="accept",
        show_progress=False,
        cli_config=config,
        **options,
    )
    return time.perf_counter() - started, summary


def main() -> None:
    sys.path.insert(0, str(HERE))
    from results import write_section

    from recipe_runner.train import train_ner
    from recipe_runner.transfer import import_answers

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["RR_HOME"] = str(work)
        train = work / "wnut_train.jsonl"
        manual = [{**t, "_view_id": "ner_manual"} for t in read_conll(WNUT / "wnut17train.conll")]
        srsly.write_jsonl(train, manual)
        import_answers("wnut_train", train)
        t0 = time.perf_counter()
        result = train_ner("wnut_train", work / "model", n_iter=args.n_iter, eval_split=0.1)
        train_seconds = time.perf_counter() - t0
        print("\n".join(result.lines()), file=sys.stderr)
        source = work / "texts.jsonl"
        srsly.write_jsonl(source, [{"text": t} for t in texts(args.texts)])
        model = work / "model"
        # The machine may be busy with other work: the plain loop and the two main variants
        # run interleaved, twice; each row gives both times, the ratio uses the faster of each,
        # and the paired ratios (same round) show how steady that is.
        plain: list[float] = []
        timings: dict[str, list[float]] = {}
        runs: list[tuple[str, dict[str, Any]]] = [
            ("default (batch_size 10)", {}),
            ("batch_size 100", {"config": {"batch_size": 100}}),
        ]
        extra: list[tuple[str, dict[str, Any]]] = [
            ("--scores (beam search per entity, more work)", {"scores": True})
        ]
        if args.n_process > 1:
            extra.append((f"n_process {args.n_process}", {"n_process": args.n_process}))
        count = 0
        for round_ in range(ROUNDS):
            plain.append(plain_loop(model, source, work / "plain.jsonl"))
            print(f"plain nlp.pipe loop: {plain[-1]:.1f}s", file=sys.stderr)
            for name, options in runs + (extra if round_ == ROUNDS - 1 else []):
                count += 1
                seconds, summary = headless(model, source, f"pre{count}", **options)
                assert summary.counts["accept"] == args.texts, summary.counts
                print(f"ner.correct {name}: {seconds:.1f}s", file=sys.stderr)
                timings.setdefault(name, []).append(seconds)
        base = min(plain)
        plain_entities = sum(len(x["spans"]) for x in srsly.read_jsonl(work / "plain.jsonl"))

    def row(name: str, times: list[float]) -> str:
        paired = ""
        if len(times) == len(plain):
            pairs = zip(plain, times, strict=True)
            paired = " (per round: " + ", ".join(f"{p / t:.2f}" for p, t in pairs) + ")"
        shown = " / ".join(f"{t:.1f}" for t in times)
        best = min(times)
        return (
            f"| ner.correct headless, {name} | {shown} | {args.texts / best:,.0f} "
            f"| {base / best:.2f}{paired} |"
        )

    body = "\n".join(
        [
            f"{args.texts:,} unique texts (two WNUT 2017 sentences each), a pipeline trained by "
            f"`rr train ner` on the WNUT 2017 training split ({args.n_iter} epochs, "
            f"{train_seconds:.0f}s; held-out ents_f {result.scores.get('ents_f', 0):.2f}), "
            f"{plain_entities:,} entities found. Both sides load the pipeline, read the JSONL "
            "source and write every entity; `ner.correct` also hashes, deduplicates and commits "
            "each batch of answers to SQLite. Ratio = plain loop time / ner.correct time "
            "(target >= 0.8).",
            "",
            "| run | seconds (each run) | texts/s (best) | ratio to plain loop (best) |",
            "|---|---|---|---|",
            f"| plain `nlp.pipe` loop writing JSONL | {' / '.join(f'{p:.1f}' for p in plain)} "
            f"| {args.texts / base:,.0f} | 1.00 |",
            *(row(name, times) for name, times in timings.items()),
        ]
    )
    print(body)
    write_section("preannotate", body)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--texts", type=int, default=20000)
parser.add_argument("--n-iter", type=int, default=3)
parser.add_argument("--n-process", type=int, default=2)
args = parser.parse_args()

if __name__ == "__main__":
    main()
