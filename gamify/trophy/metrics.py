"""Trophy's metric events and a user's metrics.

    POST /trophy/v1/metrics/{key}/event          record an event (Idempotency-Key header): 201, 202 on replay
    GET  /trophy/v1/users/{id}/metrics           the user's total in every metric, with its achievements
    GET  /trophy/v1/users/{id}/metrics/{key}     one metric
    GET  /trophy/v1/users/{id}/metrics/{key}/event-summary   per day/week/month (services/summaries.py)

The event goes through the event pipeline exactly as /api/v1's does (one transaction: streak,
achievements, points, leaderboards); this module only reads its result back in Trophy's shape.
"""

from __future__ import annotations

from datetime import datetime

from flask import request

from ..extensions import db
from ..models import Achievement, Leaderboard, Metric, MetricTotal, PointsAward, User
from ..models._common import utcnow
from ..services import events, streaks, summaries, users
from ..services import leaderboards as lb
from . import schemas as s
from . import shapes
from .base import TrophyError, answer, body, bp, not_found, query, require_key
from .users import apply_extras, known_user


@bp.post("/metrics/<key>/event")
@require_key
def metric_event(key: str):
    """Adds `value` to the user's metric (the user is created on first sight). A repeated
    Idempotency-Key changes nothing and answers 202 with the current state and idempotentReplayed."""
    data = body(s.EventIn)
    idempotency_key = request.headers.get("Idempotency-Key") or None
    u = data.user
    ref = events.UserRef(u.id, name=u.name, email=u.email, attributes=u.attributes)
    now = utcnow()
    result = events.process_batch(
        [events.EventIn(key, ref, data.value, u.tz, data.attributes, idempotency_key)], now=now, commit=False
    )[0]
    if result.error is not None:
        db.session.rollback()  # nothing of the event was written; nor the user, if new
        raise result.error
    user = users.by_external_id(u.id)
    apply_extras(user, u)
    db.session.commit()
    out = event_out(user, key, result.response, idempotency_key, now)
    return answer(out, 202 if out.idempotent_replayed else 201)


def event_out(user: User, metric_key: str, r: dict, idempotency_key, now: datetime) -> s.EventOut:
    """The pipeline's answer for one event (committed) as Trophy's EventResponse."""
    metric = db.session.execute(db.select(Metric).where(Metric.key == metric_key)).scalar_one()
    replayed = bool(r["idempotent_replayed"])
    keys = [a["key"] for a in r.get("achievements") or []]
    unlocked = list(db.session.execute(db.select(Achievement).where(Achievement.key.in_(keys or ["-"]))).scalars())
    done = shapes.completions_of(user.id, [a.id for a in unlocked])
    unlocked.sort(key=lambda a: keys.index(a.key))
    awards = list(
        db.session.execute(db.select(PointsAward).where(PointsAward.source_event_id == r["event_id"])).scalars()
    )
    fields = {
        "event_id": str(r["event_id"]),
        "metric_id": str(metric.id),
        "total": r["metric_total"],
        "achievements": [shapes.user_achievement(a, done.get(a.id)) for a in unlocked],
        "current_streak": _event_streak(user, r.get("streak"), now),
        "points": shapes.event_points(user, r.get("points") or {}, awards, replayed),
        "leaderboards": _event_leaderboards(user, r.get("leaderboards") or [], now),
        "idempotent_replayed": replayed,
    }
    if idempotency_key is not None:
        fields["idempotency_key"] = idempotency_key
    return s.EventOut(**fields)


def _event_streak(user: User, block, now: datetime) -> s.EventStreakOut:
    rules, state = streaks.current_state(user, now)
    spans = streaks.pause_spans(user, state, now) if rules is not None else ()
    return s.EventStreakOut(
        **shapes.streak_fields(user, rules, state, now, spans), extended=bool(block and block.get("extended"))
    )


