"""Answers made in Prodigy, imported with `rr db-in`, count as answered and go out as they came."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from recipe_runner.db import Database
from recipe_runner.hashing import TASK_HASH, set_hashes
from recipe_runner.transfer import SOURCE_HASHES

from .conftest import DATA
from .rr_process import rr_env, run_rr

ANNOTATED = DATA / "prodigy_examples" / "annotated_github-issues-DOCUMENTATION-textcat.jsonl"
RAW = DATA / "prodigy_examples" / "raw_github-issue-titles.jsonl"


def rr(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run_rr(*args, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in rows)


def test_prodigy_answers_are_not_asked_again_and_keep_their_hashes(tmp_path: Path) -> None:
    env = rr_env(tmp_path / "home")
    original = [json.loads(line) for line in ANNOTATED.read_text(encoding="utf-8").splitlines()]
    assert len(original) == 830
    rr(env, tmp_path, "db-in", "gh", str(ANNOTATED))
    # The same titles, raw, through the recipe Prodigy's answers were made with.
    run = rr(
        env, tmp_path, "run", "--headless", "textcat.manual", "gh", str(RAW),
        "--label", "DOCUMENTATION",
    )  # fmt: skip
    assert re.search(r"\b0 answers saved", run.stderr)
    stats = json.loads(rr(env, tmp_path, "stats", "gh", "--json").stdout)
    assert stats["total"] == 830
    # Importing the file again adds nothing either.
    again = rr(env, tmp_path, "db-in", "gh", str(ANNOTATED))
    assert "Imported 0 new answers" in again.stderr
    # Out again with Prodigy's own hashes, and nothing of rr's bookkeeping.
    exported = [json.loads(line) for line in rr(env, tmp_path, "db-out", "gh").stdout.splitlines()]
    assert canonical(exported) == canonical(original)


def test_a_fresh_text_after_an_import_is_still_asked(tmp_path: Path) -> None:
    env = rr_env(tmp_path / "home")
    rr(env, tmp_path, "db-in", "gh", str(ANNOTATED))
    source = tmp_path / "more.jsonl"
    lines = RAW.read_text(encoding="utf-8").splitlines()[:5]
    source.write_text("\n".join([*lines, '{"text": "A title Prodigy never saw"}']) + "\n")
    run = rr(
        env, tmp_path, "run", "--headless", "textcat.manual", "gh", str(source),
        "--label", "DOCUMENTATION",
    )  # fmt: skip
    assert re.search(r"\b1 answers? saved", run.stderr)
    # Asked under another label, the same text is a new question.
    other = rr(
        env, tmp_path, "run", "--headless", "textcat.manual", "gh", str(source),
        "--label", "BUG",
    )  # fmt: skip
    assert re.search(r"\b6 answers saved", other.stderr)


def test_rr_s_own_export_keeps_its_hashes_through_an_import(tmp_path: Path) -> None:
    # A manual NER answer keeps the task hash of the task as served (before its spans were
    # added): re-imported, it must still count as answered for that task.
    served = set_hashes({"text": "Anna met Bob in Paris"})
    answer = {**served, "spans": [{"start": 0, "end": 4, "label": "PERSON"}], "answer": "accept"}
    assert set_hashes(dict(answer), overwrite=True)[TASK_HASH] != served[TASK_HASH]
    source = tmp_path / "export.jsonl"
    source.write_text(json.dumps(answer) + "\n")
    env = rr_env(tmp_path / "home")
    rr(env, tmp_path, "db-in", "ner", str(source))
    exported = [json.loads(line) for line in rr(env, tmp_path, "db-out", "ner").stdout.splitlines()]
    assert exported == [answer]
    db = Database(f"sqlite:///{tmp_path / 'home' / 'rr.db'}")
    try:
        (stored,) = db.iter_answers("ner")
        ids = [db.dataset_id("ner")]
        assert db.answered_hashes(ids, [served[TASK_HASH]]) == {served[TASK_HASH]}
    finally:
        db.close()
    assert SOURCE_HASHES not in stored
