"""Trophy's admin streak operations (services/streaks.py, services/streak_pauses.py): freezes granted,
lost streaks restored, pauses set and deleted.

    POST   /trophy/admin/v1/streaks/freezes   {"freezes": [{"userId"}]}: one freeze each, up to the maximum
    POST   /trophy/admin/v1/streaks/restore   {"users": [{"id"}]}: the lost streak given back
    POST   /trophy/admin/v1/streaks/pauses    {"pauses": [{"userId", "start", "end"}]}: the user's local days
    DELETE /trophy/admin/v1/streaks/pauses?ids=   by the pause's id (a UUID)

Trophy restores the longest streak of a recent window; gamify gives the latest lost streak back at the
length it had when it broke, once per loss (services/streaks.restore, also POST /api/v1/users/{id}/streak/
restore). A pause's rules (not before the user's today, no overlap, ...) are streak_pauses.create's.
"""

from __future__ import annotations

from flask import g

from ...models import User
from ...services import streak_pauses, streaks, users
from ...services.streaks import StreakStateError
from ..base import TrophyError, answer, body, dump
from . import schemas as s
from .base import Issues, attempt, bp, ids_arg, item, require_admin_key


def _reason() -> str:
    return f"Trophy admin API, key #{g.api_key.id}"


def _user(issues: Issues, external_id: str, index: int):
    user = users.by_external_id(external_id)
    if user is None:
        issues.add(f"user '{external_id}' not found", index=index, user_id=external_id)
    return user


def _streak_or_422() -> None:
    if streaks.current_rules() is None:
        raise TrophyError(422, "no streak is configured")


@bp.post("/streaks/freezes")
@require_admin_key
def create_freezes():
    data = body(s.FreezesIn)
    _streak_or_422()
    issues, granted = Issues(), 0
    for i, raw in enumerate(data.freezes):
        entry = item(s.UserIdIn, raw)
        if isinstance(entry, str):
            issues.add(entry, index=i)
            continue
        user = _user(issues, entry.user_id, i)
        if user is None:
            continue
        n = attempt(issues, lambda u=user: _grant(u), index=i, user_id=entry.user_id)
        granted += n or 0
    return answer({"issues": issues.items}, 201 if granted else 200)


def _grant(user: User) -> int:
    streaks.settle_user(user)  # missed periods first: the freeze protects what comes
    if streaks.grant_freeze(user.id, _reason()[:64], 1) == 0:
        raise StreakStateError("freezes", f"the user already holds the maximum of {streaks.freeze_cap()} freezes")
    return 1


@bp.post("/streaks/restore")
@require_admin_key
def restore_streaks():
    data = body(s.RestoreIn)
    _streak_or_422()
    issues, restored = Issues(), []
    for i, raw in enumerate(data.users):
        entry = item(s.IdIn, raw)
        if isinstance(entry, str):
            issues.add(entry, index=i)
            continue
        user = _user(issues, entry.id, i)
        if user is not None and attempt(
            issues, lambda u=user: streaks.restore(u, _reason()), index=i, user_id=entry.id
        ):
            restored.append(entry.id)
    return answer({"restoredUsers": restored, "issues": issues.items}, 201 if restored else 200)


# ------------------------------------------------------------------------------------------ pauses


def pause_out(pause, user: User) -> s.PauseOut:
    return s.PauseOut(
        id=pause.public_id,
        user_id=user.external_id,
        start=pause.start_on.isoformat(),
        end=pause.end_on.isoformat(),
        status=streak_pauses.status(pause, user),
    )


@bp.post("/streaks/pauses")
@require_admin_key
def create_pauses():
    data = body(s.PausesIn, shape_status=422)
    issues, wanted = Issues(), []
    for i, raw in enumerate(data.pauses):
        entry = item(s.PauseIn, raw)
        if isinstance(entry, str):
            issues.add(entry, index=i)
        else:
            wanted.append((i, streak_pauses.PauseRequest(entry.user_id, entry.start, entry.end)))
    outcomes = streak_pauses.create_many([r for _i, r in wanted], created_by=_reason()[:64])
    done = []
    for (i, _r), outcome in zip(wanted, outcomes):
        if outcome.error is not None:
            issues.add(str(outcome.error), index=i, user_id=outcome.user_id)
        else:
            done.append(pause_out(outcome.pause, users.by_external_id(outcome.user_id)))
    issues.items.sort(key=lambda x: x.get("index", 0))
    return answer({"created": [dump(p) for p in done], "issues": issues.items}, 201 if done else 200)


@bp.delete("/streaks/pauses")
@require_admin_key
def delete_pauses():
    issues, done = Issues(), []
    for pause_id, error in streak_pauses.delete_many(ids_arg()):
        if error is None:
            done.append({"id": pause_id})
        else:
            issues.add(str(error), id=pause_id)
    return answer({"deleted": done, "issues": issues.items})
