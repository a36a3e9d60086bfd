"""Claims in the database: races between engines, expiry, release, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from recipe_runner.db import Database
from recipe_runner.db.claims import ClaimStore, DatabaseClaims, MemoryClaims, claims
from recipe_runner.hashing import set_hashes


def tasks(n: int, prefix: str = "task") -> list[dict[str, Any]]:
    return [set_hashes({"text": f"{prefix} {i}"}) for i in range(n)]


@pytest.fixture
def two_dbs(db_url: str) -> Iterator[tuple[Database, Database]]:
    """Two Database objects, each with its own engine and pool: two processes, as the
    database sees them."""
    one, two = Database(db_url), Database(db_url)
    try:
        yield one, two
    finally:
        one.close()
        two.close()


@pytest.fixture(params=["memory", "database"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[ClaimStore]:
    """Both claim stores must keep the same rules (the database one on a real SQLite file)."""
    if request.param == "memory":
        yield MemoryClaims()
        return
    db = Database(f"sqlite:///{tmp_path / 'claims.db'}")
    try:
        yield DatabaseClaims(db, "ds")
    finally:
        db.close()


def hashes(found: list[dict[str, Any]]) -> list[int]:
    return [t["_task_hash"] for t in found]


# the rules, for both stores ---------------------------------------------------------------------
def test_a_claimed_task_is_not_claimed_again_until_it_expires(store: ClaimStore) -> None:
    batch = tasks(5)
    assert hashes(store.claim("", "a", batch, 60)) == hashes(batch)
    assert store.claim("", "b", batch, 60) == []
    assert store.claim("", "a", batch, 60) == []  # a session's own claims are not new to it
    assert store.count("") == 5 and store.count("", "a") == 5 and store.count("", "b") == 0
    time.sleep(0.05)
    assert hashes(store.claim("", "b", batch[:2], 0.01)) == hashes(batch[:2])
    assert store.count("", "a") == 3 and store.count("", "b") == 2


def test_outstanding_lists_a_sessions_claims_oldest_first(store: ClaimStore) -> None:
    first, second = tasks(3, "first"), tasks(2, "second")
    store.claim("", "a", first, 60)
    time.sleep(0.01)
    store.claim("", "b", tasks(2, "other"), 60)
    store.claim("", "a", second, 60)
    assert hashes(store.outstanding("", "a")) == hashes(first + second)
    assert store.outstanding("", "c") == []
    assert store.outstanding("scope-x", "a") == []


def test_release_forgets_claims_in_one_scope(store: ClaimStore) -> None:
    batch = tasks(4)
    store.claim("", "a", batch, 60)
    store.claim("a", "a", batch, 60)  # feed_overlap: one scope per session
    store.release("", hashes(batch[:3]))
    assert hashes(store.outstanding("", "a")) == hashes(batch[3:])
    assert store.count("a") == 4
    assert hashes(store.claim("", "b", batch, 60)) == hashes(batch[:3])


AGE = 0.5  # seconds after which a claim counts as expired in the test below


def test_take_expired_moves_only_old_claims_of_others(store: ClaimStore) -> None:
    old = tasks(4, "old")
    store.claim("", "a", old, 60)
    # The old claims age a second; the fresh ones stay younger than AGE however slowly a busy
    # machine runs the lines between them.
    time.sleep(1.0)
    store.claim("", "a", tasks(2, "new"), 60)
    store.claim("", "b", tasks(2, "bs"), 60)
    assert store.take_expired("", "b", 10, 60) == []
    taken = store.take_expired("", "b", 3, AGE)
    assert len(taken) == 3 and set(hashes(taken)) <= set(hashes(old))
    assert store.take_expired("", "a", 10, AGE) == []  # b's claims are fresh again
    assert store.count("", "b") == 5 and store.count("", "a") == 3


# races between two engines ----------------------------------------------------------------------
def _race(workers: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(len(workers))

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait(timeout=30)
            work()
        except BaseException as err:  # reported below: a thread must not swallow it
            errors.append(err)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_two_engines_claiming_the_same_tasks_win_each_task_once(
    two_dbs: tuple[Database, Database],
) -> None:
    pool = tasks(300)
    won: dict[str, list[int]] = {"a": [], "b": []}
    rounds = threading.Barrier(2)

    def worker(db: Database, session: str, seed: int) -> Callable[[], None]:
        def work() -> None:
            store = DatabaseClaims(db, "ds")
            order = pool[:]
            random.Random(seed).shuffle(order)  # overlapping batches, in different orders
            for i in range(0, len(order), 10):
                rounds.wait(timeout=30)  # in step, so that neither runs ahead alone
                won[session] += hashes(store.claim("", session, order[i : i + 10], 60))

        return work

    _race([worker(two_dbs[0], "a", 1), worker(two_dbs[1], "b", 2)])
    assert not set(won["a"]) & set(won["b"])
    assert sorted(won["a"] + won["b"]) == sorted(hashes(pool))
    assert len(won["a"]) > 0 and len(won["b"]) > 0
    assert DatabaseClaims(two_dbs[0], "ds").count("") == 300


def test_an_expired_claim_changes_hands_once_when_two_engines_race(
    two_dbs: tuple[Database, Database],
) -> None:
    pool = tasks(60)
    DatabaseClaims(two_dbs[0], "ds").claim("", "gone", pool, 60)
    with two_dbs[0].engine.begin() as conn:  # claimed long ago, by a session that left
        conn.execute(update(claims).values(claimed_at=time.time() - 1000))
    taken: dict[str, list[int]] = {"a": [], "b": []}

    def worker(db: Database, session: str, via_claim: bool) -> Callable[[], None]:
        def work() -> None:
            store = DatabaseClaims(db, "ds")
            for i in range(0, 60, 5):
                if via_claim:  # the same task read from the stream again
                    got = store.claim("", session, pool[i : i + 5], 100)
                else:
                    got = store.take_expired("", session, 5, 100)
                taken[session] += hashes(got)

        return work

    _race([worker(two_dbs[0], "a", False), worker(two_dbs[1], "b", True)])
    # Each claim moves once: the winner's claim is fresh, so the other cannot take it.
    assert not set(taken["a"]) & set(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == sorted(hashes(pool))
    store = DatabaseClaims(two_dbs[1], "ds")
    assert store.count("", "gone") == 0
    assert store.count("", "a") + store.count("", "b") == 60


def test_claims_belong_to_their_dataset(two_dbs: tuple[Database, Database]) -> None:
    batch = tasks(3)
    assert len(DatabaseClaims(two_dbs[0], "one").claim("", "s", batch, 60)) == 3
    assert len(DatabaseClaims(two_dbs[1], "two").claim("", "s", batch, 60)) == 3
    DatabaseClaims(two_dbs[1], "two").release("", hashes(batch))
    assert DatabaseClaims(two_dbs[0], "one").count("") == 3


def test_saving_answers_releases_their_claims_in_the_same_transaction(db_url: str) -> None:
    db = Database(db_url)
    try:
        store = DatabaseClaims(db, "ds")
        batch = tasks(4)
        store.claim("", "ds-a", batch, 60)
        answers = [{**t, "answer": "accept", "_session_id": "ds-a"} for t in batch[:2]]
        saved = db.save_answers("ds", answers, ("", hashes(batch[:2])))
        assert saved == [("ds-a", "accept")] * 2
        assert hashes(store.outstanding("", "ds-a")) == hashes(batch[2:])
        # Saved again: nothing new, and the release still happens (a retried batch).
        store.claim("", "ds-a", batch[:2], 60)
        assert db.save_answers("ds", answers, ("", hashes(batch[:2]))) == []
        assert store.count("", "ds-a") == 2
        # An answer that can't be stored rolls the release back with it.
        broken = [{**batch[2], "answer": "accept", "_session_id": "ds-a", "_task_hash": None}]
        with pytest.raises((IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)):
            db.save_answers("ds", broken, ("", hashes(batch[2:])))
        assert hashes(store.outstanding("", "ds-a")) == hashes(batch[2:])
        # Only a release, when before_db kept none of the answers.
        assert db.save_answers("ds", [], ("", hashes(batch[2:]))) == []
        assert store.count("") == 0
    finally:
        db.close()


def test_claims_outlive_the_process_that_made_them(db_url: str) -> None:
    # A server that dies keeps its session's claims: a new one serves them to that session.
    first = Database(db_url)
    batch = tasks(4)
    DatabaseClaims(first, "ds").claim("", "ds-alice", batch, 60)
    first.close()
    second = Database(db_url)
    try:
        store = DatabaseClaims(second, "ds")
        assert hashes(store.outstanding("", "ds-alice")) == hashes(batch)
        assert store.outstanding("", "ds-alice")[0]["text"] == "task 0"
        assert store.claim("", "ds-bob", batch, 60) == []
    finally:
        second.close()


def test_take_expired_looks_again_only_once_a_claim_can_have_expired(
    two_dbs: tuple[Database, Database],
) -> None:
    from sqlalchemy import event

    mine, other = DatabaseClaims(two_dbs[0], "ds"), DatabaseClaims(two_dbs[1], "ds")
    statements: list[str] = []
    event.listen(two_dbs[0].engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert mine.take_expired("", "b", 10, 0.3) == []
    looked = len(statements)
    other.claim("", "a", tasks(3), 0.3)  # another process claims after the look
    assert mine.take_expired("", "b", 10, 0.3) == []
    assert len(statements) == looked  # no claim can be 0.3 s old yet: no query
    time.sleep(0.6)
    assert len(mine.take_expired("", "b", 10, 0.3)) == 3
    assert other.count("", "b") == 3


def test_a_held_task_comes_back_with_its_floats_exact(store: ClaimStore) -> None:
    # A score like this one lost digits when claims were written with srsly's ujson.
    task = set_hashes({"text": "exact", "score": 0.12345678901234568, "meta": {"p": 1e-20}})
    store.claim("", "a", [task], 60)
    (back,) = store.outstanding("", "a")
    assert back["score"] == 0.12345678901234568
    assert back["meta"]["p"] == 1e-20


@pytest.mark.postgres
def test_a_claim_made_while_the_holder_saves_its_answer_is_let_go(pg_url: str) -> None:
    # Session x holds a task and is saving its answer (answer and release, one transaction)
    # when another process claims the task: the claim waits for x's release, then goes in,
    # having looked for answers before x's was committed. The look-up sent with the claim sees
    # the answer, and the claim is let go: the task is not served twice.
    from recipe_runner.db import AnsweredIn

    db, other = Database(pg_url), Database(pg_url)
    try:
        (task,) = tasks(1)
        DatabaseClaims(other, "ds").claim("", "ds-x", [task], 60)
        dataset_id = other.dataset_id("ds")
        assert dataset_id is not None
        claimed: list[list[dict[str, Any]]] = []
        with psycopg.connect(pg_url) as saving:
            saving.execute(
                "DELETE FROM claims WHERE dataset_id = %s AND task_hash = %s",
                (dataset_id, task["_task_hash"]),
            )
            saving.execute(
                "INSERT INTO answers (dataset_id, session_id, input_hash, task_hash, answer, "
                "created, content) VALUES (%s, 'ds-x', %s, %s, 'accept', 0, '{}')",
                (dataset_id, task["_input_hash"], task["_task_hash"]),
            )
            store = DatabaseClaims(db, "ds")
            where = [AnsweredIn((dataset_id,))]
            claimer = threading.Thread(
                target=lambda: claimed.append(store.claim_unanswered("", "ds-y", [task], 60, where))
            )
            claimer.start()
            time.sleep(0.5)  # the claim now waits for the saving transaction
            assert claimer.is_alive()
        # Leaving the block committed the answer and the release.
        claimer.join(timeout=30)
        assert claimed == [[]]
        assert store.count("") == 0
    finally:
        db.close()
        other.close()


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan (EXPLAIN's JSON) that reads answers or claims."""
    if plan.get("Relation Name") in ("answers", "claims") and plan["Node Type"] not in (
        "ModifyTable",
    ):
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


