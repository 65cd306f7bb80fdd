"""Daily analytics rollups: recompute a range of days from the source tables into
analytics_daily_counts and player_activity_days (models/analytics.py).

A range is recomputed by deleting its rows and inserting them again, in the caller's transaction (the
job, the CLI command): re-running a range gives the same rows. Each day is read with bounded, indexed
queries (events by occurred_at around the local day), so the pages never scan the event table.

Series (kind → keys):
  events        metric id → events that day          (player's local day)
  event_value   metric id → sum of the values        (player's local day)
  streak        started / extended / frozen / lost   (the period's first day; started = extended to 1)
  achievement   achievement id → completions         (UTC day; backdated grants left out)
  points        system id → points awarded (> 0)     (player's local day)
  energy        spent / refilled / gifted            (UTC day)
  notification  "<channel>:sent" / "<channel>:clicked" (UTC day of the send / first click)
  level         "<system id>:<level id or 0>" → players on that level at the end of the day
  active        dau / wau / mau → distinct players active that day, in the 7 and in the 30 days ending it
                (from player_activity_days; a range's rows change them for 29 days after it too)
  cohort, ret, retw   retention by signup day (services/analytics_retention.roll_up)
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Optional

from sqlalchemy import case, func

from ..extensions import db
from ..models import (
    AchievementCompletion,
    DailyCount,
    EnergyTransaction,
    MetricEvent,
    PlayerActivityDay,
    PointsAward,
    PointsLevel,
    RollupDay,
    StreakPeriod,
)
from ..models._common import utcnow
from ..models.messaging import NotificationDelivery
from . import analytics_retention

# The first run fills at most this many days back (older history is left to `flask analytics-backfill`).
MAX_AUTO_BACKFILL = 400
# Local days span UTC offsets from -12 h to +14 h: a local day's events lie within this UTC window.
_BEFORE, _AFTER = timedelta(hours=14), timedelta(hours=36)
ACTIVE_WINDOWS = (("dau", 1), ("wau", 7), ("mau", 30))
ENERGY_KEYS = {"consumption": "spent", "token_refill": "refilled", "gift_sent": "gifted"}


def _utc_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def _local_window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start - _BEFORE, start + _AFTER


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def recompute(start: date, end: date, now: Optional[datetime] = None) -> int:
    """Delete and rebuild every rollup row of the days start..end (inclusive). Returns the rows written.
    Never commits: the caller owns the transaction, so readers see the old or the new range, never half."""
    if end < start:
        return 0
    now = now or utcnow()
    for model in (DailyCount, PlayerActivityDay, RollupDay):
        db.session.execute(db.delete(model).where(model.day.between(start, end)))
    written = 0
    levels = _Levels(start)
    for day in days_between(start, end):
        counts = _counts(day)
        counts.update(levels.day(day))
        if counts:
            db.session.execute(
                db.insert(DailyCount),
                [{"day": day, "kind": k, "key": key, "value": int(v)} for (k, key), v in counts.items() if v],
            )
        written += len(counts) + _activity(day)
        db.session.add(RollupDay(day=day, computed_at=now))
    db.session.flush()
    return written + _active_counts(start, end) + analytics_retention.roll_up(start, end)


def _active_counts(start: date, end: date) -> int:
    """DAU/WAU/MAU of the range and of the rolled-up days up to 29 after it (their windows include it)."""
    later = db.session.execute(
        db.select(RollupDay.day).where(
            RollupDay.day > end, RollupDay.day <= end + timedelta(days=ACTIVE_WINDOWS[-1][1] - 1)
        )
    ).scalars()
    days = days_between(start, end) + sorted(later)
    db.session.execute(db.delete(DailyCount).where(DailyCount.kind == "active", DailyCount.day.in_(days)))
    rows = []
    for day in days:
        for key, width in ACTIVE_WINDOWS:
            n = db.session.execute(
                db.select(func.count(func.distinct(PlayerActivityDay.user_id))).where(
                    PlayerActivityDay.day > day - timedelta(days=width), PlayerActivityDay.day <= day
                )
            ).scalar_one()
            if n:
                rows.append({"day": day, "kind": "active", "key": key, "value": n})
    if rows:
        db.session.execute(db.insert(DailyCount), rows)
    return len(rows)


def _activity(day: date) -> int:
    lo, hi = _local_window(day)
    sel = (
        db.select(MetricEvent.user_id, MetricEvent.local_date)
        .where(MetricEvent.occurred_at >= lo, MetricEvent.occurred_at < hi, MetricEvent.local_date == day)
        .distinct()
    )
    res = db.session.execute(db.insert(PlayerActivityDay).from_select(["user_id", "day"], sel))
    return res.rowcount or 0


def _counts(day: date) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = defaultdict(float)
    lo, hi = _local_window(day)
    for metric_id, n, total in db.session.execute(
        db.select(MetricEvent.metric_id, func.count(MetricEvent.id), func.coalesce(func.sum(MetricEvent.value), 0))
        .where(MetricEvent.occurred_at >= lo, MetricEvent.occurred_at < hi, MetricEvent.local_date == day)
        .group_by(MetricEvent.metric_id)
    ):
        out["events", str(metric_id)] = n
        out["event_value", str(metric_id)] = round(total)

    first = func.sum(case((StreakPeriod.length == 1, 1), else_=0))
    for outcome, n, started in db.session.execute(
        db.select(StreakPeriod.outcome, func.count(StreakPeriod.id), first)
        .where(StreakPeriod.period_start == day)
        .group_by(StreakPeriod.outcome)
    ):
        key = {"extended": "extended", "frozen": "frozen", "broken": "lost"}.get(outcome)
        if key:
            out["streak", key] += n
        if outcome == "extended":
            out["streak", "started"] += started or 0

    ulo, uhi = _utc_bounds(day)
    for ach_id, n in db.session.execute(
        db.select(AchievementCompletion.achievement_id, func.count(AchievementCompletion.id))
        .where(
            AchievementCompletion.completed_at >= ulo,
            AchievementCompletion.completed_at < uhi,
            AchievementCompletion.backdated.is_(False),
        )
        .group_by(AchievementCompletion.achievement_id)
    ):
        out["achievement", str(ach_id)] = n

    for system_id, total in db.session.execute(
        db.select(PointsAward.system_id, func.sum(PointsAward.amount))
        .where(
            PointsAward.awarded_at >= lo,
            PointsAward.awarded_at < hi,
            PointsAward.local_date == day,
            PointsAward.amount > 0,
        )
        .group_by(PointsAward.system_id)
    ):
        out["points", str(system_id)] = total or 0

    for kind, total in db.session.execute(
        db.select(EnergyTransaction.type, func.sum(func.abs(EnergyTransaction.amount)))
        .where(
            EnergyTransaction.created_at >= ulo,
            EnergyTransaction.created_at < uhi,
            EnergyTransaction.type.in_(tuple(ENERGY_KEYS)),
        )
        .group_by(EnergyTransaction.type)
    ):
        out["energy", ENERGY_KEYS[kind]] += total or 0

    d = NotificationDelivery
    for column, what in ((d.sent_at, "sent"), (d.clicked_at, "clicked")):
        for channel, n in db.session.execute(
            db.select(d.channel, func.count(d.id)).where(column >= ulo, column < uhi).group_by(d.channel)
        ):
            out["notification", f"{channel}:{what}"] = n

    return out


class _Levels:
    """Players per level at the end of each day of a range, walked forward: the balances the awards before
    the range add up to (one grouped query), then each day's awards (a balance is the sum of its awards,
    spends being negative ones). Only the players whose level changes move between counts, so a range costs
    one pass over its awards. Players with no award are left out."""

    def __init__(self, start: date):
        self.levels: dict[int, list[PointsLevel]] = defaultdict(list)
        for lv in db.session.execute(db.select(PointsLevel).order_by(PointsLevel.threshold)).scalars():
            self.levels[lv.system_id].append(lv)
        self.thresholds = {s: [lv.threshold for lv in lvs] for s, lvs in self.levels.items()}
        self.balance: dict[tuple[int, int], int] = {}
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        if self.levels:
            self._add(
                db.select(PointsAward.system_id, PointsAward.user_id, func.sum(PointsAward.amount))
                .where(PointsAward.local_date < start, PointsAward.system_id.in_(tuple(self.levels)))
                .group_by(PointsAward.system_id, PointsAward.user_id)
            )

    def _key(self, system_id: int, balance: int) -> tuple[str, str]:
        i = bisect_right(self.thresholds[system_id], balance)
        return ("level", f"{system_id}:{self.levels[system_id][i - 1].id if i else 0}")

    def _add(self, stmt) -> None:
        for system_id, user_id, amount in db.session.execute(stmt):
            old = self.balance.get((system_id, user_id))
            if old is not None:
                self.counts[self._key(system_id, old)] -= 1
            new = (old or 0) + (amount or 0)
            self.balance[(system_id, user_id)] = new
            self.counts[self._key(system_id, new)] += 1

    def day(self, day: date) -> dict[tuple[str, str], int]:
        if not self.levels:
            return {}
        lo, hi = _local_window(day)
        self._add(
            db.select(PointsAward.system_id, PointsAward.user_id, func.sum(PointsAward.amount))
            .where(
                PointsAward.awarded_at >= lo,
                PointsAward.awarded_at < hi,
                PointsAward.local_date == day,
                PointsAward.system_id.in_(tuple(self.levels)),
            )
            .group_by(PointsAward.system_id, PointsAward.user_id)
        )
        return {k: v for k, v in self.counts.items() if v}


def first_day() -> Optional[date]:
    return db.session.execute(db.select(func.min(MetricEvent.local_date))).scalar()


def missing_days(today: date, limit: int = MAX_AUTO_BACKFILL) -> list[date]:
    """Days since the first event (at most `limit` back) that were never rolled up."""
    first = first_day()
    if first is None:
        return []
    start = max(first, today - timedelta(days=limit))
    done = set(
        db.session.execute(db.select(RollupDay.day).where(RollupDay.day >= start, RollupDay.day <= today)).scalars()
    )
    return [d for d in days_between(start, today) if d not in done]


def runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days as contiguous (start, end) ranges."""
    out: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def roll_up(now: Optional[datetime] = None) -> dict:
    """The scheduled work: yesterday and today again (they still change: late events, the local days of
    zones ahead of UTC), and every day missing since the first event (the whole history on the first run
    after the upgrade)."""
    now = now or utcnow()
    today = now.date()
    days = set(missing_days(today)) | {today - timedelta(days=1), today}
    written = sum(recompute(a, b, now) for a, b in runs(days))
    return {"days": len(days), "rows": written}
