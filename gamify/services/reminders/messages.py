"""The message of a send row, built at send time (compose): the checks every channel makes
(recipient), each type's facts (a streak still at risk, the recap's week) in the words of the template picked
for the player (render_for).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Optional

from sqlalchemy import func

from ... import i18n, links, mail
from ...extensions import db
from ...models import (
    Achievement,
    AchievementCompletion,
    FreezeLedger,
    MetricEvent,
    PointsAward,
    PointsSystem,
    StreakPeriod,
    User,
)
from ...models._common import utcnow
from ...models.notifications import NOTIFICATION_TYPES
from ...models.users import ROLE_PLAYER
from ...models.webhooks import EmailSend
from .. import deliveries, outbox, streaks
from .. import notification_templates as templates
from ..config_rules import ConfigError
from ..users import UserError, clean_email
from .base import CHANNEL, Skip, email_wanted, get_settings


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
