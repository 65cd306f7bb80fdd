"""The vocabulary of notification templates: the types and the page each links to, the channels and
their fields, the size limits, the variables the editor lists; Rendered, Source, NoTemplate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ... import i18n
from ...models.messaging import TEMPLATE_CHANNELS

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
