"""`prodigy.util`: the helpers recipes import from it."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wasabi import msg

from recipe_runner import combine_models, set_hashes, split_string

__all__ = [
    "INPUT_HASH_ATTR",
    "TASK_HASH_ATTR",
    "combine_models",
    "get_labels",
    "log",
    "msg",
    "set_hashes",
    "split_string",
]

INPUT_HASH_ATTR = "_input_hash"
TASK_HASH_ATTR = "_task_hash"
_logger = logging.getLogger("recipe_runner.recipes")


def log(message: str, *args: Any) -> None:
    """A debug message of the recipe (Prodigy prints these with PRODIGY_LOGGING=basic; here
    they go to the `recipe_runner.recipes` logger)."""
    _logger.debug(message, *args)


def get_labels(value: str | Path | None) -> list[str] | None:
    """The `--label` converter of Prodigy's recipes: a path to a text file gives its lines
    (one label each, blank lines left out); anything else is read as comma-separated labels."""
    if value is None:
        return None
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:  # a label list too long to be a file name
        is_file = False
    if is_file:
        lines = path.read_text(encoding="utf8").splitlines()
        return [line.strip() for line in lines if line.strip()]
    return split_string(str(value))
