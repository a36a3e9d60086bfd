"""`prodigy.components.stream`: `get_stream(source, loader=, rehash=, dedup=, input_key=)`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from recipe_runner import Stream
from recipe_runner import get_stream as _get_stream

__all__ = ["Stream", "get_stream"]


def get_stream(
    source: str | Path | Iterable[dict[str, Any]],
    loader: str | None = None,
    *,
    rehash: bool = False,
    dedup: bool = False,
    input_key: str = "text",
    skip_invalid: bool = False,
    is_binary: bool = False,
) -> Stream:
    """recipe-runner's `get_stream` with Prodigy's signature. `is_binary` is accepted and
    changes nothing: the loaders read text records only (JSONL, JSON, CSV, plain text)."""
    del is_binary
    return _get_stream(
        source, loader, rehash=rehash, dedup=dedup, input_key=input_key, skip_invalid=skip_invalid
    )
