"""Prodigy's public module names mapped onto recipe-runner's recipe API.

A Prodigy recipe is ported by changing its import lines only: `import prodigy` becomes
`from recipe_runner.compat import prodigy`, and `from prodigy.X import Y` becomes
`from recipe_runner.compat.prodigy.X import Y`. What behaves differently is listed in
docs/migrating-from-prodigy.md."""

from __future__ import annotations

from recipe_runner import get_stream, recipe, set_hashes

from . import components, core, models, protocols, types, util
from .util import log

__all__ = [
    "components",
    "core",
    "get_stream",
    "log",
    "models",
    "protocols",
    "recipe",
    "set_hashes",
    "types",
    "util",
]
