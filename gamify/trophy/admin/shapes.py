"""gamify's configuration in the Trophy admin API's shapes, and Trophy's settings as the arguments gamify's
services take: points systems, levels, boosts, triggers, leaderboards. Every mapping is described in
docs/trophy-compat.md; nothing here decides a rule (the services check what they are given).

Attributes are named by their key (an `attributeId` is the attribute's key: gamify's attributes are
free-form, see attributes.py). An update is the current settings in Trophy's terms overlaid with the
fields the patch sets, mapped back as a whole: one way in for creates and updates.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from ...engine import filters as filter_rules
from ...models import Achievement, Leaderboard, Metric, PointsBoost, PointsLevel, PointsSystem, PointsTrigger
from ...services.config_rules import ConfigError
from .. import shapes as app_shapes
from . import schemas as s
from .base import row

# A boost without an end in Trophy runs until this moment in gamify (whose boosts always end).
NO_END = datetime(3000, 1, 1, tzinfo=timezone.utc)

# ------------------------------------------------------------------------------------------ attributes


def filters_out(filters: Optional[dict]) -> list[s.AttributeFilterOut]:
    return [s.AttributeFilterOut(attribute_id=p.key, attribute_value=p.value) for p in app_shapes.pairs(filters)]


def filters_in(*lists: Optional[list[s.AttributeFilterIn]]) -> dict:
    """Trophy's attribute filters as gamify's: several values for one attribute mean "one of" (gamify
    matches them against the player's attributes overlaid with the event's: user and event filters meet)."""
    out: dict[str, Any] = {}
    for pairs in lists:
        for p in pairs or []:
            value = filter_rules.value_of(p.attribute_value)
            if p.attribute_id in out:
                held = out[p.attribute_id]
                out[p.attribute_id] = (held if isinstance(held, list) else [held]) + [value]
            else:
                out[p.attribute_id] = value
    return out


def _pairs_in(pairs: list[s.AttributeFilterOut]) -> list[s.AttributeFilterIn]:
    return [s.AttributeFilterIn(attribute_id=p.attribute_id, attribute_value=p.attribute_value) for p in pairs]


# ------------------------------------------------------------------------------------------ systems, levels


def system_out(system: PointsSystem) -> s.SystemOut:
    return s.SystemOut(
        id=str(system.id),
        name=system.name,
        key=system.key,
        description="",  # gamify systems have no description
        status="active",
        badge=None,  # an emoji in gamify, not an image
        max_points=system.max_balance,
    )


def level_out(level: PointsLevel) -> s.LevelOut:
    return s.LevelOut(
        id=str(level.id), name=level.name, key=level.key, points=level.threshold, description="", badge=None
    )


def level_args(data: s.LevelIn) -> dict:
    return {"key": data.key, "name": data.name, "threshold": data.points, "badge": ""}


def unstored(data, fields: tuple[str, ...]) -> list[str]:
    """Fields Trophy has and gamify keeps no place for, that the item sets (each a warning issue)."""
    return [f for f in fields if getattr(data, f, None) not in (None, "")]


# ------------------------------------------------------------------------------------------ boosts


def boost_out(boost: PointsBoost, now: datetime) -> s.BoostOut:
    base = app_shapes.boost_out(boost, now)
    return s.BoostOut(
        id=base.id,
        name=base.name,
        status=base.status,
        start=base.start,
        end=None if boost.ends_at >= NO_END else base.end,
        multiplier=boost.multiplier,
        rounding=base.rounding,
        user_id=None,  # gamify boosts apply to every matching player, never to one user
        user_attributes=filters_out(boost.attribute_filters),
    )


_ROUNDING_IN = {"down": "floor", "up": "ceil", "nearest": "nearest"}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), timezone.utc)


def boost_args(data: s.BoostIn) -> dict:
    """A Trophy boost (whole UTC days, `end` included, none: no end) as services.points_config.save_boost
    takes it (moments, the end excluded)."""
    if data.user_id is not None:
        raise ConfigError(
            "userId", "gamify boosts apply to every player, or to those matching userAttributes, not to one user"
        )
    if data.end is not None and _midnight(data.end) >= NO_END:
        raise ConfigError("end", f"end must be before {NO_END.date().isoformat()} (or none: no end)")
    return {
        "name": data.name,
        "multiplier": data.multiplier,
        "rounding": _ROUNDING_IN[data.rounding],
        "starts_at": _midnight(data.start),
        "ends_at": _midnight(data.end + timedelta(days=1)) if data.end is not None else NO_END,
        "attribute_filters": filters_in(data.user_attributes),
    }


def boost_as_input(boost: PointsBoost, now: datetime) -> dict:
    out = boost_out(boost, now)
    return {
        "name": out.name,
        "start": date.fromisoformat(out.start),
        "end": date.fromisoformat(out.end) if out.end else None,
        "multiplier": out.multiplier,
        "rounding": out.rounding,
        "user_attributes": _pairs_in(out.user_attributes),
    }


def keep_boost(args: dict, boost: PointsBoost, changed: set[str]) -> dict:
    """An update's arguments with the boost's own settings where the patch sets nothing: gamify's moments
    and typed filters are kept exactly, not rounded through Trophy's days and strings."""
    if "start" not in changed:
        args["starts_at"] = boost.starts_at
    if "end" not in changed:
        args["ends_at"] = boost.ends_at
    if "user_attributes" not in changed:
        args["attribute_filters"] = boost.attribute_filters
    if "rounding" not in changed:
        args["rounding"] = boost.rounding
    if "multiplier" not in changed:
        args["multiplier"] = boost.multiplier
    return args


