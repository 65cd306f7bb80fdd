"""Opaque cursors for the API's keyset pagination (newest first): a page ends with `next_cursor`, a
signed token of where it ended; the client sends it back as `?cursor=` for the next page.

Signed with the app's secret and salted with the list it belongs to (a player's awards in one system,
one board's runs in one segment), so a cursor cannot be forged, nor used on another player's list: either
is a 400 naming `cursor`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer

from . import ApiError


def _serializer(scope: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=f"api-cursor:{scope}")


def encode(scope: str, position: list[Any]) -> str:
    """A cursor for `position` (JSON values: the sort keys of the last item) in the list `scope`."""
    return _serializer(scope).dumps(position)


def decode(scope: str, cursor: Optional[str]) -> Optional[list[Any]]:
    """The position a cursor of the list `scope` holds (None for no cursor); 400 for any other."""
    if cursor is None:
        return None
    try:
        position = _serializer(scope).loads(cursor)
    except BadData:
        position = None
    if not isinstance(position, list):
        raise ApiError(400, "cursor", "cursor is not one this list gave (send back next_cursor unchanged)")
    return position


def time_id_before(scope: str, cursor: Optional[str]) -> Optional[tuple[datetime, int]]:
    """For lists ordered by (time, id), newest first: the (time, id) a cursor of `scope` ends at."""
    position = decode(scope, cursor)
    return (datetime.fromisoformat(position[0]), int(position[1])) if position else None


def time_id_next(scope: str, rows: list, limit: int, at: str = "created_at") -> tuple[list, Optional[str]]:
    """A page of at most `limit` rows from `rows` (fetched with one extra, limit + 1, to know whether more
    follow) and the cursor after its last row, or None when nothing follows."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode(scope, [getattr(rows[-1], at).isoformat(), rows[-1].id])
