"""Trophy's streaks.

GET /trophy/v1/users/{id}/streak?historyPeriods=7   the streak, its recent periods
GET /trophy/v1/streaks?userIds=a,b,c                up to 100 users' streak lengths, longest first
"""

from __future__ import annotations

from ..extensions import db
from ..models import User
from ..models._common import utcnow
from ..services import streak_pauses, streaks
from . import schemas as s
from . import shapes
from .base import TrophyError, answer, bp, query, require_key, ts
from .users import known_user

MAX_USERS = 100


@bp.get("/users/<external_id>/streak")
@require_key
def user_streak(external_id: str):
    user = known_user(external_id)
    q = query(s.HistoryQuery)
    now = utcnow()
    rules, state = streaks.current_state(user, now)
    spans = streaks.pause_spans(user, state, now) if rules is not None else ()
    fields = shapes.streak_fields(user, rules, state, now, spans)
    length = fields["length"]
    extended = shapes.last_extended([user.id]).get(user.id) if length > 0 else None
    return answer(
        s.StreakOut(
            **fields,
            extended=ts(extended),
            streak_history=shapes.streak_history(user, rules, length, q.history_periods, now, spans),
            pauses=[shapes.pause_out(p) for p in streak_pauses.upcoming(user, now)],
        )
    )


@bp.get("/streaks")
@require_key
def bulk_streaks():
    """Ids may come as one comma-separated value or repeated; unknown ids are left out."""
    q = query(s.BulkStreakQuery)
    raw = [q.user_ids] if isinstance(q.user_ids, str) else q.user_ids
    ids = list(dict.fromkeys(i.strip() for part in raw for i in part.split(",") if i.strip()))
    if len(ids) > MAX_USERS:
        raise TrophyError(422, f"userIds may name at most {MAX_USERS} users (got {len(ids)})")
    found = list(db.session.execute(db.select(User).where(User.external_id.in_(ids or ["-"]))).scalars())
    now = utcnow()
    lengths = {}
    for user in found:  # settled first: a streak whose period lapsed reads as 0
        _rules, state = streaks.current_state(user, now)
        lengths[user.id] = state.length if state else 0
    extended = shapes.last_extended([u.id for u in found if lengths[u.id] > 0])
    order = sorted(found, key=lambda u: (-lengths[u.id], ids.index(u.external_id)))
    return answer(
        [
            s.BulkStreakOut(user_id=u.external_id, streak_length=lengths[u.id], extended=ts(extended.get(u.id)))
            for u in order
        ]
    )
