"""Cached, immutable copy of the feature configuration for the event hot path.

Loading metrics, streak rules, achievements, triggers, boosts and levels costs a dozen queries; an
event needs them all. Each process keeps one snapshot and reloads it when the shared counter in
`config_version` moves; the counter is bumped in the same flush as any configuration change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from ..engine.streaks import StreakRules
from ..extensions import db
from ..models import (
    Achievement,
    ConfigVersion,
    Metric,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    StreakConfig,
    StreakRequirement,
)


def rules_from(config: StreakConfig) -> StreakRules:
    """The engine's rules for a config (requirements read fresh, not from a cached relationship)."""
    reqs = db.session.execute(
        db.select(Metric.key, StreakRequirement.threshold)
        .join(Metric, Metric.id == StreakRequirement.metric_id)
        .where(StreakRequirement.config_id == config.id)
    ).all()
    return StreakRules(
        frequency=config.frequency,
        mode=config.mode,
        requirements={key: threshold for key, threshold in reqs},
        freeze_initial=config.freeze_initial or 0,
        freeze_every=config.freeze_every,
        freeze_max=config.freeze_max or 0,
    )


CONFIG_MODELS = (
    Achievement,
    Metric,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    StreakConfig,
    StreakRequirement,
)
# Other features register their configuration models here to share the same invalidation, and a loader
# (name -> fn() returning an immutable value, read as snapshot.extras[name]) to cache it with the rest.
EXTRA_CONFIG_MODELS: list = []
EXTRA_LOADERS: dict = {}


@dataclass(frozen=True)
class MetricDef:
    id: int
    key: str
    name: str
    unit: str
    allow_negative: bool = False


@dataclass(frozen=True)
class AchievementDef:
    id: int
    key: str
    name: str
    description: str
    badge: str
    trigger: str
    metric_id: Optional[int]
    threshold: Optional[float]
    streak_length: Optional[int]
    prerequisite_ids: tuple
    attribute_filters: dict
    status: str


@dataclass(frozen=True)
class LevelDef:
    id: int
    key: str
    name: str
    threshold: int
    badge: str


@dataclass(frozen=True)
class SystemDef:
    id: int
    key: str
    name: str
    badge: str
    daily_cap: Optional[int]
    max_balance: Optional[int]
    levels: tuple


@dataclass(frozen=True)
class TriggerDef:
    id: int
    system_id: int
    type: str
    metric_id: Optional[int]
    per_units: float
    streak_length: Optional[int]
    achievement_id: Optional[int]
    interval_hours: Optional[int]
    points: int
    attribute_filters: dict
    times_length: bool = False


@dataclass(frozen=True)
class BoostDef:
    id: int
    system_id: int
    multiplier: float
    rounding: str
    starts_at: datetime
    ends_at: datetime
    attribute_filters: dict


@dataclass(frozen=True)
class Snapshot:
    version: int
    metrics: dict = field(default_factory=dict)  # key -> MetricDef
    streak: Optional[StreakRules] = None
    achievements: tuple = ()  # AchievementDef, every status
    systems: dict = field(default_factory=dict)  # id -> SystemDef
    triggers: tuple = ()  # active TriggerDef
    boosts: tuple = ()
    extras: dict = field(default_factory=dict)

    def active_achievements(self, trigger: str, metric_id: Optional[int] = None) -> list[AchievementDef]:
        return [
            a
            for a in self.achievements
            if a.status == "active" and a.trigger == trigger and (metric_id is None or a.metric_id == metric_id)
        ]

    def triggers_of(self, type_: str) -> list[TriggerDef]:
        return [t for t in self.triggers if t.type == type_]


_lock = threading.Lock()
_cache: dict[str, Snapshot] = {}  # engine url -> snapshot


def current_version() -> int:
    v = db.session.execute(db.select(ConfigVersion.version).where(ConfigVersion.id == 1)).scalar()
    return int(v or 0)


# The snapshot checked in the current transaction (session.info): one version query per transaction
# instead of one per call (an event asks for it 4-5 times). Dropped when the transaction (or a savepoint)
# ends and when the counter is bumped.
_MEMO = "gamify.snapshot"


