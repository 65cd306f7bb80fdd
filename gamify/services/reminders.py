"""Player e-mails: streak reminders in the local evening, come-back mails after a lost streak,
achievement mails and the weekly recap.

Producers write an `EmailSend` row (the send ledger, UNIQUE per user/type/period/ref) in the caller's
transaction; the `deliver_email` job (gamify/jobs/emails.py, queue "mail") claims the row, re-checks that the
mail is still wanted (`compose`: the type's facts here, the words from the template picked for the
player, services/notification_templates.py), sends it over SMTP and only then marks it sent; marking
it sent or failed writes the delivery log (services/deliveries.py) in the same transaction. Like every service,
nothing here commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Iterable, Optional

from sqlalchemy import and_, func, or_, text, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from .. import i18n, links, mail
from ..engine import calendar as cal
from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    FreezeLedger,
    MetricEvent,
    PointsAward,
    PointsSystem,
    StreakPeriod,
    User,
    UserStreak,
)
from ..models._common import utcnow
from ..models.notifications import NOTIFICATION_TYPES, NotificationPreference
from ..models.users import ROLE_PLAYER
from ..models.webhooks import EmailSend, MessagingSettings
from . import deliveries, outbox, streaks, webpush
from . import notification_templates as templates
from .config_rules import ConfigError
from .users import UserError, clean_email

CHANNEL = "email"
PUSH = "push"
# A claimed row whose job died mid-send may be claimed again after this long.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Pending rows older than this are never (re-)enqueued.
MAX_PENDING_AGE = timedelta(days=8)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class Skip(Exception):
    """The mail is no longer wanted: status 'skipped' or 'expired', with the reason."""

    def __init__(self, reason: str, status: str = "skipped"):
        super().__init__(reason)
        self.reason, self.status = reason, status


# ---------------------------------------------------------------------------------------------
# Settings


DEFAULTS = {
    "email_enabled": True,
    "reminder_hour": 20,
    "weekly_reminder_weekday": 4,
    "weekly_reminder_hour": 9,
    "monthly_reminder_days_before": 3,
    "reactivation_threshold": 7,
    "reactivation_hour": 10,
    "reactivation_days": "3,7,14,30",
    "recap_weekday": 0,
    "recap_hour": 9,
    "webhooks_allow_private": False,
    "control_ratio": 0,
    "default_locale": "en",
}


def get_settings() -> MessagingSettings:
    """The settings row (an unsaved one with the defaults while an admin never saved any)."""
    row = db.session.execute(db.select(MessagingSettings).order_by(MessagingSettings.id).limit(1)).scalar_one_or_none()
    return row if row is not None else MessagingSettings(**DEFAULTS)


def update_settings(**values) -> MessagingSettings:
    row = db.session.execute(db.select(MessagingSettings).order_by(MessagingSettings.id).limit(1)).scalar_one_or_none()
    if row is None:
        row = MessagingSettings(**DEFAULTS)
        db.session.add(row)
    for k, v in values.items():
        if k not in DEFAULTS:
            raise KeyError(k)
        setattr(row, k, v)
    row.updated_at = utcnow()
    return row


# ---------------------------------------------------------------------------------------------
# Producers


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


def wants(user: User, type_: str) -> bool:
    """The player is to hear about it: by e-mail, or by push (where the e-mail is the fallback)."""
    return (
        bool(user.email)
        and user.role == ROLE_PLAYER
        and (outbox.channel_enabled(user.id, type_, CHANNEL) or outbox.channel_enabled(user.id, type_, PUSH))
    )


def email_wanted(user_id: int, type_: str) -> bool:
    """E-mail goes out when the player wants it, or as the fallback of a push they want but that has no
    browser to go to (none subscribed, or the push service dropped them all: 404/410 deletes them).
    With push and e-mail both on, the player chose both."""
    if outbox.channel_enabled(user_id, type_, CHANNEL):
        return True
    return outbox.channel_enabled(user_id, type_, PUSH) and not any(webpush.targets(user_id))


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


# ---------------------------------------------------------------------------------------------
# Delivery (used by the deliver_email job)


def claim(send_id: int, now: Optional[datetime] = None) -> bool:
    """Atomically take a row for sending (pending/failed, or a stale 'sending' whose job died).
    Two jobs for the same row can never both send it."""
    now = now or utcnow()
    result = db.session.execute(
        update(EmailSend)
        .where(
            EmailSend.id == send_id,
            or_(
                EmailSend.status.in_(("pending", "failed")),
                and_(EmailSend.status == "sending", EmailSend.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .values(status="sending", claimed_at=now, attempts=EmailSend.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release(send: EmailSend) -> None:
    send.status = "pending"
    send.attempts = max((send.attempts or 1) - 1, 0)
    send.claimed_at = None


def mark_submitting(send: EmailSend, now: datetime) -> None:
    """The message is about to be handed to the SMTP server: from here on the row is not claimable."""
    send.status, send.claimed_at = "submitting", now


def mark_unknown(send: EmailSend, error: str) -> None:
    send.status, send.last_error = "unknown", ("It may or may not have been delivered: " + error)[:2000]


def settle_uncertain(now: Optional[datetime] = None) -> int:
    """Rows left 'submitting' by a worker that died mid-send (past the claim timeout) become 'unknown':
    the server may have taken the message, so they are not sent again automatically."""
    now = now or utcnow()
    result = db.session.execute(
        update(EmailSend)
        .where(
            EmailSend.status == "submitting",
            EmailSend.claimed_at < now - CLAIM_TIMEOUT,
        )
        .values(
            status="unknown",
            last_error="The worker stopped while handing this e-mail to the mail server; "
            "it may or may not have been delivered.",
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def mark_sent(
    send: EmailSend,
    message_id: str,
    now: Optional[datetime] = None,
    template_id: Optional[int] = None,
    fallback: bool = False,
) -> None:
    send.status, send.sent_at, send.message_id, send.last_error = "sent", now or utcnow(), message_id or "", ""
    log_delivery(send, "sent", send.sent_at, template_id)
    if fallback and deliveries.find(deliveries.push_ref(send.id)) is None:
        log_delivery(send, "fell_back", send.sent_at, channel=PUSH)  # push was wanted but had nothing to go to


def mark_failed(send: EmailSend, error: str, now: Optional[datetime] = None) -> None:
    send.status, send.last_error = "failed", error[:2000]
    log_delivery(send, "failed", now or utcnow())


def mark_skipped(send: EmailSend, skip: Skip, now: Optional[datetime] = None) -> None:
    send.status, send.last_error = skip.status, skip.reason
    if skip.status == "failed":  # e.g. a template that cannot be rendered: the admin's to fix
        log_delivery(send, "failed", now or utcnow())


def log_delivery(
    send: EmailSend, status: str, now: datetime, template_id: Optional[int] = None, channel: str = CHANNEL
) -> None:
    """The delivery log's row for this message, in the transaction that records its outcome."""
    reminder = send.type == "streak_reminder"
    deliveries.record(
        deliveries.email_ref(send.id) if channel == CHANNEL else deliveries.push_ref(send.id),
        type=send.type,
        channel=channel,
        user_id=send.user_id,
        status=status,
        now=now,
        template_id=template_id,
        period_start=send.period_start if reminder else None,
        period_ends_at=send.expires_at if reminder else None,
    )


