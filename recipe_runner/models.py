"""Load spaCy pipelines (`blank:LANG`, a package or a path) and tokenize tasks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import RecipeRunnerError

if TYPE_CHECKING:
    from spacy.language import Language

Task = dict[str, Any]


def load_pipeline(name: str) -> Language:
    """`blank:en` -> spacy.blank("en"); anything else -> spacy.load(name), with a clear error."""
    import spacy

    if name.startswith("blank:"):
        lang = name[len("blank:") :]
        try:
            return spacy.blank(lang)
        except Exception as err:
            raise RecipeRunnerError(
                f"Can't make a blank spaCy pipeline for '{lang}': {err}"
            ) from None
    try:
        return spacy.load(name)
    except OSError:
        kind = "folder" if Path(name).exists() else "package or folder"
        raise RecipeRunnerError(
            f"Can't load the spaCy pipeline '{name}' (no such {kind}). "
            "Give blank:LANG, an installed pipeline package or a path to a saved pipeline."
        ) from None


def tokens_of(doc: Any) -> list[dict[str, Any]]:
    return [
        {
            "text": t.text,
            "start": t.idx,
            "end": t.idx + len(t.text),
            "id": t.i,
            "ws": bool(t.whitespace_),
        }
        for t in doc
    ]


def add_tokens(nlp: Language, tasks: Iterator[Task], batch_size: int = 64) -> Iterator[Task]:
    """Add `tokens` to each task (and token offsets to its spans), through `nlp.pipe` in batches.

    Spans that do not fall on token boundaries are kept, snapped outward to the tokens they touch.
    """
    pairs = ((task.get("text", ""), task) for task in tasks)
    for doc, task in nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
        if "tokens" not in task:
            task["tokens"] = tokens_of(doc)
        for span in task.get("spans") or []:
            if "token_start" in span and "token_end" in span:
                continue
            found = doc.char_span(span["start"], span["end"], alignment_mode="expand")
            if found is not None and len(found):
                span["token_start"], span["token_end"] = found.start, found.end - 1
        yield task
