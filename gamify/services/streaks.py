"""Streak persistence: rules from config, state rows, period history, the freeze ledger, restoring a
lost streak, the pauses the rules read (`pause_spans`; creating and deleting them is
services/streak_pauses.py), and the admin's settings and requirements."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from sqlalchemy import func

from ..engine import calendar as cal
from ..engine import streaks as engine
from ..extensions import db
from ..models import (
    FreezeLedger,
    StreakConfig,
    StreakPause,
    StreakPeriod,
    StreakRequirement,
    StreakRestoration,
    User,
    UserStreak,
)
from ..models._common import utcnow
from . import leaderboards, outbox, snapshot
from .snapshot import rules_from


def get_config() -> Optional[StreakConfig]:
    return db.session.execute(db.select(StreakConfig).order_by(StreakConfig.id).limit(1)).scalar_one_or_none()


def _state_of(row: UserStreak) -> engine.StreakState:
    return engine.StreakState(
        length=row.length,
        longest=row.longest,
        started_on=row.started_on,
        last_extended=row.last_extended,
        last_covered=row.last_covered,
        progress_period=row.progress_period,
        progress=dict(row.progress or {}),
        periods_since_grant=row.periods_since_grant,
        freezes=row.freezes,
    )


def streak_row(user_id: int) -> Optional[UserStreak]:
    """The player's stored streak state, None before their first streak activity."""
    return db.session.get(UserStreak, user_id)


def get_or_create_row(user_id: int, rules: Optional[engine.StreakRules] = None) -> UserStreak:
    row = streak_row(user_id)
    if row is None:
        row = UserStreak(user_id=user_id, length=0, longest=0, progress={}, periods_since_grant=0, freezes=0)
        db.session.add(row)
        initial = min(rules.freeze_initial, rules.freeze_max or rules.freeze_initial) if rules else 0
        if initial > 0:
            row.freezes = initial
            for _ in range(initial):
                db.session.add(
                    FreezeLedger(user_id=user_id, delta=1, kind="granted", reason="initial grant", created_at=utcnow())
                )
    return row


def _write(
    row: UserStreak,
    change: engine.StreakChange,
    rules: engine.StreakRules,
    tz: str,
    event_id: Optional[int],
    now: datetime,
) -> None:
    s = change.state
    row.length, row.longest, row.started_on = s.length, s.longest, s.started_on
    row.last_extended, row.last_covered = s.last_extended, s.last_covered
    row.progress_period, row.progress = s.progress_period, dict(s.progress)
    row.periods_since_grant, row.freezes = s.periods_since_grant, s.freezes
    row.updated_at = now
    for p in change.periods:
        # A missed period closed at its local midnight, even when we only notice it later.
        closed = (
            now
            if p.outcome == "extended"
            else min(now, cal.local_midnight_utc(cal.next_period_start(rules.frequency, p.period_start), tz))
        )
        db.session.add(
            StreakPeriod(
                user_id=row.user_id,
                period_start=p.period_start,
                period_end=p.period_end,
                length=p.length,
                outcome=p.outcome,
                closed_at=closed,
                event_id=event_id if p.outcome == "extended" else None,
            )
        )
    for start in change.freezes_consumed:
        db.session.add(
            FreezeLedger(
                user_id=row.user_id,
                delta=-1,
                kind="consumed",
                reason="missed period",
                period_start=start,
                created_at=min(now, cal.local_midnight_utc(cal.next_period_start(rules.frequency, start), tz)),
            )
        )
    for _ in range(change.freezes_granted):
        db.session.add(
            FreezeLedger(
                user_id=row.user_id,
                delta=1,
                kind="granted",
                reason=f"every {rules.freeze_every} periods",
                period_start=s.last_extended,
                event_id=event_id,
                created_at=now,
            )
        )
    if change.broken:
        outbox.emit("streak.lost", row.user_id, {"lost_length": change.lost_length}, event_id)
    if change.extended:
        outbox.emit("streak.extended", row.user_id, {"length": s.length}, event_id)


def current_rules() -> Optional[engine.StreakRules]:

    return snapshot.get().streak


