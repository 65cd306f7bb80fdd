"""What a template sees: a player's context (streak, balances, the type's facts, the link, in
their language and time zone) and the sample players templates are checked and previewed against.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Optional

from ... import i18n
from ...engine import calendar as cal
from ...extensions import db
from ...models import PointsBalance, PointsSystem, User
from ...models._common import utcnow
from .. import streaks


def _time_left(until: Optional[datetime], now: datetime) -> tuple[str, int]:
    """Time until `until` in words of the language in force ("4 hours" / "4 horas"), whole units
    rounded down, and the whole hours."""
    if until is None:
        return "", 0
    secs = max(0, int((until - now).total_seconds()))
    hours = secs // 3600
    if secs >= 2 * 86400:
        words = i18n.quantity(secs // 86400, "day")
    elif hours >= 1:
        words = i18n.quantity(hours, "hour")
    elif secs >= 120:
        words = i18n.quantity(secs // 60, "minute")
    else:
        words = i18n.gettext("a minute")
    return words, hours


def ends_in_words(period_end: Optional[str], timezone: str, now: datetime) -> str:
    """When the period ends, in the player's words (the language in force): "at midnight" today, else
    "on Sunday at midnight" (weekly streaks are reminded on Friday) or "on May 31 at midnight"."""
    try:
        last_day = date.fromisoformat(period_end)
    except (TypeError, ValueError):
        return i18n.gettext("at midnight")
    today = cal.local_date(now, timezone)
    if last_day <= today:
        return i18n.gettext("at midnight")
    if (last_day - today).days < 7:
        return i18n.gettext("on %(weekday)s at midnight", weekday=i18n.weekday(last_day))
    return i18n.gettext("on %(date)s at midnight", date=i18n.fmt_date(last_day, with_year=False))


def _plain(value):
    """Only plain values reach a template: attributes the host app sent may hold anything JSON does."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def streak_vars(summary: dict, timezone: str, now: datetime) -> dict:
    """The streak's variables, words in the language in force."""
    freq = summary.get("frequency")
    period_end = summary.get("period_end")
    until = None
    if freq and period_end:
        until = cal.local_midnight_utc(date.fromisoformat(period_end) + timedelta(days=1), timezone)
    time_left, hours_left = _time_left(until, now)
    freezes = int(summary.get("freezes") or 0)
    length = int(summary.get("length") or 0)
    try:
        last_day = date.fromisoformat(period_end)
    except (TypeError, ValueError):
        last_day = None
    return {
        "length": length,
        "longest": int(summary.get("longest") or 0),
        "unit": i18n.unit_word(freq or "daily", 1),
        "units": i18n.unit_word(freq or "daily", length),
        "units_plural": i18n.unit_word(freq or "daily", 2),
        "frequency": freq or "",
        "freezes": freezes,
        "has_freeze": freezes > 0,
        "at_risk": bool(summary.get("at_risk")),
        "extended": bool(summary.get("extended_this_period")),
        "ends": ends_in_words(period_end, timezone, now),
        "ends_today": last_day is None or last_day <= cal.local_date(now, timezone),
        "last_day": i18n.fmt_day(last_day) if last_day else "",
        "time_left": time_left,
        "hours_left": hours_left,
    }


def balances(user_id: int) -> list[dict]:
    rows = db.session.execute(
        db.select(PointsSystem.name, PointsSystem.badge, PointsBalance.balance)
        .join(PointsBalance, PointsBalance.system_id == PointsSystem.id)
        .where(PointsBalance.user_id == user_id)
        .order_by(PointsSystem.id)
    ).all()
    return [{"name": n, "badge": b or "", "balance": int(v or 0)} for n, b, v in rows]


def context(
    player: User,
    facts: Optional[dict] = None,
    *,
    link: str = "",
    now: Optional[datetime] = None,
    summary: Optional[dict] = None,
    locale: Optional[str] = None,
) -> dict:
    """The variables of a notification to `player`: their name, attributes, streak, freezes and
    balances now, the signed `link`, and `facts`, the type's own (achievement, lost_length, week).
    `summary`: streaks.summary(player, now) when the caller has it. Words in the player's language (or
    `locale`: the admin's preview of a version in another)."""
    now = now or utcnow()
    if summary is None:
        summary = streaks.summary(player, now)
    with i18n.force_locale(locale or i18n.locale_of(player)):
        streak = streak_vars(summary, player.timezone, now)
    ctx = {
        "name": player.name,
        "player": {
            "name": player.name,
            "timezone": player.timezone,
            "attributes": _plain(dict(player.attributes or {})),
        },
        "streak": streak,
        "freezes": streak["freezes"],
        "points": balances(player.id) if player.id is not None else [],
        "link": link,
    }
    ctx.update(_plain(dict(facts or {})))
    return ctx


# Sample players, for checking a template before it is saved and for previews without a player:
# one with a freeze and one without, so both sides of the usual condition are rendered.
def sample_contexts(kind: str, now: Optional[datetime] = None) -> list[dict]:
    """In the language in force (the template's, when checking or previewing it)."""
    base = {
        "name": "Alex",
        "player": {"name": "Alex", "timezone": "Europe/London", "attributes": {"plan": "pro"}},
        "points": [{"name": "XP", "badge": "⭐", "balance": 1250}],
        "link": "https://example.invalid/l/sample",
    }
    out = []
    for freezes in (1, 0):
        streak = {
            "length": 12,
            "longest": 30,
            "unit": i18n.unit_word("daily", 1),
            "units": i18n.unit_word("daily", 12),
            "units_plural": i18n.unit_word("daily", 2),
            "frequency": "daily",
            "freezes": freezes,
            "has_freeze": freezes > 0,
            "at_risk": True,
            "extended": False,
            "ends": i18n.gettext("at midnight"),
            "ends_today": True,
            "last_day": i18n.fmt_day(date(2026, 3, 10)),
            "time_left": i18n.quantity(4, "hour"),
            "hours_left": 4,
        }
        out.append({**base, "streak": streak, "freezes": freezes, **SAMPLE_FACTS[kind][freezes]})
    return out


_ACH = {"name": "First lesson", "badge": "🎓", "description": "Complete your first lesson."}
_WEEK = {
    "points": [{"name": "XP", "badge": "⭐", "gained": 120}],
    "achievements": [{"name": "First lesson", "badge": "🎓"}],
    "extended": 5,
    "frozen": 1,
}
_QUIET_WEEK = {"points": [], "achievements": [], "extended": 0, "frozen": 0}
SAMPLE_FACTS = {
    "streak_reminder": {1: {}, 0: {}},
    "achievement": {1: {"achievement": _ACH}, 0: {"achievement": {**_ACH, "description": ""}}},
    "reactivation": {1: {"lost_length": 14}, 0: {"lost_length": 7}},
    "recap": {1: {"week": _WEEK}, 0: {"week": _QUIET_WEEK}},
}