@dataclass
class Composed:
    message: EmailMessage
    to: str
    template_id: Optional[int] = None  # the admin's template it was rendered from (None: the shipped one)
    fallback: bool = False  # sent because the push the player chose could not reach them


def recipient(send: EmailSend, now: datetime) -> User:
    """The checks every channel makes at send time. Raises Skip."""
    if send.expires_at is not None and now >= send.expires_at:
        raise Skip("too late: the moment for this mail has passed", "expired")
    user = db.session.get(User, send.user_id)
    if user is None:
        raise Skip("the player is gone")
    if user.role != ROLE_PLAYER:
        raise Skip("not a player")
    if user.control_group:
        raise Skip("the player is in the control group (no gamification e-mails)")
    if not get_settings().email_enabled:
        raise Skip("e-mail is switched off in the messaging settings")
    return user


def render_for(send: EmailSend, user: User, now: datetime, channel: str, ref: str):
    """The type's facts now (a streak extended since is no longer reminded) in the words of the template
    picked for the player now (an attribute may have changed since). Raises Skip."""
    builder = {
        "streak_reminder": _streak_reminder,
        "reactivation": _reactivation,
        "achievement": _achievement,
        "recap": _recap,
    }.get(send.type)
    if builder is None:
        raise Skip(f"unknown e-mail type {send.type!r}")
    facts, summary = builder(send, user, now)
    link = links.deep_link(user.id, templates.PURPOSES[send.type], ref)
    ctx = templates.context(user, facts, link=link, now=now, summary=summary)
    try:
        return templates.render_notification(send.type, channel, user, ctx), link
    except templates.NoTemplate as e:
        raise Skip(str(e)) from e
    except ConfigError as e:
        raise Skip(f"the {e.field} template could not be rendered: {e}", "failed") from e


def compose(send: EmailSend, now: Optional[datetime] = None) -> Composed:
    """Re-check, at send time, that the mail is still wanted, and build it. Raises Skip."""
    now = now or utcnow()
    user = recipient(send, now)
    if not user.email:
        raise Skip("the player has no e-mail address")
    try:  # headers are built only from a checked address (one mailbox, no line breaks)
        clean_email(user.email)
    except UserError as e:
        raise Skip(f"the player's e-mail address is not valid ({e})") from e
    if user.subscribe_to_emails is False:
        raise Skip("the host product unsubscribed the player from e-mails (subscribe_to_emails false)")
    if not email_wanted(user.id, send.type):
        if deliveries.find(deliveries.push_ref(send.id)) is not None:
            raise Skip("sent as a push notification")
        raise Skip("the player switched these e-mails off")
    rendered, _link = render_for(send, user, now, CHANNEL, deliveries.email_ref(send.id))
    with i18n.force_locale(i18n.locale_of(user)):  # the frame (footer, labels) in the player's language too
        msg = mail.build_notification(
            user.email,
            rendered,
            NOTIFICATION_TYPES.get(send.type, send.type),
            unsubscribe_url=links.unsubscribe_link(user.id, send.type),
        )
    fallback = not outbox.channel_enabled(user.id, send.type, CHANNEL)
    return Composed(msg, user.email, rendered.template_id, fallback)


