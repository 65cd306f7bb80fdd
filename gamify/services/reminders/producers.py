"""The send rows (the ledger): streak reminders in the local evening, weekly recaps, come-back and
achievement mails from domain events, and the rows due to be (re-)enqueued.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, or_, text
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from ...engine import calendar as cal
from ...extensions import db
from ...models import User, UserStreak
from ...models._common import utcnow
from ...models.notifications import NotificationPreference
from ...models.users import ROLE_PLAYER
from ...models.webhooks import EmailSend
from .. import streaks
from .base import CHANNEL, MAX_PENDING_AGE, PUSH, get_settings, wants


def _zones_where(now: datetime, pred) -> list[str]:
    """The players' time zones in which `pred(local_datetime)` holds right now (one query, then
    per-zone arithmetic instead of per-player)."""
    zones = db.session.execute(
        db.select(User.timezone).where(User.role == ROLE_PLAYER, User.email.is_not(None)).distinct()
    ).scalars()
    out = []
    for tz in zones:
        try:
            local = now.astimezone(cal.zone(tz))
        except cal.InvalidTimezone:
            continue
        if pred(local):
            out.append(tz)
    return out


_IN_CHUNK = 5000  # ids per IN (...) list: well under SQLite's bound-parameter limit


def _existing(type_: str, keys: Iterable[tuple[int, date]]) -> set[tuple[int, date]]:
    keys = list(keys)
    if not keys:
        return set()
    user_ids = sorted({u for u, _ in keys})
    oldest = min(d for _, d in keys)
    out: set[tuple[int, date]] = set()
    for i in range(0, len(user_ids), _IN_CHUNK):
        rows = db.session.execute(
            db.select(EmailSend.user_id, EmailSend.period_start).where(
                EmailSend.type == type_,
                EmailSend.user_id.in_(user_ids[i : i + _IN_CHUNK]),
                EmailSend.period_start >= oldest,
            )
        ).all()
        out |= {(u, d) for u, d in rows}
    return out


def _opted_out(type_: str) -> set[int]:
    """Players who switched this type off by e-mail and did not switch it on by push (what `wants`
    checks one player at a time)."""

    def stored(channel: str, enabled: bool) -> set[int]:
        return set(
            db.session.execute(
                db.select(NotificationPreference.user_id).where(
                    NotificationPreference.type == type_,
                    NotificationPreference.channel == channel,
                    NotificationPreference.enabled.is_(enabled),
                )
            ).scalars()
        )

    return stored(CHANNEL, False) - stored(PUSH, True)


def _add_send(**values) -> Optional[EmailSend]:
    """Insert a ledger row; None when an identical one exists (a concurrent run got there first)."""
    row = EmailSend(status="pending", attempts=0, last_error="", created_at=utcnow(), **values)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return None
    return row


_PG_ADD_SENDS = """
INSERT INTO email_sends (user_id, type, period_start, ref, payload, status, attempts, last_error, send_after,
                         expires_at, created_at, message_id)
SELECT r.user_id, r.type, r.period_start, r.ref, CAST(r.payload AS JSON), 'pending', 0, '', r.send_after,
       r.expires_at, :created_at, ''
FROM unnest(CAST(:user_id AS INTEGER[]), CAST(:type AS VARCHAR[]), CAST(:period_start AS DATE[]),
            CAST(:ref AS VARCHAR[]), CAST(:payload AS TEXT[]), CAST(:send_after AS TIMESTAMPTZ[]),
            CAST(:expires_at AS TIMESTAMPTZ[]))
     AS r(user_id, type, period_start, ref, payload, send_after, expires_at)
