"""`prodigy.components.loaders`: tasks from files, as lazy streams."""

from __future__ import annotations

from recipe_runner import CSV, JSON, JSONL, TXT

from .stream import get_stream

__all__ = ["CSV", "JSON", "JSONL", "TXT", "get_stream"]
