"""SQL shapes the event pipeline needs on both databases: rows passed as one JSON parameter.

A batch writes (and reads) a varying number of rows. Passing them as one JSON array parameter keeps
each statement's text fixed, so it is compiled once per process and prepared once per connection,
whatever the row count: PostgreSQL reads the array with `json_array_elements`, SQLite with
`json_each`. This module holds those fragments and the value formats each side expects; it knows
nothing about features.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Iterable, Optional

from .. import jsonfast

# Column kinds: how a value travels through JSON and back.
INT, FLOAT, TEXT, BOOL, DATE, DATETIME, JSON = "int", "float", "text", "bool", "date", "datetime", "json"

_PG_CAST = {INT: "integer", FLOAT: "double precision", BOOL: "boolean", DATE: "date", DATETIME: "timestamptz"}


class Dialect:
    """The two databases gamify runs on, as far as the pipeline's hand-written SQL differs."""

    def __init__(self, name: str):
        if name not in ("postgresql", "sqlite"):  # pragma: no cover - configuration error
            raise RuntimeError(f"the event pipeline supports PostgreSQL and SQLite, not {name}")
        self.name = name
        self.pg = name == "postgresql"

    # -- values in JSON parameters ------------------------------------------------------------

    def dumps(self, rows: Any) -> str:
        # PostgreSQL reads orjson's ISO 8601 datetimes; SQLite needs SQLAlchemy's storage format (_default).
        return jsonfast.dumps(rows, default=self._default, passthrough_datetime=not self.pg)

    def time(self, v: datetime):
        """A datetime as a bind value in hand-written SQL (SQLite compares the stored text)."""
        return v if self.pg else self._default(v)

    def _default(self, v):
        if isinstance(v, datetime):
            if v.tzinfo is None:
                raise ValueError("naive datetime given; gamify stores UTC-aware datetimes only")
            v = v.astimezone(timezone.utc)
            # SQLite keeps SQLAlchemy's storage format (compared as text); PostgreSQL parses ISO 8601.
            return v.isoformat() if self.pg else v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, date):
            return v.isoformat()
        raise TypeError(f"cannot send {type(v).__name__} in a JSON parameter")

    # -- reading a JSON array parameter as rows ---------------------------------------------

    def rows_from(self, param: str) -> str:
        """FROM-clause item yielding one row per array element: `e.j` (PG) / `e.value` (SQLite), and
        `e.n` / `e.key` as its position."""
        if self.pg:
            return f"json_array_elements(CAST(:{param} AS json)) WITH ORDINALITY AS e(j, n)"
        return f"json_each(:{param}) AS e"

    def order(self) -> str:
        return "e.n" if self.pg else "e.key"

    def field(self, name: str, kind: str) -> str:
        """The element's field `name` as a column of `kind`."""
        if self.pg:
            if kind == JSON:
                return f"(e.j->'{name}')"
            if kind == TEXT:
                return f"(e.j->>'{name}')"
            return f"CAST(e.j->>'{name}' AS {_PG_CAST[kind]})"
        return f"json_extract(e.value, '$.{name}')"

    def in_list(self, column: str, param: str) -> str:
        """`column` is one of the values of list parameter `param` (see list_param)."""
        if self.pg:
            return f"{column} = ANY(:{param})"
        return f"{column} IN (SELECT value FROM json_each(:{param}))"

    def list_param(self, values: Iterable) -> Any:
        values = list(values)
        return values if self.pg else self.dumps(values)

    # -- JSON aggregates for the one-statement load ------------------------------------------

    def json_rows(self, columns: list[tuple[str, str, str]], from_where: str) -> str:
        """A scalar subquery: the rows of `FROM ... WHERE ...` as a JSON array of objects. columns:
        (output name, SQL expression, kind)."""
        if self.pg:
            obj = ", ".join(f"'{name}', {expr}" for name, expr, _kind in columns)
            return f"(SELECT coalesce(json_agg(json_build_object({obj})), '[]') FROM {from_where})"
        obj = ", ".join(f"'{name}', {f'json({expr})' if kind == JSON else expr}" for name, expr, kind in columns)
        return f"(SELECT json_group_array(json_object({obj})) FROM {from_where})"

    def parse_rows(self, raw: Any, columns: list[tuple[str, str, str]]) -> list[dict]:
        rows = jsonfast.loads(raw) if isinstance(raw, (str, bytes)) else (raw or [])
        convert = [(name, _READERS.get(kind)) for name, _expr, kind in columns]
        for row in rows:
            for name, fn in convert:
                if fn is not None:
                    v = row.get(name)
                    if v is not None:
                        row[name] = fn(v)
        return rows


def parse_datetime(v: str) -> datetime:
    d = datetime.fromisoformat(v)
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


def _json_value(v):
    return jsonfast.loads(v) if isinstance(v, str) else v


_READERS = {DATE: date.fromisoformat, DATETIME: parse_datetime, BOOL: bool, FLOAT: float, JSON: _json_value}


def opt(v: Optional[Any], fn):
    return None if v is None else fn(v)
