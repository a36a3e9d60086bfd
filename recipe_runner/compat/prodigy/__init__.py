"""Prodigy's public module names mapped onto recipe-runner's recipe API.

A Prodigy recipe is ported by changing its import lines only: `import prodigy` becomes
`from recipe_runner.compat import prodigy`, and `from prodigy.X import Y` becomes
`from recipe_runner.compat.prodigy.X import Y`. What behaves differently is listed in
docs/migrating-from-prodigy.md."""

from __future__ import annotations

from recipe_runner import recipe, set_hashes, split_string

from . import components, core, models, protocols, types, util
from .components.stream import get_stream
from .util import log

# The argument annotations older Prodigy recipes share:
# `@recipe("x", dataset=recipe_args["dataset"])`.
recipe_args = {
    "dataset": ("The dataset to use", "positional", None, str),
    "spacy_model": ("Loadable spaCy pipeline or a path to one", "positional", None, str),
    "source": ("The source data as a file path", "positional", None, str),
    "label": ("One or more comma-separated labels", "option", "l", split_string),
    "loader": ("Loader: jsonl, json, csv or txt", "option", "lo", str),
    "exclude": ("Names of datasets to exclude", "option", "e", split_string),
    "unsegmented": ("Don't split sentences", "flag", "U", bool),
}

__all__ = [
    "components",
    "core",
    "get_stream",
    "log",
    "models",
    "protocols",
    "recipe",
    "recipe_args",
    "set_hashes",
    "types",
    "util",
]
