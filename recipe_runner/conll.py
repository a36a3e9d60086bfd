"""Read CoNLL files (`token<TAB>BIO-tag`, sentences separated by blank lines) as tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _sentences(path: Path) -> list[list[list[str]]]:
    """The rows of each sentence; a line of nothing but white space ends a sentence."""
    out: list[list[list[str]]] = [[]]
    # Split on "\n" only: str.splitlines() would also split inside tokens on U+0085 and friends.
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            out[-1].append(line.split("\t"))
        elif out[-1]:
            out.append([])
    return [rows for rows in out if rows]


def read_conll(path: str | Path) -> list[dict[str, Any]]:
    """Each sentence as a task: `text` (the tokens joined by single spaces) and its `spans`."""
    tasks = []
    for rows in _sentences(Path(path)):
        text, spans, pos = "", [], 0
        current: dict[str, Any] | None = None
        for token, tag in ((r[0], r[-1].strip()) for r in rows):
            start = pos
            text += token + " "
            pos += len(token) + 1
            if tag.startswith("B-") or (tag.startswith("I-") and current is None):
                current = {"start": start, "end": start + len(token), "label": tag[2:]}
                spans.append(current)
            elif tag.startswith("I-") and current is not None:
                current["end"] = start + len(token)
            else:
                current = None
        tasks.append({"text": text.rstrip(), "spans": spans})
    return tasks
