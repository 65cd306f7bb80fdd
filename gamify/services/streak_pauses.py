"""Streak pauses: an admin (admin page, /api/v1, Trophy's admin API) pauses players' streaks for spans of
their local days, and deletes pauses. The rule itself (a paused period neither extends nor breaks the
streak, uses no freeze) is engine.streaks; the spans it reads are loaded by services.streaks and the
event pipeline. Like every service, nothing here commits.

The interface, for every caller:
    create(user, start, end, reason=, created_by=, now=) -> StreakPause        PauseError when refused
    create_many([PauseRequest(user_id, start, end), ...], created_by=, now=)   -> [PauseOutcome, ...] in order
    delete(pause, now=)                                                        settles the streak first
    delete_many([pause id, ...], now=)                                         -> [(id, PauseError | None), ...]
    get(id), of_user(user_id), upcoming(user, now), status(pause, user, now)   "active" | "archived"
A pause's id in every API is its `public_id`, a UUID (Trophy's definition declares pause ids so).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional, Union

from ..engine import calendar as cal
from ..extensions import db
from ..models import StreakPause, User
from ..models._common import utcnow
from . import streaks, users

MAX_DAYS = 366  # one pause spans at most this many days
MAX_AHEAD_DAYS = 366  # a pause starts at most this long after the player's today
MAX_OPEN = 20  # current and upcoming pauses a player may have
MAX_BATCH = 100  # pauses created (or deleted) in one request, as Trophy's admin API
REASON_MAX = 120


class PauseError(ValueError):
    """A pause refused: `field` names what to fix; `status` 400 (bad value), 404 (unknown), 409 (state)."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.status = field, status


@dataclass
class PauseRequest:
    """One pause of a `create_many`: the player by the host product's id (or the User row)."""

    user: Union[User, str]
    start: date
    end: date
    reason: str = ""


@dataclass
class PauseOutcome:
    index: int
    user_id: str  # the host product's id, as given
    pause: Optional[StreakPause] = None
    error: Optional[PauseError] = None


def today_of(user: User, now: Optional[datetime] = None) -> date:
    return cal.local_date(now or utcnow(), user.timezone)


def _lock(user: User) -> None:
    """The player's row lock, as events take it: a pause and an event of the player queue."""
    db.session.execute(db.select(User.id).where(User.id == user.id).with_for_update(key_share=True))


def of_user(user_id: int) -> list[StreakPause]:
    """Every pause of the player, latest first."""
    return list(
        db.session.execute(
            db.select(StreakPause)
            .where(StreakPause.user_id == user_id)
            .order_by(StreakPause.start_on.desc(), StreakPause.id.desc())
        ).scalars()
    )


def upcoming(user: User, now: Optional[datetime] = None) -> list[StreakPause]:
    """The player's current and upcoming pauses (ending today or later in their zone), soonest first."""
    return list(
        db.session.execute(
            db.select(StreakPause)
            .where(StreakPause.user_id == user.id, StreakPause.end_on >= today_of(user, now))
            .order_by(StreakPause.start_on, StreakPause.id)
        ).scalars()
    )


def status(pause: StreakPause, user: User, now: Optional[datetime] = None) -> str:
    """Trophy's status: "active" while it still covers today or a later day, "archived" once over."""
    return "active" if pause.end_on >= today_of(user, now) else "archived"


def get(pause_id: str) -> Optional[StreakPause]:
    """The pause with this public id (a UUID string); None for any other string."""
    if not valid_id(pause_id):
        return None
    key = str(uuid.UUID(pause_id))  # the stored form: lower case, hyphens
    return db.session.execute(db.select(StreakPause).where(StreakPause.public_id == key)).scalar_one_or_none()


