"""recipe-runner: a plugin-driven annotation recipe runner.

Everything a recipe author needs is importable from here (see docs/recipes.md); names are
imported on first use, so that `rr --help` does not load spaCy or the database."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AnswerError,
    ConfigError,
    DatasetError,
    RecipeError,
    RecipeRunnerError,
    SourceError,
)
from .recipes import Arg, recipe

if TYPE_CHECKING:
    from .hashing import set_hashes
    from .headless import HeadlessSummary, run_headless
    from .hookspecs import hookimpl, hookspec
    from .loaders import Stream
    from .matcher import PatternMatcher
    from .model_wrappers import EntityRecognizer, Model, TextClassifier, combine_models
    from .models import load_pipeline
    from .preprocess import (
        add_label_options,
        add_labels_to_stream,
        add_tokens,
        doc_tokens,
        split_sentences,
        split_spans,
    )
    from .recipe_args import split_string
    from .recipe_db import RecipeController, RecipeDatabase, connect
    from .sorters import ALGORITHMS as SORTER_ALGORITHMS
    from .sorters import prefer_high_scores, prefer_low_scores, prefer_uncertain
    from .spacy_model import SCORE_BATCH, batches
    from .spacy_spans import SpanModel as SpanCategorizer
    from .streams import CSV, JSON, JSONL, TXT, get_stream

__version__ = "0.1.0"

# Public name -> (module, name in it): imported when first asked for.
_LAZY = {
    "hookimpl": ("hookspecs", "hookimpl"),
    "hookspec": ("hookspecs", "hookspec"),
    "run_headless": ("headless", "run_headless"),
    "HeadlessSummary": ("headless", "HeadlessSummary"),
    "JSONL": ("streams", "JSONL"),
    "JSON": ("streams", "JSON"),
    "CSV": ("streams", "CSV"),
    "TXT": ("streams", "TXT"),
    "get_stream": ("streams", "get_stream"),
    "Stream": ("loaders", "Stream"),
    "add_tokens": ("preprocess", "add_tokens"),
    "split_sentences": ("preprocess", "split_sentences"),
    "split_spans": ("preprocess", "split_spans"),
    "add_label_options": ("preprocess", "add_label_options"),
    "add_labels_to_stream": ("preprocess", "add_labels_to_stream"),
    "doc_tokens": ("preprocess", "doc_tokens"),
    "set_hashes": ("hashing", "set_hashes"),
    "split_string": ("recipe_args", "split_string"),
    "prefer_uncertain": ("sorters", "prefer_uncertain"),
    "prefer_high_scores": ("sorters", "prefer_high_scores"),
    "prefer_low_scores": ("sorters", "prefer_low_scores"),
    "SORTER_ALGORITHMS": ("sorters", "ALGORITHMS"),
    "load_pipeline": ("models", "load_pipeline"),
    "TextClassifier": ("model_wrappers", "TextClassifier"),
    "EntityRecognizer": ("model_wrappers", "EntityRecognizer"),
    "Model": ("model_wrappers", "Model"),
    "combine_models": ("model_wrappers", "combine_models"),
    "SpanCategorizer": ("spacy_spans", "SpanModel"),
    "PatternMatcher": ("matcher", "PatternMatcher"),
    "batches": ("spacy_model", "batches"),
    "SCORE_BATCH": ("spacy_model", "SCORE_BATCH"),
    "connect": ("recipe_db", "connect"),
    "RecipeDatabase": ("recipe_db", "RecipeDatabase"),
    "RecipeController": ("recipe_db", "RecipeController"),
}

__all__ = [
    "CSV",
    "JSON",
    "JSONL",
    "SCORE_BATCH",
    "SORTER_ALGORITHMS",
    "TXT",
    "AnswerError",
    "Arg",
    "ConfigError",
    "DatasetError",
    "EntityRecognizer",
    "HeadlessSummary",
    "Model",
    "PatternMatcher",
    "RecipeController",
    "RecipeDatabase",
    "RecipeError",
    "RecipeRunnerError",
    "SourceError",
    "SpanCategorizer",
    "Stream",
    "TextClassifier",
    "__version__",
    "add_label_options",
    "add_labels_to_stream",
    "add_tokens",
    "batches",
    "combine_models",
    "connect",
    "doc_tokens",
    "get_stream",
    "hookimpl",
    "hookspec",
    "load_pipeline",
    "prefer_high_scores",
    "prefer_low_scores",
    "prefer_uncertain",
    "recipe",
    "run_headless",
    "set_hashes",
    "split_sentences",
    "split_spans",
    "split_string",
]


def __getattr__(name: str) -> Any:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'recipe_runner' has no attribute {name!r}")
    value = getattr(import_module(f".{found[0]}", __name__), found[1])
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