def _streak_reminder(send: EmailSend, user: User, now: datetime):
    s = streaks.summary(user, now)
    if s["period_start"] != send.period_start.isoformat():
        raise Skip("the streak period this reminder was for is over", "expired")
    if s["extended_this_period"] or s["length"] <= 0:
        raise Skip("already extended this period" if s["extended_this_period"] else "the streak is gone")
    if not s["at_risk"]:
        raise Skip("the streak is not at risk")
    return {}, s


def _reactivation(send: EmailSend, user: User, now: datetime):
    s = streaks.summary(user, now)
    if s["length"] > 0:
        raise Skip("the player already started a new streak")
    back = db.session.execute(
        db.select(MetricEvent.id)
        .where(MetricEvent.user_id == user.id, MetricEvent.occurred_at > send.created_at)
        .limit(1)
    ).first()
    if back is not None:  # the sequence stops once the player is back, even if they lapsed again since
        raise Skip("the player came back after the loss")
    newer = db.session.execute(
        db.select(EmailSend.id)
        .where(EmailSend.user_id == user.id, EmailSend.type == "reactivation", EmailSend.created_at > send.created_at)
        .limit(1)
    ).first()
    if newer is not None:
        raise Skip("a later lost streak started its own come-back sequence")
    lost = int((send.payload or {}).get("lost_length") or 0)
    return {"lost_length": lost}, s


def _achievement(send: EmailSend, user: User, now: datetime):
    return {"achievement": achievement_facts(dict(send.payload or {}))}, None


def achievement_facts(payload: dict) -> dict:
    """{name, badge, description} of the achievement an `achievement.completed` payload names."""
    name = payload.get("name") or payload.get("achievement") or "an achievement"
    description = ""
    if payload.get("achievement"):
        a = db.session.execute(
            db.select(Achievement).where(Achievement.key == payload["achievement"])
        ).scalar_one_or_none()
        if a is not None:
            description = a.description or ""
    return {"name": name, "badge": payload.get("badge") or "🏅", "description": description}


def recap_week(user: User, since: datetime, until: datetime) -> dict:
    """What a player did in [since, until): points gained per system, live achievements, periods kept
    going, freezes used (the recap's `week`)."""
    pts = db.session.execute(
        db.select(PointsSystem.name, PointsSystem.badge, func.sum(PointsAward.amount))
        .join(PointsSystem, PointsSystem.id == PointsAward.system_id)
        .where(
            PointsAward.user_id == user.id,
            PointsAward.amount > 0,
            PointsAward.awarded_at >= since,
            PointsAward.awarded_at < until,
            PointsAward.trigger_type != "refill",
        )
        .group_by(PointsSystem.id, PointsSystem.name, PointsSystem.badge)
        .order_by(PointsSystem.id)
    ).all()
    achievements = db.session.execute(
        db.select(Achievement.name, Achievement.badge)
        .join(AchievementCompletion, AchievementCompletion.achievement_id == Achievement.id)
        .where(
            AchievementCompletion.user_id == user.id,
            AchievementCompletion.backdated.is_(False),
            AchievementCompletion.completed_at >= since,
            AchievementCompletion.completed_at < until,
        )
        .order_by(AchievementCompletion.completed_at)
    ).all()
    extended = int(
        db.session.execute(
            db.select(func.count(StreakPeriod.id)).where(
                StreakPeriod.user_id == user.id,
                StreakPeriod.outcome == "extended",
                StreakPeriod.closed_at >= since,
                StreakPeriod.closed_at < until,
            )
        ).scalar_one()
    )
    frozen = int(
        db.session.execute(
            db.select(func.count(FreezeLedger.id)).where(
                FreezeLedger.user_id == user.id,
                FreezeLedger.kind == "consumed",
                FreezeLedger.created_at >= since,
                FreezeLedger.created_at < until,
            )
        ).scalar_one()
    )
    return {
        "points": [{"name": n, "badge": b or "", "gained": int(g or 0)} for n, b, g in pts if g],
        "achievements": [{"name": n, "badge": b or "🏅"} for n, b in achievements],
        "extended": extended,
        "frozen": frozen,
    }


def _recap(send: EmailSend, user: User, now: datetime):
    p = send.payload or {}
    since = datetime.fromisoformat(p["since"]) if p.get("since") else now - timedelta(days=7)
    until = datetime.fromisoformat(p["until"]) if p.get("until") else now
    week = recap_week(user, since, until)
    s = streaks.summary(user, now)
    if not week["points"] and not week["achievements"] and not week["extended"] and not s["length"]:
        raise Skip("nothing happened this week")
    return {"week": week}, s
