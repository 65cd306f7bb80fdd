"""The Trophy admin API's plumbing: its blueprint (from gamify.trophy.base, which answers its errors in
Trophy's shape), the key check, and the pieces every bulk operation shares.

Trophy's admin operations take arrays (up to 100 items; 1,000 events) and answer per item: what was
created, updated or deleted, and an `issues` list naming the item (`index` before it has an id, `id`
after) with a severity and a message. An item refused by a service (ConfigError, LeaderboardError) or by
its shape is an issue and changes nothing; the others go on. A body that is no array, or too long,
answers 422 (400 where the operation lists 400).
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from ... import params
from ...extensions import db
from ...services.config_rules import ConfigError
from ...services.leaderboards import LeaderboardError
from ...services.streaks import StreakStateError
from ..base import TrophyError, _message, dump, require_admin_key  # noqa: F401  (the views take it from here)
from ..base import admin_bp as bp  # noqa: F401  (the views attach to it)

# What a service answers when it refuses one item: an issue of that item, never a 500.
REFUSALS = (ConfigError, LeaderboardError, StreakStateError, params.BadInput, TrophyError)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

MAX_ITEMS = 100


class Issues:
    """The issues of one bulk request, in Trophy's AdminIssue shape."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def add(self, message: str, *, index: Optional[int] = None, id: Optional[str] = None, **extra) -> None:
        self._add("error", message, index, id, extra)

    def warn(self, message: str, *, index: Optional[int] = None, id: Optional[str] = None, **extra) -> None:
        self._add("warning", message, index, id, extra)

    def _add(self, severity: str, message: str, index, id, extra: dict) -> None:
        item: dict[str, Any] = {}
        if id is not None:
            item["id"] = id
        if index is not None:
            item["index"] = index
        item.update({k: v for k, v in extra.items() if v is not None})
        item.update(severity=severity, message=message)
        self.items.append(item)


def array(limit: int = MAX_ITEMS, status: int = 422) -> list:
    """The JSON array body (1 to `limit` items), or TrophyError(status)."""
    raw = request.get_json(silent=True)
    if raw is None and request.data:
        raise TrophyError(status, "request body is not valid JSON")
    if not isinstance(raw, list) or not raw:
        raise TrophyError(status, f"the body must be a JSON array of 1 to {limit} items")
    if len(raw) > limit:
        raise TrophyError(status, f"at most {limit} items per request (got {len(raw)}); split the request")
    try:
        params.check_json(raw)
    except params.BadInput as e:
        raise TrophyError(422, str(e)) from e
    return raw


def item(model: type[M], raw: Any) -> M | str:
    """One item of an array as `model`, or the message refusing it."""
    if not isinstance(raw, dict):
        return "each item must be an object"
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        return _message(e.errors(include_url=False)[0])[1]


def items(model: type[M], limit: int = MAX_ITEMS) -> list[tuple[int, M | str]]:
    """The array body's items as `model` (or the message refusing each), with their index."""
    return [(i, item(model, raw)) for i, raw in enumerate(array(limit))]


def attempt(issues: Issues, fn: Callable[[], T], prefix: str = "", **where) -> Optional[T]:
    """Run one item's change in a savepoint: its result, or None with the refusal as an issue (the item
    changes nothing; the others go on). `prefix` names a part of the item ("levels[0]: ")."""
    try:
        with db.session.begin_nested():
            return fn()
    except REFUSALS as e:
        issues.add(prefix + (e.message if isinstance(e, TrophyError) else str(e)), **where)
        return None


def paging() -> tuple[int, int]:
    """(limit, skip) from the query string: limit 1-100 (default 10), skip from 0 (default 0)."""
    limit = _query_int("limit", 10, 1, 100)
    skip = _query_int("skip", 0, 0, params.MAX_INT)
    return limit, skip


def _query_int(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    n = params.whole(raw, lo, hi)
    if n is None:
        raise TrophyError(422, f"{name} must be a whole number from {lo} to {hi}")
    return n


def ids_arg(limit: int = MAX_ITEMS) -> list[str]:
    """The `ids` query parameter: repeated or comma-separated, 1 to `limit` of them."""
    ids = [part.strip() for raw in request.args.getlist("ids") for part in raw.split(",") if part.strip()]
    if not ids:
        raise TrophyError(422, "ids is required: repeat it (ids=1&ids=2) or separate the ids with commas")
    if len(ids) > limit:
        raise TrophyError(422, f"at most {limit} ids per request")
    return list(dict.fromkeys(ids))


def row(model: type[T], raw_id: Optional[str]) -> Optional[T]:
    """The row a Trophy id names (gamify's integer ids, as strings), or None."""
    n = params.whole(raw_id, 1, params.MAX_INT) if isinstance(raw_id, str) else None
    return db.session.get(model, n) if n is not None else None


def page(query, limit: int, skip: int) -> list:
    return list(db.session.execute(query.limit(limit).offset(skip)).scalars())


def created(key: str, rows: list, issues: Issues):
    """A create answer: 201 when anything was created, 200 when every item had an issue."""
    return {key: [dump(r) if isinstance(r, BaseModel) else r for r in rows], "issues": issues.items}, (
        201 if rows else 200
    )


def listed(key: str, rows: list, issues: Issues) -> dict:
    return {key: [dump(r) if isinstance(r, BaseModel) else r for r in rows], "issues": issues.items}
