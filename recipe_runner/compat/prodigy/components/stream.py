"""`prodigy.components.stream`: `get_stream(source, loader=, rehash=, dedup=, input_key=)`."""

from __future__ import annotations

from recipe_runner import Stream, get_stream

__all__ = ["Stream", "get_stream"]
