"""`prodigy.types`: type aliases of the shapes recipes pass around."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

TaskType = dict[str, Any]
StreamType = Iterable[TaskType]
ScoredStreamType = Iterator[tuple[float, TaskType]]
RecipeSettingsType = dict[str, Any]
SpanType = dict[str, Any]
TokenType = dict[str, Any]
LabelsType = list[str]
UpdateType = Callable[[list[TaskType]], float | None]

__all__ = [
    "LabelsType",
    "RecipeSettingsType",
    "ScoredStreamType",
    "SpanType",
    "StreamType",
    "TaskType",
    "TokenType",
    "UpdateType",
]
