"""Achievements as one player sees them, for the API: every achievement shown on the player's page with
their progress (current, target, percent) and where they stand (completed, incomplete, locked), and one
achievement's details (rarity, completion count). Hidden achievements the player has not earned are
masked exactly as the page masks them ("???", no description, no progress). Reads only."""

from __future__ import annotations

from typing import Optional

from ..extensions import db
from ..models import Achievement, AchievementCompletion, User
from . import achievements

COMPLETED, INCOMPLETE, LOCKED = "completed", "incomplete", "locked"
STATUSES = (COMPLETED, INCOMPLETE, LOCKED)
HIDDEN_NAME, HIDDEN_BADGE = "???", "❔"


def _percent(value: Optional[float], target: Optional[float]) -> float:
    if not target or value is None:
        return 0.0
    return round(max(0.0, min(100.0, 100.0 * value / target)), 1)


def _status(a: Achievement, completion: Optional[AchievementCompletion]) -> str:
    if completion is not None:
        return COMPLETED
    return LOCKED if a.status == "locked" else INCOMPLETE


def _masked(a: Achievement, completion: Optional[AchievementCompletion]) -> bool:
    return bool(a.hidden) and completion is None


def _prerequisites(a: Achievement, names: dict[int, Achievement], done: set[int]) -> list[dict]:
    """A composite's prerequisites as the page names them: a hidden one not yet earned stays "???"."""
    out = []
    for pid in a.prerequisite_ids or []:
        p = names.get(pid)
        if p is None:
            continue
        masked = bool(p.hidden) and pid not in done
        out.append({"key": p.key, "name": HIDDEN_NAME if masked else p.name, "completed": pid in done})
    return out


def _base(a: Achievement, masked: bool) -> dict:
    return {
        "key": a.key,
        "name": HIDDEN_NAME if masked else a.name,
        "description": "" if masked else (a.description or ""),
        "badge": HIDDEN_BADGE if masked else a.badge,
        "trigger": None if masked else a.trigger,
        "hidden": bool(a.hidden),
        "rarity_pct": round(a.rarity_pct or 0.0, 1),
        "completion_count": a.completion_count or 0,
    }


def _progress(
    a: Achievement, completion: Optional[AchievementCompletion], value: Optional[float], masked: bool
) -> dict:
    """The player's standing: current/target/percent (None where nothing is measured: an `api`
    achievement, or a hidden one they have not earned), and the completion if any."""
    target = a.target
    measured = target is not None and not masked
    current = (value if value is not None else 0.0) if measured else None
    return {
        "status": _status(a, completion),
        "current": current,
        "target": target if measured else None,
        "percent": 100.0 if completion is not None else (None if masked else _percent(current, target)),
        "completed_at": completion.completed_at.isoformat() if completion else None,
        "backdated": bool(completion.backdated) if completion else None,
    }


def _unit(a: Achievement, masked: bool) -> Optional[str]:
    if masked or a.trigger != "metric" or a.metric is None:
        return None
    return a.metric.unit or None


def for_player(user: User, status: Optional[str] = None) -> list[dict]:
    """Every achievement the player's page shows (active and locked ones, and retired ones they hold),
    in the page's order: completed (newest first), incomplete (closest to done first), locked.
    `status` keeps one of the three."""
    done, shown, names = achievements.shown_to_player(user.id)
    progress = achievements.progress_for(user)
    groups: dict[str, list[tuple[tuple, dict]]] = {s: [] for s in STATUSES}
    for a in shown:
        c = done.get(a.id)
        masked = _masked(a, c)
        entry = _base(a, masked) | _progress(a, c, progress.get(a.id), masked)
        entry["unit"] = _unit(a, masked)
        entry["prerequisites"] = [] if masked else _prerequisites(a, names, set(done))
        if entry["status"] == COMPLETED:
            order: tuple = (-c.completed_at.timestamp(), a.id)
        elif entry["status"] == INCOMPLETE:
            order = (-(entry["percent"] or 0.0), a.id)
        else:
            order = (a.id,)
        groups[entry["status"]].append((order, entry))
    wanted = [status] if status else list(STATUSES)
    return [entry for s in wanted for _order, entry in sorted(groups[s], key=lambda pair: pair[0])]


def visible(a: Optional[Achievement]) -> bool:
    """Whether the API names the achievement at all: being set up (inactive) it does not exist yet."""
    return a is not None and a.status != "inactive"


def details(a: Achievement, user: Optional[User] = None) -> dict:
    """One achievement: what it is, how rare, how many hold it; with `user`, their progress. Hidden
    ones stay masked unless that player has earned it."""
    completion = None
    done: set[int] = set()
    if user is not None:
        done = achievements.completed_ids(user.id)
        completion = db.session.execute(
            db.select(AchievementCompletion).where(
                AchievementCompletion.user_id == user.id, AchievementCompletion.achievement_id == a.id
            )
        ).scalar_one_or_none()
    masked = _masked(a, completion)
    names = {p.id: p for p in _prerequisite_rows(a)}
    body = _base(a, masked) | {
        "state": a.status,
        "target": None if masked else a.target,
        "unit": _unit(a, masked),
        "prerequisites": [] if masked else _prerequisites(a, names, done),
        "players": achievements.player_count(),
        "progress": None,
    }
    if user is not None:
        value = achievements.progress_for(user).get(a.id)
        body["progress"] = _progress(a, completion, value, masked)
    return body


def _prerequisite_rows(a: Achievement) -> list[Achievement]:
    ids = list(a.prerequisite_ids or [])
    if not ids:
        return []
    return list(db.session.execute(db.select(Achievement).where(Achievement.id.in_(ids))).scalars())
