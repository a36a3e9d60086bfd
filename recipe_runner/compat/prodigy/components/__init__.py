"""`prodigy.components`: loaders, preprocess, sorters, stream and db."""

from __future__ import annotations

from . import db, loaders, preprocess, sorters, stream

__all__ = ["db", "loaders", "preprocess", "sorters", "stream"]
