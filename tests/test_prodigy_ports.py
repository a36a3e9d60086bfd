"""Recipes written for Prodigy by others, ported by changing their import lines only, run
headless through the real CLI and one in a real Chromium.

The recipes are explosion/prodigy-recipes (MIT licence), read from a clone of that repository
named by RR_PRODIGY_RECIPES; their code is not part of this project, so without a clone these
tests are skipped. The port is the whole point: `port()` rewrites import lines and nothing else,
and the test checks that no other line changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import srsly

from .conftest import NEWS
from .spacy_data import WNUT_TRAIN, train_ner_pipeline

CLONE = os.environ.get("RR_PRODIGY_RECIPES", "")
pytestmark = pytest.mark.skipif(
    not CLONE or not Path(CLONE, "ner", "ner_manual.py").is_file(),
    reason="set RR_PRODIGY_RECIPES to a clone of explosion/prodigy-recipes",
)
IMPORT = re.compile(r"^(\s*)(import prodigy\b|from prodigy(\.| import))")


def port(name: str, folder: Path) -> Path:
    """The recipe `name` of the clone with `prodigy` replaced in its import lines only."""
    original = Path(CLONE, name).read_text(encoding="utf8").splitlines(keepends=True)
    ported = []
    for line in original:
        if IMPORT.match(line):
            line = line.replace("import prodigy", "from recipe_runner.compat import prodigy", 1)
            line = line.replace("from prodigy", "from recipe_runner.compat.prodigy", 1)
        ported.append(line)
    changed = [(a, b) for a, b in zip(original, ported, strict=True) if a != b]
    assert changed and all(IMPORT.match(a) for a, _ in changed)  # imports only, nothing else
    path = folder / Path(name).name
    path.write_text("".join(ported), encoding="utf8")
    return path


def rr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ, "RR_HOME": os.environ["RR_HOME"]},
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), err)


def answers(dataset: str, cwd: Path) -> list[dict[str, Any]]:
    out = rr("db-out", dataset, cwd=cwd).stdout
    return [json.loads(line) for line in out.splitlines()]


def headlines(folder: Path, n: int) -> Path:
    path = folder / "headlines.jsonl"
    srsly.write_jsonl(path, list(srsly.read_jsonl(NEWS))[:n])
    return path


@pytest.fixture(scope="module")
def blank_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import spacy

    path = tmp_path_factory.mktemp("blank") / "en"
    spacy.blank("en").to_disk(path)
    return path


@pytest.fixture(scope="module")
def ner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from recipe_runner.conll import read_conll

    tasks = [t for t in read_conll(WNUT_TRAIN) if t["spans"]][:150]
    return train_ner_pipeline(tasks, tmp_path_factory.mktemp("ner") / "m", n_iter=6)


@pytest.fixture(scope="module")
def textcat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A blank pipeline with an untrained `textcat_multilabel` for TECH: the recipe's own way
    to add one (`{"cats": {label: 0.5}}`) is refused by today's spaCy (E851)."""
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("textcat_multilabel")
    doc = nlp.make_doc("hello")
    pipe.initialize(lambda: [Example.from_dict(doc, {"cats": {"TECH": 1.0}})], nlp=nlp)
    path = tmp_path_factory.mktemp("textcat") / "en"
    nlp.to_disk(path)
    return path


PATTERNS = [
    {"label": "ORG", "pattern": [{"lower": "uber"}]},
    {"label": "ORG", "pattern": "Apple"},
    {"label": "LOC", "pattern": [{"lower": "silicon"}, {"lower": "valley"}]},
]


def test_choice_and_textcat_manual(tmp_path: Path) -> None:
    choice = port("other/choice.py", tmp_path)
    source = headlines(tmp_path, 20)
    rr(
        "run",
        "--headless",
        "-F",
        str(choice),
        "choice",
        "picks",
        str(source),
        "-o",
        "A,B",
        cwd=tmp_path,
    )
    rows = answers("picks", tmp_path)
    assert len(rows) == 20 and rows[0]["options"] == [
        {"id": "A", "text": "A"},
        {"id": "B", "text": "B"},
    ]
    manual = port("textcat/textcat_manual.py", tmp_path)
    rr(
        "run",
        "--headless",
        "-F",
        str(manual),
        "textcat.manual",
        "cats",
        str(source),
        "-l",
        "TECH,POLITICS",
        "-E",
        cwd=tmp_path,
    )
    assert {len(r["options"]) for r in answers("cats", tmp_path)} == {2}
    rr(
        "run",
        "--headless",
        "-F",
        str(manual),
        "textcat.manual",
        "one",
        str(source),
        "-l",
        "TECH",
        cwd=tmp_path,
    )
    assert {r["label"] for r in answers("one", tmp_path)} == {"TECH"}
    help_text = rr("run", "-F", str(manual), "textcat.manual", "--help", cwd=tmp_path).stdout
    assert "-E, --exclusive" in help_text and "Treat classes as mutually exclusive" in help_text


