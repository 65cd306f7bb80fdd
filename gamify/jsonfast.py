"""Fast JSON (orjson, a well-kept C library: several times the standard library's speed) for the hot
paths: the event pipeline's row parameters and loads, JSON columns read from the database, and API
bodies. orjson refuses what the standard library accepts (integers beyond 64 bits, non-string keys),
so every function falls back to `json` for those: same results, never an error orjson alone would raise.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

import orjson
from flask.json.provider import DefaultJSONProvider


def dumps(
    obj: Any, default: Optional[Callable] = None, sort_keys: bool = False, passthrough_datetime: bool = False
) -> str:
    option = (orjson.OPT_SORT_KEYS if sort_keys else 0) | (
        orjson.OPT_PASSTHROUGH_DATETIME if passthrough_datetime else 0
    )
    try:
        return orjson.dumps(obj, default=default, option=option).decode()
    except TypeError:
        return json.dumps(obj, default=default, sort_keys=sort_keys, separators=(",", ":"))


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def loads(s: Any) -> Any:
    """Strict JSON: NaN and Infinity are refused (as orjson does), and so is nesting too deep for the
    standard library's recursion (a ValueError, like any other malformed input, never RecursionError)."""
    try:
        return orjson.loads(s)
    except orjson.JSONDecodeError:
        try:  # e.g. an integer beyond 64 bits; raises for what is not JSON at all
            return json.loads(s, parse_constant=_not_json)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class FlaskProvider(DefaultJSONProvider):
    """Flask's JSON provider with orjson (keys sorted, as Flask's default provider does)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # callers asking for particular options get the standard library's output
            return super().dumps(obj, **kwargs)
        return dumps(obj, default=self.default, sort_keys=self.sort_keys)

    def loads(self, s: Any, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        return loads(s)
