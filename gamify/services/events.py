"""The one-event engine: a metric event evaluated against every feature in one transaction."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from sqlalchemy.exc import IntegrityError

from ..engine import calendar as cal
from ..engine import streaks as streak_engine
from ..extensions import db
from ..models import Metric, MetricEvent, MetricTotal, PointsBalance, PointsSystem, User
from ..models._common import utcnow
from . import achievements, outbox, points, streaks


class EventError(ValueError):
    """Bad input; `field` names what to fix (the API turns it into a 4xx)."""

    def __init__(self, field: str, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.field, self.status, self.extra = field, status, extra


@dataclass
class EventContext:
    """What feature hooks see and add to. Hooks run inside the transaction, in order."""

    user: User
    metric: Metric
    event: MetricEvent
    value: float
    tz: str
    now: datetime
    attributes: dict  # user attributes overlaid with the event's
    old_total: float
    new_total: float
    response: dict
    streak_length: Optional[int] = None
    streak_extended: bool = False
    options: dict = field(default_factory=dict)  # e.g. {"action": ..., "difficulty": ...} from the caller
    after_commit: list = field(default_factory=list)  # callables run once the transaction committed


# Feature hooks, e.g. energy and leaderboards: fn(ctx) -> None, may raise EventError to abort all.
BEFORE_HOOKS: list[Callable[[EventContext], None]] = []
AFTER_HOOKS: list[Callable[[EventContext], None]] = []
# Replayed (idempotent) responses get the same chance to add current state: fn(user, response).
REPLAY_HOOKS: list[Callable[[User, dict], None]] = []


def _validate(metric_key: str, value: Any, tz: Optional[str], attributes: Any, idempotency_key: Any) -> tuple:
    metric = db.session.execute(db.select(Metric).where(Metric.key == metric_key)).scalar_one_or_none()
    if metric is None:
        raise EventError("metric", f"unknown metric '{metric_key}'", status=404)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError("value", "value must be a finite number")
    if tz is not None:
        try:
            cal.zone(tz)
        except cal.InvalidTimezone as e:
            raise EventError("tz", str(e))
    if attributes is not None and not isinstance(attributes, dict):
        raise EventError("attributes", "attributes must be an object of string keys")
    if attributes and not all(isinstance(v, (str, int, float, bool)) or v is None for v in attributes.values()):
        raise EventError("attributes", "attribute values must be strings, numbers or booleans")
    if idempotency_key is not None and (not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 255):
        raise EventError("idempotency_key", "idempotency_key must be a string of 1 to 255 characters")
    return metric, float(value)


def _lock_user(user: User) -> User:
    """Serialise events of one player (PostgreSQL row lock; SQLite already serialises writers).
    FOR NO KEY UPDATE: still excludes a second event of the same player, but does not block the
    key-share locks other transactions take when inserting rows that reference this user."""
    return db.session.execute(db.select(User).where(User.id == user.id)
                              .with_for_update(key_share=True)).scalar_one()


def process_event(metric_key: str, user: User, value: float = 1, tz: Optional[str] = None,
                  attributes: Optional[dict] = None, idempotency_key: Optional[str] = None,
                  now: Optional[datetime] = None, options: Optional[dict] = None, commit: bool = True) -> dict:
    metric, value = _validate(metric_key, value, tz, attributes, idempotency_key)
    now = now or utcnow()
    user = _lock_user(user)
    if idempotency_key is not None:
        prior = _prior(user.id, metric.id, idempotency_key)
        if prior is not None:
            return _replay(user, metric, prior, commit)
    if tz and tz != user.timezone:
        user.timezone = tz  # travel: the local calendar follows the player from now on
    tz = user.timezone
    attrs = {**(user.attributes or {}), **(attributes or {})}
    event = MetricEvent(user_id=user.id, metric_id=metric.id, value=value, occurred_at=now,
                        local_date=cal.local_date(now, tz), timezone=tz, idempotency_key=idempotency_key,
                        attributes=attributes or {})
    try:
        with db.session.begin_nested():
            db.session.add(event)
            db.session.flush()
    except IntegrityError:
        # Same idempotency key committed by a concurrent request between our check and insert.
        db.session.rollback()
        prior = _prior(user.id, metric.id, idempotency_key)
        if prior is None:
            raise
        return _replay(db.session.get(User, user.id), metric, prior, commit)

    total = db.session.get(MetricTotal, (user.id, metric.id))
    if total is None:
        total = MetricTotal(user_id=user.id, metric_id=metric.id, total=0.0)
        db.session.add(total)
    old_total = total.total or 0.0
    total.total = old_total + value
    total.updated_at = now
    user.last_seen_at = now

    response: dict = {"event_id": event.id, "metric": metric.key, "metric_total": total.total,
                      "idempotent_replayed": False}
    ctx = EventContext(user=user, metric=metric, event=event, value=value, tz=tz, now=now, attributes=attrs,
                       old_total=old_total, new_total=total.total, response=response, options=options or {})
    for hook in BEFORE_HOOKS:
        hook(ctx)

    streak_result = streaks.record_activity(user, metric.key, value, tz, now, event.id)
    if streak_result is not None:
        change, _rules = streak_result
        ctx.streak_extended = change.extended
        ctx.streak_length = change.state.length
    db.session.flush()
    response["streak"] = _streak_response(user, now, ctx.streak_extended, streak_result)

    unlocked = achievements.evaluate_event(user, metric.id, value, total.total, attrs,
                                           ctx.streak_length if ctx.streak_extended else None, event.id, now)
    rarity = achievements.rarities(a.id for a in unlocked)
    response["achievements"] = [achievements.serialize(a, rarity=rarity.get(a.id)) | {"completed_at": now.isoformat()}
                                for a in unlocked]

    response["points"] = points.evaluate_event(
        user, metric.id, old_total, total.total, ctx.streak_length if ctx.streak_extended else None,
        [a.id for a in unlocked], attrs, event.id, now)
    _fill_points_totals(user.id, response["points"])

    for hook in AFTER_HOOKS:
        hook(ctx)

    if commit:
        db.session.commit()
        for fn in ctx.after_commit:
            fn()
        for listener in outbox.AFTER_COMMIT_LISTENERS:
            listener()
    return response


def _prior(user_id: int, metric_id: int, key: str) -> Optional[MetricEvent]:
    return db.session.execute(db.select(MetricEvent).where(
        MetricEvent.user_id == user_id, MetricEvent.metric_id == metric_id,
        MetricEvent.idempotency_key == key)).scalar_one_or_none()


def _streak_response(user: User, now: datetime, extended: bool, result) -> Optional[dict]:
    """Built from the state just computed: no second settle or config load on the hot path."""
    if result is None:
        return None
    change, rules = result
    state = change.state
    today = cal.local_date(now, user.timezone)
    current = cal.period_start(rules.frequency, today)
    expires = streak_engine.expires_at(rules, state, today, user.timezone)
    return {"length": state.length, "extended": extended, "frozen": bool(change.freezes_consumed),
            "freezes": state.freezes, "expires_utc": expires.isoformat() if expires else None,
            "period_start": current.isoformat(), "period_end": cal.period_end(rules.frequency, current).isoformat()}


def _fill_points_totals(user_id: int, out: dict) -> None:
    """Every system appears in the response, with added 0 when nothing fired."""
    rows = db.session.execute(db.select(PointsSystem.key, PointsBalance.balance).outerjoin(
        PointsBalance, (PointsBalance.system_id == PointsSystem.id) & (PointsBalance.user_id == user_id))).all()
    for key, balance in rows:
        out.setdefault(key, {"added": 0, "total": balance or 0})


def _replay(user: User, metric: Metric, prior: MetricEvent, commit: bool) -> dict:
    total = db.session.get(MetricTotal, (user.id, metric.id))
    response = {"event_id": prior.id, "metric": metric.key, "metric_total": total.total if total else 0.0,
                "idempotent_replayed": True, "achievements": [], "points": {}}
    response["streak"] = None
    if streaks.current_rules() is not None:
        s = streaks.summary(user)
        response["streak"] = {"length": s["length"], "extended": False, "frozen": False, "freezes": s["freezes"],
                              "expires_utc": s["expires_utc"], "period_start": s["period_start"],
                              "period_end": s["period_end"]}
    _fill_points_totals(user.id, response["points"])
    for hook in REPLAY_HOOKS:
        hook(user, response)
    if commit:
        db.session.commit()  # settling may have closed periods; keep that
    return response
