"""gamify's rows in Trophy's shapes: achievements, users, streaks, points systems, levels, triggers,
boosts, awards and leaderboards. Every mapping from a gamify concept to Trophy's nearest one lives here
and is described in docs/trophy-compat.md; nothing here decides a rule (the services do).

Ids are gamify's integer ids as strings (Trophy's are UUIDs; its SDKs only require strings).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Optional

from ..engine import calendar as cal
from ..engine import leaderboards as lb_engine
from ..engine import streaks as streak_engine
from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    Leaderboard,
    Metric,
    PointsAward,
    PointsBalance,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    StreakPeriod,
    User,
)
from ..models._common import utcnow
from ..services import outbox, streaks, users
from . import schemas as s
from .base import ts

# ------------------------------------------------------------------------------------------ attributes


def pairs(filters: Optional[dict]) -> list[s.PairOut]:
    """Attribute filters as Trophy's key/value list; a gamify filter naming several values ("one of")
    becomes one entry per value under the same key."""
    out = []
    for key, wanted in sorted((filters or {}).items()):
        for value in wanted if isinstance(wanted, (list, tuple, set)) else [wanted]:
            out.append(s.PairOut(key=key, value=text_value(value)))
    return out


def text_value(value) -> str:
    """An attribute value as Trophy's string (gamify also stores numbers and booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text_attributes(attributes: Optional[dict]) -> dict[str, str]:
    return {k: text_value(v) for k, v in (attributes or {}).items() if v is not None}


# ------------------------------------------------------------------------------------------ achievements

_TRIGGERS = {"metric": "metric", "streak": "streak", "api": "api", "composite": "achievement"}


def achievement_fields(a: Achievement) -> dict:
    """The AchievementResponse fields of an achievement."""
    out: dict = {
        "id": str(a.id),
        "name": a.name,
        "trigger": _TRIGGERS[a.trigger],
        "description": a.description or None,
        "badge_url": None,  # gamify badges are emoji, not images
        "key": a.key,
        # gamify's filters match the player's attributes overlaid with the event's: all listed here
        "user_attributes": pairs(a.attribute_filters),
    }
    if a.trigger == "metric":
        metric = a.metric or db.session.get(Metric, a.metric_id)
        out.update(
            metric_id=str(a.metric_id),
            metric_value=a.threshold,
            metric_name=metric.name if metric else None,
            event_attributes=[],
        )
    elif a.trigger == "streak":
        out["streak_length"] = a.streak_length
    elif a.trigger == "composite":
        out["achievement_ids"] = [str(i) for i in a.prerequisite_ids or []]
    return out


def user_achievement(a: Achievement, completion: Optional[AchievementCompletion]) -> s.UserAchievementOut:
    return s.UserAchievementOut(
        **achievement_fields(a), achieved_at=ts(completion.completed_at) if completion else None
    )


def achievement_with_stats(a: Achievement) -> s.AchievementWithStatsOut:
    return s.AchievementWithStatsOut(
        **achievement_fields(a), completions=a.completion_count or 0, rarity=round(a.rarity_pct or 0.0, 1)
    )


def user_achievement_with_stats(a: Achievement, completion) -> s.UserAchievementWithStatsOut:
    return s.UserAchievementWithStatsOut(
        **achievement_fields(a),
        completions=a.completion_count or 0,
        rarity=round(a.rarity_pct or 0.0, 1),
        achieved_at=ts(completion.completed_at) if completion else None,
    )


def completions_of(user_id: int, achievement_ids: Optional[Iterable[int]] = None) -> dict[int, AchievementCompletion]:
    q = db.select(AchievementCompletion).where(AchievementCompletion.user_id == user_id)
    if achievement_ids is not None:
        q = q.where(AchievementCompletion.achievement_id.in_(list(achievement_ids) or [-1]))
    return {c.achievement_id: c for c in db.session.execute(q).scalars()}


def visible(a: Achievement, completion) -> bool:
    """Listed to the product: earnable or shown-but-locked ones, and any the player holds; a hidden one
    only once earned (players see "???" until then)."""
    if completion is not None:
        return True
    return a.status in ("active", "locked") and not a.hidden


# ------------------------------------------------------------------------------------------ users

# Trophy's notification types and the gamify e-mail each one is (the same four, named differently).
NOTIFICATION_TYPES = {
    "achievement_completed": "achievement",
    "recap": "recap",
    "reactivation": "reactivation",
    "streak_reminder": "streak_reminder",
}


