"""Energy configuration: the settings row (with the per-process cached copy the event path reads), the
actions catalogue and their costs by difficulty, the boosts shop, the token system energy is bought
with, and EnergyError."""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

from sqlalchemy import inspect as sa_inspect

from ...engine import energy as engine
from ...extensions import db
from ...models import (
    EnergyAction,
    EnergyBoost,
    EnergySettings,
    PlayerBoost,
    User,
)
from ...models._common import utcnow
from ...pipeline.base import EventError
from .. import points as points_svc
from .. import snapshot
from ..upsert import dialect_insert

SETTINGS_ID = 1


SPEND_TYPES = ("consumption", "gift_sent")


INFLOW_TYPES = ("token_refill", "gift_received", "gift_refund", "boost_applied", "admin_adjust", "daily_grant")


SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class EnergyError(EventError):
    """A refused energy operation: `field`, a message for people, an HTTP status and extra fields
    (e.g. required/available/seconds_until_enough). Subclasses EventError so that raised inside
    process_event it aborts the whole event, and the API answers it like any event error."""


def _insert_ignore(model, values: dict, key: str) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, so concurrent first uses do not collide."""
    stmt = dialect_insert(model)
    if stmt is None:  # pragma: no cover - other databases
        try:
            with db.session.begin_nested():
                db.session.add(model(**values))
        except Exception:
            pass
        return
    db.session.execute(stmt.values(**values).on_conflict_do_nothing(index_elements=[key]))


def get_settings() -> EnergySettings:
    """The settings row (created with the defaults on first use)."""
    row = db.session.get(EnergySettings, SETTINGS_ID)
    if row is None:
        _insert_ignore(EnergySettings, {"id": SETTINGS_ID, "updated_at": utcnow()}, "id")
        row = db.session.get(EnergySettings, SETTINGS_ID)
    return row


def update_settings(**values) -> EnergySettings:
    """Save the admin's settings (KeyError for a name that is not a setting)."""
    s = get_settings()
    _assign(s, values)
    s.token_system_key = s.token_system_key.strip()
    s.updated_at = utcnow()
    return s


def _assign(row, values: dict) -> None:
    columns = sa_inspect(type(row)).columns
    for name, value in values.items():
        if name not in columns:
            raise KeyError(name)
        setattr(row, name, value)


@dataclass(frozen=True)
class CachedConfig:
    """Energy configuration in the config snapshot (the event path reads no settings or action rows):
    read-only copies of the settings row and of the active actions, by key."""

    settings: SimpleNamespace
    cfg: engine.Config
    actions: dict


def _copy(row) -> SimpleNamespace:
    return SimpleNamespace(**{a.key: getattr(row, a.key) for a in sa_inspect(row).mapper.column_attrs})


def _load_cached_config() -> CachedConfig:
    s = get_settings()
    return CachedConfig(_copy(s), config(s), {a.key: _copy(a) for a in list_actions()})


snapshot.EXTRA_CONFIG_MODELS.extend([EnergySettings, EnergyAction])


snapshot.EXTRA_LOADERS["energy"] = _load_cached_config


def config(s: EnergySettings) -> engine.Config:
    q = engine.q
    return engine.Config(
        free_max=s.free_max,
        free_regen_per_hour=q(s.free_regen_per_hour),
        premium_max=s.premium_max,
        premium_regen_per_hour=q(s.premium_regen_per_hour),
        tick_minutes=s.tick_minutes,
        max_skill_bonus=s.max_skill_bonus,
        fatigue_gain_per_energy=q(s.fatigue_gain_per_energy),
        endurance_fatigue_reduction=q(s.endurance_fatigue_reduction),
        fatigue_recovery_per_hour=q(s.fatigue_recovery_per_hour),
        meditation_recovery_bonus=q(s.meditation_recovery_bonus),
        fatigue_regen_penalty=q(s.fatigue_regen_penalty),
        max_skill_cost_reduction=q(s.max_skill_cost_reduction),
        flag_spend_per_hour=s.flag_spend_per_hour,
    )