# ------------------------------------------------------------------------------------------ triggers

_DEFINITION = {"type", "metric_id", "metric_threshold", "achievement_id", "streak_length", "time_unit", "time_interval"}


def trigger_out(t: PointsTrigger) -> s.TriggerOut:
    out: dict = {
        "id": str(t.id),
        "points": t.points,
        "status": "active" if t.active else "inactive",
        "user_attributes": filters_out(t.attribute_filters),
        "block_if_out_of_points": False,  # gamify has no such block
    }
    if t.type == "metric":
        out.update(
            type="metric",
            metric_id=str(t.metric_id),
            metric_threshold=app_shapes.metric_threshold(t),
            event_attributes=[],
        )
    elif t.type in ("streak", "streak_day"):
        # streak_day (points on every extension) has no Trophy twin: a streak trigger from length 1
        out.update(type="streak", streak_length=t.streak_length if t.type == "streak" else 1)
    elif t.type == "achievement":
        out.update(type="achievement", achievement_id=str(t.achievement_id))
    elif t.type == "time_interval":
        out.update(type="time", time_unit="hours", time_interval=t.interval_hours)
    elif t.type == "local_midnight":
        out.update(type="time", time_unit="days", time_interval=1)
    else:  # signup
        out["type"] = "user_creation"
    return s.TriggerOut(**out)


def trigger_as_input(t: PointsTrigger) -> dict:
    out = trigger_out(t)
    fields = out.model_dump(exclude={"id", "user_attributes", "event_attributes"}, exclude_none=True)
    fields["user_attributes"] = _pairs_in(out.user_attributes)
    return fields


def trigger_args(data: s.TriggerIn) -> dict:
    """A Trophy trigger as services.points_config.save_trigger takes it."""
    if data.block_if_out_of_points:
        raise ConfigError("blockIfOutOfPoints", "gamify has no blocking of events that would take points below 0")
    args: dict = {
        "amount": data.points,
        "active": data.status == "active",
        "metric_id": None,
        "per_units": None,
        "streak_length": None,
        "times_length": False,
        "achievement_id": None,
        "interval_hours": None,
        "attribute_filters": filters_in(data.user_attributes, data.event_attributes),
    }
    t = data.type
    if t == "metric":
        metric = row(Metric, data.metric_id)
        if data.metric_id is not None and metric is None:
            raise ConfigError("metricId", f"metric '{data.metric_id}' not found")
        args.update(trigger_type="metric", metric_id=metric.id if metric else None, per_units=data.metric_threshold)
    elif t == "achievement":
        achievement = row(Achievement, data.achievement_id)
        if data.achievement_id is not None and achievement is None:
            raise ConfigError("achievementId", f"achievement '{data.achievement_id}' not found")
        args.update(trigger_type="achievement", achievement_id=achievement.id if achievement else None)
    elif t == "streak":
        args.update(trigger_type="streak", streak_length=data.streak_length)
    elif t == "time":
        if data.time_unit is None or data.time_interval is None:
            raise ConfigError("timeUnit", "a time trigger needs timeUnit and timeInterval")
        if data.time_unit == "days" and data.time_interval == 1:
            args["trigger_type"] = "local_midnight"  # every day at the player's local midnight
        else:
            hours = data.time_interval * (24 if data.time_unit == "days" else 1)
            args.update(trigger_type="time_interval", interval_hours=hours)
    else:  # user_creation
        args["trigger_type"] = "signup"
    return args