def email_types_enabled(user_id: int) -> dict[str, bool]:
    """Trophy notification type -> does the player get it by e-mail."""
    return {t: outbox.channel_enabled(user_id, g, "email") for t, g in NOTIFICATION_TYPES.items()}


def user_out(user: User) -> s.UserOut:
    # identify() names a new player after their id when no name is given: that is no name to Trophy.
    name = user.display_name if user.display_name and user.display_name != user.external_id else None
    return s.UserOut(
        id=user.external_id,
        email=user.email,
        name=name,
        tz=user.timezone,
        device_tokens=users.device_tokens(user.id),
        subscribe_to_emails=user.subscribe_to_emails is not False,
        sign_up_date=user.sign_up_date.isoformat() if user.sign_up_date else None,
        attributes=text_attributes(user.attributes),
        control=bool(user.control_group),
        created=ts(user.created_at),
        # No profile-change time is kept: the last activity (events update the player) or creation.
        updated=ts(max(t for t in (user.created_at, user.last_seen_at) if t is not None)),
    )


# ------------------------------------------------------------------------------------------ streaks


def streak_frequency(rules) -> str:
    if rules is not None:
        return rules.frequency
    config = streaks.get_config()  # a switched-off streak still has its frequency
    return config.frequency if config is not None else "daily"


def streak_fields(
    user: User, rules, state: Optional[streak_engine.StreakState], now: datetime, pauses: tuple = ()
) -> dict:
    """BaseStreakResponse: the streak, the current period, the last day it can still be kept (paused
    periods passed: `pauses` are the player's spans, services.streaks.pause_spans)."""
    frequency = streak_frequency(rules)
    out: dict = {
        "length": 0,
        "frequency": frequency,
        "started": None,
        "period_start": None,
        "period_end": None,
        "expires": None,
    }
    if rules is None:
        return out
    state = state or streak_engine.StreakState()
    today = cal.local_date(now, user.timezone)
    current = cal.period_start(frequency, today)
    out.update(
        length=state.length,
        started=state.started_on.isoformat() if state.length > 0 and state.started_on else None,
        period_start=current.isoformat(),
        period_end=cal.period_end(frequency, current).isoformat(),
    )
    expires = streak_engine.expires_at(rules, state, today, user.timezone, pauses)
    if expires is not None:  # the local midnight it is lost at: the day before is the last one to act
        out["expires"] = (cal.local_date(expires, user.timezone) - timedelta(days=1)).isoformat()
    if freezes_enabled(rules):
        out.update(freezes=state.freezes, max_freezes=rules.freeze_max)
    return out


def freezes_enabled(rules) -> bool:
    return bool(rules.freeze_max or rules.freeze_initial or rules.freeze_every)


