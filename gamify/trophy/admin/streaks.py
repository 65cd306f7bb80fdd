"""Trophy's admin streak operations (services/streaks.py): freezes granted, lost streaks restored.

    POST /trophy/admin/v1/streaks/freezes   {"freezes": [{"userId"}]}: one freeze each, up to the maximum
    POST /trophy/admin/v1/streaks/restore   {"users": [{"id"}]}: the lost streak given back

Trophy restores the longest streak of a recent window; gamify gives the latest lost streak back at the
length it had when it broke, once per loss (services/streaks.restore, also POST /api/v1/users/{id}/streak/
restore). Streak pauses (POST/DELETE /streaks/pauses) are not served yet: gamify has no pauses.
"""

from __future__ import annotations

from flask import g

from ...models import User
from ...services import streaks, users
from ...services.streaks import StreakStateError
from ..base import TrophyError, answer, body
from . import schemas as s
from .base import Issues, attempt, bp, item, require_admin_key


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