# How far back pauses matter: from the last period the streak covered (the periods settling may close),
# or, with no running streak, from the start of the current period (whether it is paused). A month
# covers the longest period.
PAUSE_LOOKBACK_DAYS = 31


def pause_floor(last_covered: Optional[date], today: date) -> date:
    """The earliest day a pause must reach to matter to a streak last covered on `last_covered`."""
    floor = today - timedelta(days=PAUSE_LOOKBACK_DAYS)
    return min(last_covered, floor) if last_covered is not None else floor


def pause_spans_for(floors: dict[int, date]) -> dict[int, tuple[engine.Pause, ...]]:
    """Each player's pauses reaching `floors[user_id]` or later, as the engine takes them (one query)."""
    if not floors:
        return {}
    oldest = min(floors.values())
    rows = db.session.execute(
        db.select(StreakPause.user_id, StreakPause.start_on, StreakPause.end_on).where(
            StreakPause.user_id.in_(list(floors)), StreakPause.end_on >= oldest
        )
    ).all()
    out: dict[int, list] = {uid: [] for uid in floors}
    for uid, start, end in rows:
        if end >= floors[uid]:
            out[uid].append((start, end))
    return {uid: tuple(sorted(spans)) for uid, spans in out.items()}


def pause_spans(user, state: Optional[engine.StreakState], now: datetime) -> tuple[engine.Pause, ...]:
    """The player's pauses that can still matter to `state` at `now`."""
    today = cal.local_date(now, user.timezone)
    return pause_spans_for({user.id: pause_floor(state.last_covered if state else None, today)})[user.id]


def record_activity(
    user, metric_key: str, value: float, tz: str, now: datetime, event_id: Optional[int]
) -> Optional[tuple[engine.StreakChange, engine.StreakRules]]:
    rules = current_rules()
    if rules is None:
        return None
    row = get_or_create_row(user.id, rules)
    state = _state_of(row)
    today = cal.local_date(now, tz)
    pauses = pause_spans_for({user.id: pause_floor(state.last_covered, today)})[user.id]
    change = engine.record_activity(rules, state, today, metric_key, value, pauses)
    _write(row, change, rules, tz, event_id, now)
    return change, rules


def settle_user(user, now: Optional[datetime] = None, pauses=None) -> Optional[engine.StreakChange]:
    """Close missed periods (paused ones pass; freezes consumed at the local midnight they protect).
    `pauses`: the player's spans when the caller loaded them for many players at once."""
    rules = current_rules()
    if rules is None:
        return None
    now = now or utcnow()
    row = db.session.get(UserStreak, user.id)
    if row is None:
        return None
    state = _state_of(row)
    if pauses is None:
        pauses = pause_spans(user, state, now)
    change = engine.settle(rules, state, cal.local_date(now, user.timezone), pauses)
    if change.periods:
        _write(row, change, rules, user.timezone, None, now)
    if change.broken:  # lost without an event: streak boards learn it now, not at the next event
        leaderboards.streak_lost(user.id, now)
    return change


def settle_users(users: list, now: datetime) -> list[Optional[engine.StreakChange]]:
    """settle_user for many players, their streak rows and pauses loaded at once (the scheduled job)."""
    if current_rules() is None or not users:
        return [None] * len(users)
    # Whole rows: settle_user's get() then finds them in the session.
    rows = db.session.execute(db.select(UserStreak).where(UserStreak.user_id.in_([u.id for u in users]))).scalars()
    covered = {r.user_id: r.last_covered for r in rows}
    pauses = pause_spans_for({u.id: pause_floor(covered.get(u.id), cal.local_date(now, u.timezone)) for u in users})
    return [settle_user(u, now, pauses[u.id]) for u in users]


def grant_freeze(user_id: int, reason: str, amount: int = 1) -> int:
    """Admin/API grant; respects the configured maximum. Returns how many were granted."""
    config = get_config()
    rules = rules_from(config) if config else None
    row = get_or_create_row(user_id, rules)
    cap = config.freeze_max if config and config.freeze_max else None
    granted = 0
    for _ in range(amount):
        if cap is not None and row.freezes >= cap:
            break
        row.freezes += 1
        granted += 1
        db.session.add(FreezeLedger(user_id=user_id, delta=1, kind="granted", reason=reason, created_at=utcnow()))
    return granted