def boost_json(b: PlayerBoost) -> dict:
    return {
        "id": b.id,
        "name": b.name,
        "type": b.type,
        "effect_value": b.effect_value,
        "applied_at": b.applied_at.isoformat(),
        "expires_at": b.expires_at.isoformat() if b.expires_at else None,
    }


def list_actions(active_only: bool = True) -> list[EnergyAction]:
    q = db.select(EnergyAction).order_by(EnergyAction.position, EnergyAction.name)
    if active_only:
        q = q.where(EnergyAction.active.is_(True))
    return list(db.session.execute(q).scalars())


def find_action(action_id: int) -> Optional[EnergyAction]:
    return db.session.get(EnergyAction, action_id)


def _refuse_taken_key(model, key: str, current, message: str) -> None:
    """Keys are unique per catalogue: raises EnergyError("key") when another row (not `current`) has it."""
    clash = db.session.execute(db.select(model.id).where(model.key == key)).scalar()
    if clash is not None and (current is None or clash != current.id):
        raise EnergyError("key", message)


def _save_item(model, row, values: dict, taken_message: str):
    _refuse_taken_key(model, values["key"], row, taken_message)
    if row is None:
        row = model(created_at=utcnow())
        db.session.add(row)
    _assign(row, values)
    row.name = row.name.strip()
    row.description = row.description or ""
    return row


def save_action(action: Optional[EnergyAction], **values) -> EnergyAction:
    """Create (`action` None) or change an action of the catalogue; raises EnergyError("key") when another
    action has the key."""
    return _save_item(EnergyAction, action, values, "another action already uses this key")


def delete_action(action: EnergyAction) -> None:
    db.session.delete(action)


def get_action(key: str) -> EnergyAction:
    action = db.session.execute(db.select(EnergyAction).where(EnergyAction.key == key)).scalar_one_or_none()
    if action is None or not action.active:
        raise EnergyError("action", f"unknown action '{key}'", 404)
    return action


def resolve_difficulty(action: EnergyAction, difficulty: Optional[str]) -> tuple[Optional[str], object]:
    levels = action.difficulties or {}
    if not levels:
        if difficulty not in (None, ""):
            raise EnergyError("difficulty", f"action '{action.key}' has no difficulty levels")
        return None, 1
    if difficulty in (None, ""):
        difficulty = "medium" if "medium" in levels else next(iter(levels))
    if not isinstance(difficulty, str) or difficulty not in levels:
        raise EnergyError("difficulty", f"difficulty must be one of: {', '.join(levels)}")
    return difficulty, levels[difficulty]


def action_cost(
    action: EnergyAction, difficulty: Optional[str], skills: dict, cfg: engine.Config, boost_reduction_pct=0
) -> int:
    _d, mult = resolve_difficulty(action, difficulty)
    return engine.action_cost(action.base_cost, mult, skills, action.skill_reductions or {}, cfg, boost_reduction_pct)


def token_system():
    s = get_settings()
    system = points_svc.system_by_key(s.token_system_key)
    if system is None:
        raise EnergyError("tokens", f"Tokens are not set up: there is no points system '{s.token_system_key}'.", 409)
    return system


def token_balance(user: User) -> Optional[int]:
    s = get_settings()
    system = points_svc.system_by_key(s.token_system_key)
    if system is None:
        return None

    return points_svc.balance_of(user.id, system.id)


def list_boosts(active_only: bool = True) -> list[EnergyBoost]:
    q = db.select(EnergyBoost).order_by(EnergyBoost.token_cost, EnergyBoost.name)
    if active_only:
        q = q.where(EnergyBoost.active.is_(True))
    return list(db.session.execute(q).scalars())


def find_boost(boost_id: int) -> Optional[EnergyBoost]:
    return db.session.get(EnergyBoost, boost_id)


def save_boost(boost: Optional[EnergyBoost], **values) -> EnergyBoost:
    """Create (`boost` None) or change a boost of the shop; raises EnergyError("key") when another boost
    has the key."""
    return _save_item(EnergyBoost, boost, values, "another boost already uses this key")


def delete_boost(boost: EnergyBoost) -> None:
    """Boosts players already bought keep working: PlayerBoost holds a copy of the effect."""
    db.session.delete(boost)
