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
is an error naming the field); at send time a missing value (an attribute the player does not have) reads as empty.

The modules, re-exported here: base (the types, channels, fields, limits, the editor's variables; Rendered,
Source, NoTemplate), sandbox (the Jinja sandbox and the render of one source), rendering (picking the template
for a player: pick, render_notification, render_source), variables (what a template sees: context, the sample
players), saving (the admin's checks and saves)."""

from __future__ import annotations

from .base import (
    CHANNELS,
    DEFAULTS_DIR,
    FIELDS,
    OUTPUT_LIMIT,
    PURPOSES,
    PUSH_LIMITS,
    SOURCE_LIMITS,
    TYPES,
    VARIABLES,
    NoTemplate,
    Rendered,
    Source,
)
from .rendering import (
    all_templates,
    default_path,
    default_source,
    pick,
    render_notification,
    render_source,
    scope_matches,
    source_of,
    templates_of,
)
from .sandbox import MAX_POWER, MAX_REPEAT
from .saving import check, check_scope, delete, find, save
from .variables import SAMPLE_FACTS, balances, context, ends_in_words, sample_contexts, streak_vars

__all__ = [
    "CHANNELS",
    "DEFAULTS_DIR",
    "FIELDS",
    "MAX_POWER",
    "MAX_REPEAT",
    "NoTemplate",
    "OUTPUT_LIMIT",
    "PURPOSES",
    "PUSH_LIMITS",
    "Rendered",
    "SAMPLE_FACTS",
    "SOURCE_LIMITS",
    "Source",
    "TYPES",
    "VARIABLES",
    "all_templates",
    "balances",
    "check",
    "check_scope",
    "context",
    "default_path",
    "default_source",
    "delete",
    "ends_in_words",
    "find",
    "pick",
    "render_notification",
    "render_source",
    "sample_contexts",
    "save",
    "scope_matches",
    "source_of",
    "streak_vars",
    "templates_of",
]