class StreakStateError(ValueError):
    """Refused in the streak's current state (409): nothing to restore, no streak configured, ..."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def freeze_cap() -> Optional[int]:
    """The most freezes a player may hold (None: no maximum; a maximum of 0 means none is set)."""
    config = get_config()
    return config.freeze_max if config and config.freeze_max else None


def _lost_streak(user_id: int) -> tuple[StreakPeriod, int, Optional[date]]:
    """The player's latest loss: (the period that broke the streak, the length it had, the period it began
    in). StreakStateError when they never lost one."""
    broken = db.session.execute(
        db.select(StreakPeriod)
        .where(StreakPeriod.user_id == user_id, StreakPeriod.outcome == "broken")
        .order_by(StreakPeriod.period_start.desc())
        .limit(1)
    ).scalar_one_or_none()
    before = None
    if broken is not None:
        before = db.session.execute(
            db.select(StreakPeriod)
            .where(StreakPeriod.user_id == user_id, StreakPeriod.period_start < broken.period_start)
            .order_by(StreakPeriod.period_start.desc())
            .limit(1)
        ).scalar_one_or_none()
    length = before.length if before is not None else 0
    if broken is not None:
        # A streak restored before and lost again: the period before this loss is the earlier loss (length
        # 0), undone by the restoration, which says what length the streak went on from.
        undone = db.session.execute(
            db.select(StreakRestoration)
            .where(StreakRestoration.user_id == user_id, StreakRestoration.lost_period_start < broken.period_start)
            .order_by(StreakRestoration.lost_period_start.desc())
            .limit(1)
        ).scalar_one_or_none()
        if undone is not None and (before is None or undone.lost_period_start >= before.period_start):
            length = undone.length
    if broken is None or length <= 0:
        raise StreakStateError("streak", "the player has no lost streak to restore")
    # The run began at its latest first period (length 1) before the loss; frozen periods keep the length.
    started = db.session.execute(
        db.select(func.max(StreakPeriod.period_start)).where(
            StreakPeriod.user_id == user_id,
            StreakPeriod.outcome == "extended",
            StreakPeriod.length == 1,
            StreakPeriod.period_start < broken.period_start,
        )
    ).scalar()
    return broken, length, started


def restore(user: User, reason: str, now: Optional[datetime] = None) -> StreakRestoration:
    """Give the player's lost streak back at the length it had when it broke, as if the periods since
    had been frozen: it is alive again and needs activity in the current period to grow. Only while the
    streak is lost (a new one already running is refused), once per loss; ledgered with the reason.
    StreakStateError otherwise."""
    now = now or utcnow()
    rules = current_rules()
    if rules is None:
        raise StreakStateError("streak", "no streak is configured")
    # The player's row lock, as events take it: a restore and an event of the player queue.
    db.session.execute(db.select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    settle_user(user, now)
    row = streak_row(user.id)
    if row is not None and row.length > 0:
        raise StreakStateError(
            "streak", f"the streak is running (length {row.length}): only a lost streak can be restored"
        )
    broken, length, started = _lost_streak(user.id)
    done = db.session.execute(
        db.select(StreakRestoration.id).where(
            StreakRestoration.user_id == user.id, StreakRestoration.lost_period_start == broken.period_start
        )
    ).first()
    if done is not None or row is None:
        raise StreakStateError("streak", "that streak was restored already")
    current = cal.period_start(rules.frequency, cal.local_date(now, user.timezone))
    row.length, row.longest, row.started_on = length, max(row.longest, length), started
    row.last_covered = cal.previous_period_start(rules.frequency, current)
    row.updated_at = now
    restoration = StreakRestoration(
        user_id=user.id, lost_period_start=broken.period_start, length=length, reason=reason, created_at=now
    )
    db.session.add(restoration)
    leaderboards.streak_restored(user.id, length, now)
    return restoration


def freeze_balance(user_id: int) -> int:
    return int(
        db.session.execute(
            db.select(db.func.coalesce(db.func.sum(FreezeLedger.delta), 0)).where(FreezeLedger.user_id == user_id)
        ).scalar_one()
    )


def current_state(
    user, now: Optional[datetime] = None, pauses=None
) -> tuple[Optional[engine.StreakRules], Optional[engine.StreakState]]:
    """The streak's rules and the player's state, settled at `now` (a lapsed streak reads as 0);
    (None, None) when there is no streak."""
    rules = current_rules()
    if rules is None:
        return None, None
    settle_user(user, now or utcnow(), pauses)
    row = db.session.get(UserStreak, user.id)
    return rules, (_state_of(row) if row else engine.StreakState())


def summary(user, now: Optional[datetime] = None, pauses=None) -> dict:
    """The streak as the API and pages show it (settling first, so a lapsed streak reads as 0).
    `pauses`: the player's spans when the caller loaded them for many players at once."""
    now = now or utcnow()
    if pauses is None and current_rules() is not None:
        row = streak_row(user.id)
        pauses = pause_spans(user, _state_of(row) if row else None, now)
    rules, state = current_state(user, now, pauses)
    if rules is None:
        return {
            "length": 0,
            "longest": 0,
            "frequency": None,
            "freezes": 0,
            "expires_utc": None,
            "extended_this_period": False,
            "period_start": None,
            "period_end": None,
            "at_risk": False,
            "paused": False,
        }
    today = cal.local_date(now, user.timezone)
    current = cal.period_start(rules.frequency, today)
    expires = engine.expires_at(rules, state, today, user.timezone, pauses)
    return {
        "length": state.length,
        "longest": state.longest,
        "frequency": rules.frequency,
        "freezes": state.freezes,
        "started_on": state.started_on.isoformat() if state.started_on else None,
        "extended_this_period": state.last_extended == current,
        "at_risk": engine.at_risk(rules, state, today, pauses),
        # The current period is paused: it neither extends nor breaks the streak.
        "paused": engine.paused(rules.frequency, current, pauses),
        "period_start": current.isoformat(),
        "period_end": cal.period_end(rules.frequency, current).isoformat(),
        "expires_utc": expires.isoformat() if expires else None,
    }


