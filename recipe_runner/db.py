"""The answer database on SQLAlchemy Core: SQLite by default, PostgreSQL by configuration."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from .config import Config, rr_home
from .errors import ConfigError, DatasetError
from .sqlite_fast import ROW_KEYS

SCHEMA_VERSION = 5  # migrations.py brings older databases up to it
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
ANSWERS = ("accept", "reject", "ignore")
# Answers are stored and exported with the standard library's JSON, not srsly's ujson, which
# writes floats with about ten significant digits (a score of 1e-20 becomes 0.0) and reads some
# one unit off in the last place: an answer must come back exactly as it went in.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_make_encoder = json.encoder.c_make_encoder  # type: ignore[attr-defined]


try:  # several times faster than the standard library's encoder on an answer
    from orjson import OPT_PASSTHROUGH_DATACLASS, OPT_PASSTHROUGH_DATETIME
    from orjson import dumps as _orjson_dumps

    # Types the standard library refuses are refused here too (and then by it, with its error).
    _ORJSON_OPTIONS: int = OPT_PASSTHROUGH_DATACLASS | OPT_PASSTHROUGH_DATETIME
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson_dumps = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0


def dump_json(value: Any) -> str:
    """`_encoder.encode(value)`: JSON that the standard library reads back as `value`
    exactly. orjson writes it when it can: it writes floats as shortest round-trip text too,
    but NaN and the infinities as null, so any output with a null in it is written again by
    the standard library, like anything orjson refuses (an integer over 64 bits, a non-string
    key)."""
    if _orjson_dumps is not None:
        try:
            raw = _orjson_dumps(value, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
        else:
            if raw.find(b"null") < 0:  # not `in`: bytes' `in` tries an int first, and raises
                return raw.decode()
    return _stdlib_dump_json(value)


def _stdlib_dump_json(value: Any) -> str:
    """`_encoder.encode(value)`, calling the C encoder the way it does, without its per-call
    set-up in Python."""
    if _make_encoder is None:  # pragma: no cover - CPython always has it
        return _encoder.encode(value)
    encode = _make_encoder(
        {}, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return "".join(encode(value, 0))


load_json = json.loads

metadata = MetaData()
# SQLite only makes an INTEGER PRIMARY KEY an auto-incrementing rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")

datasets = Table(
    "datasets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created", Float, nullable=False),
)
answers = Table(
    "answers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("input_hash", BigInteger, nullable=False),
    Column("task_hash", BigInteger, nullable=False),
    Column("answer", String(16), nullable=False),
    Column("created", Float, nullable=False),
    Column("content", Text, nullable=False),
    # Task hash before session: the unique key is also the index of the per-batch dedup look-up.
    # Every index here is upkeep on every answer saved (the keys are random), so the input-hash
    # index is built only when a run deduplicates by input (see `ensure_input_index`).
    UniqueConstraint("dataset_id", "task_hash", "session_id", name="uq_answer"),
)
INPUT_INDEX_DDL = "CREATE INDEX IF NOT EXISTS ix_answers_input ON answers (dataset_id, input_hash)"
# The latest forecast of a model-in-the-loop run, per dataset: what `rr stats` shows.
forecasts = Table(
    "forecasts",
    metadata,
    Column("dataset_id", Id, ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
    Column("answers", Integer, nullable=False),  # answers learned from when it was made
    Column("remaining", Integer, nullable=False),
    Column("low", Integer, nullable=False),
    Column("high", Integer, nullable=False),
    Column("updated", Float, nullable=False),
)
schema_info = Table(
    "rr_schema",
    metadata,
    Column("version", Integer, nullable=False),
)


def check_name(name: str, what: str = "dataset") -> str:
    """A dataset or session name: letters, digits, '_', '.', '-', at most 100 characters."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise DatasetError(
            f"Invalid {what} name {name!r}: use letters, digits, '_', '.' and '-' "
            "(at most 100 characters, not starting with '.' or '-')."
        )
    return name


