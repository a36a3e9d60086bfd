"""Texts made of WNUT 2017 sentences (Derczynski et al., W-NUT 2017), two per text, as the
pre-annotation benchmarks read them."""

from __future__ import annotations

from pathlib import Path

from recipe_runner.conll import read_conll

WNUT = Path(__file__).resolve().parent.parent / "data" / "ner" / "wnut17"


def texts(n: int) -> list[str]:
    """`n` unique texts, each two sentences of the three WNUT 2017 splits."""
    sentences = [
        t["text"]
        for name in ("wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated")
        for t in read_conll(WNUT / name)
    ]
    out: dict[str, None] = {}
    for offset in range(1, len(sentences)):
        for i, first in enumerate(sentences):
            out.setdefault(f"{first} {sentences[(i + offset) % len(sentences)]}", None)
            if len(out) >= n:
                return list(out)
    return list(out)