def last_extended(user_ids: list[int]) -> dict[int, datetime]:
    """When each player's running streak was last extended (the close of its latest extended period)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        db.select(StreakPeriod.user_id, db.func.max(StreakPeriod.closed_at))
        .where(StreakPeriod.user_id.in_(user_ids), StreakPeriod.outcome == "extended")
        .group_by(StreakPeriod.user_id)
    ).all()
    return dict(rows)


def streak_history(
    user: User, rules, length: int, periods: int, now: datetime, pauses: tuple = ()
) -> list[s.StreakPeriodOut]:
    """The last `periods` calendar periods up to the current one, oldest first, each with the streak's
    length in it (0 in a period that broke it or had no streak), from gamify's closed-period record;
    `usedPause` where a pause covered it (the current period: where one covers it now)."""
    if rules is None or periods <= 0:
        return []
    frequency = rules.frequency
    current = cal.period_start(frequency, cal.local_date(now, user.timezone))
    starts = [current]
    while len(starts) < periods:
        starts.append(cal.previous_period_start(frequency, starts[-1]))
    starts.reverse()
    closed = {p.period_start: p for p in streaks.history(user.id, since=starts[0])}
    freezes = freezes_enabled(rules)
    out = []
    for start in starts:
        p = closed.get(start)
        if p is not None:
            n = p.length if p.outcome != "broken" else 0
        else:  # not closed yet: the current period carries the running streak; an older one had none
            n = length if start == current else 0
        item = {
            "period_start": start.isoformat(),
            "period_end": cal.period_end(frequency, start).isoformat(),
            "length": n,
            "used_pause": (p.outcome == "paused")
            if p is not None
            else (start == current and streak_engine.paused(frequency, start, pauses)),
        }
        if freezes:
            item["used_freeze"] = p is not None and p.outcome == "frozen"
        out.append(s.StreakPeriodOut(**item))
    return out


# ------------------------------------------------------------------------------------------ points

_ROUNDING = {"floor": "down", "ceil": "up", "nearest": "nearest"}


def points_fields(system: PointsSystem) -> dict:
    """PointsResponse: the system (gamify systems have no description; badges are emoji)."""
    return {
        "id": str(system.id),
        "key": system.key,
        "name": system.name,
        "description": None,
        "badge_url": None,
        "max_points": system.max_balance,
    }


def level_out(level: PointsLevel) -> s.PointsLevelOut:
    return s.PointsLevelOut(
        id=str(level.id), key=level.key, name=level.name, description="", badge_url=None, points=level.threshold
    )


def boost_status(boost: PointsBoost, now: datetime) -> str:
    if now < boost.starts_at:
        return "scheduled"
    return "active" if now < boost.ends_at else "finished"


def boost_out(boost: PointsBoost, now: datetime) -> s.PointsBoostOut:
    # gamify boosts run from a moment to a moment (end exclusive); Trophy's from a day to a day (UTC here).
    return s.PointsBoostOut(
        id=str(boost.id),
        name=boost.name,
        status=boost_status(boost, now),
        start=boost.starts_at.date().isoformat(),
        end=(boost.ends_at - timedelta(microseconds=1)).date().isoformat(),
        multiplier=boost.multiplier,
        rounding=_ROUNDING.get(boost.rounding, "down"),
    )


def metric_threshold(t: PointsTrigger) -> int:
    """gamify's "points per N units" as Trophy's metricThreshold, a whole number (the SDKs refuse a
    fraction): a fractional N is shown rounded, at least 1."""
    return max(1, round(t.per_units or 1.0))


def trigger_out(t: PointsTrigger) -> s.PointsTriggerOut:
    out: dict = {
        "id": str(t.id),
        "points": t.points,
        "status": "active" if t.active else "inactive",
        "user_attributes": pairs(t.attribute_filters),
        "created": ts(t.created_at),
        "updated": ts(t.created_at),  # gamify keeps no change time for triggers
    }
    if t.type == "metric":
        metric = t.metric or db.session.get(Metric, t.metric_id)
        out.update(
            type="metric",
            metric_id=str(t.metric_id),
            metric_name=metric.name if metric else None,
            metric_threshold=metric_threshold(t),
            event_attributes=[],
        )
    elif t.type in ("streak", "streak_day"):
        # streak_day (points on every extension) has no Trophy twin: a streak trigger from length 1
        out.update(type="streak", streak_length_threshold=t.streak_length if t.type == "streak" else 1)
    elif t.type == "achievement":
        a = db.session.get(Achievement, t.achievement_id) if t.achievement_id else None
        out.update(type="achievement", achievement_id=str(t.achievement_id), achievement_name=a.name if a else None)
    elif t.type == "time_interval":
        out.update(type="time", time_unit="hour", time_interval=t.interval_hours)
    elif t.type == "local_midnight":
        out.update(type="time", time_unit="day", time_interval=1)
    else:  # signup
        out["type"] = "user_creation"
    return s.PointsTriggerOut(**out)


def award_outs(user_id: int, system: PointsSystem, rows: list[PointsAward]) -> list[s.PointsAwardOut]:
    """Awards (newest first) with the balance after each, worked back from the current balance (the
    ledger records every change of it)."""
    balance = db.session.get(PointsBalance, (user_id, system.id))
    total = balance.balance if balance else 0
    if rows:  # awards newer than the newest asked for (none, when they are the latest ones)
        newest = rows[0]
        total -= int(
            db.session.execute(
                db.select(db.func.coalesce(db.func.sum(PointsAward.amount), 0)).where(
                    PointsAward.user_id == user_id,
                    PointsAward.system_id == system.id,
                    (PointsAward.awarded_at > newest.awarded_at)
                    | ((PointsAward.awarded_at == newest.awarded_at) & (PointsAward.id > newest.id)),
                )
            ).scalar_one()
        )
    triggers = {
        t.id: t
        for t in db.session.execute(
            db.select(PointsTrigger).where(PointsTrigger.id.in_({r.trigger_id for r in rows if r.trigger_id} or {-1}))
        ).scalars()
    }
    out = []
    for r in rows:
        item = {"id": str(r.id), "awarded": r.amount, "date": ts(r.awarded_at), "total": total}
        if r.trigger_id in triggers:  # admin adjustments, spends and refills have no trigger
            item["trigger"] = trigger_out(triggers[r.trigger_id])
        out.append(s.PointsAwardOut(**item))
        total -= r.amount
    return out


def recent_awards(user_id: int, system_id: int, limit: int) -> list[PointsAward]:
    return list(
        db.session.execute(
            db.select(PointsAward)
            .where(PointsAward.user_id == user_id, PointsAward.system_id == system_id, PointsAward.amount != 0)
            .order_by(PointsAward.awarded_at.desc(), PointsAward.id.desc())
            .limit(limit)
        ).scalars()
    )


def event_points(user: User, blocks: dict, awards: list[PointsAward], replayed: bool) -> dict[str, s.EventPointsOut]:
    """The points part of an event or completion answer: the systems it changed (every system, with
    nothing added, when it was a replay: the current state), each with its awards."""
    wanted = db.select(PointsSystem).where(PointsSystem.key.in_(list(blocks) or ["-"]))
    systems = {p.key: p for p in db.session.execute(wanted).scalars()}
    out = {}
    for key, block in blocks.items():
        system = systems.get(key)
        mine = [a for a in awards if system is not None and a.system_id == system.id and a.amount != 0]
        if system is None or (not replayed and not mine and not block.get("added")):
            continue
        mine.sort(key=lambda a: (a.awarded_at, a.id), reverse=True)
        item = {
            **points_fields(system),
            "total": block["total"],
            "added": block.get("added", 0),
            "awards": award_outs(user.id, system, mine) if mine else [],
        }
        if block.get("level"):
            level = next((lv for lv in system.levels if lv.key == block["level"]["key"]), None)
            if level is not None:
                item["level"] = level_out(level)
        out[key] = s.EventPointsOut(**item)
    return out


# ------------------------------------------------------------------------------------------ leaderboards

_RUNS = {"perpetual": (None, None), "daily": ("day", 1), "weekly": ("day", 7), "monthly": ("month", 1)}


def board_status(board: Leaderboard, now: Optional[datetime] = None) -> str:
    """gamify boards run until switched off: a switched-off one is finished, one whose first day has not
    come anywhere yet is scheduled."""
    if not board.active:
        return "finished"
    if board.start_date is not None and board.start_date > cal.local_date(now or utcnow(), "Pacific/Kiritimati"):
        return "scheduled"
    return "active"


def board_fields(board: Leaderboard, now: Optional[datetime] = None) -> dict:
    unit, interval = _RUNS[board.frequency]
    breakdown = list(board.breakdown or [])
    start = board.start_date or board.created_at.date()
    out: dict = {
        "id": str(board.id),
        "name": board.name,
        "key": board.key,
        "status": board_status(board, now),
        "rank_by": board.ranked_by,
        "breakdown_attribute": breakdown[0] if len(breakdown) == 1 else None,
        "breakdown_attributes": breakdown,
        "description": None,
        "start": start.isoformat(),
        "end": None,
        "start_time": None,
        "end_time": None,
        "max_participants": board.participant_limit,
        "run_unit": unit,
        "run_interval": interval,
        "user_attributes": [],  # gamify boards take every player
    }
    if board.ranked_by == "metric" and board.metric is not None:
        out.update(metric_key=board.metric.key, metric_name=board.metric.name)
    if board.ranked_by == "points" and board.system is not None:
        out.update(points_system_key=board.system.key, points_system_name=board.system.name)
    return out


def board_value(score: Optional[float]) -> Optional[int]:
    """Trophy's leaderboard values are integers: a fractional metric's score is rounded."""
    return None if score is None else int(round(score))


def run_bounds(board: Leaderboard, period: str) -> tuple[str, Optional[str]]:
    """(start, end) of the run a period key names ("all": the whole board, open-ended)."""
    if period == lb_engine.ALL:
        return (board.start_date or board.created_at.date()).isoformat(), None
    start = datetime.fromisoformat(period).date()
    return period, lb_engine.period_end(board.frequency, board.start_date, start).isoformat()


def pause_out(pause) -> s.StreakPauseOut:
    return s.StreakPauseOut(id=pause.public_id, start=pause.start_on.isoformat(), end=pause.end_on.isoformat())
