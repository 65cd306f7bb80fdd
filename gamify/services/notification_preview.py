"""The admin's view of a template before it is saved: its variables for a chosen player (their real
streak, balances and attributes; the type's facts from their own history where there are some), and
the test e-mail to the admin's own address. Nothing here writes a send or a delivery: a preview and a
test are not messages to players (links in them open the page without logging anyone in)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from .. import i18n, links
from ..extensions import db
from ..models import Achievement, AchievementCompletion, DomainEvent, User
from ..models._common import utcnow
from . import notification_templates as templates
from . import reminders, streaks


def context_for(kind: str, player: Optional[User], now: Optional[datetime] = None, locale: str = "en") -> dict:
    """Variables as `kind` would have them for `player` now, words in `locale` (the version's language);
    the first sample player without one."""
    if player is None:
        with i18n.force_locale(locale):
            return templates.sample_contexts(kind)[0]
    now = now or utcnow()
    summary = streaks.summary(player, now)
    sample = templates.SAMPLE_FACTS[kind][1]
    if kind == "achievement":
        facts = {"achievement": _latest_achievement(player) or sample["achievement"]}
    elif kind == "reactivation":
        facts = {"lost_length": _last_lost_length(player) or summary["longest"] or sample["lost_length"]}
    elif kind == "recap":
        facts = {"week": reminders.recap_week(player, now - timedelta(days=7), now)}
    else:
        facts = {}
    link = links.page_url(templates.PURPOSES[kind])
    return templates.context(player, facts, link=link, now=now, summary=summary, locale=locale)


def _latest_achievement(player: User) -> Optional[dict]:
    row = db.session.execute(
        db.select(Achievement.name, Achievement.badge, Achievement.description)
        .join(AchievementCompletion, AchievementCompletion.achievement_id == Achievement.id)
        .where(AchievementCompletion.user_id == player.id)
        .order_by(AchievementCompletion.completed_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return {"name": row.name, "badge": row.badge or "🏅", "description": row.description or ""}


def _last_lost_length(player: User) -> int:
    payload = db.session.execute(
        db.select(DomainEvent.payload)
        .where(DomainEvent.user_id == player.id, DomainEvent.type == "streak.lost")
        .order_by(DomainEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return int((payload or {}).get("lost_length") or 0)