@pytest.mark.postgres
def test_every_batch_statement_looks_its_rows_up_by_key_on_postgres(pg_url: str) -> None:
    # A batch's statements are prepared, and their plans made once, while the tables are
    # small and have no statistics; such a plan scanned the dataset's rows (or the table) on
    # every batch, ever more as answers were stored. Each must look its rows up by key, with
    # the plan the driver's connection keeps.
    import re

    from recipe_runner.db import AnsweredIn
    from recipe_runner.db import postgres as pg

    db = Database(pg_url)
    try:
        store = DatabaseClaims(db, "ds")
        (task,) = tasks(1)
        store.claim_unanswered("", "ds-x", [task], 60, [AnsweredIn((store.dataset_id,))])
        conn = db.driver._connection()  # type: ignore[attr-defined]
        # The plan for any parameters: the one kept once a statement is prepared.
        conn.execute("SET plan_cache_mode = force_generic_plan")
        statements = {
            "claim": pg._claim_new_sql("task_hash", [AnsweredIn((1,), "s"), AnsweredIn((1, 2))]),
            "answered": pg._answered_sql("task_hash", True),
            "save": pg._SAVE_AND_RELEASE,
        }
        for name, sql in statements.items():
            parts = re.split(r"%[sb]", sql)
            sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
            conn.execute(f"PREPARE {name} AS {sql}")
            described = conn.execute(
                "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = %s",
                (name,),
            ).fetchone()
            args = ", ".join("NULL" for _ in described[0])
            (plan,) = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({args})").fetchone()
            scans = list(_scans(plan[0]["Plan"]))
            assert scans, name
            for scan in scans:
                assert scan["Node Type"] != "Seq Scan", name
                cond = scan.get("Index Cond") or scan["Recheck Cond"]
                assert "task_hash = " in cond or "id = ANY" in cond, (name, cond)
    finally:
        db.close()


