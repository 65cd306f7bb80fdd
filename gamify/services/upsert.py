"""INSERT ... ON CONFLICT for the two databases gamify runs on (PostgreSQL and SQLite share the syntax)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def dialect_insert(model):
    """The dialect's insert construct (with .on_conflict_do_nothing/_do_update), or None elsewhere."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(model)
    if name == "sqlite":
        return sqlite.insert(model)
    return None  # pragma: no cover


def insert_rows(model, rows: list[dict], chunk: int = 500) -> None:
    """A few rows as one multi-row INSERT ... VALUES statement (no ORM objects, no ids back). Drivers
    run a plain executemany as one server execution per row (psycopg 3 pipelines them)."""
    for i in range(0, len(rows), chunk):
        db.session.execute(insert(model).values(rows[i : i + chunk]))