def test_mark_counts_through_ctrl_db_across_runs(tmp_path: Path) -> None:
    mark = port("other/mark.py", tmp_path)
    source = headlines(tmp_path, 12)
    first = rr(
        "run",
        "--headless",
        "-F",
        str(mark),
        "mark",
        "seen",
        str(source),
        "-o",
        "text",
        cwd=tmp_path,
    )
    assert "Total:  12" in first.stdout
    more = tmp_path / "more.jsonl"
    srsly.write_jsonl(more, list(srsly.read_jsonl(NEWS))[12:20])
    second = rr(
        "run",
        "--headless",
        "--answer",
        "reject",
        "-F",
        str(mark),
        "mark",
        "seen",
        str(more),
        "-o",
        "text",
        cwd=tmp_path,
    )
    assert "Accept: 12" in second.stdout and "Reject: 8" in second.stdout  # 12 read by on_load


def test_textcat_teach_with_and_without_patterns(tmp_path: Path, textcat_model: Path) -> None:
    teach = port("textcat/textcat_teach.py", tmp_path)
    source = headlines(tmp_path, 40)
    rr(
        "run",
        "--headless",
        "-F",
        str(teach),
        "textcat.teach",
        "tc",
        str(textcat_model),
        str(source),
        "-l",
        "TECH",
        cwd=tmp_path,
    )
    rows = answers("tc", tmp_path)
    assert len(rows) == 40 and all(r["label"] == "TECH" and 0 <= r["score"] <= 1 for r in rows)
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, [{**p, "label": "TECH"} for p in PATTERNS])
    rr(
        "run",
        "--headless",
        "-F",
        str(teach),
        "textcat.teach",
        "tcp",
        str(textcat_model),
        str(source),
        "-l",
        "TECH",
        "-p",
        str(patterns),
        cwd=tmp_path,
    )
    matched = [r for r in answers("tcp", tmp_path) if r.get("spans")]
    assert matched and all(r["label"] == "TECH" for r in matched)


def test_textcat_correct_with_updates(tmp_path: Path, textcat_model: Path) -> None:
    correct = port("textcat/textcat_correct.py", tmp_path)
    source = headlines(tmp_path, 25)
    args = ["-F", str(correct), "textcat.correct", "fixed", str(textcat_model), str(source)]
    rr("run", "--headless", *args, "-l", "TECH", "-UP", "-t", "0.0", cwd=tmp_path)
    rows = answers("fixed", tmp_path)
    assert len(rows) == 25
    assert all(r["options"][0]["id"] == "TECH" and r["accept"] == ["TECH"] for r in rows)


def test_ner_correct_with_updates(tmp_path: Path, ner_model: Path) -> None:
    correct = port("ner/ner_correct.py", tmp_path)
    source = headlines(tmp_path, 25)
    args = ["-F", str(correct), "ner.correct", "gold", str(ner_model), str(source)]
    rr("run", "--headless", *args, "-l", "person,location", "-UP", cwd=tmp_path)
    rows = answers("gold", tmp_path)
    assert len(rows) >= 25 and all(r["tokens"] for r in rows)  # a task per sentence
    assert {s["label"] for r in rows for s in r["spans"]} <= {"person", "location"}


def test_custom_model(tmp_path: Path) -> None:
    custom = port("textcat/textcat_custom_model.py", tmp_path)
    source = headlines(tmp_path, 30)
    rr(
        "run",
        "--headless",
        "-F",
        str(custom),
        "textcat.custom-model",
        "cm",
        str(source),
        "-l",
        "A,B",
        cwd=tmp_path,
    )
    rows = answers("cm", tmp_path)
    assert len(rows) == 30 and {r["label"] for r in rows} <= {"A", "B"}


def test_ner_manual_with_patterns_and_characters(tmp_path: Path, blank_model: Path) -> None:
    manual = port("ner/ner_manual.py", tmp_path)
    source = headlines(tmp_path, 30)
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, PATTERNS)
    rr(
        "run",
        "--headless",
        "-F",
        str(manual),
        "ner.manual",
        "ents",
        str(blank_model),
        str(source),
        "-l",
        "ORG,LOC",
        "-p",
        str(patterns),
        cwd=tmp_path,
    )
    rows = answers("ents", tmp_path)
    assert len(rows) == 30
    marked = [s for r in rows for s in r["spans"]]
    assert {s["label"] for s in marked} == {"ORG", "LOC"}
    assert all(
        r["text"][s["start"] : s["end"]].lower() in ("uber", "apple", "silicon valley")
        for r in rows
        for s in r["spans"]
    )
    rr(
        "run",
        "--headless",
        "-F",
        str(manual),
        "ner.manual",
        "chars",
        str(blank_model),
        str(source),
        "-l",
        "ORG",
        "-C",
        cwd=tmp_path,
    )
    assert all("tokens" not in r for r in answers("chars", tmp_path))  # their before_db ran


