"""Query parameters of lists that grow at the top (gifts, notifications): newest first, `limit` items a
page, `cursor` = the previous page's `next_cursor` (signed and bound to its list: gamify/api/cursors.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import WithJsonSchema

from .base import _query_int
from .points import Cursor  # noqa: F401  (the cursor parameter, as every list declares it)

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
