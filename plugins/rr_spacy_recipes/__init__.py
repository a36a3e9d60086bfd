"""Model-in-the-loop recipes on spaCy: textcat.teach, textcat.correct, ner.correct, ner.teach."""

from __future__ import annotations

from typing import Any

from recipe_runner import hookimpl


@hookimpl
def rr_register_recipes(registry: Any) -> None:
    # The recipes live in submodules so that spaCy is imported only when one runs.
    from . import recipes

    for func in recipes.ALL:
        registry.add(func)
