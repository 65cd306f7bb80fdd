"""INSERT ... ON CONFLICT for the two databases gamify runs on (PostgreSQL and SQLite share the syntax)."""
from __future__ import annotations

from ..extensions import db


def dialect_insert(model):
    """The dialect's insert construct (with .on_conflict_do_nothing/_do_update), or None elsewhere."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover
        return None
    return insert(model)
