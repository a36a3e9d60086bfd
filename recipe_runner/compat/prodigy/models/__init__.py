"""`prodigy.models`: the text classifier, entity recognizer and pattern matcher."""

from __future__ import annotations

from . import matcher, ner, textcat

__all__ = ["matcher", "ner", "textcat"]
