"""Headless mode end to end: the CLI and `run_headless`, policies, the summary, and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import srsly
from typer.testing import CliRunner

from recipe_runner import recipe, run_headless
from recipe_runner.cli import app
from recipe_runner.config import load_config
from recipe_runner.db import connect
from recipe_runner.errors import AnswerError

from .conftest import DATA, NEWS
from .rr_testing import rr_main

SMS = DATA / "textcat" / "sms_spam" / "SMSSpamCollection"
SUMMARY = re.compile(
    r"^(?P<recipe>\S+): (?P<saved>\d+) answers saved to dataset '(?P<dataset>[^']+)', "
    r"session '(?P<session>[^']+)' \((?P<accept>\d+) accept, (?P<reject>\d+) reject, "
    r"(?P<ignore>\d+) ignore\) in [\d.]+s(?P<rest>.*)\.$"
)


def answers(dataset: str) -> list[dict[str, Any]]:
    db = connect(load_config())
    try:
        return list(db.iter_answers(dataset))
    finally:
        db.close()


def summary_of(stderr: str) -> re.Match[str]:
    last = stderr.strip().splitlines()[-1]
    found = SUMMARY.match(last)
    assert found, last
    return found


@pytest.fixture
def sms_jsonl(tmp_path: Path) -> Path:
    """The SMS spam collection (TSV: `ham|spam<TAB>text`) as JSONL, the label in `meta`."""
    path = tmp_path / "sms.jsonl"
    rows = []
    for line in SMS.read_text(encoding="utf-8").splitlines():
        label, text = line.split("\t", 1)
        rows.append({"text": text, "meta": {"label": label}})
    srsly.write_jsonl(path, rows)
    return path


def test_news_headlines_saves_exactly_the_unique_texts() -> None:
    result = CliRunner().invoke(app, ["run", "--headless", "mark", "news", str(NEWS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # stdout stays clean for data
    found = summary_of(result.stderr)
    assert (found["recipe"], found["saved"], found["dataset"]) == ("mark", "178", "news")
    assert (found["accept"], found["reject"], found["ignore"]) == ("178", "0", "0")
    assert found["session"].startswith("news-headless-")
    saved = answers("news")
    assert len(saved) == 178
    assert len({a["text"] for a in saved}) == 178
    assert {a["_session_id"] for a in saved} == {found["session"]}
    assert "100%" in result.stderr  # the bar knew the total


def test_second_run_saves_nothing_new() -> None:
    runner = CliRunner()
    runner.invoke(app, ["run", "--headless", "mark", "news", str(NEWS)])
    again = runner.invoke(
        app, ["run", "--headless", "--answer", "reject", "mark", "news", str(NEWS)]
    )
    assert again.exit_code == 0
    assert summary_of(again.stderr)["saved"] == "0"
    assert len(answers("news")) == 178


def test_sms_spam_with_a_module_policy(sms_jsonl: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (Path.cwd() / "spam_policy.py").write_text(
        "def by_label(task):\n"
        "    return 'accept' if task['meta']['label'] == 'spam' else 'reject'\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(Path.cwd()))
    first: dict[str, str] = {}
    for task in srsly.read_jsonl(sms_jsonl):
        first.setdefault(task["text"], task["meta"]["label"])
    args = ["run", "--headless", "--answer", "spam_policy:by_label"]
    result = CliRunner().invoke(
        app, [*args, "textcat.manual", "sms", str(sms_jsonl), "--label", "SPAM"]
    )
    sys.modules.pop("spam_policy", None)
    assert result.exit_code == 0, result.output
    found = summary_of(result.stderr)
    spam = sum(1 for label in first.values() if label == "spam")
    assert int(found["saved"]) == len(first)
    assert (int(found["accept"]), int(found["reject"])) == (spam, len(first) - spam)
    saved = answers("sms")
    assert len(saved) == len(first)
    assert {a["label"] for a in saved} == {"SPAM"}
    assert {a["_view_id"] for a in saved} == {"classification"}


@pytest.mark.parametrize("verdict", ["accept", "reject", "ignore"])
def test_built_in_policies(verdict: str) -> None:
    summary = run_headless("mark", "news", str(NEWS), answer=verdict, show_progress=False)
    assert summary.counts == {"accept": 0, "reject": 0, "ignore": 0, verdict: 178}
    assert {a["answer"] for a in answers("news")} == {verdict}


def test_file_policy_returning_a_task(tmp_path: Path) -> None:
    policy = tmp_path / "policy.py"
    policy.write_text(
        "def long_ones(task):\n"
        "    task['answer'] = 'accept' if len(task['text']) > 60 else 'ignore'\n"
        "    task['meta'] = {**task.get('meta', {}), 'policy': 'long'}\n"
        "    return task\n",
        encoding="utf-8",
    )
    summary = run_headless(
        "mark", "news", str(NEWS), answer=f"{policy}:long_ones", show_progress=False
    )
    saved = answers("news")
    assert summary.counts["accept"] == sum(1 for a in saved if len(a["text"]) > 60)
    assert summary.counts["accept"] + summary.counts["ignore"] == 178
    assert {a["meta"]["policy"] for a in saved} == {"long"}


def test_bad_policies_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pol.py").write_text("def f(task):\n    return 42\n", encoding="utf-8")
    cases = [
        ("maybe", 2, "Unknown answer policy 'maybe'"),
        (f"{tmp_path}/missing.py:f", 1, "Can't find the answer policy file"),
        ("no_such_module_xyz:f", 1, "Can't import the answer policy module 'no_such_module_xyz'"),
        (f"{tmp_path}/pol.py:g", 1, "has no function 'g'"),
        (f"{tmp_path}/pol.py:f", 1, "must return a task dict or an answer string, not int"),
    ]
    for policy, code, message in cases:
        result = rr_main(
            capsys, monkeypatch, "run", "--headless", "--answer", policy, "mark", "news", str(NEWS)
        )
        assert result.code == code, (policy, result.err)
        assert message in result.err
        assert result.err.count("\n") == 1, result.err
        assert "Traceback" not in result.err
    # the policy that failed at its first task saved nothing
    assert answers("news") == []


def test_a_policy_that_changes_a_task_is_still_checked(tmp_path: Path) -> None:
    # Built-in verdicts skip the shape check of the (already checked) task; others don't.
    policy = tmp_path / "policy.py"
    policy.write_text(
        "def far_span(task):\n"
        "    task['spans'] = [{'start': 0, 'end': 10_000}]\n"
        "    return 'accept'\n",
        encoding="utf-8",
    )
    with pytest.raises(AnswerError, match="outside the text"):
        run_headless("mark", "news", str(NEWS), answer=f"{policy}:far_span", show_progress=False)
    assert answers("news") == []


def test_a_key_prefill_adds_is_checked_with_a_built_in_verdict() -> None:
    @recipe("inline.field")
    def inline(dataset: str) -> dict[str, Any]:
        return {
            "dataset": dataset,
            # The task names its own field: prefill's "" is no object for 'meta'.
            "stream": [{"text": "one", "field_id": "meta"}],
            "view_id": "text_input",
        }

    with pytest.raises(AnswerError, match="'meta' must be an object"):
        run_headless(inline, "inline", answer="accept", show_progress=False)
    assert answers("inline") == []


def test_run_headless_with_a_recipe_function(tmp_path: Path) -> None:
    seen: list[str] = []

    @recipe("inline.recipe")
    def inline(dataset: str, n: int = 25) -> dict[str, Any]:
        return {
            "dataset": dataset,
            "stream": ({"text": f"item {i % 20}"} for i in range(n)),
            "view_id": "text",
            "update": lambda batch: seen.extend(a["answer"] for a in batch),
            "config": {"batch_size": 7},
        }

    summary = run_headless(inline, "inline", n=25, answer="ignore", show_progress=False)
    assert summary.recipe == "inline.recipe"
    assert summary.saved == 20
    assert summary.counts == {"accept": 0, "reject": 0, "ignore": 20}
    assert summary.progress is None  # a generator: total unknown
    assert seen == ["ignore"] * 20
    assert summary.session_id.startswith("inline-headless-")
    assert "20 answers saved to dataset 'inline'" in summary.line()


def test_skip_invalid_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a"}\n{oops\n{"text": "b"}\n[]\n', encoding="utf-8")
    result = CliRunner().invoke(
        app, ["run", "--headless", "mark", "mixed", str(path), "--skip-invalid"]
    )
    assert result.exit_code == 0, result.output
    found = summary_of(result.stderr)
    assert found["saved"] == "2"
    assert "skipped 2 invalid lines" in found["rest"]


def test_malformed_line_without_skip_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a"}\n{oops\n', encoding="utf-8")
    result = rr_main(capsys, monkeypatch, "run", "--headless", "mark", "bad", str(path))
    assert result.code == 1
    assert re.fullmatch(
        r"Error: '.*bad\.jsonl' line 2: malformed JSON .*\n",
        result.err.splitlines(keepends=True)[-1],
    )
    assert "Traceback" not in result.err


def test_ctrl_c_keeps_every_answer_reported_saved(tmp_path: Path) -> None:
    source = tmp_path / "many.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(200_000):
            out.write(json.dumps({"text": f"task {i}"}) + "\n")
    policy = tmp_path / "slow.py"
    policy.write_text(
        "import time\n\ndef slow(task):\n    time.sleep(0.0005)\n    return 'accept'\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    env = {**os.environ, "RR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "recipe_runner",
            "run",
            "--headless",
            "--answer",
            f"{policy}:slow",
            "mark",
            "big",
            str(source),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        db_path = home / "rr.db"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if db_path.exists() and _count(db_path) >= 50:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no answers were saved within 60 seconds")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err[-2000:]
    assert out == ""
    found = summary_of(err)
    assert "interrupted" in found["rest"]
    assert "Traceback" not in err
    saved = int(found["saved"])
    assert 50 <= saved < 200_000
    assert _count(db_path) == saved


def _count(db_path: Path) -> int:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # the schema is not there yet
    finally:
        con.close()


def test_stdin_source() -> None:
    data = "".join(json.dumps({"text": f"line {i % 7}"}) + "\n" for i in range(20))
    result = CliRunner().invoke(app, ["run", "--headless", "mark", "piped", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert summary_of(result.stderr)["saved"] == "7"
    # No total: the bar shows a count and a rate of answers instead of a percentage (the
    # summary line says "answers" too, so the bar's own text is what is looked for).
    assert re.search(r"mark: 7 answers \[[\d:]+, [\d.]+ answers/s\]", result.stderr)
    assert sorted(a["text"] for a in answers("piped")) == [f"line {i}" for i in range(7)]
