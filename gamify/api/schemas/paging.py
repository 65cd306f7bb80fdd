"""Cursor pagination for lists that grow at the top (gifts, notifications): newest first, by
(created_at, id). A cursor is opaque to clients (base64url of the last item's time and id); a page's
`next_cursor` continues after its last item and is null on the last page. Unlike page numbers, a cursor
neither repeats nor skips items when new ones arrive between two requests."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Annotated, Any, NamedTuple, Optional

from pydantic import WithJsonSchema

from ... import params
from .base import _query_int, checked


class Cursor(NamedTuple):
    """Where a page ends: the items after it are older (created earlier, or at the same time with a
    smaller id)."""

    created_at: datetime
    id: int


def encode_cursor(created_at: datetime, item_id: int) -> str:
    raw = json.dumps([created_at.astimezone(timezone.utc).isoformat(), item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def next_cursor(items: list, limit: int) -> Optional[str]:
    """The cursor after the last of `items` (rows with created_at and id), if the page may continue."""
    if len(items) < limit:
        return None
    last = items[-1]
    return encode_cursor(last.created_at, last.id)


def _cursor(value: Any, field: str) -> Optional[Cursor]:
    if value is None:
        return None
    problem = f"{field} is not a cursor this API gave: pass a page's next_cursor as it is, or leave it out"
    if not isinstance(value, str) or len(value) > 200:
        raise params.BadInput(field, problem)
    try:
        at, item_id = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        at = datetime.fromisoformat(at)
        if at.tzinfo is None or not isinstance(item_id, int) or isinstance(item_id, bool):
            raise ValueError
        if not 0 < item_id <= params.MAX_INT or not 2000 <= at.year <= 2200:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise params.BadInput(field, problem) from None
    return Cursor(at.astimezone(timezone.utc), item_id)


CursorArg = Annotated[
    Optional[Cursor],
    checked(_cursor),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}],
            "description": "A page's next_cursor: the items after that page.",
        }
    ),
]
MAX_PAGE_SIZE = 100
PageSizeArg = Annotated[
    _query_int(1, MAX_PAGE_SIZE),
    # Declared here: base's constraints come out as "ge"/"le", which JSON Schema does not know.
    WithJsonSchema(
        {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_PAGE_SIZE,
            "description": f"Items per page (at most {MAX_PAGE_SIZE}).",
        }
    ),
]
