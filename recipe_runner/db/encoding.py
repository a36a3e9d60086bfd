"""Answers and claimed tasks as JSON text, exactly as they went in. Imports nothing of the store."""

from __future__ import annotations

import json
import math
from typing import Any

# Answers are stored and exported with the standard library's JSON, not srsly's ujson, which
# writes floats with about ten significant digits (a score of 1e-20 becomes 0.0) and reads some
# one unit off in the last place: an answer must come back exactly as it went in.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_make_encoder = json.encoder.c_make_encoder  # type: ignore[attr-defined]


try:  # several times faster than the standard library's encoder on an answer
    from orjson import OPT_PASSTHROUGH_DATACLASS, OPT_PASSTHROUGH_DATETIME
    from orjson import dumps as _orjson_dumps

    # Types the standard library refuses are refused here too (and then by it, with its error).
    _ORJSON_OPTIONS: int = OPT_PASSTHROUGH_DATACLASS | OPT_PASSTHROUGH_DATETIME
except ImportError:  # pragma: no cover - orjson is a dependency
    _orjson_dumps = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0


def dump_json(value: Any) -> str:
    """`_encoder.encode(value)`: JSON that the standard library reads back as `value`
    exactly, except NaN and the infinities, which JSON can't hold: they are written as null
    (as orjson and browsers write them), so that every stored answer is valid JSON for any
    reader. orjson writes it when it can; anything it refuses (an integer over 64 bits, a
    non-string key) is written by the standard library."""
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(value, option=_ORJSON_OPTIONS).decode()
        except TypeError:
            pass
    try:
        return _stdlib_dump_json(value)
    except ValueError:  # a float JSON can't hold, in what orjson refused
        return _stdlib_dump_json(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _stdlib_dump_json(value: Any) -> str:
    """`_encoder.encode(value)`, calling the C encoder the way it does, without its per-call
    set-up in Python; ValueError for NaN and the infinities."""
    if _make_encoder is None:  # pragma: no cover - CPython always has it
        return _encoder.encode(value)
    encode = _make_encoder(
        {}, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    return "".join(encode(value, 0))


load_json = json.loads


if _orjson_dumps is not None:  # a claim's content is only ever read back to be served again

    def claim_json(task: dict[str, Any]) -> str:
        """A held task as JSON: orjson, five times faster than the standard library on a
        task, and what the web view serves it with anyway (NaN becomes null either way)."""
        try:
            return _orjson_dumps(task).decode()
        except TypeError:  # e.g. an integer beyond 64 bits
            return dump_json(task)

else:  # pragma: no cover - depends on the environment

    def claim_json(task: dict[str, Any]) -> str:
        return dump_json(task)
