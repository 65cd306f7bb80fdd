"""Trophy's admin points boosts and triggers (services/points_config.py), by points system.

    GET|POST|PATCH|DELETE  /trophy/admin/v1/points/{systemId}/boosts[/{id}]
    GET|POST|PATCH|DELETE  /trophy/admin/v1/points/{systemId}/triggers[/{id}]

A boost runs over whole UTC days (`end` included; none: no end); gamify's run between moments, so a day
maps to its UTC midnight. gamify has no boosts for one user (`userId` is an issue). A trigger that already
awarded points is switched off instead of deleted (the ledger points at it): a warning issue says so.
"""

from __future__ import annotations

from typing import Optional

from ...extensions import db
from ...models import PointsBoost, PointsSystem, PointsTrigger
from ...models._common import utcnow
from ...services import points_config
from ..base import answer, not_found
from . import schemas as s
from . import shapes
from .base import (
    Issues,
    array,
    attempt,
    bp,
    created,
    ids_arg,
    item,
    items,
    listed,
    page,
    paging,
    require_admin_key,
    row,
)


def raw_items() -> list:
    return array()


def _system_or_404(system_id: str) -> PointsSystem:
    system = row(PointsSystem, system_id)
    if system is None:
        raise not_found("points system", system_id)
    return system


def _part_or_404(model, system: PointsSystem, part_id: str, what: str):
    part = row(model, part_id)
    if part is None or part.system_id != system.id:
        raise not_found(what, part_id)
    return part


# ------------------------------------------------------------------------------------------ boosts


def create_boost(system: PointsSystem, raw, issues: Issues, index: int, where: str = "") -> Optional[s.BoostOut]:
    data = item(s.BoostIn, raw)
    prefix = f"{where}: " if where else ""
    if isinstance(data, str):
        issues.add(prefix + data, index=index)
        return None
    boost = attempt(
        issues,
        lambda: points_config.save_boost(system, None, **shapes.boost_args(data)),
        prefix,
        index=index,
    )
    return shapes.boost_out(boost, utcnow()) if boost is not None else None


@bp.get("/points/<system_id>/boosts")
@require_admin_key
def list_boosts(system_id: str):
    system = _system_or_404(system_id)
    limit, skip = paging()
    q = db.select(PointsBoost).where(PointsBoost.system_id == system.id).order_by(PointsBoost.starts_at, PointsBoost.id)
    now = utcnow()
    return answer([shapes.boost_out(b, now) for b in page(q, limit, skip)])


@bp.get("/points/<system_id>/boosts/<boost_id>")
@require_admin_key
def get_boost(system_id: str, boost_id: str):
    boost = _part_or_404(PointsBoost, _system_or_404(system_id), boost_id, "points boost")
    return answer(shapes.boost_out(boost, utcnow()))


@bp.post("/points/<system_id>/boosts")
@require_admin_key
def create_boosts(system_id: str):
    system = _system_or_404(system_id)
    issues = Issues()
    done = [x for x in (create_boost(system, raw, issues, i) for i, raw in enumerate(array())) if x]
    return created("created", done, issues)


@bp.patch("/points/<system_id>/boosts")
@require_admin_key
def update_boosts(system_id: str):
    system = _system_or_404(system_id)
    issues, done, now = Issues(), [], utcnow()
    for i, data in items(s.BoostPatchIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        boost = row(PointsBoost, data.id)
        if boost is None or boost.system_id != system.id:
            issues.add(f"points boost '{data.id}' not found", id=data.id, boost_id=data.id)
            continue
        merged = {**shapes.boost_as_input(boost, now), **{k: getattr(data, k) for k in data.model_fields_set - {"id"}}}
        saved = attempt(
            issues,
            lambda b=boost, m=merged, c=data.model_fields_set: points_config.save_boost(
                system, b, **shapes.keep_boost(shapes.boost_args(s.BoostIn.model_validate(m)), b, c)
            ),
            id=data.id,
            boost_id=data.id,
        )
        if saved is not None:
            done.append(shapes.boost_out(saved, now))
    return answer(listed("updated", done, issues))


@bp.delete("/points/<system_id>/boosts")
@require_admin_key
def delete_boosts(system_id: str):
    system = _system_or_404(system_id)
    issues, done = Issues(), []
    for raw in ids_arg():
        boost = row(PointsBoost, raw)
        if boost is None or boost.system_id != system.id:
            issues.add(f"points boost '{raw}' not found", id=raw, boost_id=raw)
        else:
            points_config.delete_boost(boost)
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))


# ------------------------------------------------------------------------------------------ triggers


def create_trigger(system: PointsSystem, raw, issues: Issues, index: int, where: str = "") -> Optional[s.TriggerOut]:
    data = item(s.TriggerIn, raw)
    prefix = f"{where}: " if where else ""
    if isinstance(data, str):
        issues.add(prefix + data, index=index)
        return None
    trigger = attempt(
        issues,
        lambda: points_config.save_trigger(system, None, **shapes.trigger_args(data)),
        prefix,
        index=index,
    )
    return shapes.trigger_out(trigger) if trigger is not None else None


@bp.get("/points/<system_id>/triggers")
@require_admin_key
def list_triggers(system_id: str):
    system = _system_or_404(system_id)
    limit, skip = paging()
    q = db.select(PointsTrigger).where(PointsTrigger.system_id == system.id).order_by(PointsTrigger.id)
    return answer([shapes.trigger_out(t) for t in page(q, limit, skip)])


@bp.get("/points/<system_id>/triggers/<trigger_id>")
@require_admin_key
def get_trigger(system_id: str, trigger_id: str):
    return answer(
        shapes.trigger_out(_part_or_404(PointsTrigger, _system_or_404(system_id), trigger_id, "points trigger"))
    )


@bp.post("/points/<system_id>/triggers")
@require_admin_key
def create_triggers(system_id: str):
    system = _system_or_404(system_id)
    issues = Issues()
    done = [x for x in (create_trigger(system, raw, issues, i) for i, raw in enumerate(array())) if x]
    return created("created", done, issues)


@bp.patch("/points/<system_id>/triggers")
@require_admin_key
def update_triggers(system_id: str):
    system = _system_or_404(system_id)
    issues, done = Issues(), []
    for i, data in items(s.TriggerPatchIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        trigger = row(PointsTrigger, data.id)
        if trigger is None or trigger.system_id != system.id:
            issues.add(f"points trigger '{data.id}' not found", id=data.id)
            continue
        merged = {**shapes.trigger_as_input(trigger), **{k: getattr(data, k) for k in data.model_fields_set - {"id"}}}
        saved = attempt(
            issues,
            lambda t=trigger, m=merged, c=data.model_fields_set: points_config.save_trigger(
                system, t, **shapes.keep_trigger(shapes.trigger_args(s.TriggerIn.model_validate(m)), t, c)
            ),
            id=data.id,
        )
        if saved is not None:
            done.append(shapes.trigger_out(saved))
    return answer(listed("updated", done, issues))


@bp.delete("/points/<system_id>/triggers")
@require_admin_key
def delete_triggers(system_id: str):
    system = _system_or_404(system_id)
    issues, done = Issues(), []
    for raw in ids_arg():
        trigger = row(PointsTrigger, raw)
        if trigger is None or trigger.system_id != system.id:
            issues.add(f"points trigger '{raw}' not found", id=raw)
            continue
        used = points_config.delete_trigger(trigger)
        if used:
            issues.warn(
                f"the trigger awarded points {used} times, so it was switched off instead of deleted "
                "(the points ledger points at it)",
                id=raw,
            )
        else:
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))
