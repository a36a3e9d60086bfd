"""The recipes of this plugin (filled in by the model-in-the-loop work)."""

from __future__ import annotations

from typing import Any

ALL: list[Any] = []