def history(user_id: int, since: Optional[date] = None) -> list[StreakPeriod]:
    q = db.select(StreakPeriod).where(StreakPeriod.user_id == user_id)
    if since:
        q = q.where(StreakPeriod.period_start >= since)
    return list(db.session.execute(q.order_by(StreakPeriod.period_start)).scalars())


# ------------------------------------------------------------------------------------------ admin


def save_config(
    config: Optional[StreakConfig],
    *,
    enabled: bool,
    frequency: str,
    mode: str,
    freeze_initial: int,
    freeze_every: Optional[int],
    freeze_max: int,
) -> bool:
    """Create (`config` None) or update the product's streak. True when a saved streak changed its
    frequency (current streaks are then read in the new periods)."""
    if config is None:
        config = StreakConfig()
        db.session.add(config)
    changed_frequency = bool(config.frequency is not None and config.frequency != frequency and config.id)
    config.enabled, config.frequency, config.mode = enabled, frequency, mode
    config.freeze_initial, config.freeze_every, config.freeze_max = freeze_initial, freeze_every, freeze_max
    return changed_frequency


def add_requirement(metric_id: int, threshold: float) -> Optional[StreakRequirement]:
    """Make the metric a requirement (creating a daily ANY streak when there is none yet); None when it
    already is one."""
    config = get_config()
    if config is None:
        config = StreakConfig(enabled=True, frequency="daily", mode="any", freeze_initial=0, freeze_max=0)
        db.session.add(config)
        db.session.flush()
    if any(r.metric_id == metric_id for r in config.requirements):
        return None
    req = StreakRequirement(config_id=config.id, metric_id=metric_id, threshold=threshold)
    db.session.add(req)
    return req


def set_requirement_threshold(req: StreakRequirement, threshold: float) -> None:
    req.threshold = threshold


def delete_requirement(req: StreakRequirement) -> None:
    db.session.delete(req)


def active_streak_count() -> int:
    """Players whose streak is running (length above 0)."""
    return db.session.execute(db.select(func.count(UserStreak.user_id)).where(UserStreak.length > 0)).scalar_one()
