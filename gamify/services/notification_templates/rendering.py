"""Picking a player's template (attribute scope, language, an admin's version or the shipped
default) and rendering it: render_notification for every sender, render_source for a chosen version.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

from flask import current_app

from ... import i18n
from ...engine.filters import matches, value_of
from ...extensions import db
from ...models import User
from ...models.messaging import NotificationTemplate
from .base import _FILES, DEFAULTS_DIR, FIELDS, PUSH_LIMITS, TYPES, NoTemplate, Rendered, Source
from .sandbox import _render


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
