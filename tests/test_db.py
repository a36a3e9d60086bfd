"""The answer database on a real SQLite file and a real PostgreSQL server: same tests."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from recipe_runner.db import SCHEMA_VERSION, Database, check_name, dump_json
from recipe_runner.db.claims import DatabaseClaims
from recipe_runner.db.migrations import schema_version
from recipe_runner.errors import ConfigError, DatasetError
from recipe_runner.hashing import set_hashes

from .conftest import REPO
from .pgtools import sqlalchemy_url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        database.close()


def answer(text_: str, verdict: str = "accept", session: str = "ds-alice", **extra: Any) -> dict:
    return set_hashes({"text": text_, "answer": verdict, "_session_id": session, **extra})


def engine_for(url: str) -> Any:
    """A plain engine on the database, without creating or migrating any schema."""
    return create_engine(sqlalchemy_url(url))


# schema and migrations --------------------------------------------------------------------------
def test_a_new_database_is_created_at_the_current_version(db: Database) -> None:
    with db.engine.connect() as conn:
        assert schema_version(conn) == SCHEMA_VERSION
        tables = set(inspect(conn).get_table_names())
    assert {"datasets", "answers", "claims", "rr_schema"} <= tables


def _shape(url: str) -> dict[str, Any]:
    """Tables, columns, indexes and unique keys as the database itself reports them."""
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            shape: dict[str, Any] = {}
            for table in sorted(insp.get_table_names()):
                shape[table] = {
                    "columns": sorted(
                        (c["name"], str(c["type"]).split("(")[0], c["nullable"])
                        for c in insp.get_columns(table)
                    ),
                    "indexes": sorted(
                        (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in insp.get_indexes(table)
                    ),
                    "unique": sorted(
                        tuple(u["column_names"]) for u in insp.get_unique_constraints(table)
                    ),
                }
            return shape
    finally:
        engine.dispose()


def _run_sql_file(url: str, path: Path) -> None:
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            for statement in path.read_text(encoding="utf-8").split(";"):
                lines = [ln for ln in statement.splitlines() if not ln.startswith("--")]
                if "".join(lines).strip():
                    conn.exec_driver_sql("\n".join(lines))
    finally:
        engine.dispose()


def test_a_version_1_database_is_upgraded_and_keeps_its_data(
    db_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The schema exactly as version 1 created it (frozen DDL), with data in it.
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    _run_sql_file(db_url, REPO / "tests" / "data" / f"schema_v1.{dialect}.sql")
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO datasets (name, created) VALUES ('old', 1.0)"))
        conn.execute(
            text(
                "INSERT INTO answers (dataset_id, session_id, input_hash, task_hash, answer, "
                "created, content) VALUES (1, 'old-a', 11, 12, 'accept', 1.0, :content)"
            ),
            {"content": '{"text":"kept","answer":"accept","_input_hash":11,"_task_hash":12}'},
        )
        conn.execute(
            text(
                "INSERT INTO claims (dataset_id, scope, task_hash, session_id, claimed_at, "
                "content) VALUES (1, '', 99, 'old-b', 5.0, :content)"
            ),
            {"content": '{"text":"claimed"}'},
        )
    engine.dispose()

    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            assert schema_version(conn) == SCHEMA_VERSION == 6
        assert [a["text"] for a in db.iter_answers("old")] == ["kept"]
        # Version 6's forecasts table exists and takes one row per dataset.
        db.save_forecast("old", 10, 30, 20, 50)
        db.save_forecast("old", 20, 25, 15, 40)
        assert {k: v for k, v in (db.forecast("old") or {}).items() if k != "updated"} == {
            "answers": 20,
            "remaining": 25,
            "low": 15,
            "high": 40,
        }
        assert db.counts("old") == {"old-a": {"accept": 1, "reject": 0, "ignore": 0}}
        claims = DatabaseClaims(db, "old")
        assert claims.outstanding("", "old-b") == [{"text": "claimed"}]
        # The upgraded database still works: a new answer is stored once.
        assert len(db.save_answers("old", [answer("new", session="old-a")])) == 1
    finally:
        db.close()

    # And it has exactly the shape of a database created at the current version.
    if dialect == "sqlite":
        fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
        Database(fresh_url).close()
        assert _shape(db_url) == _shape(fresh_url)
    else:
        from .pgtools import fresh_schema, server_url

        base = server_url()
        assert base is not None
        with fresh_schema(base) as fresh_url:
            Database(fresh_url).close()
            assert _shape(db_url) == _shape(fresh_url)
    indexes = {name for name, *_ in _shape(db_url)["claims"]["indexes"]}
    assert not {"ix_claims_session", "ix_claims_expiry"} & indexes  # version 4 dropped them


def test_a_database_newer_than_the_code_is_refused(db_url: str) -> None:
    Database(db_url).close()
    engine = engine_for(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE rr_schema SET version = 99"))
    engine.dispose()
    with pytest.raises(ConfigError, match="schema version 99, newer"):
        Database(db_url)


OPEN_AT_ONCE = """
import sys, time
from recipe_runner.db import Database
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
db = Database(sys.argv[1])
db.dataset_id("shared", create=True)
db.close()
"""


def test_processes_creating_the_schema_at_once_do_not_collide(db_url: str) -> None:
    start = time.time() + 1.5  # every process is waiting before the start
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT_ONCE, db_url, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    engine = engine_for(db_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version FROM rr_schema")).scalars().all()
        assert versions == [SCHEMA_VERSION]
        assert conn.execute(text("SELECT name FROM datasets")).scalars().all() == ["shared"]
    engine.dispose()


# datasets ---------------------------------------------------------------------------------------
def test_datasets_are_created_on_demand_and_listed(db: Database) -> None:
    assert db.dataset_id("news") is None
    first = db.dataset_id("news", create=True)
    assert first is not None and db.dataset_id("news", create=True) == first
    db.dataset_id("alpha", create=True)
    assert db.dataset_names() == ["alpha", "news"]
    with pytest.raises(DatasetError, match=r"Can't find dataset 'nwes'\. Did you mean: news"):
        db.require_dataset("nwes")


@pytest.mark.parametrize("bad", ["", "-x", ".x", "a b", "a/b", "a" * 101, "ü", "a\x00b", "x;--"])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(DatasetError, match="Invalid dataset name"):
        check_name(bad)


def test_an_invalid_dataset_name_creates_nothing(db: Database) -> None:
    with pytest.raises(DatasetError):
        db.dataset_id("bad name", create=True)
    with pytest.raises(DatasetError):
        db.save_answers("../etc", [answer("x")])
    assert db.dataset_names() == []


# answers ----------------------------------------------------------------------------------------
def test_saving_the_same_answer_twice_stores_it_once(db: Database) -> None:
    batch = [answer("one"), answer("two", "reject")]
    assert sorted(db.save_answers("ds", batch)) == [("ds-alice", "accept"), ("ds-alice", "reject")]
    assert db.save_answers("ds", batch) == []
    assert db.save_answers("ds", [answer("one"), answer("three")]) == [("ds-alice", "accept")]
    # The same task from another session is another answer.
    assert db.save_answers("ds", [answer("one", session="ds-bob")]) == [("ds-bob", "accept")]
    assert len(list(db.iter_answers("ds"))) == 4


def test_answered_hashes_by_task_input_and_session(db: Database) -> None:
    a = answer("same text", label="A")
    b = answer("same text", label="B")
    assert a["_input_hash"] == b["_input_hash"] and a["_task_hash"] != b["_task_hash"]
    other = answer("other", session="ds-bob")
    db.save_answers("ds", [a, other])
    ds = db.dataset_id("ds")
    assert ds is not None
    tasks = [a["_task_hash"], b["_task_hash"], other["_task_hash"]]
    assert db.answered_hashes([ds], tasks) == {a["_task_hash"], other["_task_hash"]}
    assert db.answered_hashes([ds], [b["_input_hash"]], by="input") == {b["_input_hash"]}
    assert db.answered_hashes([ds], tasks, session="ds-bob") == {other["_task_hash"]}
    assert db.answered_hashes([ds], []) == set()
    elsewhere = db.dataset_id("empty", create=True)
    assert elsewhere is not None and db.answered_hashes([elsewhere], tasks) == set()
    many = [*range(5000), a["_task_hash"]]  # a long IN list
    assert db.answered_hashes([ds], many) == {a["_task_hash"]}


def test_the_input_hash_index_is_built_only_when_a_lookup_needs_it(db: Database) -> None:
    # Every index costs upkeep on every answer saved; this one serves exclude_by "input" only.
    def indexes() -> set[str]:
        with db.engine.connect() as conn:
            return {i["name"] for i in inspect(conn).get_indexes("answers")}

    db.save_answers("ds", [answer("first")])
    assert "ix_answers_input" not in indexes()
    ds = db.dataset_id("ds")
    assert ds is not None
    first = answer("first")["_input_hash"]
    assert db.answered_hashes([ds], [first, 1], by="input") == {first}
    assert "ix_answers_input" in indexes()
    reopened = Database(db.url)  # a later run finds it and builds nothing
    try:
        assert reopened.answered_hashes([ds], [first], by="input") == {first}
    finally:
        reopened.close()


def test_counts_per_session_and_answer(db: Database) -> None:
    db.save_answers(
        "ds",
        [answer("1"), answer("2", "reject"), answer("3", "ignore"), answer("4", session="ds-b")],
    )
    db.save_answers("other", [answer("5")])
    assert db.counts("ds") == {
        "ds-alice": {"accept": 1, "reject": 1, "ignore": 1},
        "ds-b": {"accept": 1, "reject": 0, "ignore": 0},
    }
    assert db.counts("missing") == {}


def test_iter_answers_keeps_the_order_saved_across_chunks(db: Database) -> None:
    texts = [f"task {i}" for i in range(25)]
    for start in range(0, 25, 7):
        db.save_answers("ds", [answer(t) for t in texts[start : start + 7]])
    assert [a["text"] for a in db.iter_answers("ds", chunk=4)] == texts
    with pytest.raises(DatasetError):
        list(db.iter_answers("nope"))


def test_content_round_trips_unicode_nul_and_big_hashes(db: Database) -> None:
    odd = answer("nul \x00 emoji 🙂 rtl שלום \u2028 end", meta={"k": "\x00"})
    prodigy = {"text": "p", "answer": "accept", "_input_hash": -(2**31), "_task_hash": 2**53 - 1}
    db.save_answers("ds", [odd, prodigy])
    back = list(db.iter_answers("ds"))
    assert back[0]["text"] == odd["text"] and back[0]["meta"] == {"k": "\x00"}
    assert (back[1]["_input_hash"], back[1]["_task_hash"]) == (-(2**31), 2**53 - 1)


STDLIB_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@pytest.mark.parametrize(
    "value",
    [
        {"n": 2**70},  # over 64 bits: orjson refuses it
        {"meta": {1: "an integer key"}},  # the standard library makes it "1"
        {"text": "a lone surrogate \ud800"},
        {"meta": {"empty": None}, "score": 0.5},
    ],
)
def test_what_orjson_would_change_is_written_by_the_standard_library(value: Any) -> None:
    assert dump_json(value) == STDLIB_JSON(value)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ({"score": float("nan"), "text": "not a number"}, '{"score":null,"text":"not a number"}'),
        ({"score": float("-inf")}, '{"score":null}'),
        ({"n": 2**70, "f": [float("inf")]}, '{"n":1180591620717411303424,"f":[null]}'),
    ],
)
def test_floats_json_cannot_hold_are_written_as_null(value: Any, written: str) -> None:
    # NaN or Infinity in the stored text would make `rr db-out` write invalid JSON.
    assert dump_json(value) == written
    assert json.loads(written, parse_constant=lambda name: pytest.fail(name)) is not None


def test_answers_come_back_exactly(db: Database) -> None:
    scores = [1e-20, 1 / 3, 0.1 + 0.2, 1e16, -0.0, 5e-324, 2**53 + 1.0, 1.7976931348623157e308]
    floats = answer("floats", scores=scores, big=2**63 - 1, small=-(2**63))
    db.save_answers("ds", [floats, answer("nested", meta={"a": [{"b": [True, False, None]}]})])
    back = list(db.iter_answers("ds"))
    assert back[0]["scores"] == scores and [math.copysign(1, x) for x in back[0]["scores"]] == [
        math.copysign(1, x) for x in scores
    ]
    assert (back[0]["big"], back[0]["small"]) == (2**63 - 1, -(2**63))
    assert back[1]["meta"] == {"a": [{"b": [True, False, None]}]}


def test_import_commits_in_chunks_and_a_second_import_stores_nothing_twice(db: Database) -> None:
    # Chunks, so that a long import lets other writers (a web view on the file) in between; a
    # bad file saves nothing because `rr db-in` reads it all before importing (test_cli).
    db.save_answers("kept", [answer("before")])

    def batch() -> Iterator[dict]:
        for i in range(1200):  # past one chunk of 1000, which is committed before the failure
            yield answer(f"imported {i}")
        raise ValueError("line 1201 is broken")

    with pytest.raises(ValueError):
        db.import_answers("kept", batch())
    stored = [a["text"] for a in db.iter_answers("kept")]
    assert stored == ["before"] + [f"imported {i}" for i in range(1000)]
    assert db.import_answers("kept", (answer(f"imported {i}") for i in range(1200))) == 200
    assert db.import_answers("kept", (answer(f"imported {i}") for i in range(1210))) == 10
    assert len(list(db.iter_answers("kept"))) == 1211


def test_drop_deletes_a_dataset_its_answers_and_claims_only(db: Database) -> None:
    db.save_answers("gone", [answer("a"), answer("b")])
    db.save_answers("stays", [answer("a")])
    DatabaseClaims(db, "gone").claim("", "gone-x", [set_hashes({"text": "c"})], 60)
    DatabaseClaims(db, "stays").claim("", "stays-x", [set_hashes({"text": "c"})], 60)
    assert db.drop("gone") == 2
    assert db.dataset_names() == ["stays"]
    assert DatabaseClaims(db, "stays").count("") == 1
    with pytest.raises(DatasetError, match="Can't find dataset 'gone'"):
        db.drop("gone")
    # A dataset made again under the old name starts empty.
    assert DatabaseClaims(db, "gone").count("") == 0
    assert list(db.iter_answers("gone")) == []


def test_two_connections_see_each_others_commits(db_url: str) -> None:
    one, two = Database(db_url), Database(db_url)
    try:
        one.save_answers("ds", [answer("x")])
        two_id = two.dataset_id("ds")
        assert two_id is not None
        assert two.answered_hashes([two_id], [answer("x")["_task_hash"]]) != set()
        assert two.save_answers("ds", [answer("x")]) == []
    finally:
        one.close()
        two.close()
