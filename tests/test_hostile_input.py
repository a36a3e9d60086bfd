"""Hostile source files: a clear one-line error or skipped lines with a count, never a crash
and never a partial dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recipe_runner.errors import SourceError
from recipe_runner.loaders import MAX_LINE_BYTES, get_stream

GOOD = b'{"text":"one"}\n{"text":"two"}\n'
# name -> (file content, the error's words, tasks read with --skip-invalid)
BAD: dict[str, tuple[bytes, str, int]] = {
    "broken-json": (GOOD + b'{"text": "x"\n', "line 3: malformed JSON", 2),
    "not-an-object": (b"[1, 2]\n" + GOOD, "line 1: each line must be a JSON object", 2),
    "nul-byte": (GOOD + b'{"text":"a\x00b"}\n', "line 3: a NUL byte", 2),
    "invalid-utf8": (b'{"text":"caf\xe9"}\n' + GOOD, "line 1: invalid UTF-8 at byte 12", 2),
    "truncated-utf8": (GOOD + b'{"text":"\xe2\x82"}', "line 3: invalid UTF-8", 2),
    "lone-cr-endings": (b'{"text":"a"}\r{"text":"b"}\r', "line 1: malformed JSON", 0),
    "binary-garbage": (bytes(range(256)) * 4, "line 1: a NUL byte", 0),
}


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path: Path, case: str) -> None:
    content, words, _ = BAD[case]
    path = write(tmp_path, f"{case}.jsonl", content)
    stream = get_stream(path)
    # Counting (what a run does first, before any answer is saved) already finds it.
    with pytest.raises(SourceError, match=words) as err:
        len(stream)
    assert f"'{path}'" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SourceError, match=words):
        list(stream)


@pytest.mark.parametrize("case", list(BAD))
def test_skip_invalid_skips_bad_lines_and_counts_them(tmp_path: Path, case: str) -> None:
    content, _, good = BAD[case]
    stream = get_stream(write(tmp_path, f"{case}.jsonl", content), skip_invalid=True)
    assert len(stream) == good
    tasks = list(stream)
    assert len(tasks) == good and stream.skipped >= 1
    assert all(isinstance(t, dict) and "\x00" not in t["text"] for t in tasks)


def test_bom_and_crlf_are_read_as_plain_utf8(tmp_path: Path) -> None:
    jsonl = write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"text":"a"}\r\n\r\n{"text":"b"}\r\n')
    assert list(get_stream(jsonl)) == [{"text": "a"}, {"text": "b"}]
    assert len(get_stream(jsonl)) == 2
    txt = write(tmp_path, "bom.txt", b"\xef\xbb\xbfhello\r\nworld\r\n")
    assert [t["text"] for t in get_stream(txt)] == ["hello", "world"]
    csv = write(tmp_path, "bom.csv", b'\xef\xbb\xbftext,label\r\nhi,A\r\n"two\r\nlines",B\r\n')
    assert [(t["text"], t["label"]) for t in get_stream(csv)] == [
        ("hi", "A"),
        ("two\r\nlines", "B"),
    ]
    json_ = write(tmp_path, "bom.json", b'\xef\xbb\xbf[{"text":"x"}]')
    assert list(get_stream(json_)) == [{"text": "x"}]


def test_utf16_files_are_named_as_such(tmp_path: Path) -> None:
    for name in ("u.jsonl", "u.json", "u.txt"):
        path = write(tmp_path, name, '[{"text":"a"}]\n'.encode("utf-16"))
        with pytest.raises(SourceError, match=r"is UTF-16 encoded\. Save the file as UTF-8"):
            list(get_stream(path))


def test_other_loaders_name_the_line_too(tmp_path: Path) -> None:
    txt = write(tmp_path, "bad.txt", b"fine\nnot \xff fine\n")
    with pytest.raises(SourceError, match=r"bad.txt' line 2: invalid UTF-8"):
        len(get_stream(txt))
    csv = write(tmp_path, "bad.csv", b"text\nfine\nnul\x00here\n")
    with pytest.raises(SourceError, match=r"bad.csv' line \d"):
        list(get_stream(csv))
    json_ = write(tmp_path, "bad.json", b'[{"text":"a"},')
    with pytest.raises(SourceError, match=r"bad\.json': malformed JSON"):
        list(get_stream(json_))


def test_long_lines_are_read_and_too_long_ones_refused_without_keeping_them(
    tmp_path: Path,
) -> None:
    long_text = "x" * (5 * 1024 * 1024)
    ok = write(tmp_path, "long.jsonl", json.dumps({"text": long_text}).encode() + b"\n" + GOOD)
    assert [len(t["text"]) for t in get_stream(ok)] == [len(long_text), 3, 3]
    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as out:
        out.write(GOOD)
        out.write(b"y" * (MAX_LINE_BYTES + 10) + b"\n")
        out.write(b'{"text":"after"}\n')
    with pytest.raises(SourceError, match="line 3: longer than 64 MiB"):
        len(get_stream(huge))
    skipping = get_stream(huge, skip_invalid=True)
    assert [t["text"] for t in skipping] == ["one", "two", "after"] and skipping.skipped == 1


# the command line -------------------------------------------------------------------------------
def rr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RR_HOME": str(cwd / "home")}
    return subprocess.run(
        [sys.executable, "-m", "recipe_runner", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_stops_before_saving_anything_when_a_late_line_is_bad(tmp_path: Path) -> None:
    lines = b"".join(b'{"text":"task %d"}\n' % i for i in range(300))
    path = write(tmp_path, "late.jsonl", lines + b'{"text": oops}\n')
    result = rr("run", "--headless", "mark", "news", str(path), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: '{path}' line 301:")
    assert "Traceback" not in result.stderr
    # No partial dataset: not one answer, not even an empty dataset.
    stats = rr("stats", "--json", cwd=tmp_path)
    assert json.loads(stats.stdout) == []
    skipped = rr("run", "--headless", "mark", "news", str(path), "--skip-invalid", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "300 answers saved" in skipped.stderr and "skipped 1 invalid lines" in skipped.stderr


def test_db_in_of_a_bad_file_imports_nothing(tmp_path: Path) -> None:
    good = write(tmp_path, "good.jsonl", GOOD)
    assert rr("db-in", "ds", str(good), cwd=tmp_path).returncode == 0
    bad = write(tmp_path, "bad.jsonl", b'{"text":"new"}\n' * 3 + b'{"text":"x\xff"}\n')
    result = rr("db-in", "ds", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "line 4: invalid UTF-8" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    stats = json.loads(rr("stats", "ds", "--json", cwd=tmp_path).stdout)
    assert stats["total"] == 2


@pytest.mark.parametrize("name", ["bad name", "../x", "-rf", "x" * 101, "naïve"])
def test_cli_refuses_invalid_dataset_names(tmp_path: Path, name: str) -> None:
    result = rr(
        "run", "--headless", "mark", name, str(write(tmp_path, "a.jsonl", GOOD)), cwd=tmp_path
    )
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    if result.returncode == 1:
        assert "Invalid dataset name" in result.stderr
    assert json.loads(rr("stats", "--json", cwd=tmp_path).stdout) == []


def test_counting_agrees_with_reading_on_json_odd_corners(tmp_path: Path) -> None:
    # Lines the fast check refuses but the reading parser takes: counted all the same.
    odd = (
        b'{"text": "big", "n": 123456789012345678901234567890}\n'
        b'{"text": "esc", "s": "\\ud83d\\ude00 \\u0000"}\n'
    )
    path = write(tmp_path, "odd.jsonl", odd)
    tasks = list(get_stream(path))
    assert len(get_stream(path)) == len(tasks) == 2
    assert tasks[0]["n"] == 123456789012345678901234567890
