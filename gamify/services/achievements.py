"""Achievement evaluation on events, API awards, composites, rarity and silent backfill."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, update
from sqlalchemy.orm import Session

from .. import notices
from ..engine.filters import matches
from ..extensions import db
from ..models import (
    Achievement,
    AchievementCompletion,
    AchievementProgress,
    MetricEvent,
    MetricTotal,
    StreakPeriod,
    User,
)
from ..models._common import utcnow
from . import outbox, points, snapshot


class AchievementError(ValueError):
    pass


def player_count() -> int:
    return int(db.session.execute(db.select(func.count(User.id)).where(User.role == "player")).scalar_one())


# Rarity on unlock divides by the player count; counting every player on every unlock costs a scan that
# grows with the user base. Events use a per-process count at most PLAYER_COUNT_TTL seconds old (dropped
# at once when this process creates a user); refresh_rarity and the pages count exactly.
PLAYER_COUNT_TTL = 30.0
_count_cache: dict[str, tuple[float, int]] = {}


def recent_player_count() -> int:
    key = str(db.engine.url)
    hit = _count_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < PLAYER_COUNT_TTL:
        return hit[1]
    n = player_count()
    _count_cache[key] = (now, n)
    return n


def players_changed() -> None:
    """Forget the cached player count (players created or removed outside the ORM's unit of work)."""
    _count_cache.clear()


@sa_event.listens_for(Session, "after_flush")
def _users_changed(session: Session, _ctx) -> None:
    if _count_cache and any(isinstance(o, User) for o in (*session.new, *session.deleted)):
        _count_cache.clear()


def refresh_rarity(achievement_ids: Optional[Iterable[int]] = None) -> None:
    """Rarity = share of players holding it; one UPDATE, run when the player count moves."""
    n = player_count()
    stmt = update(Achievement).values(rarity_pct=(Achievement.completion_count * 100.0 / n) if n else 0.0)
    if achievement_ids is not None:
        stmt = stmt.where(Achievement.id.in_(list(achievement_ids)))
    db.session.execute(stmt)


def completed_ids(user_id: int) -> set[int]:
    return set(
        db.session.execute(
            db.select(AchievementCompletion.achievement_id).where(AchievementCompletion.user_id == user_id)
        ).scalars()
    )


def complete(
    user: User,
    achievement: Achievement,
    event_id: Optional[int],
    now: datetime,
    players: Optional[int] = None,
    rarity_out: Optional[dict] = None,
    known_new: bool = False,
) -> Optional[AchievementCompletion]:
    """Record a live completion (once per player), bump rarity incrementally and tell the world.
    `known_new`: the caller read the player's completions under the player's lock (the event path), so
    skip the look-up. `rarity_out` receives {achievement id: rarity after this completion}."""
    if not known_new:
        exists = db.session.execute(
            db.select(AchievementCompletion.id).where(
                AchievementCompletion.user_id == user.id, AchievementCompletion.achievement_id == achievement.id
            )
        ).first()
        if exists:
            return None
    row = AchievementCompletion(
        user_id=user.id, achievement_id=achievement.id, completed_at=now, trigger_event_id=event_id, backdated=False
    )
    db.session.add(row)
    n = players if players is not None else player_count()
    # Incremental and race-free: count + 1 computed by the database, not read-modify-write.
    rarity = db.session.execute(
        update(Achievement)
        .where(Achievement.id == achievement.id)
        .values(
            completion_count=Achievement.completion_count + 1,
            rarity_pct=((Achievement.completion_count + 1) * 100.0 / n) if n else 0.0,
        )
        .returning(Achievement.rarity_pct)
        .execution_options(synchronize_session=False)
    ).scalar()
    if rarity_out is not None:
        rarity_out[achievement.id] = rarity
    payload = {"achievement": achievement.key, "name": achievement.name, "badge": achievement.badge}
    outbox.emit("achievement.completed", user.id, payload, event_id)
    outbox.notify(
        user.id,
        "achievement",
        notices.words("achievement", name=achievement.name)[0],
        achievement.description,
        link=f"/achievements#{achievement.key}",
        message="achievement",
        params={"name": achievement.name},
    )
    return row


def serialize(a, completion: Optional[AchievementCompletion] = None, rarity: Optional[float] = None) -> dict:
    """An Achievement (or its cached AchievementDef, with `rarity` passed in) as JSON."""
    rarity = rarity if rarity is not None else getattr(a, "rarity_pct", None)
    return {
        "key": a.key,
        "name": a.name,
        "description": a.description,
        "badge": a.badge,
        "trigger": a.trigger,
        "rarity_pct": round(rarity or 0.0, 1),
        "completed_at": completion.completed_at.isoformat() if completion else None,
    }


def _active(trigger: str, **where) -> list[Achievement]:
    q = db.select(Achievement).where(Achievement.status == "active", Achievement.trigger == trigger)
    for k, v in where.items():
        q = q.where(getattr(Achievement, k) == v)
    return list(db.session.execute(q).scalars())


def evaluate_event(
    user: User,
    metric_id: int,
    value: float,
    new_total: float,
    attributes: dict,
    streak_length: Optional[int],
    event_id: Optional[int],
    now: datetime,
    rarity_out: Optional[dict] = None,
) -> list:
    """Only achievements that reference this metric or the streak, then composites (from the
    cached configuration snapshot). Returns the AchievementDefs unlocked, in order; `rarity_out` gets
    their rarity after this event."""
    snap = snapshot.get()
    candidates = sorted(snap.active_achievements("metric", metric_id), key=lambda a: a.threshold or 0)
    if streak_length:
        candidates += sorted(snap.active_achievements("streak"), key=lambda a: a.streak_length or 0)
    if not candidates:
        return []
    done = completed_ids(user.id)
    unlocked: list = []
    for a in candidates:
        if a.id in done or not matches(a.attribute_filters, attributes):
            continue
        if a.trigger == "streak":
            reached = streak_length >= (a.streak_length or 0)
        elif a.attribute_filters:
            reached = _bump_progress(user.id, a.id, value, now) >= (a.threshold or 0)
        else:
            reached = new_total >= (a.threshold or 0)
        if reached:
            unlocked.append(a)
    if unlocked:
        players = recent_player_count()
        for a in unlocked:
            complete(user, a, event_id, now, players, rarity_out, known_new=True)
            done.add(a.id)
        unlocked += _composites(user, done, attributes, event_id, now, players, rarity_out, known_new=True)
    return unlocked


def _bump_progress(user_id: int, achievement_id: int, value: float, now: datetime) -> float:
    row = db.session.get(AchievementProgress, (user_id, achievement_id))
    if row is None:
        row = AchievementProgress(user_id=user_id, achievement_id=achievement_id, value=0.0)
        db.session.add(row)
    row.value = (row.value or 0.0) + value
    row.updated_at = now
    return row.value


def _composites(
    user: User,
    done: set[int],
    attributes: dict,
    event_id: Optional[int],
    now: datetime,
    players: int,
    rarity_out: Optional[dict] = None,
    known_new: bool = False,
) -> list[Achievement]:
    """Composites can chain (a composite may require another), so loop until nothing new unlocks."""
    unlocked = []
    composites = snapshot.get().active_achievements("composite")
    changed = True
    while changed:
        changed = False
        for a in composites:
            prereqs = set(a.prerequisite_ids or [])
            if a.id in done or not prereqs or not prereqs <= done or not matches(a.attribute_filters, attributes):
                continue
            complete(user, a, event_id, now, players, rarity_out, known_new)
            done.add(a.id)
            unlocked.append(a)
            changed = True
    return unlocked


def award_via_api(user: User, achievement: Achievement, now: Optional[datetime] = None) -> tuple[bool, list]:
    """Complete an API-type achievement; returns (newly_completed, all unlocked incl. composites)."""
    if achievement.trigger != "api":
        raise AchievementError(
            f"achievement '{achievement.key}' is a {achievement.trigger} achievement; "
            "only 'api' achievements can be completed through the API"
        )
    if achievement.status != "active":
        raise AchievementError(f"achievement '{achievement.key}' is {achievement.status}, not active")
    now = now or utcnow()
    players = player_count()
    if complete(user, achievement, None, now, players) is None:
        return False, []
    done = completed_ids(user.id) | {achievement.id}
    return True, [achievement] + _composites(user, done, dict(user.attributes or {}), None, now, players)


def complete_via_api(user: User, achievement: Achievement, now: Optional[datetime] = None) -> tuple[bool, list, dict]:
    """An API completion with its consequences: (newly completed, every achievement unlocked incl.
    composites, the points their triggers awarded per system as points.evaluate_event answers)."""
    now = now or utcnow()
    created, unlocked = award_via_api(user, achievement, now)
    awarded = points.evaluate_event(
        user, -1, 0, 0, None, [a.id for a in unlocked], dict(user.attributes or {}), None, now
    )
    return created, unlocked, awarded


def progress_for(user: User) -> dict[int, float]:
    """Current progress value per active/locked achievement, for the player's page."""
    totals = dict(
        db.session.execute(
            db.select(MetricTotal.metric_id, MetricTotal.total).where(MetricTotal.user_id == user.id)
        ).all()
    )
    filtered = dict(
        db.session.execute(
            db.select(AchievementProgress.achievement_id, AchievementProgress.value).where(
                AchievementProgress.user_id == user.id
            )
        ).all()
    )
    longest = (
        db.session.execute(
            db.select(func.max(StreakPeriod.length)).where(
                StreakPeriod.user_id == user.id, StreakPeriod.outcome == "extended"
            )
        ).scalar()
        or 0
    )
    done = completed_ids(user.id)
    out = {}
    for a in db.session.execute(db.select(Achievement).where(Achievement.status.in_(("active", "locked")))).scalars():
        if a.trigger == "metric":
            out[a.id] = filtered.get(a.id, 0.0) if a.attribute_filters else totals.get(a.metric_id, 0.0)
        elif a.trigger == "streak":
            out[a.id] = float(longest)
        elif a.trigger == "composite":
            out[a.id] = float(len(set(a.prerequisite_ids or []) & done))
    return out


# ---------------------------------------------------------------------------------------------
# Activation and silent backfill


def backfill_candidates(a: Achievement) -> list[tuple[int, datetime]]:
    """(user_id, when they first qualified) for players who qualify but hold no completion yet."""
    held = db.select(AchievementCompletion.user_id).where(AchievementCompletion.achievement_id == a.id)
    if a.trigger == "metric" and not a.attribute_filters:
        rows = db.session.execute(
            db.select(MetricTotal.user_id, MetricTotal.updated_at).where(
                MetricTotal.metric_id == a.metric_id, MetricTotal.total >= a.threshold, MetricTotal.user_id.not_in(held)
            )
        ).all()
        crossed = _threshold_crossed_at(a, [u for u, _t in rows])
        # The moment the running total first reached the threshold; a total without that history (data
        # imported as totals) falls back to the total's last change.
        return [(u, crossed.get(u, t)) for u, t in rows]
    if a.trigger == "metric":
        return _filtered_metric_candidates(a, held)
    if a.trigger == "streak":
        # From history, so a streak that reached the length and later broke still counts.
        rows = db.session.execute(
            db.select(StreakPeriod.user_id, func.min(StreakPeriod.closed_at))
            .where(
                StreakPeriod.outcome == "extended",
                StreakPeriod.length >= a.streak_length,
                StreakPeriod.user_id.not_in(held),
            )
            .group_by(StreakPeriod.user_id)
        ).all()
        if a.attribute_filters:
            attrs = dict(
                db.session.execute(db.select(User.id, User.attributes).where(User.id.in_([r[0] for r in rows]))).all()
            )
            rows = [r for r in rows if matches(a.attribute_filters, attrs.get(r[0]))]
        return [(u, t) for u, t in rows]
    if a.trigger == "composite":
        prereqs = list(set(a.prerequisite_ids or []))
        if not prereqs:
            return []
        rows = db.session.execute(
            db.select(AchievementCompletion.user_id, func.max(AchievementCompletion.completed_at))
            .where(AchievementCompletion.achievement_id.in_(prereqs), AchievementCompletion.user_id.not_in(held))
            .group_by(AchievementCompletion.user_id)
            .having(func.count(AchievementCompletion.id) == len(prereqs))
        ).all()
        return [(u, t) for u, t in rows]
    return []  # api achievements are only ever awarded by the host app


def _threshold_crossed_at(a: Achievement, user_ids: list[int], chunk: int = 5000) -> dict[int, datetime]:
    """When each player's running total of the metric first reached the threshold, from the event
    history (a window sum in the database, in event order)."""
    out: dict[int, datetime] = {}
    running = func.sum(MetricEvent.value).over(
        partition_by=MetricEvent.user_id, order_by=(MetricEvent.occurred_at, MetricEvent.id)
    )
    for i in range(0, len(user_ids), chunk):
        history = (
            db.select(MetricEvent.user_id, MetricEvent.occurred_at, running.label("running"))
            .where(MetricEvent.metric_id == a.metric_id, MetricEvent.user_id.in_(user_ids[i : i + chunk]))
            .subquery()
        )
        out.update(
            db.session.execute(
                db.select(history.c.user_id, func.min(history.c.occurred_at))
                .where(history.c.running >= a.threshold)
                .group_by(history.c.user_id)
            ).all()
        )
    return out


def _filtered_metric_candidates(a: Achievement, held) -> list[tuple[int, datetime]]:
    """Replay matching events in time order; store progress for everyone, return who crossed."""
    sums: dict[int, float] = {}
    crossed: dict[int, datetime] = {}
    q = (
        db.select(
            MetricEvent.user_id, MetricEvent.value, MetricEvent.attributes, MetricEvent.occurred_at, User.attributes
        )
        .join(User, User.id == MetricEvent.user_id)
        .where(MetricEvent.metric_id == a.metric_id)
        .order_by(MetricEvent.occurred_at, MetricEvent.id)
    )
    for uid, value, ev_attrs, at, user_attrs in db.session.execute(q).yield_per(5000):
        if not matches(a.attribute_filters, {**(user_attrs or {}), **(ev_attrs or {})}):
            continue
        sums[uid] = sums.get(uid, 0.0) + value
        if uid not in crossed and sums[uid] >= a.threshold:
            crossed[uid] = at
    existing = set(
        db.session.execute(
            db.select(AchievementProgress.user_id).where(AchievementProgress.achievement_id == a.id)
        ).scalars()
    )
    now = utcnow()
    for uid, total in sums.items():
        if uid in existing:
            db.session.execute(
                update(AchievementProgress)
                .where(AchievementProgress.user_id == uid, AchievementProgress.achievement_id == a.id)
                .values(value=total)
            )
        else:
            db.session.add(AchievementProgress(user_id=uid, achievement_id=a.id, value=total, updated_at=now))
    holders = set(db.session.execute(held).scalars())
    return [(u, t) for u, t in crossed.items() if u not in holders]


def backfill(a: Achievement, on_progress=None, batch: int = 2000) -> int:
    """Give every qualifying player a backdated completion. Silent (no notifications, webhooks or
    points) and idempotent: players who already hold it are skipped, so a re-run adds nothing."""
    candidates = backfill_candidates(a)
    total = len(candidates)
    done = 0
    for i in range(0, total, batch):
        chunk = candidates[i : i + batch]
        db.session.execute(
            insert(AchievementCompletion),
            [
                {
                    "user_id": u,
                    "achievement_id": a.id,
                    "completed_at": t or utcnow(),
                    "backdated": True,
                    "trigger_event_id": None,
                }
                for u, t in chunk
            ],
        )
        done += len(chunk)
        if on_progress:
            on_progress(done, total)
    if total:
        db.session.execute(
            update(Achievement)
            .where(Achievement.id == a.id)
            .values(
                completion_count=db.select(func.count(AchievementCompletion.id))
                .where(AchievementCompletion.achievement_id == a.id)
                .scalar_subquery()
            )
        )
        refresh_rarity([a.id])
    return total


def activate(achievements: list[Achievement], on_progress=None) -> int:
    """Activate and backfill; tiers (same metric or streak) in ascending order, composites last so
    they see the completions the others just received."""
    order = {"metric": 0, "streak": 1, "api": 2, "composite": 3}
    added = 0
    for a in sorted(achievements, key=lambda a: (order.get(a.trigger, 9), a.threshold or a.streak_length or 0)):
        a.status = "active"
        db.session.flush()
        added += backfill(a, on_progress)
        # Composites already live that need this one can now be held by more players.
        for c in _active("composite"):
            if c.id != a.id and a.id in (c.prerequisite_ids or []):
                added += backfill(c)
    return added


# ---------------------------------------------------------------------------------------------
# Reads and the "seen" mark for the player's achievements page and the API


def by_key(key: str) -> Optional[Achievement]:
    return db.session.execute(db.select(Achievement).where(Achievement.key == key)).scalar_one_or_none()


def recent_completions(user_id: int, limit: int = 5) -> list[AchievementCompletion]:
    return list(
        db.session.execute(
            db.select(AchievementCompletion)
            .where(AchievementCompletion.user_id == user_id)
            .order_by(AchievementCompletion.completed_at.desc(), AchievementCompletion.id.desc())
            .limit(limit)
        ).scalars()
    )


def completions_oldest_first(user_id: int) -> list[AchievementCompletion]:
    return list(
        db.session.execute(
            db.select(AchievementCompletion)
            .where(AchievementCompletion.user_id == user_id)
            .order_by(AchievementCompletion.completed_at)
        ).scalars()
    )


def shown_to_player(
    user_id: int,
) -> tuple[dict[int, AchievementCompletion], list[Achievement], dict[int, Achievement]]:
    """What the player's page lists: (their completions by achievement id, the achievements shown: active
    or locked ones and any they hold, every achievement those name as a prerequisite by id). Retired
    prerequisites are looked up too, so a card can still name them."""
    done = {
        c.achievement_id: c
        for c in db.session.execute(
            db.select(AchievementCompletion).where(AchievementCompletion.user_id == user_id)
        ).scalars()
    }
    shown = list(
        db.session.execute(
            db.select(Achievement)
            .where(db.or_(Achievement.status.in_(("active", "locked")), Achievement.id.in_(list(done) or [-1])))
            .order_by(Achievement.id)
        ).scalars()
    )
    named = {a.id: a for a in shown}
    missing = {pid for a in shown for pid in (a.prerequisite_ids or []) if pid not in named}
    if missing:
        for a in db.session.execute(db.select(Achievement).where(Achievement.id.in_(missing))).scalars():
            named[a.id] = a
    return done, shown, named


def mark_seen(completion_ids: list[int]) -> None:
    """Completions the player has now seen (highlighted as new once)."""
    if completion_ids:
        db.session.execute(
            update(AchievementCompletion).where(AchievementCompletion.id.in_(completion_ids)).values(seen_at=utcnow())
        )