def create(
    user: User,
    start: date,
    end: date,
    *,
    reason: str = "",
    created_by: str = "",
    now: Optional[datetime] = None,
) -> StreakPause:
    """Pause the player's streak from `start` to `end` (their local days, both included). Refused
    (PauseError) when it starts before their today or too far ahead, ends before it starts, spans more
    than MAX_DAYS, overlaps one of their pauses, or they already have MAX_OPEN current and upcoming ones.
    A period already extended when it is set stays extended."""
    now = now or utcnow()
    today = today_of(user, now)
    if start < today:
        raise PauseError(
            "start", f"start must not be before the player's today ({today.isoformat()} in {user.timezone})"
        )
    if start > today + timedelta(days=MAX_AHEAD_DAYS):
        raise PauseError("start", f"start must be within {MAX_AHEAD_DAYS} days of the player's today")
    if end < start:
        raise PauseError("end", "end must be on or after start")
    if (end - start).days + 1 > MAX_DAYS:
        raise PauseError("end", f"a pause spans at most {MAX_DAYS} days")
    _lock(user)
    mine = upcoming(user, now)
    clash = next((p for p in mine if p.start_on <= end and p.end_on >= start), None)
    if clash is not None:
        raise PauseError(
            "start",
            f"overlaps pause {clash.id} ({clash.start_on.isoformat()} to {clash.end_on.isoformat()}): "
            "delete it or choose other days",
            409,
        )
    if len(mine) >= MAX_OPEN:
        raise PauseError("start", f"the player already has {MAX_OPEN} current and upcoming pauses", 409)
    pause = StreakPause(
        user_id=user.id,
        start_on=start,
        end_on=end,
        reason=(reason or "")[:REASON_MAX],
        created_by=(created_by or "")[:64],
        created_at=now,
    )
    db.session.add(pause)
    db.session.flush()
    return pause


def create_many(
    requests: list[PauseRequest], *, created_by: str = "", now: Optional[datetime] = None
) -> list[PauseOutcome]:
    """Each request on its own (a refused one does not sink the others): one outcome per request, in
    order, with the pause or the PauseError (404 naming `user_id` for an unknown player)."""
    if len(requests) > MAX_BATCH:
        raise PauseError("pauses", f"at most {MAX_BATCH} pauses per request (got {len(requests)})")
    now = now or utcnow()
    out = []
    for i, req in enumerate(requests):
        user = req.user if isinstance(req.user, User) else users.by_external_id(req.user)
        shown = req.user.external_id if isinstance(req.user, User) else req.user
        outcome = PauseOutcome(i, shown or "")
        if user is None:
            outcome.error = PauseError("user_id", f"unknown user '{shown}'", 404)
        else:
            try:
                with db.session.begin_nested():
                    outcome.pause = create(user, req.start, req.end, reason=req.reason, created_by=created_by, now=now)
            except PauseError as e:
                outcome.error = e
        out.append(outcome)
    return out


def delete(pause: StreakPause, now: Optional[datetime] = None) -> None:
    """Delete the pause. The player's streak is settled first, so the periods it already covered close
    as paused (the history keeps them); from the current period on it no longer applies."""
    user = db.session.get(User, pause.user_id)
    _lock(user)
    streaks.settle_user(user, now or utcnow())
    db.session.delete(pause)
    db.session.flush()


def delete_many(ids: list[str], now: Optional[datetime] = None) -> list[tuple[str, Optional[PauseError]]]:
    """Delete pauses by public id: (id, None) for each deleted, (id, PauseError) for each refused (400 not
    a UUID, 404 unknown), in order."""
    if len(ids) > MAX_BATCH:
        raise PauseError("ids", f"at most {MAX_BATCH} pauses per request (got {len(ids)})")
    now = now or utcnow()
    out: list[tuple[str, Optional[PauseError]]] = []
    for pause_id in ids:
        if not valid_id(pause_id):
            out.append((pause_id, PauseError("id", "id must be a valid UUID")))
            continue
        pause = get(pause_id)
        if pause is None:
            out.append((pause_id, PauseError("id", "streak pause not found by id", 404)))
            continue
        delete(pause, now)
        out.append((pause_id, None))
    return out


def valid_id(pause_id) -> bool:
    try:
        uuid.UUID(pause_id)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def as_json(pause: StreakPause, user: User, now: Optional[datetime] = None) -> dict:
    """A pause as /api/v1 answers it."""
    return {
        "id": pause.public_id,
        "start": pause.start_on.isoformat(),
        "end": pause.end_on.isoformat(),
        "reason": pause.reason,
        "status": status(pause, user, now),
        "created_at": pause.created_at.isoformat(),
    }
