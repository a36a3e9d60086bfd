"""The `rr` command line: help everywhere, the run command's rules, db-in/db-out, stats and drop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import srsly
import typer
from typer.testing import CliRunner

from recipe_runner.cli import app
from recipe_runner.hashing import set_hashes

from .conftest import DATA, NEWS
from .rr_testing import Result, rr_main

EXAMPLES = sorted((DATA / "prodigy_examples").glob("*.jsonl"))
COMMANDS = list(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.fixture
def rr(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """`rr(*args)`: the console script's `main` in process, with its exit code and streams."""

    def call(*args: str) -> Result:
        return rr_main(capsys, monkeypatch, *args)

    return call


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def subprocess_rr(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


# help -------------------------------------------------------------------------------------
def test_top_level_help_lists_every_command() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("recipes", "plugins", "run", "db-out", "db-in", "stats", "drop"):
        assert name in COMMANDS
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert f"Usage: rr {command}" in result.stdout
    doc = typer.main.get_command(app).commands[command].help  # type: ignore[attr-defined]
    assert doc and doc.split()[0] in result.stdout


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        ("mark", ["DATASET", "--view-id", "--label", "--skip-invalid", "Show tasks as they are"]),
        ("textcat.manual", ["--exclusive", "--label", "Label texts by hand"]),
        ("ner.manual", ["SPACY_MODEL", "--label", "Mark entity spans"]),
    ],
)
def test_recipe_help_shows_its_arguments(recipe: str, expected: list[str]) -> None:
    result = invoke("run", recipe, "--help")
    assert result.exit_code == 0, result.output
    text = result.stdout.upper()
    for item in expected:
        assert item.upper() in text, item
    assert "--no-exclusive" not in result.stdout  # bool parameters are plain flags


def test_recipe_help_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "from recipe_runner import recipe\n\n"
        "@recipe('mine.check')\n"
        "def check(dataset: str, strict: bool = False, limit: int = 5):\n"
        "    '''Check things carefully.'''\n"
        "    return {'dataset': dataset, 'stream': [], 'view_id': 'text'}\n",
        encoding="utf-8",
    )
    result = invoke("run", "-F", str(path), "mine.check", "--help")
    assert result.exit_code == 0, result.output
    for item in ("Check things carefully.", "--strict", "--limit"):
        assert item in result.stdout
    listed = invoke("recipes", "--json", "-F", str(path))
    rows = [r for r in json.loads(listed.stdout) if r["name"] == "mine.check"]
    assert rows == [
        {"name": "mine.check", "plugin": str(path), "summary": "Check things carefully."}
    ]


def test_python_dash_m() -> None:
    result = subprocess_rr("--help")
    assert result.returncode == 0
    assert "Usage:" in result.stdout and "run" in result.stdout