def keep_trigger(args: dict, t: PointsTrigger, changed: set[str]) -> dict:
    """An update's arguments with the trigger's own definition and filters where the patch sets none of
    them (a streak_day trigger, a fractional "per N units" stay as they are)."""
    if not changed & _DEFINITION:
        args.update(
            trigger_type=t.type,
            metric_id=t.metric_id,
            per_units=t.per_units,
            streak_length=t.streak_length,
            times_length=t.times_length,
            achievement_id=t.achievement_id,
            interval_hours=t.interval_hours,
        )
    if not changed & {"user_attributes", "event_attributes"}:
        args["attribute_filters"] = t.attribute_filters
    return args


# ------------------------------------------------------------------------------------------ leaderboards

_RUNS_IN = {None: "perpetual", ("day", 1): "daily", ("day", 7): "weekly", ("month", 1): "monthly"}


def board_out(board: Leaderboard, now: datetime) -> s.LeaderboardOut:
    base = app_shapes.board_fields(board, now)
    status = "inactive" if not board.active else base["status"]
    out: dict = {
        "id": base["id"],
        "name": board.name,
        "key": board.key,
        "status": status,
        "rank_by": board.ranked_by,
        "max_participants": board.participant_limit,
        "start": base["start"],
        "breakdown_attributes": list(board.breakdown or []),
        "user_attributes": [],
    }
    if board.ranked_by == "metric":
        out["metric_id"] = str(board.metric_id)
    if board.ranked_by == "points":
        out["points_system_id"] = str(board.system_id)
    if base["run_unit"] is not None:
        out.update(run_unit=base["run_unit"], run_interval=base["run_interval"])
    return s.LeaderboardOut(**out)


def board_as_input(board: Leaderboard, now: datetime) -> dict:
    out = board_out(board, now)
    fields = out.model_dump(exclude={"id", "user_attributes"}, exclude_none=True)
    fields["start"] = date.fromisoformat(out.start)
    return fields


def board_args(data: s.LeaderboardIn, today: date) -> dict:
    """A Trophy leaderboard as services.leaderboards.create / update_board take it."""
    if data.user_attributes:
        raise ConfigError("userAttributes", "gamify leaderboards take every player: no userAttributes")
    for field in ("end", "start_time", "end_time"):
        if getattr(data, field) is not None:
            name = {"start_time": "startTime", "end_time": "endTime"}.get(field, field)
            raise ConfigError(name, f"gamify leaderboards have no {name}: they run until switched off, all day")
    run = (data.run_unit, data.run_interval or 1) if data.run_unit is not None else None
    frequency = _RUNS_IN.get(run)
    if frequency is None:
        raise ConfigError("runUnit", "gamify leaderboards repeat daily (day, 1), weekly (day, 7) or monthly (month, 1)")
    metric = row(Metric, data.metric_id) if data.rank_by == "metric" else None
    if data.rank_by == "metric" and data.metric_id is not None and metric is None:
        raise ConfigError("metricId", f"metric '{data.metric_id}' not found")
    system = row(PointsSystem, data.points_system_id) if data.rank_by == "points" else None
    if data.rank_by == "points" and data.points_system_id is not None and system is None:
        raise ConfigError("pointsSystemId", f"points system '{data.points_system_id}' not found")
    return {
        "key": data.key,
        "name": data.name,
        "ranked_by": data.rank_by,
        "metric_id": metric.id if metric else None,
        "system_id": system.id if system else None,
        "frequency": frequency,
        "start_date": data.start or today,
        "participant_limit": data.max_participants if data.max_participants is not None else 1000,
        "breakdown": list(data.breakdown_attributes or []),
        "active": data.status in ("active", "scheduled"),
    }