def database_url(config: Config | None = None) -> tuple[str, dict[str, Any]]:
    """The SQLAlchemy URL and settings from RR_DB_URL, or config `db` and `db_settings`."""
    import os

    settings: dict[str, Any] = dict(config["db_settings"]) if config else {}
    env_url = os.environ.get("RR_DB_URL")
    if env_url:
        return _normalise_url(env_url), settings
    kind = config["db"] if config else "sqlite"
    if kind == "postgresql":
        url = settings.get("url")
        if not isinstance(url, str) or not url:
            raise ConfigError(
                "Config 'db' is postgresql: set db_settings.url (or RR_DB_URL) to the server's URL."
            )
        return _normalise_url(url), settings
    path = Path(settings.get("path") or rr_home() / "rr.db")
    return f"sqlite:///{path}", settings


def _normalise_url(url: str) -> str:
    # psycopg 3 is the driver we ship for PostgreSQL.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """Datasets and their answers. Every write is committed before the method returns."""

    def __init__(self, url: str, settings: dict[str, Any] | None = None) -> None:
        settings = settings or {}
        url = _normalise_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, **_engine_options(url))
        if self.is_sqlite:
            synchronous = str(settings.get("synchronous", "NORMAL")).upper()
            if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
                raise ConfigError(
                    f"db_settings.synchronous must be NORMAL, FULL or EXTRA, not {synchronous!r}."
                )
            _set_sqlite_pragmas(self.engine, synchronous)
        self._dataset_ids: dict[str, int] = {}
        from .migrations import migrate

        try:
            migrate(self.engine)
        except BaseException:
            self.engine.dispose()  # no connection may outlive a failed open
            raise
        self._insert = _insert_ignoring_conflicts(self.engine)
        self._save_stmt = self._insert(answers).returning(answers.c.session_id, answers.c.answer)
        from .claims import claims

        self._release_stmt = delete(claims).where(
            claims.c.dataset_id == bindparam("dataset"),
            claims.c.scope == bindparam("scope"),
            claims.c.task_hash.in_(bindparam("keys", expanding=True)),
        )
        self._input_index = False
        self._fast: Any = None
        if self.is_sqlite:
            from .sqlite_fast import FastSQLite

            in_memory = url in ("sqlite://", "sqlite:///:memory:")
            self._fast = FastSQLite(self.engine, self._insert(answers), checkpoint=not in_memory)

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        self.engine.dispose()

    # datasets -------------------------------------------------------------------------------
    def dataset_id(self, name: str, create: bool = False) -> int | None:
        """The id of dataset `name`; created when `create` is true, else None when unknown."""
        if name in self._dataset_ids:
            return self._dataset_ids[name]
        with self.engine.begin() as conn:
            found = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
            if found is None and create:
                check_name(name)
                stmt = _insert_ignoring_conflicts(self.engine)(datasets)
                conn.execute(stmt, {"name": name, "created": time.time()})
                found = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
        if found is not None:
            self._dataset_ids[name] = int(found)
        return found

    def require_dataset(self, name: str) -> int:
        found = self.dataset_id(name)
        if found is None:
            known = self.dataset_names()
            from .errors import closest

            hint = closest(name, known)
            more = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise DatasetError(f"Can't find dataset '{name}'.{more} Run 'rr stats' to list them.")
        return found

    def dataset_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(datasets.c.name)).scalars())

    def drop(self, name: str) -> int:
        """Delete a dataset and its answers; the number of answers deleted."""
        dataset = self.require_dataset(name)
        with self.engine.begin() as conn:
            from .claims import claims

            conn.execute(delete(claims).where(claims.c.dataset_id == dataset))
            conn.execute(delete(forecasts).where(forecasts.c.dataset_id == dataset))
            removed = conn.execute(delete(answers).where(answers.c.dataset_id == dataset)).rowcount
            conn.execute(delete(datasets).where(datasets.c.id == dataset))
        self._dataset_ids.pop(name, None)
        return int(removed or 0)

    # forecasts ------------------------------------------------------------------------------
    def save_forecast(
        self, dataset: str, answers: int, remaining: int, low: int, high: int
    ) -> None:
        """Keep the latest forecast of answers still needed for `dataset` (one row each)."""
        dataset_id = self.require_dataset(dataset)
        row: dict[str, float] = {"answers": answers, "remaining": remaining, "low": low}
        row.update(high=high, updated=time.time())
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        stmt = upsert(forecasts).values(dataset_id=dataset_id, **row)
        stmt = stmt.on_conflict_do_update(index_elements=["dataset_id"], set_=row)
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def forecast(self, dataset: str) -> dict[str, Any] | None:
        """The latest forecast saved for `dataset`, or None."""
        dataset_id = self.require_dataset(dataset)
        columns = [forecasts.c[k] for k in ("answers", "remaining", "low", "high", "updated")]
        with self.engine.connect() as conn:
            found = conn.execute(
                select(*columns).where(forecasts.c.dataset_id == dataset_id)
            ).first()
        return dict(found._mapping) if found is not None else None

    # answers --------------------------------------------------------------------------------
    def save_answers(
        self,
        dataset: str,
        batch: list[dict[str, Any]],
        release: tuple[str, list[int]] | None = None,
    ) -> list[tuple[str, str]]:
        """Store answers, each once per (dataset, session, task hash); (session, answer) of
        those that were new. With `release` (scope, keys), the claims of the dataset on those
        keys are deleted in the same transaction. Committed before it returns."""
        if not batch and not (release and release[1]):
            return []
        dataset_id = self.dataset_id(dataset, create=True)
        now = time.time()
        if self._fast is not None:  # the hot path of every batch: see sqlite_fast.py
            then = None
            if release and release[1]:
                scope, keys = release
                marks = ",".join("?" * len(keys))
                sql = (
                    "DELETE FROM claims WHERE dataset_id = ? AND scope = ? "
                    f"AND task_hash IN ({marks})"
                )
                then = (sql, (dataset_id, scope, *keys))
            values = [_answer_values(dataset_id, a, now) for a in batch]
            new_rows = self._fast.insert(values, then)
            pairs = zip(values, new_rows, strict=True)
            return [(v[1], v[4]) for v, new in pairs if new]  # session, answer
        rows = [_answer_row(dataset_id, a, now) for a in batch]
        with self.engine.begin() as conn:
            # Many rows to one statement built once: SQLAlchemy compiles it once and sends the
            # rows as one multi-row INSERT, where `.values(rows)` is compiled anew every batch
            # (on PostgreSQL that halves the time of a batch of 10).
            new = conn.execute(self._save_stmt, rows).all() if rows else []
            if release and release[1]:
                conn.execute(
                    self._release_stmt,
                    {"dataset": dataset_id, "scope": release[0], "keys": release[1]},
                )
        return [(row[0], row[1]) for row in new]

    def import_answers(
        self, dataset: str, batch: Iterable[dict[str, Any]], chunk: int = 500
    ) -> int:
        """Store many answers in one transaction (all or nothing); how many were new."""
        added = 0
        with self.engine.begin() as conn:
            found = conn.execute(select(datasets.c.id).where(datasets.c.name == dataset)).scalar()
            if found is None:
                check_name(dataset)
                conn.execute(datasets.insert().values(name=dataset, created=time.time()))
                found = conn.execute(
                    select(datasets.c.id).where(datasets.c.name == dataset)
                ).scalar()
            rows: list[dict[str, Any]] = []
            for answer in batch:
                rows.append(_answer_row(found, answer, time.time()))
                if len(rows) >= chunk:
                    added += self._insert_rows(conn, rows)
                    rows = []
            if rows:
                added += self._insert_rows(conn, rows)
        return added

    def _insert_rows(self, conn: Any, rows: list[dict[str, Any]]) -> int:
        stmt = self._insert(answers).returning(answers.c.session_id, answers.c.answer)
        return len(conn.execute(stmt.values(rows)).all())

    def ensure_input_index(self) -> None:
        """Build the index of answers by input hash, once, for `exclude_by: "input"`."""
        if self._input_index:
            return
        with self.engine.begin() as conn:
            conn.execute(text(INPUT_INDEX_DDL))
        self._input_index = True

    def answered_hashes(
        self,
        dataset_ids: list[int],
        hashes: Iterable[int],
        by: str = "task",
        session: str | None = None,
    ) -> set[int]:
        """The hashes among `hashes` that have an answer in one of the datasets (by `session`
        only, when given)."""
        wanted = list(set(hashes))
        if not wanted or not dataset_ids:
            return set()
        if by == "input":
            self.ensure_input_index()
        if self._fast is not None:
            return self._fast.answered(dataset_ids, wanted, by, session)
        column = answers.c.task_hash if by == "task" else answers.c.input_hash
        stmt = select(column).where(
            answers.c.dataset_id.in_(bindparam("ids", expanding=True)),
            column.in_(bindparam("hashes", expanding=True)),
        )
        params: dict[str, Any] = {"ids": dataset_ids, "hashes": wanted}
        if session is not None:
            stmt = stmt.where(answers.c.session_id == bindparam("session"))
            params["session"] = session
        with self.engine.connect() as conn:
            return set(conn.execute(stmt, params).scalars())

    def hashes_in(self, dataset_ids: list[int], by: str = "task") -> Iterator[int]:
        """Every distinct hash (by "task" or "input") answered in the datasets."""
        if not dataset_ids:
            return
        column = answers.c.task_hash if by == "task" else answers.c.input_hash
        stmt = select(column).distinct().where(answers.c.dataset_id.in_(dataset_ids))
        with self.engine.connect() as conn:
            yield from conn.execute(stmt).scalars()

    def counts(self, dataset: str) -> dict[str, dict[str, int]]:
        """{session id: {"accept": n, "reject": n, "ignore": n}} of a dataset, one query."""
        dataset_id = self.dataset_id(dataset)
        result: dict[str, dict[str, int]] = {}
        if dataset_id is None:
            return result
        stmt = (
            select(answers.c.session_id, answers.c.answer, func.count())
            .where(answers.c.dataset_id == dataset_id)
            .group_by(answers.c.session_id, answers.c.answer)
        )
        with self.engine.connect() as conn:
            for session, answer, n in conn.execute(stmt):
                result.setdefault(session, dict.fromkeys(ANSWERS, 0))
                result[session][answer] = result[session].get(answer, 0) + int(n)
        return result

    def iter_answers(self, dataset: str, chunk: int = 1000) -> Iterator[dict[str, Any]]:
        """Every answer of a dataset in the order saved, read in chunks."""
        dataset_id = self.require_dataset(dataset)
        last = 0
        while True:
            stmt = (
                select(answers.c.id, answers.c.content)
                .where(answers.c.dataset_id == dataset_id, answers.c.id > last)
                .order_by(answers.c.id)
                .limit(chunk)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
            if not rows:
                return
            for row_id, content in rows:
                last = row_id
                yield load_json(content)


def _answer_values(dataset_id: Any, answer: dict[str, Any], now: float) -> tuple[Any, ...]:
    """The columns of an answer's row, in the order of sqlite_fast.ROW_KEYS."""
    return (
        dataset_id,
        str(answer.get("_session_id") or ""),
        answer["_input_hash"],
        answer["_task_hash"],
        answer["answer"],
        _timestamp(answer.get("_timestamp"), now),
        dump_json(answer),
    )


def _answer_row(dataset_id: Any, answer: dict[str, Any], now: float) -> dict[str, Any]:
    return dict(zip(ROW_KEYS, _answer_values(dataset_id, answer, now), strict=True))


def _timestamp(value: Any, now: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return now


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (it stays so). Processes opening a new file at once can find it
    locked without SQLite waiting for them: try again for a bounded time."""
    import sqlite3

    deadline = time.monotonic() + 30
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _set_sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        _enable_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # The backstop of sqlite_fast.Checkpointer, which checkpoints from a thread of its own:
        # every ~40 MB of WAL instead of every 4 MB, so that the index pages a run of small
        # commits touches over and over are copied into the database file once, not hundreds of
        # times. Nearly doubles the answers saved per second; durability is the same.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()


def _insert_ignoring_conflicts(engine: Engine) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for the engine's dialect."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda table: pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda table: sqlite_insert(table).on_conflict_do_nothing()


def connect(config: Config | None = None) -> Database:
    """Open the database the config (or RR_DB_URL) names."""
    url, settings = database_url(config)
    try:
        return Database(url, settings)
    except ImportError as err:
        raise ConfigError(
            f"Can't open {url.split(':')[0]}: {err}. Install recipe-runner[postgresql]."
        ) from None
    except (OSError, DBAPIError) as err:
        # A folder that can't be made, a server that does not answer, a refused login: the
        # user's to fix, told in one line (the URL without its password).
        reason = err.orig if isinstance(err, DBAPIError) else (err.strerror or err)
        first = str(reason).strip().splitlines()[0] if str(reason).strip() else type(err).__name__
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(
            f"Can't open the database '{shown}': {first}. Check RR_HOME, the config's "
            "db and db_settings, or RR_DB_URL."
        ) from None