def imported_by(*args: str) -> set[str]:
    """The modules a fresh interpreter has imported after `rr ARGS`."""
    code = (
        "import sys, json\n"
        f"sys.argv = ['rr', *{list(args)!r}]\n"
        "from recipe_runner.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stderr.splitlines()[-1]))


HEAVY = {"spacy", "thinc", "fastapi", "uvicorn", "sqlalchemy", "numpy", "srsly", "tqdm"}


def test_help_imports_no_heavy_module_and_loads_no_plugin() -> None:
    modules = imported_by("--help")
    assert "recipe_runner.cli" in modules
    assert {m.split(".")[0] for m in modules} & (HEAVY | {"pluggy"}) == set()
    # no plugin loaded: neither the loader nor any plugin module
    plugin_modules = {"recipe_runner.plugins", "rr_core_recipes", "rr_spacy_recipes", "rr_hello"}
    assert modules & plugin_modules == set()


def test_listing_recipes_imports_no_heavy_module() -> None:
    modules = imported_by("recipes")
    assert "rr_core_recipes" in modules  # the plugins are loaded...
    assert {m.split(".")[0] for m in modules} & HEAVY == set()  # ...but not what runs them


# run ----------------------------------------------------------------------------------------
def test_unknown_recipe_names_close_ones(rr: Any) -> None:
    result = rr("run", "textcat.manul", "ds", "x.jsonl")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "Can't find recipe 'textcat.manul'" in result.err
    assert "textcat.manual" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("option", ["--headless", "--answer=reject", "--port", "-F"])
def test_run_option_after_the_recipe_is_a_usage_error(rr: Any, option: str) -> None:
    result = rr("run", "mark", "ds", str(NEWS), option)
    assert result.code == 2
    assert "run options go before the recipe name" in result.err
    assert result.err.count("\n") == 1


def test_bad_recipe_arguments_are_usage_errors(rr: Any) -> None:
    result = rr("run", "--headless", "mark", "ds")
    assert result.code == 2
    assert "Missing argument" in result.err


# database commands --------------------------------------------------------------------------
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The standard library's reading, which gives every float exactly as written."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def expected_rows(path: Path) -> list[dict[str, Any]]:
    """What db-in stores of a file: each line with hashes and an answer, the first of each
    (session, task hash)."""
    seen: set[tuple[str, int]] = set()
    rows = []
    for task in read_jsonl(path):
        task.setdefault("answer", "accept")
        set_hashes(task)
        key = (str(task.get("_session_id") or ""), task["_task_hash"])
        if key not in seen:
            seen.add(key)
            rows.append(task)
    return rows


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_db_in_db_out_round_trip(path: Path, tmp_path: Path) -> None:
    original = read_jsonl(path)
    result = invoke("db-in", "first", str(path))
    assert result.exit_code == 0, result.output
    expected = expected_rows(path)
    assert (
        f"Imported {len(expected)} new answers into 'first' ({len(original)} read" in result.stderr
    )
    out = tmp_path / "out.jsonl"
    exported = invoke("db-out", "first", str(out))
    assert exported.exit_code == 0, exported.output
    rows = read_jsonl(out)
    assert rows == expected
    # hashes already in the file (Prodigy's) are kept as they are
    given = {(t["_input_hash"], t["_task_hash"]) for t in original if "_task_hash" in t}
    assert given <= {(r["_input_hash"], r["_task_hash"]) for r in rows}
    # and back again: the same answers, the same hashes
    assert invoke("db-in", "second", str(out)).exit_code == 0
    again = invoke("db-out", "second")
    assert [json.loads(line) for line in again.stdout.splitlines()] == rows


def test_db_in_with_a_bad_line_saves_nothing(rr: Any, tmp_path: Path) -> None:
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:150], "{not json", *lines[150:]]) + "\n", encoding="utf-8")
    result = rr("db-in", "news", str(bad))
    assert result.code == 1
    assert "bad.jsonl' line 151" in result.err
    assert result.err.count("\n") == 1
    stats = rr("stats", "--json")
    assert json.loads(stats.out) == []
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"text": "a", "answer": "accept"}\n{"text": "b", "answer": "yes"}\n')
    result = rr("db-in", "news", str(wrong))
    assert result.code == 1
    assert "line 2" in result.err and "'yes'" in result.err
    assert json.loads(rr("stats", "--json").out) == []


def test_db_out_to_stdout_is_only_jsonl(rr: Any) -> None:
    rr("db-in", "news", str(NEWS))
    result = rr("db-out", "news")
    assert result.code == 0
    rows = [json.loads(line) for line in result.out.splitlines()]
    assert len(rows) == 178


