"""`prodigy.util`: the helpers recipes import from it."""

from __future__ import annotations

import logging
from typing import Any

from recipe_runner import combine_models, set_hashes, split_string

__all__ = [
    "INPUT_HASH_ATTR",
    "TASK_HASH_ATTR",
    "combine_models",
    "log",
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
