"""Trophy's admin points systems and levels (services/points_config.py; boosts and triggers: points_parts.py).

    GET|POST|PATCH|DELETE  /trophy/admin/v1/points                       systems (create may carry levels,
    GET                    /trophy/admin/v1/points/{id}                   boosts and triggers)
    GET|POST|PATCH|DELETE  /trophy/admin/v1/points/{systemId}/levels      levels (a change re-levels every
    GET                    /trophy/admin/v1/points/{systemId}/levels/{id} balance)

gamify systems have an emoji badge and no description: a badge image or a description sent is a warning
issue and is not stored. A system whose ledger holds awards cannot be deleted (an issue says so).
"""

from __future__ import annotations

from typing import Optional

from ...extensions import db
from ...models import PointsLevel, PointsSystem
from ...services import points_config
from ..base import answer, not_found
from . import points_parts as parts
from . import schemas as s
from . import shapes
from .base import Issues, attempt, bp, created, ids_arg, item, items, listed, page, paging, require_admin_key, row


def system_or_404(system_id: str) -> PointsSystem:
    system = row(PointsSystem, system_id)
    if system is None:
        raise not_found("points system", system_id)
    return system


def warn_unstored(issues: Issues, data, fields: tuple[str, ...], **where) -> None:
    for field in shapes.unstored(data, fields):
        issues.warn(
            f"{field} is not stored: gamify points systems and levels have emoji badges and no descriptions", **where
        )


# ------------------------------------------------------------------------------------------ systems


@bp.get("/points")
@require_admin_key
def list_systems():
    limit, skip = paging()
    systems = page(db.select(PointsSystem).order_by(PointsSystem.id), limit, skip)
    return answer([shapes.system_out(x) for x in systems])


@bp.get("/points/<system_id>")
@require_admin_key
def get_system(system_id: str):
    return answer(shapes.system_out(system_or_404(system_id)))


@bp.post("/points")
@require_admin_key
def create_systems():
    issues, done = Issues(), []
    for i, data in items(s.SystemIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        system = attempt(
            issues,
            lambda d=data: points_config.save_system(
                None, key=d.key, name=d.name, badge="⭐", daily_cap=None, max_balance=d.max_points
            ),
            index=i,
        )
        if system is None:
            continue
        warn_unstored(issues, data, ("description", "badge"), index=i)
        out = shapes.system_out(system)
        if data.levels is not None:
            out.levels = [
                x
                for x in (_create_level(system, raw, issues, i, f"levels[{n}]") for n, raw in enumerate(data.levels))
                if x
            ]
        if data.boosts is not None:
            out.boosts = [
                x
                for x in (
                    parts.create_boost(system, raw, issues, i, f"boosts[{n}]") for n, raw in enumerate(data.boosts)
                )
                if x
            ]
        if data.triggers is not None:
            out.triggers = [
                x
                for x in (
                    parts.create_trigger(system, raw, issues, i, f"triggers[{n}]")
                    for n, raw in enumerate(data.triggers)
                )
                if x
            ]
        done.append(out)
    return created("created", done, issues)


@bp.patch("/points")
@require_admin_key
def update_systems():
    issues, done = Issues(), []
    for i, data in items(s.SystemPatchIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        system = row(PointsSystem, data.id)
        if system is None:
            issues.add(f"points system '{data.id}' not found", id=data.id)
            continue
        max_points = data.max_points if "max_points" in data.model_fields_set else system.max_balance
        saved = attempt(
            issues,
            lambda x=system, d=data, m=max_points: points_config.save_system(
                x, key=x.key, name=d.name or x.name, badge=x.badge, daily_cap=x.daily_cap, max_balance=m
            ),
            id=data.id,
        )
        if saved is not None:
            warn_unstored(issues, data, ("description", "badge"), id=data.id)
            done.append(shapes.system_out(saved))
    return answer(listed("updated", done, issues))


@bp.delete("/points")
@require_admin_key
def delete_systems():
    issues, done = Issues(), []
    for raw in ids_arg():
        system = row(PointsSystem, raw)
        if system is None:
            issues.add(f"points system '{raw}' not found", id=raw)
        elif attempt(issues, lambda x=system: points_config.delete_system(x) or True, id=raw):
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))


# ------------------------------------------------------------------------------------------ levels


def _create_level(system: PointsSystem, raw, issues: Issues, index: int, where: str = "") -> Optional[s.LevelOut]:
    data = item(s.LevelIn, raw)
    prefix = f"{where}: " if where else ""
    if isinstance(data, str):
        issues.add(prefix + data, index=index)
        return None
    saved = attempt(
        issues, lambda: points_config.save_level(system, None, **shapes.level_args(data)), prefix, index=index
    )
    if saved is None:
        return None
    warn_unstored(issues, data, ("description", "badge"), index=index)
    return shapes.level_out(saved[0])


def _level_or_404(system: PointsSystem, level_id: str) -> PointsLevel:
    level = row(PointsLevel, level_id)
    if level is None or level.system_id != system.id:
        raise not_found("points level", level_id)
    return level


@bp.get("/points/<system_id>/levels")
@require_admin_key
def list_levels(system_id: str):
    system = system_or_404(system_id)
    limit, skip = paging()
    q = db.select(PointsLevel).where(PointsLevel.system_id == system.id).order_by(PointsLevel.threshold, PointsLevel.id)
    return answer([shapes.level_out(x) for x in page(q, limit, skip)])


@bp.get("/points/<system_id>/levels/<level_id>")
@require_admin_key
def get_level(system_id: str, level_id: str):
    return answer(shapes.level_out(_level_or_404(system_or_404(system_id), level_id)))


@bp.post("/points/<system_id>/levels")
@require_admin_key
def create_levels(system_id: str):
    system = system_or_404(system_id)
    issues = Issues()
    done = [x for x in (_create_level(system, raw, issues, i) for i, raw in enumerate(parts.raw_items())) if x]
    return created("created", done, issues)


@bp.patch("/points/<system_id>/levels")
@require_admin_key
def update_levels(system_id: str):
    system = system_or_404(system_id)
    issues, done = Issues(), []
    for i, data in items(s.LevelPatchIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        level = row(PointsLevel, data.id)
        if level is None or level.system_id != system.id:
            issues.add(f"points level '{data.id}' not found", id=data.id)
            continue
        saved = attempt(
            issues,
            lambda lv=level, d=data: points_config.save_level(
                system,
                lv,
                key=lv.key,
                name=d.name if d.name is not None else lv.name,
                threshold=d.points if d.points is not None else lv.threshold,
                badge=lv.badge,
            ),
            id=data.id,
        )
        if saved is not None:
            warn_unstored(issues, data, ("description", "badge"), id=data.id)
            done.append(shapes.level_out(saved[0]))
    return answer(listed("updated", done, issues))


@bp.delete("/points/<system_id>/levels")
@require_admin_key
def delete_levels(system_id: str):
    system = system_or_404(system_id)
    issues, done = Issues(), []
    for raw in ids_arg():
        level = row(PointsLevel, raw)
        if level is None or level.system_id != system.id:
            issues.add(f"points level '{raw}' not found", id=raw)
        elif attempt(issues, lambda lv=level: points_config.delete_level(system, lv) is not None, id=raw):
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))
