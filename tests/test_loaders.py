"""Loaders: every format, stdin, a lazy length, and errors that name the file and the line."""

from __future__ import annotations

import io
import json
import sys
import tracemalloc
from pathlib import Path

import pytest
import srsly

from recipe_runner.errors import SourceError
from recipe_runner.loaders import Stream, get_stream, stream_length

from .conftest import NEWS


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "one"}\n\n{"text": "two", "meta": {"n": 2}}\n')
    stream = get_stream(path)
    assert list(stream) == [{"text": "one"}, {"text": "two", "meta": {"n": 2}}]
    assert len(stream) == 2  # the empty line is not a task
    assert list(stream) == list(stream)  # iterating again starts from the top


def test_json_list(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    srsly.write_json(path, [{"text": "one"}, {"text": "two"}])
    stream = get_stream(path)
    assert [t["text"] for t in stream] == ["one", "two"]
    assert len(stream) == 2


def test_csv_text_column_label_and_meta(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "Text,label,source\nhello,GREETING,web\n,X,y\nbye,,mail\n")
    stream = get_stream(path)
    assert list(stream) == [
        {"text": "hello", "label": "GREETING", "meta": {"source": "web"}},
        {"text": "bye", "meta": {"source": "mail"}},
    ]
    assert len(stream) == 2


def test_csv_without_text_column(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "body,label\nhello,X\n")
    with pytest.raises(SourceError, match=r"a\.csv' line 1: a CSV source needs a 'text' column"):
        list(get_stream(path))


def test_txt_one_task_per_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "\ufefffirst line\n  \nsecond line  \n")
    stream = get_stream(path)
    assert list(stream) == [{"text": "first line"}, {"text": "second line"}]
    assert len(stream) == 2


def test_loader_named_explicitly_wins_over_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "tasks.data", '{"text": "x"}\n')
    with pytest.raises(SourceError, match=r"Can't tell how to read .*tasks\.data"):
        get_stream(path)
    assert list(get_stream(path, loader="jsonl")) == [{"text": "x"}]
    with pytest.raises(SourceError, match="Unknown loader 'xml'"):
        get_stream(path, loader="xml")


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b'{"text": "from stdin"}\n{"text": "again"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    stream = get_stream("-")
    assert stream_length(stream) is None  # stdin can't be counted without reading it
    assert [t["text"] for t in stream] == ["from stdin", "again"]


def test_stdin_malformed_line_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "a"}\n{oops\n')))
    with pytest.raises(SourceError, match=r"'<stdin>' line 2: malformed JSON"):
        list(get_stream("-"))


def test_length_of_a_big_file_without_loading_it(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps({"text": "x" * 200}) + "\n"
    with path.open("w", encoding="utf-8") as out:
        for _ in range(50_000):
            out.write(line)
    size = path.stat().st_size
    stream = get_stream(path)
    tracemalloc.start()
    try:
        assert len(stream) == 50_000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 20, (peak, size)  # counted line by line, never held
    # map and apply keep the length without reading the tasks
    assert len(stream.map(lambda t: {**t, "label": "X"})) == 50_000
    assert len(stream.apply(lambda tasks: (t for t in tasks))) == 50_000


def test_length_is_lazy_and_counted_once(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n')
    stream = get_stream(path)
    path.write_text('{"text": "a"}\n{"text": "b"}\n', encoding="utf-8")
    assert len(stream) == 2  # not counted when the stream was opened
    path.write_text('{"text": "a"}\n', encoding="utf-8")
    assert len(stream) == 2  # and counted only once


def test_generator_stream_has_no_length() -> None:
    assert stream_length(t for t in [{"text": "a"}]) is None
    assert stream_length([{"text": "a"}]) == 1
    with pytest.raises(TypeError):
        len(Stream(lambda: iter(())))


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "a"}\n{"text": "b"}\n{"text": oops}\n')
    with pytest.raises(SourceError) as err:
        list(get_stream(path))
    message = str(err.value)
    assert "bad.jsonl' line 3: malformed JSON" in message
    assert "--skip-invalid" in message
    assert "\n" not in message


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n[1, 2]\n')
    with pytest.raises(SourceError, match=r"a\.jsonl' line 2: each line must be a JSON object"):
        list(get_stream(path))


def test_skip_invalid_counts_the_skipped_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        b'{"text": "a"}\n{broken\n"just a string"\n\xff\xfe\n{"text": "b"}\n',
    )
    stream = get_stream(path, skip_invalid=True)
    assert [t["text"] for t in stream] == ["a", "b"]
    assert stream.skipped == 3
    mapped = stream.map(lambda t: t)
    list(mapped)
    assert mapped.root.skipped == 6  # the count lives on the source stream


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(SourceError, match=r"latin\.jsonl' line 2: invalid UTF-8"):
        list(get_stream(path))
    txt = write(tmp_path / "latin.txt", b"ok\ncaf\xe9\n")
    with pytest.raises(SourceError, match=r"latin\.txt' line 2: invalid UTF-8"):
        list(get_stream(txt))
    csv = write(tmp_path / "latin.csv", b"text\nok\ncaf\xe9\n")
    with pytest.raises(SourceError, match=r"latin\.csv' line \d+: invalid UTF-8"):
        list(get_stream(csv))


def test_missing_source_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"Can't find the source file '.*nope\.jsonl'"):
        get_stream(tmp_path / "nope.jsonl")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    with pytest.raises(SourceError, match="is not a file"):
        get_stream(folder)


