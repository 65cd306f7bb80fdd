"""The attributes players and events carry: those declared by name (AttributeDefinition; Trophy's admin
API declares them) and those the configuration names (filters of achievements, points triggers and boosts,
leaderboard breakdowns). gamify takes any attribute a product sends, declared or not: a declaration only
gives it a name; an attribute is always named by its key."""

from __future__ import annotations

import re
from typing import NamedTuple, Optional

from ..extensions import db
from ..models import Achievement, AttributeDefinition, Leaderboard, PointsBoost, PointsTrigger
from . import config_rules
from .config_rules import ConfigError

KINDS = ("user", "event")
KEY_RE = r"[A-Za-z0-9_-]{1,64}"  # letters, digits, '_' and '-' (leaderboard breakdowns take no '-')


class Attribute(NamedTuple):
    key: str
    name: str
    kind: str  # user|event
    declared: bool


def uses() -> dict[str, list[str]]:
    """Attribute key -> what in the configuration names it ("leaderboard weekly", "points trigger #3")."""
    out: dict[str, list[str]] = {}
    for model, label in (
        (Achievement, "achievement"),
        (PointsTrigger, "points trigger"),
        (PointsBoost, "points boost"),
    ):
        for row_id, filters in db.session.execute(db.select(model.id, model.attribute_filters)):
            for key in filters or {}:
                out.setdefault(key, []).append(f"{label} #{row_id}")
    for key_, breakdown in db.session.execute(db.select(Leaderboard.key, Leaderboard.breakdown)):
        for key in breakdown or []:
            out.setdefault(key, []).append(f"leaderboard '{key_}'")
    return out


def all_attributes() -> list[Attribute]:
    """Declared attributes and those the configuration names, by key."""
    declared = {d.key: d for d in db.session.execute(db.select(AttributeDefinition)).scalars()}
    keys = sorted(set(declared) | set(uses()))
    return [_attribute(k, declared.get(k)) for k in keys]


def get(key: str) -> Optional[Attribute]:
    d = db.session.execute(db.select(AttributeDefinition).where(AttributeDefinition.key == key)).scalar_one_or_none()
    if d is None and key not in uses():
        return None
    return _attribute(key, d)


def _attribute(key: str, d: Optional[AttributeDefinition]) -> Attribute:
    if d is None:  # named by the configuration only: gamify matches players' attributes with the event's
        return Attribute(key, key, "user", False)
    return Attribute(d.key, d.name, d.kind, True)


def declare(key: str, name: str, kind: str) -> Attribute:
    """Declare an attribute (ConfigError: a key of another form, declared already, an unknown kind)."""
    text = key.strip() if isinstance(key, str) else ""
    if not re.fullmatch(KEY_RE, text):
        raise ConfigError("key", "Use 1 to 64 letters, digits, '_' or '-'.")
    if kind not in KINDS:
        raise ConfigError("type", "An attribute belongs to users or to events.")
    if db.session.execute(db.select(AttributeDefinition.id).where(AttributeDefinition.key == text)).first():
        raise ConfigError("key", f"The attribute '{text}' is declared already.")
    d = AttributeDefinition(key=text, name=config_rules.name(name), kind=kind)
    db.session.add(d)
    db.session.flush()
    return _attribute(d.key, d)


def rename(key: str, name: str) -> Attribute:
    """Give an attribute a (new) name; one only the configuration named is declared by it."""
    d = db.session.execute(db.select(AttributeDefinition).where(AttributeDefinition.key == key)).scalar_one_or_none()
    if d is None:
        if key not in uses():
            raise ConfigError("id", f"attribute '{key}' not found")
        d = AttributeDefinition(key=key, kind="user")
        db.session.add(d)
    d.name = config_rules.name(name)
    db.session.flush()
    return _attribute(d.key, d)


def delete(key: str) -> None:
    """Forget a declared attribute nothing names (ConfigError naming what does)."""
    named = uses().get(key)
    if named:
        raise ConfigError("id", f"attribute '{key}' is used by {', '.join(named[:5])}: change those first")
    d = db.session.execute(db.select(AttributeDefinition).where(AttributeDefinition.key == key)).scalar_one_or_none()
    if d is None:
        raise ConfigError("id", f"attribute '{key}' not found")
    db.session.delete(d)