def test_stats_json_shape(rr: Any, tmp_path: Path) -> None:
    answers = [
        {"text": "a", "answer": "accept", "_session_id": "ds-alex"},
        {"text": "b", "answer": "reject", "_session_id": "ds-alex"},
        {"text": "c", "answer": "ignore", "_session_id": "ds-sam"},
        {"text": "d", "answer": "accept"},
    ]
    path = tmp_path / "answers.jsonl"
    srsly.write_jsonl(path, answers)
    assert rr("db-in", "ds", str(path)).code == 0
    result = rr("stats", "ds", "--json")
    assert result.code == 0
    shown = json.loads(result.out)
    team = {"answers_per_hour": None, "median_seconds": None, "agreement": None}
    for row in shown["sessions"].values():  # the pace and agreement of each: none here
        assert {k: row.pop(k) for k in team} == team
    assert shown == {
        "dataset": "ds",
        "accept": 2,
        "reject": 1,
        "ignore": 1,
        "total": 4,
        "sessions": {
            "": {"accept": 1, "reject": 0, "ignore": 0, "total": 1},
            "ds-alex": {"accept": 1, "reject": 1, "ignore": 0, "total": 2},
            "ds-sam": {"accept": 0, "reject": 0, "ignore": 1, "total": 1},
        },
    }
    rr("db-in", "other", str(NEWS))
    listing = json.loads(rr("stats", "--json").out)
    assert [row["dataset"] for row in listing] == ["ds", "other"]
    assert listing[1]["total"] == 178
    assert set(listing[1]) == {"dataset", "accept", "reject", "ignore", "total", "sessions"}
    text = rr("stats")
    assert "ds: 4 answers (2 accept, 1 reject, 1 ignore), 3 sessions" in text.out
    other = [line for line in text.out.splitlines() if line.startswith("other: 178 answers")]
    assert len(other) == 1 and other[0].endswith("), 1 session")


def test_drop(rr: Any) -> None:
    rr("db-in", "news", str(NEWS))
    result = rr("drop", "news")
    assert result.code == 0
    assert "Dropped dataset 'news' and its 178 answers" in result.err
    assert json.loads(rr("stats", "--json").out) == []
    # the name can be used again from scratch
    assert rr("db-in", "news", str(NEWS)).code == 0
    assert json.loads(rr("stats", "news", "--json").out)["total"] == 178


@pytest.mark.parametrize("command", [["db-out", "nope"], ["stats", "nope"], ["drop", "nope"]])
def test_unknown_dataset_is_an_error_naming_it(rr: Any, command: list[str]) -> None:
    rr("db-in", "news", str(NEWS))
    result = rr(*command)
    assert result.code == 1
    assert result.err.startswith("Error: Can't find dataset 'nope'")
    assert result.err.count("\n") == 1
    assert result.out == ""


# every user error: one line on stderr, exit 1, no traceback -----------------------------
BAD_COMPONENTS = """
from recipe_runner import recipe

@recipe("broken.components")
def broken(dataset: str):
    return {"dataset": dataset, "stream": [], "view_id": "text", "strem": []}

@recipe("raises.inside")
def raises(dataset: str):
    raise RuntimeError("a bug in the recipe")
"""


