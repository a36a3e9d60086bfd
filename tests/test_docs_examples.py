"""The example recipes of docs/examples and the Python blocks of docs/recipes.md, run as a
reader would run them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import NEWS, REPO

EXAMPLES = REPO / "docs" / "examples"
GUIDE = REPO / "docs" / "recipes.md"


def rr(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        timeout=300,
        env=dict(os.environ),
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    if ok:
        assert done.returncode == 0, err
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def answers(dataset: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in rr("db-out", dataset).stdout.splitlines()]


def headlines(folder: Path, n: int) -> Path:
    path = folder / "headlines.jsonl"
    path.write_text("".join(NEWS.read_text(encoding="utf8").splitlines(keepends=True)[:n]))
    return path


def test_topics_choice_refuses_an_accept_without_a_topic(tmp_path: Path) -> None:
    source = headlines(tmp_path, 5)
    example = str(EXAMPLES / "topics.py")
    # The accept policy chooses nothing: validate_answer refuses every answer, and says why.
    refused = rr(
        "run", "--headless", "-F", example, "topics.choice", "t", str(source), "-o", "A,B", ok=False
    )
    assert refused.returncode == 1
    assert (
        "5 refused by validate_answer: 'Pick at least one topic, or skip the text.' (5)"
        in refused.stderr
    )
    policy = tmp_path / "policy.py"
    policy.write_text("def pick(task):\n    return {**task, 'answer': 'accept', 'accept': ['B']}\n")
    rr(
        "run",
        "--headless",
        "--answer",
        f"{policy}:pick",
        "-F",
        example,
        "topics.choice",
        "t",
        str(source),
        "-o",
        "A,B",
    )
    assert [row["accept"] for row in answers("t")] == [["B"]] * 5
    assert "-M, --multiple" in rr("run", "-F", example, "topics.choice", "--help").stdout


def test_teach_with_patterns(tmp_path: Path) -> None:
    source = headlines(tmp_path, 40)
    patterns = tmp_path / "p.jsonl"
    patterns.write_text(
        "".join(
            json.dumps({**json.loads(line), "label": "TECH"}) + "\n"
            for line in (EXAMPLES / "patterns.jsonl").read_text().splitlines()
        )
    )
    example = str(EXAMPLES / "teach_with_patterns.py")
    rr(
        "run",
        "--headless",
        "-F",
        example,
        "topics.teach",
        "tech",
        str(source),
        str(patterns),
        "-l",
        "TECH",
    )
    rows = answers("tech")
    from_patterns = [r for r in rows if r.get("spans")]
    assert len(rows) > 40 and from_patterns  # a question per text, and one per match
    assert all(r["label"] == "TECH" for r in rows)


def test_answer_counts_reads_the_dataset_on_load(tmp_path: Path) -> None:
    source = headlines(tmp_path, 6)
    example = str(EXAMPLES / "answer_counts.py")
    first = rr("run", "--headless", "-F", example, "counts.mark", "c", str(source))
    assert first.stdout.strip() == "accept: 6, reject: 0, ignore: 0"
    more = tmp_path / "more.jsonl"
    more.write_text("".join(NEWS.read_text().splitlines(keepends=True)[6:10]))
    second = rr(
        "run", "--headless", "--answer", "ignore", "-F", example, "counts.mark", "c", str(more)
    )
    assert second.stdout.strip() == "accept: 6, reject: 0, ignore: 4"


def test_prodigy_style_example_through_the_compat_layer(tmp_path: Path) -> None:
    import spacy

    model = tmp_path / "blank"
    spacy.blank("en").to_disk(model)
    source = headlines(tmp_path, 30)
    example = str(EXAMPLES / "prodigy_style_ner.py")
    patterns = str(EXAMPLES / "patterns.jsonl")
    rr(
        "run",
        "--headless",
        "-F",
        example,
        "ner.patterns",
        "ents",
        str(model),
        str(source),
        "-l",
        "ORG,LOC",
        "-p",
        patterns,
    )
    rows = answers("ents")
    spans = [(r["text"][s["start"] : s["end"]], s["label"]) for r in rows for s in r["spans"]]
    assert len(rows) == 30 and ("Uber", "ORG") in spans and ("Silicon Valley", "LOC") in spans


def guide_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("index", range(len(guide_blocks())))
def test_every_python_block_of_the_guide_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(
        REPO
    )  # the blocks name files under data/ and docs/ as a reader's clone has them
    code = guide_blocks()[index]
    namespace: dict[str, Any] = {"__name__": f"guide_block_{index}"}
    exec(compile(code, f"{GUIDE}:block{index}", "exec"), namespace)


def test_blocks_with_a_choice_a_comment_and_a_template(tmp_path: Path) -> None:
    source = headlines(tmp_path, 4)
    policy = tmp_path / "policy.py"
    policy.write_text(
        "def review(task):\n"
        "    return {**task, 'answer': 'accept', 'accept': ['OK'], 'comment': 'clear enough'}\n"
    )
    example = str(EXAMPLES / "review_with_comment.py")
    args = ["-F", example, "headline.review", "reviews", str(source), "-o", "OK,UNCLEAR"]
    rr("run", "--headless", "--answer", f"{policy}:review", *args)
    rows = answers("reviews")
    assert [(r["accept"], r["comment"]) for r in rows] == [(["OK"], "clear enough")] * 4
    # With the accept policy, the comment field is stored empty, as the page would store it.
    rr("run", "--headless", *args[:3], "reviews2", *args[4:])
    assert {r.get("comment") for r in answers("reviews2")} == {""}


def test_silver_to_gold(tmp_path: Path) -> None:
    from recipe_runner import connect, set_hashes
    from recipe_runner.conll import read_conll

    from .spacy_data import WNUT_TRAIN, train_ner_pipeline

    tasks = [t for t in read_conll(WNUT_TRAIN) if t["spans"]][:100]
    model = train_ner_pipeline(tasks, tmp_path / "ner", n_iter=4)
    text = "Barack Obama met Angela Merkel in Berlin"
    silver = [
        {"text": text, "spans": [{"start": 0, "end": 12, "label": "person"}], "answer": "accept"},
        {"text": text, "spans": [{"start": 34, "end": 40, "label": "person"}], "answer": "reject"},
        {"text": "Nothing to see here", "spans": [], "answer": "accept"},
    ]
    with connect() as db:
        db.add_examples([set_hashes({**a, "_view_id": "ner"}) for a in silver], datasets=["silver"])
    example = str(EXAMPLES / "silver_to_gold.py")
    rr("run", "--headless", "-F", example, "entities.gold", "silver", "gold", str(model))
    rows = {r["text"]: r for r in answers("gold")}
    assert set(rows) == {text, "Nothing to see here"}
    spans = {(s["start"], s["end"], s["label"]) for s in rows[text]["spans"]}
    assert (0, 12, "person") in spans and (34, 40, "person") not in spans
    assert rows[text]["tokens"]
    missing = rr(
        "run", "--headless", "-F", example, "entities.gold", "nope", "g", str(model), ok=False
    )
    assert missing.returncode == 1 and "Can't find the silver dataset 'nope'" in missing.stderr
