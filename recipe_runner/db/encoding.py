"""Answers and claimed tasks as JSON text, exactly as they went in. Imports nothing of the store."""

from __future__ import annotations

import json
from typing import Any

# Answers are stored and exported with the standard library's JSON, not srsly's ujson, which
# writes floats with about ten significant digits (a score of 1e-20 becomes 0.0) and reads some
# one unit off in the last place: an answer must come back exactly as it went in.
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
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
    exactly. orjson writes it when it can: it writes floats as shortest round-trip text too,
    but NaN and the infinities as null, so any output with a null in it is written again by
    the standard library, like anything orjson refuses (an integer over 64 bits, a non-string
    key)."""
    if _orjson_dumps is not None:
        try:
            raw = _orjson_dumps(value, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
        else:
            if raw.find(b"null") < 0:  # not `in`: bytes' `in` tries an int first, and raises
                return raw.decode()
    return _stdlib_dump_json(value)


def _stdlib_dump_json(value: Any) -> str:
    """`_encoder.encode(value)`, calling the C encoder the way it does, without its per-call
    set-up in Python."""
    if _make_encoder is None:  # pragma: no cover - CPython always has it
        return _encoder.encode(value)
    encode = _make_encoder(
        {}, _encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
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
