"""Notification templates: what each notification type says on each channel, rendered in a sandbox.

One function renders a notification for every sender (the e-mail job, push, the admin's preview):

    ctx = context(player, facts, link=links.deep_link(player.id, PURPOSES[kind], delivery_ref), now=now)
    render_notification(kind, channel, player, ctx) -> Rendered(subject, text, html, template_id)

`kind` is a type of TYPES, `channel` "email" (subject, text, HTML) or "push" (title in `subject`, body in
`text`, no HTML); `context` holds plain values only (dicts, lists, str, int, bool): the player's state
from `context()`, the type's own facts (reminders.py's builders: achievement, lost_length, week) and the
link. The template is picked for the player at render time, among the versions in the player's language
(i18n.locale_of): an active one scoped to an attribute value the player has (plan = pro), else the active
unscoped one (an admin's, else the shipped default in templates/notifications/<locale>/, else the English
one in templates/notifications/), else none (NoTemplate). Rendering, and the words and numbers the
context holds (streak.ends, streak.time_left, the `num` filter), are in that language
(flask_babel.force_locale) and in the player's time zone, whoever asks (a job, an admin's request).
A sender records the outcome with services.deliveries.record(ref, ..., template_id=rendered.template_id).

Templates run in Jinja's ImmutableSandboxedEnvironment: no attribute starting with "_" (so no
`__class__`, `__globals__`), no method that changes a value, no include/extends/import (there is no
loader), no globals but `range` and `button`, no filters but Jinja's and `num`, bounded `*` and `**`.
Saving checks a template by rendering it against sample players (StrictUndefined: an unknown variable
is an error naming the field); at send time a missing value (an attribute the player does not have) reads as empty."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

from flask import current_app
from jinja2 import StrictUndefined as _Strict
from jinja2 import TemplateError, Undefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from .. import i18n
from ..engine import calendar as cal
from ..engine.filters import matches, value_of
from ..extensions import db
from ..models import PointsBalance, PointsSystem, User
from ..models._common import utcnow
from ..models.messaging import TEMPLATE_CHANNELS, NotificationTemplate
from . import streaks
from .config_rules import ConfigError

TYPES = {
    "streak_reminder": i18n.lazy_gettext("Streak reminder"),
    "achievement": i18n.lazy_gettext("Achievement completed"),
    "reactivation": i18n.lazy_gettext("Come-back after a lost streak"),
    "recap": i18n.lazy_gettext("Weekly recap"),
}
# The page each type's link opens (links.DEEP_LINK_TARGETS).
PURPOSES = {"streak_reminder": "streak", "achievement": "achievements", "reactivation": "streak", "recap": "dashboard"}
CHANNELS = {"email": i18n.lazy_gettext("E-mail"), "push": i18n.lazy_gettext("Push")}
assert tuple(CHANNELS) == TEMPLATE_CHANNELS
# The fields each channel has, with the names admins see.
FIELDS = {
    "email": {"subject": i18n.lazy_gettext("Subject"), "text": i18n.lazy_gettext("Text"), "html": "HTML"},
    "push": {"subject": i18n.lazy_gettext("Title"), "text": i18n.lazy_gettext("Body")},
}
# Longest template source per field, and longest rendered result (a push service cuts far sooner).
SOURCE_LIMITS = {"subject": 1000, "text": 20000, "html": 50000}
OUTPUT_LIMIT = 200_000
PUSH_LIMITS = {"subject": 100, "text": 500}

# The variables, for the editor's reference: (name, what it holds, types that have it; None = all).
VARIABLES = [
    ("name", i18n.lazy_gettext("the player's name"), None),
    ("player.name, player.timezone", i18n.lazy_gettext("the player's name and time zone"), None),
    (
        "player.attributes.<key>",
        i18n.lazy_gettext("an attribute the host app sent (e.g. player.attributes.plan)"),
        None,
    ),
    ("streak.length, streak.longest", i18n.lazy_gettext("the current and the longest streak"), None),
    ("streak.unit", i18n.lazy_gettext("day, week or month (in the player's language)"), None),
    ("streak.units", i18n.lazy_gettext("the unit agreeing with streak.length: day / days, día / días"), None),
    ("streak.units_plural", i18n.lazy_gettext("the unit's plural: days, días"), None),
    ("streak.ends_today", i18n.lazy_gettext("true when the period ends at midnight today"), None),
    (
        "streak.last_day",
        i18n.lazy_gettext("the period's last day in the player's language (\"Tuesday, Mar 10\")"),
        None,
    ),
    ("streak.freezes, streak.has_freeze", i18n.lazy_gettext("freezes the player holds; true when at least one"), None),
    ("freezes", i18n.lazy_gettext("the same as streak.freezes"), None),
    (
        "streak.at_risk, streak.extended",
        i18n.lazy_gettext("not yet kept going this period; kept going this period"),
        None,
    ),
    ("streak.ends", i18n.lazy_gettext('when the period ends, in words ("at midnight", "on Sunday at midnight")'), None),
    (
        "streak.time_left, streak.hours_left",
        i18n.lazy_gettext('time until the period ends ("4 hours"; whole hours)'),
        None,
    ),
    ("x|num", i18n.lazy_gettext("a number in the player's language: 1,234 / 1.234"), None),
    ("points", i18n.lazy_gettext("the player's balances: a list of {name, badge, balance}"), None),
    ("link", i18n.lazy_gettext("the signed link that opens the app (logs the player in once)"), None),
    ("achievement.name, .badge, .description", i18n.lazy_gettext("the achievement just completed"), ("achievement",)),
    ("lost_length", i18n.lazy_gettext("the length of the streak that was lost"), ("reactivation",)),
    ("week.points", i18n.lazy_gettext("points gained in the last 7 days: a list of {name, badge, gained}"), ("recap",)),
    (
        "week.achievements",
        i18n.lazy_gettext("achievements unlocked in the last 7 days: a list of {name, badge}"),
        ("recap",),
    ),
    (
        "week.extended, week.frozen",
        i18n.lazy_gettext("periods kept going, freezes used in the last 7 days"),
        ("recap",),
    ),
]
DEFAULTS_DIR = "notifications"
_FILES = {"subject": "{channel}_subject.txt", "text": "{channel}_text.txt", "html": "{channel}_html.html"}


class NoTemplate(Exception):
    """No active template for this player (the admin switched the type's template off)."""


@dataclass(frozen=True)
class Rendered:
    subject: str  # e-mail subject / push title: one line
    text: str  # e-mail text part / push body
    html: str  # e-mail HTML body ('' for push), without the frame (templates/email/notification.html)
    template_id: Optional[int] = None  # the admin's template, None for the shipped default


@dataclass(frozen=True)
class Source:
    """A template's text, from the database or the shipped files."""

    type: str
    channel: str
    subject: str
    text: str
    html: str
    id: Optional[int] = None
    locale: str = "en"
    scope_attribute: str = ""
    scope_value: str = ""
    active: bool = True


# ---------------------------------------------------------------------------------------------
# The sandbox

MAX_REPEAT = 10_000  # longest string or list `*` may build
MAX_POWER = 64


class _SendUndefined(Undefined):
    """At send time a missing value reads as empty (a player without the attribute the template names),
    but what the sandbox refused never renders silently."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return ""


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError(f"a power above {MAX_POWER} is not allowed")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"repeating a value beyond {MAX_REPEAT} items is not allowed")
        return super().call_binop(context, operator, left, right)


@pass_context
def _button(ctx, label) -> Markup:
    """{{ button("Keep my streak") }}: the e-mail's call to action on `link` (HTML only)."""
    link = ctx.get("link")
    if not isinstance(link, str) or not link:
        return Markup("")
    return Markup(
        '<p style="margin:28px 0;"><a href="{link}" style="background:#6b4eff;color:#ffffff;text-decoration:none;'
        'padding:12px 20px;border-radius:6px;display:inline-block;font-weight:bold;">{label}</a></p>\n'
        '<p style="font-size:12px;color:#6b6f80;">{note}</p>'
    ).format(link=link, label=str(label), note=i18n.gettext("This button logs you in once, within 48 hours."))


def _sandbox(html: bool, strict: bool) -> _Sandbox:
    env = _Sandbox(autoescape=html, undefined=_Strict if strict else _SendUndefined, keep_trailing_newline=False)
    env.globals = {"range": env.globals["range"]}
    # Numbers as the reader writes them (the language in force when rendering: the player's).
    env.filters["num"] = i18n.num
    if html:
        env.globals["button"] = _button
    return env


_ENVS = {(html, strict): _sandbox(html, strict) for html in (False, True) for strict in (False, True)}


@functools.lru_cache(maxsize=512)
def _compiled(source: str, html: bool, strict: bool):
    return _ENVS[(html, strict)].from_string(source)


def _render_field(field: str, source: str, ctx: dict, strict: bool) -> str:
    out = _compiled(source, field == "html", strict).render(ctx)
    if len(out) > OUTPUT_LIMIT:
        raise SecurityError(f"the result is longer than {OUTPUT_LIMIT} characters")
    if field == "subject":  # one header line, whatever the template's line breaks
        out = re.sub(r"\s+", " ", out).strip()
    return out


def _explain(e: Exception) -> str:
    if isinstance(e, SecurityError):
        return f"not allowed in a template: {e}"
    if isinstance(e, TemplateError) and getattr(e, "lineno", None):
        return f"line {e.lineno}: {e.message}"
    if isinstance(e, TemplateError):
        return str(e.message or e)
    if isinstance(e, TypeError) and "no loader" in str(e):
        return "templates cannot include, import or extend other templates"
    return f"{type(e).__name__}: {e}"


def _render(src: Source, ctx: dict, strict: bool) -> Rendered:
    fields = FIELDS[src.channel]
    out = {}
    for field in fields:
        try:
            out[field] = _render_field(field, getattr(src, field), ctx, strict)
        except Exception as e:  # noqa: BLE001 - whatever a template does wrong is the admin's to fix
            raise ConfigError(field, _explain(e)) from e
    return Rendered(out["subject"], out["text"], out.get("html", ""), src.id)


# ---------------------------------------------------------------------------------------------
# Picking the template


def default_source(kind: str, channel: str, locale: str = i18n.FALLBACK) -> Source:
    """The shipped template in `locale` (templates/notifications/<locale>/<kind>/<channel>_<field>.*),
    else the English one (templates/notifications/<kind>/...)."""
    return _default_source(current_app.template_folder, kind, channel, locale)


def default_path(folder: str, kind: str, channel: str, field: str, locale: str = i18n.FALLBACK) -> Path:
    base = Path(folder) / DEFAULTS_DIR
    if locale != i18n.FALLBACK:
        base = base / locale
    return base / kind / _FILES[field].format(channel=channel)


@functools.lru_cache(maxsize=64)
def _default_source(folder: str, kind: str, channel: str, locale: str) -> Source:
    texts = {"html": ""}
    for field in FIELDS[channel]:
        path = default_path(folder, kind, channel, field, locale)
        if locale != i18n.FALLBACK and not path.is_file():  # a language without its own version: English
            return _default_source(folder, kind, channel, i18n.FALLBACK)
        texts[field] = path.read_text(encoding="utf-8").removesuffix("\n")
    return Source(kind, channel, texts["subject"], texts["text"], texts["html"], locale=locale)


def source_of(row: NotificationTemplate) -> Source:
    return Source(
        row.type,
        row.channel,
        row.subject or "",
        row.text or "",
        row.html or "",
        row.id,
        row.locale or i18n.FALLBACK,
        row.scope_attribute or "",
        row.scope_value or "",
        bool(row.active),
    )


def templates_of(kind: str, channel: str, locale: str = i18n.FALLBACK) -> list[NotificationTemplate]:
    """The admins' versions of a type and channel in one language, oldest first."""
    return list(
        db.session.execute(
            db.select(NotificationTemplate)
            .where(
                NotificationTemplate.type == kind,
                NotificationTemplate.channel == channel,
                NotificationTemplate.locale == locale,
            )
            .order_by(NotificationTemplate.id)
        ).scalars()
    )


def all_templates() -> list[NotificationTemplate]:
    return list(
        db.session.execute(
            db.select(NotificationTemplate).order_by(
                NotificationTemplate.type,
                NotificationTemplate.channel,
                NotificationTemplate.locale,
                NotificationTemplate.scope_attribute,
                NotificationTemplate.id,
            )
        ).scalars()
    )


def scope_matches(row, attributes: Optional[dict]) -> bool:
    """A scoped template's attribute value against the player's (as achievement filters match:
    "true"/"false" are booleans, numbers match by their text)."""
    return bool(row.scope_attribute) and matches({row.scope_attribute: value_of(row.scope_value)}, attributes)


def pick(kind: str, channel: str, player: User) -> Source:
    """The template this player gets, among the versions in their language: the first active scoped one
    (oldest first) whose attribute value the player has, else the active unscoped one (an admin's, else
    the language's shipped default, else the English one). NoTemplate when the unscoped one is switched
    off and no scoped one matches."""
    _check_kind(kind, channel)
    locale = i18n.locale_of(player)
    rows = templates_of(kind, channel, locale)
    attributes = player.attributes if player is not None else None
    for row in rows:
        if row.active and row.scope_attribute and scope_matches(row, attributes):
            return source_of(row)
    base = next((r for r in rows if not r.scope_attribute), None)
    if base is None:
        return default_source(kind, channel, locale)
    if not base.active:
        raise NoTemplate(f"the {channel} template for {kind.replace('_', ' ')} is switched off")  # a log line: English
    return source_of(base)


def _check_kind(kind: str, channel: str) -> None:
    if kind not in TYPES:
        raise ValueError(f"unknown notification type {kind!r}")
    if channel not in FIELDS:
        raise ValueError(f"unknown channel {channel!r}")


def render_notification(kind: str, channel: str, player: User, context: dict) -> Rendered:
    """The notification `kind` for `player` on `channel`, from the template picked for them (`pick`).
    Raises NoTemplate (none is active for this player) or ConfigError(field, message) when the template
    cannot be rendered (the sender records the send as failed with that message). In the player's
    language, whoever asks."""
    with i18n.force_locale(i18n.locale_of(player)):
        src = pick(kind, channel, player)
        rendered = _render(src, context, strict=False)
    if channel == "push":  # what the push services show anyway; cut here so every device shows the same
        rendered = Rendered(
            _cut(rendered.subject, PUSH_LIMITS["subject"]), _cut(rendered.text, PUSH_LIMITS["text"]), "", src.id
        )
    return rendered


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_source(src: Source, context: dict) -> Rendered:
    """A template as given (the admin's draft, for the preview), strictly: an unknown variable, or
    anything the sandbox refuses, is a ConfigError naming the field. In the template's language."""
    with i18n.force_locale(src.locale):
        return _render(src, context, strict=True)


# ---------------------------------------------------------------------------------------------
# Variables


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


# ---------------------------------------------------------------------------------------------
# Admin: saving


def check(src: Source) -> None:
    """Refuse (ConfigError naming the field) a template that is too long, does not compile, names a
    variable its type does not have, or does what the sandbox refuses, against every sample player."""
    _check_kind(src.type, src.channel)
    for field in FIELDS[src.channel]:
        text = getattr(src, field)
        if len(text) > SOURCE_LIMITS[field]:
            raise ConfigError(field, f"At most {SOURCE_LIMITS[field]:,} characters.")
        if field == "subject" and not text.strip():
            raise ConfigError(field, "This field is required.")
    with i18n.force_locale(src.locale):
        for ctx in sample_contexts(src.type):
            render_source(src, ctx)


def check_scope(attribute: str, value: str) -> tuple[str, str]:
    attribute, value = (attribute or "").strip(), (value or "").strip()
    if not attribute and not value:
        return "", ""
    if not attribute:
        raise ConfigError("scope_attribute", "Name the attribute the value is for.")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", attribute):
        raise ConfigError("scope_attribute", "Letters, digits, '_' or '-', at most 64 characters.")
    if not value:
        raise ConfigError("scope_value", "Give the value players must have (e.g. pro).")
    if len(value) > 255:
        raise ConfigError("scope_value", "At most 255 characters.")
    return attribute, value


def save(
    kind: str,
    channel: str,
    *,
    subject: str,
    text: str,
    html: str = "",
    scope_attribute: str = "",
    scope_value: str = "",
    active: bool = True,
    locale: str = i18n.FALLBACK,
    row: Optional[NotificationTemplate] = None,
    by: str = "",
) -> NotificationTemplate:
    """Create or update a template in `locale` after `check`; nothing is written when it is refused. Two
    templates of a type, channel and language never share a scope (ConfigError on scope_value)."""
    if row is not None:
        locale = row.locale
    if not i18n.valid(locale):
        raise ConfigError("locale", f"Not a language the app ships: {locale!r}.")
    scope_attribute, scope_value = check_scope(scope_attribute, scope_value)
    src = Source(kind, channel, subject, text, html if channel == "email" else "", locale=locale)
    check(src)
    clash = db.session.execute(
        db.select(NotificationTemplate.id).where(
            NotificationTemplate.type == kind,
            NotificationTemplate.channel == channel,
            NotificationTemplate.locale == locale,
            NotificationTemplate.scope_attribute == scope_attribute,
            NotificationTemplate.scope_value == scope_value,
        )
    ).scalar_one_or_none()
    if clash is not None and (row is None or clash != row.id):
        raise ConfigError(
            "scope_value" if scope_attribute else "subject",
            f"There is already a template for {scope_attribute} = {scope_value}."
            if scope_attribute
            else "This type already has its template for everyone: edit that one.",
        )
    if row is None:
        row = NotificationTemplate(type=kind, channel=channel, locale=locale)
        db.session.add(row)
    row.scope_attribute, row.scope_value = scope_attribute, scope_value
    row.subject, row.text, row.html = src.subject, src.text, src.html
    row.active, row.updated_by, row.updated_at = bool(active), by[:64], utcnow()
    db.session.flush()
    return row


def find(template_id: int) -> Optional[NotificationTemplate]:
    return db.session.get(NotificationTemplate, template_id)


def delete(row: NotificationTemplate) -> None:
    """A scoped template goes; the unscoped one goes back to the shipped default."""
    db.session.delete(row)