ON CONFLICT (user_id, type, period_start, ref) DO NOTHING
RETURNING id, user_id
"""


def _add_sends(rows: list[dict]) -> dict[int, int]:
    """Many `_add_send`s at once: INSERT ... ON CONFLICT DO NOTHING (rows an earlier or concurrent run
    already holds are skipped, as `_add_send` skips them). Returns {user_id: new row id}; `rows` (keys
    user_id, type, period_start, ref, payload, send_after, expires_at) hold at most one row per user."""
    if not rows:
        return {}
    name = db.session.get_bind().dialect.name
    out: dict[int, int] = {}
    if name in ("postgresql", "sqlite"):
        now = utcnow()
        try:
            with db.session.begin_nested():
                for i in range(0, len(rows), 5000):
                    chunk = rows[i : i + 5000]
                    if name == "postgresql":  # arrays: one short statement, whatever the row count
                        params = {
                            k: [r[k] for r in chunk]
                            for k in ("user_id", "type", "period_start", "ref", "send_after", "expires_at")
                        }
                        params["payload"] = [json.dumps(r["payload"]) for r in chunk]
                        res = db.session.execute(text(_PG_ADD_SENDS), {**params, "created_at": now})
                    else:
                        stmt = (
                            insert(EmailSend.__table__)
                            .on_conflict_do_nothing(index_elements=["user_id", "type", "period_start", "ref"])
                            .returning(EmailSend.__table__.c.id, EmailSend.__table__.c.user_id)
                        )
                        res = db.session.execute(
                            stmt,
                            [
                                {
                                    "status": "pending",
                                    "attempts": 0,
                                    "last_error": "",
                                    "created_at": now,
                                    "message_id": "",
                                    **r,
                                }
                                for r in chunk
                            ],
                        )
                    out.update({user_id: send_id for send_id, user_id in res.all()})
            return out
        except IntegrityError:
            out = {}  # e.g. a player deleted meanwhile: one row at a time, skipping what fails
    for r in rows:
        row = _add_send(**r)
        if row is not None:
            out[r["user_id"]] = row.id
    return out


def reminder_moment(frequency: str, period_start: date, settings) -> tuple[date, int]:
    """(local day, local hour) from which a streak still at risk in the period is reminded: daily on the
    day itself from `reminder_hour`; weekly on `weekly_reminder_weekday` (Friday) from
    `weekly_reminder_hour` (09:00); monthly `monthly_reminder_days_before` days before its last day."""
    end = cal.period_end(frequency, period_start)
    if frequency == "weekly":
        day = period_start + timedelta(days=min(6, max(0, settings.weekly_reminder_weekday)))
        return day, settings.weekly_reminder_hour
    if frequency == "monthly":
        return max(period_start, end - timedelta(days=max(0, settings.monthly_reminder_days_before))), (
            settings.reminder_hour
        )
    return end, settings.reminder_hour


def select_streak_reminders(now: Optional[datetime] = None) -> list[int]:
    """Ledger rows for every player whose streak is at risk and whose local time is in
    [reminder hour, midnight) on the last local day of the streak period, unless they were already
    reminded this period. Returns the new row ids, longest streaks first (the order to send in)."""
    now = now or utcnow()
    settings = get_settings()
    config = streaks.get_config()
    if not settings.email_enabled or config is None or not config.enabled:
        return []
    freq = config.frequency

    def in_window(local: datetime) -> bool:
        today = local.date()
        day, hour = reminder_moment(freq, cal.period_start(freq, today), settings)
        return today > day or (today == day and local.hour >= hour)

    zones = _zones_where(now, in_window)
    if not zones:
        return []
    # Only a streak not yet covered in the player's current local period can be at risk (settling never
    # moves last_covered into the current period), so filter on that per zone in SQL; loading the streak
    # rows with the players puts them in the session, so `streaks.summary` below needs no query each.
    start_of = {tz: cal.period_start(freq, cal.local_date(now, tz)) for tz in zones}
    by_start: dict[date, list[str]] = {}
    for tz, start in start_of.items():
        by_start.setdefault(start, []).append(tz)
    rows = db.session.execute(
        db.select(User, UserStreak)
        .join(UserStreak, UserStreak.user_id == User.id)
        .options(load_only(User.id, User.timezone, User.email, User.role))
        .where(
            User.role == ROLE_PLAYER,
            User.email.is_not(None),
            UserStreak.length > 0,
            or_(*[and_(User.timezone.in_(tzs), UserStreak.last_covered < start) for start, tzs in by_start.items()]),
        )
    ).all()
    users = [u for u, _streak in rows]
    period_of = {u.id: start_of[u.timezone] for u in users}
    reminded = _existing("streak_reminder", period_of.items())
    off = _opted_out("streak_reminder")
    # Pauses of them all at once: a paused period is not at risk.
    pauses = streaks.pause_spans_for(
        {u.id: streaks.pause_floor(st.last_covered, cal.local_date(now, u.timezone)) for u, st in rows}
    )
    due = []
    # Nothing in the loop reads the database (streak rows are loaded): what settling writes is flushed
    # once, with the ledger rows, instead of once per lapsed streak.
    with db.session.no_autoflush:
        for user in users:
            period = period_of[user.id]
            # = wants(user, "streak_reminder"): e-mail and role are in the query, opt-outs loaded at once
            if (user.id, period) in reminded or user.id in off:
                continue
            s = streaks.summary(user, now, pauses[user.id])  # settles first: a lapsed streak is not "at risk"
            if not s["at_risk"] or s["period_start"] != period.isoformat():
                continue
            due.append((s, user, period))
    due.sort(key=lambda t: (-t[0]["length"], t[1].id))
    new = _add_sends(
        [
            {
                "user_id": user.id,
                "type": "streak_reminder",
                "period_start": period,
                "ref": "",
                "payload": {"length": s["length"], "freezes": s["freezes"]},
                "send_after": now,
                "expires_at": cal.local_midnight_utc(cal.next_period_start(freq, period), user.timezone),
            }
            for s, user, period in due
        ]
    )
    return [new[user.id] for _s, user, _period in due if user.id in new]


def prepare_recaps(now: Optional[datetime] = None) -> list[int]:
    """Weekly recap rows for players whose local time is on the recap weekday at or after the recap
    hour (one per player per local week)."""
    now = now or utcnow()
    settings = get_settings()
    if not settings.email_enabled:
        return []
    zones = _zones_where(
        now, lambda local: local.weekday() == settings.recap_weekday and local.hour >= settings.recap_hour
    )
    if not zones:
        return []
    users = (
        db.session.execute(
            db.select(User).where(User.role == ROLE_PLAYER, User.email.is_not(None), User.timezone.in_(zones))
        )
        .scalars()
        .all()
    )
    week_of = {u.id: cal.period_start("weekly", cal.local_date(now, u.timezone)) for u in users}
    done = _existing("recap", week_of.items())
    ids = []
    for user in users:
        week = week_of[user.id]
        if (user.id, week) in done or not wants(user, "recap"):
            continue
        row = _add_send(
            user_id=user.id,
            type="recap",
            period_start=week,
            ref="",
            payload={"since": (now - timedelta(days=7)).isoformat(), "until": now.isoformat()},
            send_after=now,
            expires_at=now + timedelta(days=2),
        )
        if row is not None:
            ids.append(row.id)
    return ids


def _reactivation_time(now: datetime, tz: str, hour: int) -> datetime:
    """The next decent local moment for a come-back mail: now if it is between `hour` and 21:00
    local, otherwise `hour`:00 on the next possible local day."""
    local = now.astimezone(cal.zone(tz))
    if hour <= local.hour < max(hour + 1, 21):
        return now
    day = local.date() if local.hour < hour else local.date() + timedelta(days=1)
    return cal.local_time_utc(day, time(hour), tz)


def on_domain_event(ev, now: Optional[datetime] = None) -> Optional[int]:
    """Mails driven by the outbox: `achievement.completed` (live completions only: backdated ones never
    emit an event) and `streak.lost` of at least the reactivation threshold. Returns a new row id."""
    if ev.type not in ("achievement.completed", "streak.lost") or ev.user_id is None:
        return None
    now = now or utcnow()
    settings = get_settings()
    if not settings.email_enabled:
        return None
    user = db.session.get(User, ev.user_id)
    payload = dict(ev.payload or {})
    if user is None:
        return None
    day = cal.local_date(ev.created_at or now, user.timezone)
    if ev.type == "achievement.completed":
        if not wants(user, "achievement"):
            return None
        row = _add_send(
            user_id=user.id,
            type="achievement",
            period_start=day,
            ref=str(payload.get("achievement") or f"ev{ev.id}")[:64],
            payload={**payload, "domain_event_id": ev.id},
            send_after=now,
            expires_at=now + timedelta(days=7),
        )
    else:
        lost = int(payload.get("lost_length") or 0)
        if lost < settings.reactivation_threshold or not wants(user, "reactivation"):
            return None
        row = None
        for step in reactivation_steps(settings.reactivation_days):
            when = (
                _reactivation_time(now, user.timezone, settings.reactivation_hour)
                if step == 0
                else cal.local_time_utc(day + timedelta(days=step), time(settings.reactivation_hour), user.timezone)
            )
            added = _add_send(
                user_id=user.id,
                type="reactivation",
                period_start=day,
                ref=f"ev{ev.id}-d{step}",
                payload={"lost_length": lost, "domain_event_id": ev.id, "step": step},
                send_after=when,
                expires_at=when + timedelta(days=3),
            )
            row = row or added  # the first step is the one to queue now; due_ids finds the others in time
    return row.id if row is not None else None


def reactivation_steps(text: str) -> list[int]:
    """ "3,7,14,30" -> [3, 7, 14, 30]: days after a lost streak, increasing, each 0-365."""
    steps = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or int(part) > 365:
            raise ValueError(f"{part!r} is not a number of days from 0 to 365")
        steps.append(int(part))
    if steps != sorted(set(steps)):
        raise ValueError("list the days in increasing order, each once")
    if len(steps) > 8:
        raise ValueError("at most 8 steps")
    return steps


def due_ids(now: Optional[datetime] = None, limit: int = 1000) -> list[int]:
    """Rows that should be in a job: pending or failed, due, not expired, not too old. (The caller
    skips those whose RQ job still exists: scheduled for retry, queued, or in the failed registry.)"""
    now = now or utcnow()
    return list(
        db.session.execute(
            db.select(EmailSend.id)
            .where(
                EmailSend.status.in_(("pending", "failed")),
                EmailSend.send_after <= now,
                or_(EmailSend.expires_at.is_(None), EmailSend.expires_at > now),
                EmailSend.send_after > now - MAX_PENDING_AGE,  # planned long ahead (come-back day 30) is fine
            )
            .order_by(EmailSend.id)
            .limit(limit)
        ).scalars()
    )
