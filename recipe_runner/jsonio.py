"""Reading JSON by one set of rules: request bodies, source lines and `rr db-in` alike.

JSON as RFC 8259 has it and as every other reader takes it: UTF-8, no `NaN` or `Infinity`, no
number too large for a double (`1e400`), no lone surrogate (`"\\ud800"`), nested at most
`MAX_DEPTH` levels. What is read here can be stored, exported and read back by any tool.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

MAX_DEPTH = 1024  # orjson's own limit; the standard library's recursion limit is about the same

# Every digit as "0", everything else as a space: a run of 19 zeros is a number of 19 digits.
_DIGITS_AS_ZEROS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"0" * 19
# An escaped surrogate, high or low: only then can a string hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONError(ValueError):
    """Text that is not JSON by these rules; the message says why in a few words."""


def loads(raw: bytes | str) -> Any:
    """The value of the JSON text `raw`, or JSONError.

    orjson reads it, several times faster than the standard library and as strict as these
    rules; a text with a number of 19 digits or more goes to the standard library instead,
    which keeps such an integer exact where orjson would make it a float."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.translate(_DIGITS_AS_ZEROS).find(_LONG_NUMBER) < 0:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise JSONError(_reason(str(err), data[err.pos : err.pos + 40])) from None
    return _exact_loads(data)


def _reason(message: str, there: bytes) -> str:
    for name in (b"NaN", b"Infinity", b"-Infinity"):
        if there.startswith(name):
            return f"{name.decode()} is not JSON"
    if "infinity" in message:
        number = re.match(rb"[-+0-9.eE]+", there)
        shown = number[0].decode() if number else "a number"
        return f"the number {shown} is too large for a double"
    if "depth limit" in message:
        return f"nested more than {MAX_DEPTH} levels deep"
    if "surrogate" in message and "low surrogate" not in message:
        return "not UTF-8"
    return message


def _exact_loads(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JSONError(f"not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise JSONError(f"nested more than {MAX_DEPTH} levels deep") from None
    except JSONError:
        raise
    except ValueError as err:
        raise JSONError(str(err)) from None
    try:
        lone = _SURROGATE_ESCAPE.search(text) is not None and _has_lone_surrogate(value)
    except RecursionError:
        raise JSONError(f"nested more than {MAX_DEPTH} levels deep") from None
    if lone:
        raise JSONError("a lone surrogate in a string (\\ud800-\\udfff without its pair)")
    return value


def _no_constant(name: str) -> Any:
    raise JSONError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONError(f"the number {text[:40]} is too large for a double")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string in `value` (keys too) holds a lone surrogate. Depth is bounded by
    the parser's, which read `value`."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
