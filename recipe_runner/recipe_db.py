"""The database as recipes see it: datasets by name and their answers, through `connect()` or
`ctrl.db` in `on_load(ctrl)`. A thin layer over the storage's own methods."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import AnswerError, DatasetError
from .hashing import INPUT_HASH, TASK_HASH, set_hashes

if TYPE_CHECKING:
    from .controller import Controller
    from .db import Database

Task = dict[str, Any]
ANSWERS = ("accept", "reject", "ignore")


class RecipeDatabase:
    """Datasets and their answers: `name in db`, `db.datasets`, `db.get_dataset(name)`,
    `db.add_dataset(name)`, `db.add_examples(examples, datasets=[...])`, and the input and
    task hashes of datasets."""

    def __init__(self, db: Database, owned: bool = False) -> None:
        self._db = db
        self._owned = owned  # opened by `connect()`: closed by `close()`

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._db.dataset_id(name) is not None

    def __len__(self) -> int:
        return len(self.datasets)

    @property
    def datasets(self) -> list[str]:
        """The names of every dataset, sorted."""
        return self._db.dataset_names()

    def get_dataset(self, name: str) -> list[Task]:
        """Every answer of the dataset, in the order saved; an error naming an unknown one."""
        return list(self.iter_dataset(name))

    get_dataset_examples = get_dataset

    def iter_dataset(self, name: str) -> Iterator[Task]:
        """The dataset's answers one at a time (read in chunks), for large datasets."""
        return self._db.iter_answers(name)

    def add_dataset(self, name: str) -> str:
        """Create the dataset (nothing happens when it exists); its name."""
        self._db.dataset_id(name, create=True)
        return name

    def add_examples(self, examples: Iterable[Task], datasets: Iterable[str] = ()) -> int:
        """Save examples (answered tasks) to each dataset, all of them or none: missing hashes
        are set, an example without `answer` counts as accepted. Saving an example twice
        stores it once; the number of new rows."""
        names = list(datasets)
        if not names:
            raise DatasetError("add_examples needs the datasets to save to: datasets=[NAME].")
        now = time.time()
        rows = []
        for n, example in enumerate(examples, 1):
            if not isinstance(example, dict):
                raise AnswerError(f"add_examples: example {n} is not a task object.")
            row = dict(example)
            row.setdefault("answer", "accept")
            if row["answer"] not in ANSWERS:
                raise AnswerError(
                    f"add_examples: example {n} has answer {row['answer']!r}; "
                    "use accept, reject or ignore."
                )
            row.setdefault("_timestamp", int(now))
            rows.append(set_hashes(row))
        return sum(self._db.import_answers(name, rows) for name in names)

    def drop_dataset(self, name: str) -> int:
        """Delete a dataset and its answers; how many answers were deleted."""
        return self._db.drop(name)

    def get_input_hashes(self, *names: str) -> set[int]:
        """The input hashes of the answers in the datasets."""
        return self._hashes(names, INPUT_HASH)

    def get_task_hashes(self, *names: str) -> set[int]:
        """The task hashes of the answers in the datasets."""
        return self._hashes(names, TASK_HASH)

    def _hashes(self, names: Iterable[str], key: str) -> set[int]:
        return {a[key] for name in names for a in self._db.iter_answers(name) if key in a}

    def close(self) -> None:
        """Close the connection opened by `connect()` (the controller closes its own)."""
        if self._owned:
            self._db.close()

    def __enter__(self) -> RecipeDatabase:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(db_id: str | None = None, db_settings: dict[str, Any] | None = None) -> RecipeDatabase:
    """The configured database (rr.json, RR_DB_URL ...), or `db_id` ("sqlite", "postgresql")
    with `db_settings`, outside a run."""
    from .config import load_config
    from .db import connect as open_database

    overrides: dict[str, Any] = {}
    if db_id is not None:
        overrides["db"] = db_id
    if db_settings is not None:
        overrides["db_settings"] = db_settings
    return RecipeDatabase(open_database(load_config(overrides)), owned=True)


class RecipeController:
    """The controller as `on_load` and `on_exit` see it: its attributes, with `db` as a
    `RecipeDatabase` (None when the recipe saves nothing)."""

    def __init__(self, controller: Controller) -> None:
        self._controller = controller
        self.db = RecipeDatabase(controller.db) if controller.db is not None else None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._controller, name)
