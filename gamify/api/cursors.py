"""Opaque cursors for the API's keyset pagination (newest first): a page ends with `next_cursor`, a
signed token of where it ended; the client sends it back as `?cursor=` for the next page.

Signed with the app's secret and salted with the list it belongs to (a player's awards in one system,
one board's runs in one segment), so a cursor cannot be forged, nor used on another player's list: either
is a 400 naming `cursor`."""

from __future__ import annotations

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
