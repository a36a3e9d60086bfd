"""The store: datasets, answers and claims, in SQLite (the default) or PostgreSQL.

What the rest of the project imports from here, and only from here:
- `connect(config)` / `Database`: datasets and answers (`db-in`, `db-out`, `stats`, recipes);
- `open_claims(db, dataset, key, shared)`: the controller's questions about tasks (claim a batch
  for a session, save answers and release their claims, what is answered where);
- `TaskRoutes`: the pool of routed tasks of a team (annotations_per_task, task_router);
- `StoreUnavailable` (from `recipe_runner.errors`): the database can't be reached in time.

Inside, `schema.py` is the leaf every module builds on; `database.py` and `claims.py` run the
statements of every batch on the driver of their backend (`sqlite_fast.py`, `postgres.py`), which
`Database` chooses from the URL.
"""

from __future__ import annotations

from ..errors import StoreUnavailable
from .claims import ClaimStore, open_claims
from .database import Database, connect, database_url
from .encoding import dump_json, load_json
from .routes import TaskRoutes
from .schema import ANSWERS, SCHEMA_VERSION, AnsweredIn, check_name

__all__ = [
    "ANSWERS",
    "SCHEMA_VERSION",
    "AnsweredIn",
    "ClaimStore",
    "Database",
    "StoreUnavailable",
    "TaskRoutes",
    "check_name",
    "connect",
    "database_url",
    "dump_json",
    "load_json",
    "open_claims",
]