@pytest.mark.postgres
def test_only_the_claim_skips_waiting_for_the_disk_on_postgres(pg_url: str) -> None:
    # A claim's commit may skip the flush of the log; the answers saved next on the same
    # connection must not: the setting lasts the claim's transaction only.
    from recipe_runner.db import AnsweredIn

    db = Database(pg_url)
    try:
        store = DatabaseClaims(db, "ds")
        (task,) = tasks(1)
        where = [AnsweredIn((store.dataset_id,))]
        assert store.claim_unanswered("", "ds-x", [task], 60, where) == [task]
        conn = db.driver._connection()  # type: ignore[attr-defined]
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
    finally:
        db.close()


@pytest.mark.postgres
def test_arrays_reach_postgres_as_they_were(pg_url: str) -> None:
    # The driver writes its arrays' binary form itself: every value must arrive unchanged.
    from recipe_runner.db.postgres import BigInts, Floats, Texts

    ints = [0, -1, 2**63 - 1, -(2**63), 12345678901234]
    texts = ["", 'a "quoted" {json}', "ünïcødé ✓ 𝄞", "back\\slash, comma", "x" * 5000]
    floats = [0.0, -1.5, 1e-300, 1.7976931348623157e308, 1759000000.123456]
    db = Database(pg_url)
    try:
        run = db.driver._run  # type: ignore[attr-defined]
        sql = "SELECT %b::bigint[], %b::text[], %b::float8[]"
        assert run(sql, [BigInts(ints), Texts(texts), Floats(floats)]) == [(ints, texts, floats)]
        assert run(sql, [BigInts(), Texts(), Floats()]) == [([], [], [])]
        assert run(sql, [BigInts([1, None]), Texts([None]), Floats([None, 2.0])]) == [
            ([1, None], [None], [None, 2.0])
        ]
    finally:
        db.close()
