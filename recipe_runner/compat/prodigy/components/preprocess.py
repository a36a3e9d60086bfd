"""`prodigy.components.preprocess`: tokens, sentences, spans, labels and options."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recipe_runner import add_label_options, add_labels_to_stream, split_spans
from recipe_runner import add_tokens as _add_tokens
from recipe_runner import split_sentences as _split_sentences

__all__ = [
    "add_label_options",
    "add_labels_to_stream",
    "add_tokens",
    "split_sentences",
    "split_spans",
]


def add_tokens(
    nlp: Any,
    stream: Iterable[dict[str, Any]],
    skip: bool = False,
    overwrite: bool = False,
    use_chars: bool = False,
    batch_size: int = 64,
) -> Iterable[dict[str, Any]]:
    """Prodigy's signature: `overwrite=True` tokenizes tasks that already have `tokens`."""
    if overwrite:
        stream = ({k: v for k, v in task.items() if k != "tokens"} for task in stream)
    return _add_tokens(nlp, stream, skip=skip, use_chars=use_chars, batch_size=batch_size)


def split_sentences(
    nlp: Any, stream: Iterable[dict[str, Any]], batch_size: int = 64, min_length: int = -1
) -> Iterable[dict[str, Any]]:
    """Prodigy's signature: `min_length=-1` keeps every sentence as it is."""
    return _split_sentences(
        nlp, stream, min_length=min_length if min_length > 0 else None, batch_size=batch_size
    )
