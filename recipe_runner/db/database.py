"""The answer database on SQLAlchemy Core: SQLite by default, PostgreSQL by configuration.

The statements of every batch run on a driver of the backend (see `driver.py`); the rest here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from ..config import Config, rr_home
from ..errors import ConfigError, DatasetError
from .driver import Driver, Release
from .encoding import load_json
from .outages import DEFAULT_TIMEOUT, guarded
from .schema import (
    ANSWERS,
    INPUT_INDEX_DDL,
    answer_row,
    answer_values,
    answers,
    check_name,
    claims,
    datasets,
    forecasts,
    route_tasks,
)


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
    """Datasets and their answers. Every write is committed before the method returns; a
    database that can't be reached, or stays locked longer than `db_settings.timeout`
    seconds, is a StoreUnavailable."""

    def __init__(self, url: str, settings: dict[str, Any] | None = None) -> None:
        settings = settings or {}
        url = _normalise_url(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.timeout = _timeout(settings)
        self.driver: Driver
        if self.is_sqlite:
            from .sqlite_fast import FastSQLite, sqlite_engine

            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = sqlite_engine(url, settings, self.timeout)
        else:
            from .postgres import postgres_engine

            self.engine = postgres_engine(url, self.timeout)
        self._dataset_ids: dict[str, int] = {}
        from .migrations import migrate

        try:
            migrate(self.engine)
        except BaseException:
            self.engine.dispose()  # no connection may outlive a failed open
            raise
        self._input_index = False
        if self.is_sqlite:
            in_memory = url in ("sqlite://", "sqlite:///:memory:")
            self.driver = FastSQLite(self.engine, checkpoint=not in_memory)
        else:
            from .postgres import FastPostgres

            self.driver = FastPostgres(self.engine)

    def close(self) -> None:
        self.driver.close()
        self.engine.dispose()

    # datasets -------------------------------------------------------------------------------
    @guarded
    def dataset_id(self, name: str, create: bool = False) -> int | None:
        """The id of dataset `name`; created when `create` is true, else None when unknown."""
        if name in self._dataset_ids:
            return self._dataset_ids[name]
        with self.engine.begin() as conn:
            found = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
            if found is None and create:
                check_name(name)
                stmt = insert_ignoring(self.engine, datasets)
                conn.execute(stmt, {"name": name, "created": time.time()})
                found = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
        if found is not None:
            self._dataset_ids[name] = int(found)
        return found

    def require_dataset(self, name: str) -> int:
        found = self.dataset_id(name)
        if found is None:
            known = self.dataset_names()
            from ..errors import closest

            hint = closest(name, known)
            more = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise DatasetError(f"Can't find dataset '{name}'.{more} Run 'rr stats' to list them.")
        return found

    @guarded
    def dataset_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(conn.execute(select(datasets.c.name)).scalars())

    @guarded
    def drop(self, name: str) -> int:
        """Delete a dataset and its answers; the number of answers deleted."""
        dataset = self.require_dataset(name)
        with self.engine.begin() as conn:
            conn.execute(delete(claims).where(claims.c.dataset_id == dataset))
            conn.execute(delete(route_tasks).where(route_tasks.c.dataset_id == dataset))
            conn.execute(delete(forecasts).where(forecasts.c.dataset_id == dataset))
            removed = conn.execute(delete(answers).where(answers.c.dataset_id == dataset)).rowcount
            conn.execute(delete(datasets).where(datasets.c.id == dataset))
        self._dataset_ids.pop(name, None)
        return int(removed or 0)

    # forecasts ------------------------------------------------------------------------------
    @guarded
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

    @guarded
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
    @guarded
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
        assert dataset_id is not None
        now = time.time()
        rows = [answer_values(dataset_id, a, now) for a in batch]
        freed: Release | None = None
        if release and release[1]:
            freed = (dataset_id, release[0], release[1])
        return self.driver.save(rows, freed)

    @guarded
    def import_answers(
        self, dataset: str, batch: Iterable[dict[str, Any]], chunk: int = 1000
    ) -> int:
        """Store many answers, committed `chunk` at a time so that other writers (a web view
        on the same file) get turns between chunks; how many were new. Stopped half-way, the
        chunks committed stay, and importing the same answers again stores none twice."""
        dataset_id = self.dataset_id(dataset, create=True)
        added = 0
        rows: list[tuple[Any, ...]] = []
        for answer in batch:
            rows.append(answer_values(dataset_id, answer, time.time()))
            if len(rows) >= chunk:
                added += len(self.driver.save(rows))
                rows = []
        if rows:
            added += len(self.driver.save(rows))
        return added

    @guarded
    def ensure_input_index(self) -> None:
        """Build the index of answers by input hash, once, for `exclude_by: "input"`."""
        if self._input_index:
            return
        with self.engine.begin() as conn:
            conn.execute(text(INPUT_INDEX_DDL))
        self._input_index = True

    @guarded
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
        return self.driver.answered(dataset_ids, wanted, by, session)

    @guarded
    def write_mark(self) -> int | None:
        """A mark of what other connections have committed (see driver.Driver.write_mark)."""
        return self.driver.write_mark()

    def hashes_in(self, dataset_ids: list[int], by: str = "task") -> Iterator[int]:
        """Every distinct hash (by "task" or "input") answered in the datasets."""
        if not dataset_ids:
            return
        column = answers.c.task_hash if by == "task" else answers.c.input_hash
        stmt = select(column).distinct().where(answers.c.dataset_id.in_(dataset_ids))
        with self.engine.connect() as conn:
            yield from conn.execute(stmt).scalars()

    @guarded
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
            rows = self._answers_after(dataset_id, last, chunk)
            if not rows:
                return
            for row_id, content in rows:
                last = row_id
                yield load_json(content)

    @guarded
    def _answers_after(self, dataset_id: int, last: int, chunk: int) -> list[Any]:
        stmt = (
            select(answers.c.id, answers.c.content)
            .where(answers.c.dataset_id == dataset_id, answers.c.id > last)
            .order_by(answers.c.id)
            .limit(chunk)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).all())

    # rewriting answers (rr relabel) -----------------------------------------------------------
    @guarded
    def answer_rows(self, dataset: str) -> list[tuple[int, dict[str, Any]]]:
        """Every answer of a dataset with its row id, in the order saved (for rewriting)."""
        dataset_id = self.require_dataset(dataset)
        stmt = (
            select(answers.c.id, answers.c.content)
            .where(answers.c.dataset_id == dataset_id)
            .order_by(answers.c.id)
        )
        with self.engine.connect() as conn:
            return [(int(i), load_json(c)) for i, c in conn.execute(stmt)]

    @guarded
    def rewrite_answers(self, remove: list[int], add: dict[str, list[dict[str, Any]]]) -> int:
        """In one transaction: delete the answers with the row ids `remove`, then store the
        answers of `add` (dataset name -> answers; a dataset is created if new). How many
        answers were stored."""
        added = 0
        insert = insert_ignoring(self.engine, answers).returning(answers.c.id)
        with self.engine.begin() as conn:
            for start in range(0, len(remove), 500):
                chunk = remove[start : start + 500]
                conn.execute(delete(answers).where(answers.c.id.in_(chunk)))
            for name, batch in add.items():
                found = conn.execute(select(datasets.c.id).where(datasets.c.name == name)).scalar()
                if found is None:
                    check_name(name)
                    conn.execute(datasets.insert().values(name=name, created=time.time()))
                    found = conn.execute(
                        select(datasets.c.id).where(datasets.c.name == name)
                    ).scalar()
                rows = [answer_row(found, a, time.time()) for a in batch]
                for start in range(0, len(rows), 500):
                    added += len(conn.execute(insert.values(rows[start : start + 500])).all())
        return added


def _timeout(settings: dict[str, Any]) -> float:
    value = settings.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(
            f"db_settings.timeout must be a number of seconds above 0, not {value!r}."
        )
    return float(value)


def insert_ignoring(engine: Engine, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table` for the engine's dialect."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


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
