"""One error for "the store is unavailable": a database that can't be reached, or that stays
locked longer than `db_settings.timeout`. Every driver's errors of that kind become
StoreUnavailable here, so that the drivers above the store (the web server's 503, the CLI's one
line) know no database library."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import exc

from ..errors import StoreBroken, StoreUnavailable, broken_database

# Seconds a call waits for a database that is locked or slow to answer, then gives up.
DEFAULT_TIMEOUT = 10.0
_OUTAGES: tuple[type[BaseException], ...] = (
    exc.OperationalError,  # SQLAlchemy's wrapper of either driver's
    exc.TimeoutError,  # no connection free in the pool in time
    sqlite3.OperationalError,  # "database is locked", a file gone
)

F = TypeVar("F", bound=Callable[..., Any])


def is_outage(err: BaseException) -> bool:
    if isinstance(err, _OUTAGES):
        return True
    psycopg = sys.modules.get("psycopg")  # only ever loaded for PostgreSQL
    return psycopg is not None and isinstance(err, psycopg.OperationalError)


def unavailable_error(err: BaseException) -> StoreUnavailable:
    reason = getattr(err, "orig", None) or err
    text = str(reason).strip()
    first = text.splitlines()[0] if text else type(reason).__name__
    return StoreUnavailable(f"The database can't be reached: {first}")


def broken_error(err: BaseException) -> StoreBroken | None:
    """StoreBroken when a driver's error says the file is read-only or corrupt; else None."""
    if not isinstance(err, (exc.DatabaseError, sqlite3.DatabaseError)):
        return None
    what = broken_database(err)
    if what is None:
        return None
    reason = getattr(err, "orig", None) or err
    first = (str(reason).strip().splitlines() or [type(reason).__name__])[0]
    return StoreBroken(
        f"The database is {what} ({first}): nothing was saved, and retrying won't help. "
        "Fix the database file (its permissions, or restore it) and start rr again."
    )


def guarded(method: F) -> F:
    """`method`, raising StoreUnavailable for an outage, StoreBroken for a read-only or corrupt
    file, instead of the driver's error."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (StoreUnavailable, StoreBroken):
            raise
        except Exception as err:
            broken = broken_error(err)
            if broken is not None:
                raise broken from err
            if is_outage(err):
                raise unavailable_error(err) from err
            raise

    return call  # type: ignore[return-value]