def _event_leaderboards(user: User, entries: list[dict], now: datetime) -> dict[str, s.EventLeaderboardOut]:
    """The boards the event put the user on, by key: the whole board's ranking (gamify also ranks each
    breakdown segment; the user's values for those attributes are listed)."""
    mine = [e for e in entries if e["segment"] == lb.GLOBAL]
    boards = {
        b.key: b
        for b in db.session.execute(
            db.select(Leaderboard).where(Leaderboard.key.in_([e["key"] for e in mine] or ["-"]))
        ).scalars()
    }
    out = {}
    for e in mine:
        board = boards.get(e["key"])
        if board is None:
            continue
        start, end = shapes.run_bounds(board, e["period"])
        fields = {
            **shapes.board_fields(board, now),
            "start": start,
            "end": end,
            "rank": e.get("rank"),
            "previous_rank": e.get("previous_rank"),
            "threshold": _threshold(board, e["period"]),
        }
        if board.breakdown:
            attrs = user.attributes or {}
            fields["breakdown_attribute_values"] = [
                s.PairOut(key=k, value=shapes.text_value(attrs[k])) for k in board.breakdown if attrs.get(k) is not None
            ]
        out[board.key] = s.EventLeaderboardOut(**fields)
    return out


def _threshold(board: Leaderboard, period: str) -> int:
    """The value that enters the board now: the last ranked score once the top N is full, else 0."""
    top = board.participant_limit
    page = lb.rankings(board, period, lb.GLOBAL, offset=max(top - 1, 0), limit=1)
    if page["participants"] < top or not page["entries"]:
        return 0
    return shapes.board_value(page["entries"][0]["score"])


# ------------------------------------------------------------------------------------------ a user's metrics


def metric_out(user: User, metric: Metric, total: float, done: dict) -> s.MetricOut:
    achievements = db.session.execute(
        db.select(Achievement)
        .where(Achievement.trigger == "metric", Achievement.metric_id == metric.id)
        .order_by(Achievement.threshold, Achievement.id)
    ).scalars()
    return s.MetricOut(
        id=str(metric.id),
        key=metric.key,
        name=metric.name,
        current=total,
        achievements=[
            shapes.user_achievement(a, done.get(a.id)) for a in achievements if shapes.visible(a, done.get(a.id))
        ],
    )


def _totals(user: User) -> dict[int, float]:
    rows = db.session.execute(
        db.select(MetricTotal.metric_id, MetricTotal.total).where(MetricTotal.user_id == user.id)
    ).all()
    return dict(rows)


@bp.get("/users/<external_id>/metrics")
@require_key
def user_metrics(external_id: str):
    user = known_user(external_id)
    totals, done = _totals(user), shapes.completions_of(user.id)
    metrics = db.session.execute(db.select(Metric).order_by(Metric.id)).scalars()
    return answer([metric_out(user, m, totals.get(m.id, 0.0), done) for m in metrics])


@bp.get("/users/<external_id>/metrics/<key>")
@require_key
def user_metric(external_id: str, key: str):
    user = known_user(external_id)
    metric = db.session.execute(db.select(Metric).where(Metric.key == key)).scalar_one_or_none()
    if metric is None:
        raise not_found("metric", key)
    return answer(metric_out(user, metric, _totals(user).get(metric.id, 0.0), shapes.completions_of(user.id)))


def check_window(q: s.SummaryQuery) -> None:
    if q.start_date > q.end_date:
        raise TrophyError(422, "startDate must not be after endDate")
    if (q.end_date - q.start_date).days > summaries.MAX_DAYS:
        raise TrophyError(422, f"the date range must not exceed {summaries.MAX_DAYS} days")


def summary_out(points: list) -> list[s.SummaryPointOut]:
    return [s.SummaryPointOut(date=p.start.isoformat(), total=p.total, change=p.change) for p in points]


@bp.get("/users/<external_id>/metrics/<key>/event-summary")
@require_key
def metric_event_summary(external_id: str, key: str):
    """The metric per day, week or month of the user's local calendar: change and total at the end."""
    user = known_user(external_id)
    metric = db.session.execute(db.select(Metric).where(Metric.key == key)).scalar_one_or_none()
    if metric is None:
        raise not_found("metric", key)
    q = query(s.SummaryQuery)
    check_window(q)
    return answer(summary_out(summaries.metric_summary(user.id, metric.id, q.aggregation, q.start_date, q.end_date)))