def user_errors(tmp: Path) -> list[tuple[list[str], dict[str, str], str]]:
    (tmp / "recipes.py").write_text(BAD_COMPONENTS, encoding="utf-8")
    (tmp / "latin.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
    (tmp / "notext.jsonl").write_text('{"html": "<b>x</b>"}\n', encoding="utf-8")
    head = ["run", "--headless"]
    return [
        ([*head, "mark", "ds", str(tmp / "missing.jsonl")], {}, "Can't find the source file"),
        ([*head, "mark", "ds", str(tmp / "latin.jsonl")], {}, "line 1: invalid UTF-8"),
        (
            [*head, "mark", "ds", str(tmp / "notext.jsonl"), "--view-id", "ner_manual"],
            {},
            "line 1: the task has no 'text'",
        ),
        ([*head, "mark", "bad name!", str(NEWS)], {}, "Invalid dataset name 'bad name!'"),
        (
            [*head, "-F", str(tmp / "recipes.py"), "broken.components", "ds"],
            {},
            "Recipe 'broken.components' returned an unknown component 'strem'",
        ),
        ([*head, "-F", str(tmp / "nope.py"), "mark", "ds", str(NEWS)], {}, "nope.py"),
        (
            [*head, "mark", "ds", str(NEWS)],
            {"RR_CONFIG_OVERRIDES": '{"batch_size": "ten"}'},
            "Config key 'batch_size'",
        ),
        ([*head, "mark", "ds", str(NEWS)], {"RR_CONFIG_OVERRIDES": "{"}, "RR_CONFIG_OVERRIDES"),
        ([*head, "textcat.manual", "ds", str(NEWS)], {}, "textcat.manual needs --label"),
        (["db-in", "ds", str(tmp / "missing.jsonl")], {}, "Can't find the source file"),
        (["db-out", "never-made"], {}, "Can't find dataset 'never-made'"),
        (["db-out", "news", str(tmp)], {}, "it is a folder"),
        (["db-out", "news", "/proc/out.jsonl"], {}, "Can't write '/proc/out.jsonl'"),
        (["stats"], {"RR_HOME": str(tmp / "recipes.py" / "home")}, "Can't open the database"),
        (
            ["stats"],
            {"RR_DB_URL": "postgresql://postgres:secret@127.0.0.1:1/none"},
            "Can't open the database 'postgresql+psycopg://postgres:***@127.0.0.1:1/none'",
        ),
    ]


def visible_lines(err: str) -> list[str]:
    """The lines a terminal shows: a progress bar cleared with carriage returns leaves none."""
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    return [line for line in shown if line.strip()]


def test_every_user_error_is_one_line(
    rr: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert rr("db-in", "news", str(NEWS)).code == 0
    for args, env, message in user_errors(tmp_path):
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            result = rr(*args)
        assert result.code == 1, (args, result.err)
        lines = visible_lines(result.err)
        assert len(lines) == 1, (args, result.err)
        assert lines[0].startswith("Error: "), lines
        assert message in lines[0], (message, lines[0])


def test_unknown_config_key_is_a_warning(rr: Any, tmp_path: Path) -> None:
    (tmp_path / "rr.json").write_text('{"batch_sise": 3}', encoding="utf-8")
    result = rr("run", "--headless", "mark", "news", str(NEWS))
    assert result.code == 0
    assert "Warning: Unknown config key 'batch_sise'" in result.err


def test_a_recipes_own_exception_is_one_line_unless_the_traceback_is_asked_for(
    tmp_path: Path,
) -> None:
    path = tmp_path / "recipes.py"
    path.write_text(BAD_COMPONENTS, encoding="utf-8")
    line = BAD_COMPONENTS.splitlines().index('    raise RuntimeError("a bug in the recipe")') + 1
    result = subprocess_rr("run", "--headless", "-F", str(path), "raises.inside", "ds")
    assert result.returncode == 1
    assert visible_lines(result.stderr) == [
        f"Error: Recipe 'raises.inside' failed at {path}:{line}: RuntimeError: a bug in the "
        "recipe (--traceback or RR_TRACEBACK=1 shows the whole traceback)"
    ]
    for extra, env in ((["--traceback"], {}), ([], {"RR_TRACEBACK": "1"})):
        result = subprocess_rr(
            "run", "--headless", *extra, "-F", str(path), "raises.inside", "ds", **env
        )
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert f'File "{path}", line {line}, in raises' in result.stderr
        assert result.stderr.rstrip().splitlines()[-1].startswith("Error: Recipe 'raises.inside'")


def test_floats_come_back_exactly(rr: Any, tmp_path: Path) -> None:
    scores = [1e-20, 1 / 3, 0.1 + 0.2, 0.596003294, 2**0.5]
    path = tmp_path / "scores.jsonl"
    path.write_text(
        "".join(json.dumps({"text": f"t{i}", "score": s}) + "\n" for i, s in enumerate(scores)),
        encoding="utf-8",
    )
    assert rr("db-in", "scores", str(path)).code == 0
    exported = [json.loads(line) for line in rr("db-out", "scores").out.splitlines()]
    assert [row["score"] for row in exported] == scores