def get(version: Optional[int] = None) -> Snapshot:
    """The configuration for this transaction. `version`: the counter, when the caller already read it in
    this transaction (process_event reads it with the player's row lock)."""
    session = db.session()
    if version is None and session.info.get(_MEMO) is not None and session.in_transaction():
        # What the version query's autoflush did: pending configuration changes bump the counter (and
        # drop the memo) in before_flush. A no-op when nothing is pending.
        if session.autoflush:
            session.flush()
        memo = session.info.get(_MEMO)
        if memo is not None:
            return memo
    if version is None:
        version = current_version()
    key = str(db.engine.url)
    snap = _cache.get(key)
    if snap is None or snap.version != version:
        snap = _load(version)
        with _lock:
            _cache[key] = snap
    if session.in_transaction():
        session.info[_MEMO] = snap
    return snap


def invalidate() -> None:
    _cache.clear()
    try:
        db.session.info.pop(_MEMO, None)
    except RuntimeError:  # no app context
        pass


@event.listens_for(Session, "after_transaction_end")
def _forget_memo(session: Session, transaction) -> None:
    # The outermost transaction or a savepoint (which may have rolled a bump back); not the internal
    # subtransaction every flush opens.
    if transaction.parent is None or transaction.nested:
        session.info.pop(_MEMO, None)


def _load(version: int) -> Snapshot:
    s = db.session
    metrics = {
        m.key: MetricDef(m.id, m.key, m.name, m.unit, bool(m.allow_negative))
        for m in s.execute(db.select(Metric)).scalars()
    }
    cfg = s.execute(db.select(StreakConfig).order_by(StreakConfig.id).limit(1)).scalar_one_or_none()

    streak = rules_from(cfg) if cfg is not None and cfg.enabled else None
    achievements = tuple(
        AchievementDef(
            a.id,
            a.key,
            a.name,
            a.description or "",
            a.badge or "",
            a.trigger,
            a.metric_id,
            a.threshold,
            a.streak_length,
            tuple(a.prerequisite_ids or ()),
            dict(a.attribute_filters or {}),
            a.status,
        )
        for a in s.execute(db.select(Achievement).order_by(Achievement.id)).scalars()
    )
    levels: dict[int, list] = {}
    for lv in s.execute(db.select(PointsLevel).order_by(PointsLevel.threshold)).scalars():
        levels.setdefault(lv.system_id, []).append(LevelDef(lv.id, lv.key, lv.name, lv.threshold, lv.badge or ""))
    systems = {
        p.id: SystemDef(p.id, p.key, p.name, p.badge or "", p.daily_cap, p.max_balance, tuple(levels.get(p.id, ())))
        for p in s.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars()
    }
    triggers = tuple(
        TriggerDef(
            t.id,
            t.system_id,
            t.type,
            t.metric_id,
            t.per_units or 1.0,
            t.streak_length,
            t.achievement_id,
            t.interval_hours,
            t.points,
            dict(t.attribute_filters or {}),
            bool(t.times_length),
        )
        for t in s.execute(
            db.select(PointsTrigger).where(PointsTrigger.active.is_(True)).order_by(PointsTrigger.id)
        ).scalars()
    )
    boosts = tuple(
        BoostDef(b.id, b.system_id, b.multiplier, b.rounding, b.starts_at, b.ends_at, dict(b.attribute_filters or {}))
        for b in s.execute(db.select(PointsBoost).order_by(PointsBoost.id)).scalars()
    )
    extras = {name: load() for name, load in EXTRA_LOADERS.items()}
    return Snapshot(version, metrics, streak, achievements, systems, triggers, boosts, extras)


@event.listens_for(Session, "before_flush")
def _bump_on_config_change(session: Session, _ctx, _instances) -> None:
    models = CONFIG_MODELS + tuple(EXTRA_CONFIG_MODELS)
    if any(isinstance(o, models) for o in (*session.new, *session.dirty, *session.deleted)):
        bump(session)


def bump(session: Optional[Session] = None) -> None:
    """Move the shared counter (also call this after bulk UPDATEs of configuration tables)."""
    session = session or db.session
    session.info.pop(_MEMO, None)
    result = session.execute(
        update(ConfigVersion).where(ConfigVersion.id == 1).values(version=ConfigVersion.version + 1)
    )
    if result.rowcount == 0:
        session.add(ConfigVersion(id=1, version=1))
