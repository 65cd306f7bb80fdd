"""The one-event engine: a metric event evaluated against every feature in one transaction."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..engine import calendar as cal
from ..engine import streaks as streak_engine
from ..extensions import db
from ..models import ConfigVersion, MetricEvent, MetricTotal, PointsBalance, PointsSystem, User
from ..models._common import utcnow
from . import achievements, points, snapshot, streaks
from .snapshot import MetricDef
from .upsert import dialect_insert


class EventError(ValueError):
    """Bad input; `field` names what to fix (the API turns it into a 4xx)."""

    def __init__(self, field: str, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.field, self.status, self.extra = field, status, extra


@dataclass
class EventContext:
    """What feature hooks see and add to. Hooks run inside the transaction, in order."""

    user: User
    metric: MetricDef
    event_id: int
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


# Feature hooks, e.g. energy and leaderboards: fn(ctx) -> None, may raise EventError to abort all.
BEFORE_HOOKS: list[Callable[[EventContext], None]] = []
AFTER_HOOKS: list[Callable[[EventContext], None]] = []
# Replayed (idempotent) responses get the same chance to add current state: fn(user, response).
REPLAY_HOOKS: list[Callable[[User, dict], None]] = []


def _validate(value: Any, tz: Optional[str], attributes: Any, idempotency_key: Any) -> float:
    """Input checks that need no database (the metric is looked up once the player is locked)."""
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
    return float(value)


# The two statements every event runs first, built once (the insert per dialect: ON CONFLICT syntax).
_LOCK_USER = (update(User).where(User.id == bindparam("uid")).values(last_seen_at=bindparam("seen"))
              .returning(select(ConfigVersion.version).where(ConfigVersion.id == 1).scalar_subquery())
              .execution_options(synchronize_session=False))
_insert_event_sql: dict[str, Any] = {}


def _lock_user(user: User, now: datetime) -> int:
    """Serialise events of one player and mark them seen, in one round trip that also reads the
    configuration counter: UPDATE ... RETURNING. On PostgreSQL an UPDATE of non-key columns takes the
    same lock as FOR NO KEY UPDATE: it excludes a second event of the same player but not the key-share
    locks other transactions take when inserting rows that reference this user. (SQLite already
    serialises writers.)"""
    got = db.session.execute(_LOCK_USER, {"uid": user.id, "seen": now}).scalar()
    set_committed_value(user, "last_seen_at", now)
    return int(got or 0)


def _insert_event(user_id: int, metric_id: int, value: float, now: datetime, tz: str,
                  idempotency_key: Optional[str], attributes: dict) -> Optional[int]:
    """The event row's id, or None when this player already sent `idempotency_key` for the metric
    (ON CONFLICT DO NOTHING: no savepoint, no prior look-up on the first delivery)."""
    dialect = db.session.get_bind().dialect.name
    stmt = _insert_event_sql.get(dialect)
    if stmt is None:
        stmt = dialect_insert(MetricEvent)
        if stmt is None:  # pragma: no cover - other databases
            stmt = insert(MetricEvent)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["user_id", "metric_id", "idempotency_key"])
        stmt = _insert_event_sql[dialect] = stmt.returning(MetricEvent.id)
    return db.session.execute(stmt, {
        "user_id": user_id, "metric_id": metric_id, "value": value, "occurred_at": now,
        "local_date": cal.local_date(now, tz), "timezone": tz, "idempotency_key": idempotency_key,
        "attributes": attributes}).scalar()


def process_event(metric_key: str, user: User, value: float = 1, tz: Optional[str] = None,
                  attributes: Optional[dict] = None, idempotency_key: Optional[str] = None,
                  now: Optional[datetime] = None, options: Optional[dict] = None, commit: bool = True) -> dict:
    value = _validate(value, tz, attributes, idempotency_key)
    now = now or utcnow()
    version = _lock_user(user, now)
    metric = snapshot.get(version).metrics.get(metric_key)
    if metric is None:
        raise EventError("metric", f"unknown metric '{metric_key}'", status=404)
    event_tz = tz or user.timezone
    event_id = _insert_event(user.id, metric.id, value, now, event_tz, idempotency_key, attributes or {})
    if event_id is None:
        # Same idempotency key: committed earlier, or by a concurrent request that held the player's lock.
        prior = _prior(user.id, metric.id, idempotency_key)
        if prior is None:  # pragma: no cover - a conflict needs a row
            raise EventError("idempotency_key", "could not record the event; retry", status=409)
        return _replay(user, metric, prior, commit)
    if event_tz != user.timezone:
        user.timezone = event_tz  # travel: the local calendar follows the player from now on
    tz = event_tz
    attrs = {**(user.attributes or {}), **(attributes or {})}

    total = db.session.get(MetricTotal, (user.id, metric.id))
    if total is None:
        total = MetricTotal(user_id=user.id, metric_id=metric.id, total=0.0)
        db.session.add(total)
    old_total = total.total or 0.0
    total.total = old_total + value
    total.updated_at = now

    response: dict = {"event_id": event_id, "metric": metric.key, "metric_total": total.total,
                      "idempotent_replayed": False}
    ctx = EventContext(user=user, metric=metric, event_id=event_id, value=value, tz=tz, now=now,
                       attributes=attrs,
                       old_total=old_total, new_total=total.total, response=response, options=options or {})
    for hook in BEFORE_HOOKS:
        hook(ctx)

    streak_result = streaks.record_activity(user, metric.key, value, tz, now, event_id)
    if streak_result is not None:
        change, _rules = streak_result
        ctx.streak_extended = change.extended
        ctx.streak_length = change.state.length
    db.session.flush()
    response["streak"] = _streak_response(user, now, ctx.streak_extended, streak_result)

    rarity: dict = {}
    unlocked = achievements.evaluate_event(user, metric.id, value, total.total, attrs,
                                           ctx.streak_length if ctx.streak_extended else None, event_id, now,
                                           rarity_out=rarity)
    response["achievements"] = [achievements.serialize(a, rarity=rarity.get(a.id)) | {"completed_at": now.isoformat()}
                                for a in unlocked]

    response["points"] = points.evaluate_event(
        user, metric.id, old_total, total.total, ctx.streak_length if ctx.streak_extended else None,
        [a.id for a in unlocked], attrs, event_id, now)

    for hook in AFTER_HOOKS:
        hook(ctx)

    if commit:
        db.session.commit()
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


def _replay(user: User, metric: MetricDef, prior: MetricEvent, commit: bool) -> dict:
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
