"""A recipe's failures are its author's to see: a -F file that does not import, recipes of the
same name, an exception in a callback, answers refused by validate_answer in headless mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import NEWS

RECIPES = """\
from recipe_runner import recipe


@recipe("mark")
def my_mark(dataset: str):
    '''My own mark, over the built-in one.'''
    return {"dataset": dataset, "stream": [{"text": "mine"}], "view_id": "text"}


@recipe("fails.in.update")
def fails_in_update(dataset: str):
    def update(answers):
        return answers[0]["missing"]

    return {"dataset": dataset, "stream": [{"text": "a"}], "view_id": "text", "update": update}


@recipe("refuses.some")
def refuses_some(dataset: str):
    def validate_answer(answer):
        if "bad" in answer["text"]:
            raise ValueError("no bad words")
        if answer["text"].endswith("3"):
            raise ValueError("no threes")

    stream = [{"text": f"good {i}"} for i in range(4)] + [{"text": f"bad {i}"} for i in range(2)]
    return {
        "dataset": dataset, "stream": stream, "view_id": "text", "validate_answer": validate_answer
    }
"""


def rr(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        capture_output=True,
        timeout=120,
        env={**os.environ, **env},
    )
    # Decoded without newline translation, so a progress bar cleared with "\r" stays cleared.
    out, err = done.stdout.decode(), done.stderr.decode()
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def shown(err: str) -> list[str]:
    lines = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    return [line for line in lines if line.strip()]


def test_a_file_that_fails_to_import_stops_the_run(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("from recipe_runner import recipe\n\nimport no_such_module_here\n")
    result = rr("run", "--headless", "-F", str(path), "mark", "ds", str(NEWS))
    assert result.returncode == 1
    assert shown(result.stderr) == [
        f"Error: Can't load the recipe file '{path}' (line 3): ModuleNotFoundError: "
        "No module named 'no_such_module_here'"
    ]
    assert "Traceback" not in result.stderr
    stats = rr("stats", "--json")
    assert stats.stdout.strip() == "[]"  # the built-in mark did not run in its place
    syntax = tmp_path / "syntax.py"
    syntax.write_text("x = 1\ndef broken(:\n")
    result = rr("run", "-F", str(syntax), "mark", "--help")
    assert result.returncode == 1
    assert shown(result.stderr) == [
        f"Error: Can't load the recipe file '{syntax}' (line 2): SyntaxError: invalid syntax"
    ]


def test_a_file_recipe_overrides_an_installed_one_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "recipes.py"
    path.write_text(RECIPES)
    result = rr("run", "--headless", "-F", str(path), "mark", "mine")
    assert result.returncode == 0, result.stderr
    assert (
        shown(result.stderr)[0]
        == f"Recipe 'mark' from '{path}' overrides the one of plugin 'core'."
    )
    listed = rr("recipes", "-F", str(path))
    rows = [line for line in listed.stdout.splitlines() if line.startswith("mark ")]
    assert len(rows) == 1 and str(path) in rows[0] and "My own mark" in rows[0]
    # Running another recipe of the file does not mention it.
    other = rr("run", "--headless", "-F", str(path), "refuses.some", "x")
    assert "overrides" not in other.stderr


def test_an_exception_in_a_callback_names_the_recipe_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "recipes.py"
    path.write_text(RECIPES)
    line = RECIPES.splitlines().index('        return answers[0]["missing"]') + 1
    result = rr("run", "--headless", "-F", str(path), "fails.in.update", "ds")
    assert result.returncode == 1
    assert shown(result.stderr) == [
        f"Error: Recipe 'fails.in.update' failed at {path}:{line}: KeyError: 'missing' "
        "(--traceback or RR_TRACEBACK=1 shows the whole traceback)"
    ]


def test_headless_counts_refused_answers_with_reasons_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "recipes.py"
    path.write_text(RECIPES)
    result = rr("run", "--headless", "-F", str(path), "refuses.some", "ds")
    assert result.returncode == 1
    summary = shown(result.stderr)[-1]
    assert "3 answers saved to dataset 'ds'" in summary
    assert "(3 accept, 0 reject, 0 ignore)" in summary
    assert "3 refused by validate_answer: 'no bad words' (2); 'no threes' (1)" in summary
    stats = rr("stats", "ds", "--json")
    assert '"total": 3' in stats.stdout


def test_in_the_web_view_a_failing_callback_is_one_line_and_the_server_keeps_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import httpx

    from recipe_runner import recipe

    from .webserver import live_server

    @recipe("web.fails")
    def web_fails() -> dict[str, Any]:
        def update(answers: list[dict[str, Any]]) -> None:
            if any(a["text"] == "t1" for a in answers):
                raise KeyError("label")

        stream = [{"text": f"t{i}"} for i in range(4)]
        return {"dataset": "web", "stream": stream, "view_id": "text", "update": update}

    line = (
        Path(__file__).read_text().splitlines().index('                raise KeyError("label")') + 1
    )
    with live_server(web_fails, cli_config={"batch_size": 1}) as server:
        first = httpx.get(f"{server.url}/api/questions").json()["tasks"]
        ok = httpx.post(
            f"{server.url}/api/answers", json={"answers": [{**first[0], "answer": "accept"}]}
        )
        assert ok.status_code == 200
        second = httpx.get(f"{server.url}/api/questions").json()["tasks"]
        failed = httpx.post(
            f"{server.url}/api/answers", json={"answers": [{**second[0], "answer": "accept"}]}
        )
        assert failed.status_code == 500
        expected = f"Recipe 'web.fails' failed at {__file__}:{line}: KeyError: 'label'"
        assert failed.json()["detail"].startswith(expected)
        assert httpx.get(f"{server.url}/api/questions").status_code == 200  # still serving
        rows = server.answers()
    assert [r["text"] for r in rows] == ["t0"]  # nothing of the failed batch was saved
    err = capsys.readouterr().err
    assert f"Error: {expected}" in err and "Traceback" not in err
