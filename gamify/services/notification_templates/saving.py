"""The admin's side: a template checked against the sample players before it is saved, its
attribute scope checked, saved, found, deleted.
"""

from __future__ import annotations

import re
from typing import Optional

from ... import i18n
from ...extensions import db
from ...models._common import utcnow
from ...models.messaging import NotificationTemplate
from ..config_rules import ConfigError
from .base import FIELDS, SOURCE_LIMITS, Source
from .rendering import _check_kind, render_source
from .variables import sample_contexts


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
