"""`prodigy.components.preprocess`: tokens, sentences, spans, labels and options."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wasabi import msg

from recipe_runner import add_label_options, add_labels_to_stream, split_spans
from recipe_runner import add_tokens as _add_tokens
from recipe_runner import split_sentences as _split_sentences

__all__ = [
    "add_label_options",
    "add_labels_to_stream",
    "add_tokens",
    "make_raw_doc",
    "msg",
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


split_sentences.changes_length = True  # type: ignore[attr-defined]


def make_raw_doc(nlp: Any, task: dict[str, Any]) -> Any:
    """A spaCy `Doc` of the task, on its own `tokens` when it has them (so answers keep the
    tokenization they were made on), else from the pipeline's tokenizer."""
    tokens = task.get("tokens")
    if not tokens:
        return nlp.make_doc(task.get("text", ""))
    from spacy.tokens import Doc

    words = [token["text"] for token in tokens]
    spaces = [bool(token.get("ws", True)) for token in tokens]
    return Doc(nlp.vocab, words=words, spaces=spaces)