def test_ner_match_and_resume(tmp_path: Path, blank_model: Path) -> None:
    match = port("ner/ner_match.py", tmp_path)
    source = headlines(tmp_path, 60)
    patterns = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(patterns, PATTERNS)
    args = [
        "-F",
        str(match),
        "ner.match",
        "found",
        str(blank_model),
        str(source),
        "-p",
        str(patterns),
    ]
    rr("run", "--headless", *args, cwd=tmp_path)
    rows = answers("found", tmp_path)
    assert rows and all(len(r["spans"]) == 1 for r in rows)
    again = rr("run", "--headless", *args, "-R", cwd=tmp_path)  # resume: reads the dataset
    assert "0 answers saved" in again.stderr  # everything was answered already


def test_ner_teach_then_silver_to_gold_then_make_gold(tmp_path: Path, ner_model: Path) -> None:
    teach = port("ner/ner_teach.py", tmp_path)
    source = tmp_path / "texts.jsonl"
    srsly.write_jsonl(
        source,
        [{"text": t["text"]} for t in srsly.read_jsonl(NEWS)][:30],
    )
    rr(
        "run",
        "--headless",
        "-F",
        str(teach),
        "ner.teach",
        "silver",
        str(ner_model),
        str(source),
        "-l",
        "person,location,corporation",
        cwd=tmp_path,
    )
    silver = answers("silver", tmp_path)
    assert silver and all(len(r["spans"]) == 1 and r["_view_id"] == "ner" for r in silver)
    gold = port("ner/ner_silver_to_gold.py", tmp_path)
    rr(
        "run",
        "--headless",
        "-F",
        str(gold),
        "ner.silver-to-gold",
        "silver",
        "gold",
        str(ner_model),
        cwd=tmp_path,
    )
    merged = answers("gold", tmp_path)
    assert len(merged) == len({r["_input_hash"] for r in silver})
    accepted = {(r["text"], s["start"], s["end"], s["label"]) for r in silver for s in r["spans"]}
    kept = {(r["text"], s["start"], s["end"], s["label"]) for r in merged for s in r["spans"]}
    assert accepted <= kept  # headless accepted every suggestion: each is in the gold analysis
    make_gold = port("ner/ner_make_gold.py", tmp_path)
    rr(
        "run",
        "--headless",
        "-F",
        str(make_gold),
        "ner.make-gold",
        "made",
        str(ner_model),
        str(source),
        "-l",
        "person",
        cwd=tmp_path,
    )
    assert len(answers("made", tmp_path)) == 30


@pytest.mark.browser
def test_a_ported_recipe_in_chromium(tmp_path: Path) -> None:
    from recipe_runner.plugins import load_plugins

    from .test_browser import CHROMIUM, CHROMIUM_ARGS
    from .webserver import live_server

    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    from playwright.sync_api import sync_playwright

    path = port("textcat/textcat_manual.py", tmp_path)
    func: Callable[..., Any] = (
        load_plugins([path], entry_points=False).registry.get("textcat.manual").func
    )
    source = tmp_path / "three.jsonl"
    srsly.write_jsonl(source, [{"text": f"headline {i}"} for i in range(3)])
    kwargs = {"dataset": "web", "source": str(source), "label": ["A", "B", "C"]}
    with live_server(func, kwargs) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(server.url + "/")
            page.wait_for_selector("#content .task-text")
            for keys in ("13a", "2a"):
                for key in keys:
                    page.keyboard.press(key)
            page.keyboard.press("Control+s")
            rows: list[dict[str, Any]] = []
            for _ in range(200):
                rows = server.answers()
                if len(rows) >= 2:
                    break
                page.wait_for_timeout(50)
        finally:
            browser.close()
    assert {r["text"]: r["accept"] for r in rows} == {"headline 0": ["A", "C"], "headline 1": ["B"]}


def view_support(view: str = "", config_key: str = "") -> bool:
    from recipe_runner.config import SCHEMA
    from recipe_runner.views import VIEWS

    return (not view or view in VIEWS) and (not config_key or config_key in SCHEMA)


@pytest.mark.skipif(not view_support(config_key="html_template"), reason="needs html_template")
def test_question_answering_with_an_html_template(tmp_path: Path) -> None:
    recipe_file = port("other/question_answering.py", tmp_path)
    source = tmp_path / "qa.jsonl"
    srsly.write_jsonl(source, [{"question": "Sky?", "question_answer": "blue"}])
    rr(
        "run",
        "--headless",
        "-F",
        str(recipe_file),
        "question-answering",
        "qa",
        str(source),
        cwd=tmp_path,
    )
    assert [r["question_answer"] for r in answers("qa", tmp_path)] == ["blue"]


@pytest.mark.skipif(not view_support("blocks"), reason="needs the blocks view")
def test_span_and_textcat_in_blocks_stops_on_its_keymap(tmp_path: Path) -> None:
    """It ports by its imports, and stops on a difference: its `keymap_by_label` gives the
    number keys to labels, which the page already uses to pick labels and options by number.
    The run says so in one line, before anything is saved."""
    recipe_file = port("tutorials/span-and-textcat/recipe.py", tmp_path)
    source = headlines(tmp_path, 5)
    done = subprocess.run(
        [sys.executable, "-m", "recipe_runner", "run", "--headless", "-F", str(recipe_file),
         "span-and-textcat", "both", "en", str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("Error: Config 'keymap': key '1'")
    assert "Traceback" not in done.stderr
