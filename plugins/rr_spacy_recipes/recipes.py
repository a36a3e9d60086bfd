"""The recipes of this plugin, imported only when the plugin registers them."""

from __future__ import annotations

from typing import Any

from .ner import ner_correct, ner_teach
from .textcat import textcat_correct, textcat_teach

ALL: list[Any] = [textcat_teach, textcat_correct, ner_correct, ner_teach]