def test_location_follows_the_source(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n\n{"text": "b"}\n')
    stream = get_stream(path).map(lambda t: t)
    iterator = iter(stream)
    next(iterator)
    assert stream.location().endswith("a.jsonl' line 1")
    next(iterator)
    assert stream.location().endswith("a.jsonl' line 3")


def test_news_headlines() -> None:
    stream = get_stream(NEWS)
    assert len(stream) == 200
    assert len({t["text"] for t in stream}) == 178


# Lines where a fast JSON reader could differ from the standard library's: each must come out
# exactly as json.loads reads it, and be counted the same.
CORNERS = [
    '{"text": "19 digits", "n": 9223372036854775808}',
    '{"text": "min - 1", "n": -9223372036854775809}',
    '{"text": "max", "n": 9223372036854775807, "m": -9223372036854775808}',
    '{"text": "long mantissa", "p": 0.1234567890123456789012345}',
    '{"text": "floats", "f": [5e-324, 1.7976931348623157e308, -0.0, 1e16, 0.30000000000000004]}',
    '{"text": "twice", "text": "last wins"}',
    '{"text": "escapes \\u00e9 \\ud83d\\ude00 \\u0000 \\n"}',
    '  {"text": "spaces around"}  ',
]


# Not JSON by the rules of every request body and `rr db-in` (recipe_runner.jsonio): refused
# with the file and line, whichever reader (orjson, or the standard library for long numbers)
# reads the line.
NOT_JSON = [
    ('{"text": "too big", "f": 1e400}', "1e400"),
    ('{"text": "too big", "n": 12345678901234567890, "f": 1e400}', "1e400"),
    ('{"text": "nan", "f": NaN}', "NaN"),
    ('{"text": "nan", "n": 12345678901234567890, "f": NaN}', "NaN"),
    ('{"text": "inf", "g": -Infinity}', "Infinity"),
    ('{"text": "lone \\ud800 surrogate"}', "surrogate"),
    ('{"text": "lone \\udc00", "n": 12345678901234567890}', "surrogate"),
    ('{"text": "deep", "m": ' + "[" * 2000 + "]" * 2000 + "}", "nested"),
    ('{"n": 12345678901234567890, "m": ' + "[" * 2000 + "]" * 2000 + "}", "nested"),
]


@pytest.mark.parametrize(("line", "why"), NOT_JSON)
def test_lines_that_are_not_strict_json_are_refused_with_file_and_line(
    tmp_path: Path, line: str, why: str
) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "good"}\n' + line + "\n")
    with pytest.raises(SourceError) as err:
        list(get_stream(path))
    assert "bad.jsonl' line 2" in str(err.value) and why in str(err.value)
    assert len(list(get_stream(path, skip_invalid=True))) == 1


def test_jsonl_corners_are_read_as_the_standard_library_reads_them(tmp_path: Path) -> None:
    path = write(tmp_path / "corners.jsonl", "\n".join(CORNERS) + "\n")
    tasks = list(get_stream(path))
    expected = [json.loads(line) for line in CORNERS]
    assert repr(tasks) == repr(expected)  # repr: NaN == NaN, and int 1 != float 1.0
    assert [type(t.get("n")) for t in tasks] == [type(t.get("n")) for t in expected]
    assert len(get_stream(path)) == len(CORNERS)


def test_distinct_keys_are_counted_in_the_collected_buffer() -> None:
    from recipe_runner.loaders import KeyCounter

    tasks = [{"text": t} for t in ["b", "a", "c", "a", "b"]]
    repeated = KeyCounter("input")
    for task in tasks:
        repeated.add(task)
    keys = repeated.distinct()
    assert repeated.count == 5 and len(keys) == 3 and list(keys) == sorted(set(keys))
    once = KeyCounter("input")
    for task in tasks[:3]:
        once.add(task)
    keys = once.distinct()
    assert list(keys) == sorted(keys) and len(set(keys)) == 3
    # No repeats: the sorted keys are the collected buffer itself, not a copy (8 bytes a task
    # once, for a source of millions).
    assert keys.base.obj is once._keys
