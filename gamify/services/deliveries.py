"""The delivery log (NotificationDelivery) and what the admin console counts from it.

Senders call `record` in the transaction that records a message's outcome (the e-mail job marks its
send row sent or failed in the same one), so the log never says more than the send rows do; a retry
updates the same row (keyed by `ref`). The signed link in a message names its `ref`, and the link route
calls `record_click` before it logs the player in.

Counts per type and channel: sent, failed, fell back, clicked (of those sent); for streak reminders also
the share of reminded players who kept their streak going before the period ended, read from the
streak history (an 'extended' streak_periods row for the period the reminder was about)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from sqlalchemy import and_, case, func, or_, update

from ..extensions import db
from ..models import StreakPeriod
from ..models._common import utcnow
from ..models.messaging import DELIVERY_STATUSES, NotificationDelivery
from .upsert import dialect_insert

REF_LIMIT = 64


def email_ref(send_id: int) -> str:
    """The ref of the message an email_sends row becomes."""
    return f"email-{send_id}"


def push_ref(send_id: int) -> str:
    """The ref of the push an email_sends row becomes (one per row: the push is tried once)."""
    return f"push-{send_id}"


def record(
    ref: str,
    *,
    type: str,  # noqa: A002 - the column's name
    channel: str,
    user_id: int,
    status: str,
    now: Optional[datetime] = None,
    template_id: Optional[int] = None,
    period_start: Optional[date] = None,
    period_ends_at: Optional[datetime] = None,
) -> None:
    """Write (or, for a message tried before, update) the delivery `ref` in the caller's transaction.
    `sent_at` is when it was first sent; a click already recorded stays."""
    if status not in DELIVERY_STATUSES:
        raise ValueError(f"unknown delivery status {status!r}")
    if not ref or len(ref) > REF_LIMIT:
        raise ValueError("a delivery ref is 1-64 characters")
    now = now or utcnow()
    sent_at = now if status == "sent" else None
    stmt = dialect_insert(NotificationDelivery).values(
        ref=ref,
        type=type,
        channel=channel,
        status=status,
        user_id=user_id,
        template_id=template_id,
        period_start=period_start,
        period_ends_at=period_ends_at,
        created_at=now,
        sent_at=sent_at,
    )
    excluded = stmt.excluded
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=["ref"],
            set_={
                "status": excluded.status,
                "template_id": excluded.template_id,
                "sent_at": func.coalesce(NotificationDelivery.sent_at, excluded.sent_at),
            },
        )
    )


def record_click(ref: str, user_id: int, now: Optional[datetime] = None) -> bool:
    """The player opened the message's link: its first click is recorded (True when this was it).
    Only the player the link is for counts, only for a message that was sent."""
    if not ref or len(ref) > REF_LIMIT:
        return False
    result = db.session.execute(
        update(NotificationDelivery)
        .where(
            NotificationDelivery.ref == ref,
            NotificationDelivery.user_id == user_id,
            NotificationDelivery.clicked_at.is_(None),
        )
        .values(clicked_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def find(ref: str) -> Optional[NotificationDelivery]:
    return db.session.execute(
        db.select(NotificationDelivery).where(NotificationDelivery.ref == ref)
    ).scalar_one_or_none()


# ---------------------------------------------------------------------------------------------
# Analytics


@dataclass
class Row:
    type: str
    channel: str
    sent: int = 0
    failed: int = 0
    fell_back: int = 0
    clicked: int = 0

    @property
    def click_rate(self) -> Optional[float]:
        return 100.0 * self.clicked / self.sent if self.sent else None


@dataclass
class Effect:
    """Streak reminders whose period is over (or was kept going already): how many were kept going."""

    channel: str
    decided: int = 0
    extended: int = 0

    @property
    def rate(self) -> Optional[float]:
        return 100.0 * self.extended / self.decided if self.decided else None


@dataclass
class Stats:
    days: int
    rows: list[Row] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    daily: list[tuple[date, int]] = field(default_factory=list)  # (UTC day, sent), oldest first

    @property
    def daily_by_day_of_month(self) -> list[tuple[str, int]]:
        """The chart's labels: the day of the month (the heading names the months)."""
        return [(str(d.day), n) for d, n in self.daily]


def stats(days: int = 30, now: Optional[datetime] = None, daily_days: int = 14) -> Stats:
    """Deliveries created in the last `days` days, per type and channel; messages sent per day over the
    last `daily_days`."""
    now = now or utcnow()
    since = now - timedelta(days=days)
    d = NotificationDelivery
    out = Stats(days)
    for type_, channel, sent, failed, fell_back, clicked in db.session.execute(
        db.select(
            d.type,
            d.channel,
            func.sum(case((d.status == "sent", 1), else_=0)),
            func.sum(case((d.status == "failed", 1), else_=0)),
            func.sum(case((d.status == "fell_back", 1), else_=0)),
            func.sum(case((and_(d.status == "sent", d.clicked_at.is_not(None)), 1), else_=0)),
        )
        .where(d.created_at >= since)
        .group_by(d.type, d.channel)
        .order_by(d.type, d.channel)
    ).all():
        out.rows.append(Row(type_, channel, int(sent or 0), int(failed or 0), int(fell_back or 0), int(clicked or 0)))
    out.effects = reminder_effect(since, now)
    out.daily = daily_sent(daily_days, now)
    return out


def reminder_effect(since: datetime, now: datetime) -> list[Effect]:
    """Per channel, then "all" (each reminded player and period once): reminders sent since `since`
    whose period is decided, and of those the ones whose period has an 'extended' row. A period still
    running and not yet kept going is left out: it may still be."""
    d = NotificationDelivery
    kept = (
        db.select(StreakPeriod.id)
        .where(
            StreakPeriod.user_id == d.user_id,
            StreakPeriod.period_start == d.period_start,
            StreakPeriod.outcome == "extended",
        )
        .exists()
    )
    rows = db.session.execute(
        db.select(d.channel, d.user_id, d.period_start, kept.label("kept"))
        .where(
            d.type == "streak_reminder",
            d.status == "sent",
            d.created_at >= since,
            d.period_start.is_not(None),
            or_(kept, d.period_ends_at <= now),
        )
        .order_by(d.channel)
    ).all()
    by_channel: dict[str, Effect] = {}
    overall: dict[tuple[int, date], bool] = {}
    for channel, user_id, period, was_kept in rows:
        e = by_channel.setdefault(channel, Effect(channel))
        e.decided += 1
        e.extended += 1 if was_kept else 0
        overall[(user_id, period)] = bool(was_kept)
    out = list(by_channel.values())
    if len(out) > 1:
        out.append(Effect("all", len(overall), sum(overall.values())))
    return out


def daily_sent(days: int, now: datetime) -> list[tuple[date, int]]:
    """Messages sent per UTC day over the last `days` days, oldest first (one scan: a CASE per day,
    the same SQL on PostgreSQL and SQLite)."""
    first = datetime.combine((now - timedelta(days=days - 1)).date(), time(), tzinfo=timezone.utc)
    edges = [first + timedelta(days=i) for i in range(days + 1)]
    sent_at = NotificationDelivery.sent_at
    counts = db.session.execute(
        db.select(
            *[func.sum(case((and_(sent_at >= a, sent_at < b), 1), else_=0)) for a, b in zip(edges, edges[1:])]
        ).where(NotificationDelivery.status == "sent", sent_at >= first)
    ).one()
    return [(a.date(), int(n or 0)) for a, n in zip(edges, counts)]
