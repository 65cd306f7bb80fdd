"""JSON API for the host product, authenticated by an API key (X-API-Key or Bearer)."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import params
from ..extensions import csrf, db
from ..services import achievements as achievements_svc
from ..services import apikeys, events, points, streak_pauses, streaks, users
from ..services.achievements import AchievementError
from ..services.events import EventError, EventIn, UserRef
from ..services.users import UserError
from . import openapi
from .openapi import operation
from .schemas import events as s
from .schemas.base import parse, query

bp = Blueprint("api", __name__)
csrf.exempt(bp)


class ApiError(Exception):
    def __init__(self, status: int, field: str | None, message: str, **extra):
        super().__init__(message)
        self.status, self.field, self.message, self.extra = status, field, message, extra


def error_response(status: int, field, message: str, **extra):
    body = {"error": {"message": message, **({"field": field} if field else {}), **extra}}
    return jsonify(body), status


@bp.errorhandler(ApiError)
def _api_error(e: ApiError):
    return error_response(e.status, e.field, e.message, **e.extra)


@bp.errorhandler(EventError)
def _event_error(e: EventError):
    db.session.rollback()
    return error_response(e.status, e.field, str(e), **e.extra)


@bp.errorhandler(UserError)
def _user_error(e: UserError):
    db.session.rollback()
    return error_response(400, e.field, str(e))


@bp.errorhandler(AchievementError)
def _achievement_error(e: AchievementError):
    db.session.rollback()
    return error_response(409, "key", str(e))


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    return error_response(e.code or 500, None, e.description or e.name)


def authenticated_key():
    """The request's API key (X-API-Key, or Authorization: Bearer), verified and its use recorded; None
    when missing or refused. /api/v1 and the Trophy-compatible /trophy/v1 authenticate through it."""
    secret = request.headers.get("X-API-Key")
    auth = request.headers.get("Authorization", "")
    if not secret and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    key = apikeys.verify(secret)
    if key is not None:
        g.api_key = key
        _touch(key)
    return key


def require_api_key(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        key = authenticated_key()
        if key is None:
            raise ApiError(401, "api_key", "missing or invalid API key (send it as X-API-Key)")
        if key.user_external_id is not None:  # made through the Trophy admin API for one user's client
            raise ApiError(403, "api_key", "an application API key acts for one user, through /trophy/v1 only")
        return fn(*args, **kwargs)

    return wrapper


def _touch(key) -> None:
    """Record last use at most once a minute per key (not a write per request)."""
    now = achievements_svc.utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        apikeys.touch(key, now)
        # Its own transaction: the use is recorded even when the request then fails and rolls back.
        db.session.commit()


def json_body() -> dict:
    body = request.get_json(silent=True)
    if body is None:
        if request.data:
            raise ApiError(400, "body", "request body is not valid JSON")
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "body", "request body must be a JSON object")
    try:
        params.check_json(body)
    except params.BadInput as e:
        raise ApiError(400, e.field, str(e)) from e
    return body


@bp.errorhandler(params.BadInput)
def _bad_input(e: params.BadInput):
    db.session.rollback()
    return error_response(400, e.field, str(e))


def user_ref(user: s.UserIn) -> UserRef:
    """The player a body names, as the event pipeline takes it (created on first sight)."""
    return UserRef(user.id, name=user.name, email=user.email, attributes=user.attributes)


def _user_from_body(body: s.UserRefBody, create: bool):
    """The User row named in the body (created on first sight when `create`)."""
    ref = user_ref(body.user)
    if not create:
        user = users.by_external_id(ref.external_id)
        if user is None:
            raise ApiError(404, "user.id", f"unknown user '{ref.external_id}'")
        return user
    try:
        user, _ = users.identify(ref.external_id, name=ref.name, email=ref.email, attributes=ref.attributes)
    except UserError as e:
        raise ApiError(400, f"user.{e.field}", str(e)) from e
    return user


def event_in(metric_key: str, body: s.EventBody, idempotency_header: str | None = None) -> EventIn:
    """One event of the API (single or batch) as the pipeline takes it."""
    return EventIn(
        metric_key,
        user_ref(body.user),
        body.value,
        body.tz,
        body.attributes,
        body.idempotency_key or idempotency_header,
        body.action,
        body.difficulty,
        occurred_at=body.occurred_at,
    )


def _known_user(external_id: str):
    user = users.by_external_id(external_id)
    if user is None:
        raise ApiError(404, "user_id", f"unknown user '{external_id}'")
    g.api_player_control = bool(user.control_group)  # for _say_control, read now (a view may delete the user)
    return user


@bp.after_request
def _say_control(response):
    """Every successful answer about one player (a route with <external_id> that found them) says whether
    they are in the control group, so the host app can hide its own gamification for them. Declared in
    the OpenAPI document for those routes (openapi.CONTROL)."""
    control = g.pop("api_player_control", None)
    if control is None or response.status_code >= 300 or response.mimetype != "application/json":
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "control" not in body:
        body["control"] = control
        response.set_data(current_app.json.dumps(body))
    return response


@bp.get("/openapi.json")
@operation("This API's OpenAPI 3.1 document", responses={200: None}, public=True, tag="meta")
def openapi_json():
    return current_app.response_class(openapi.spec_json(current_app), mimetype="application/json")


@bp.post("/metrics/<key>/event")
@operation(
    "Record a metric event",
    body=s.EventBody,
    responses={201: s.EventOut, 202: s.EventOut},
    errors=(404, 409),
    headers=openapi.IDEMPOTENCY_HEADER,
)
@require_api_key
def metric_event(key: str):
    """Adds `value` to the player's metric and answers what it changed (201), or the first answer again
    for a repeated idempotency key (202). The player is created on first sight."""
    body = parse(s.EventBody, json_body())
    result = events.process_batch([event_in(key, body, request.headers.get("Idempotency-Key"))], commit=False)[0]
    if result.error is not None:
        db.session.rollback()  # nothing of the event was written; nor the player, if new
        raise result.error
    db.session.commit()
    result = result.response
    return jsonify(result), (202 if result["idempotent_replayed"] else 201)


@bp.post("/events")
@operation("Record up to 1,000 events", body=s.BatchBody, responses={200: s.BatchOut})
@require_api_key
def batch_events():
    """Up to 1,000 events in one request and one transaction: {"events": [{"metric": key, "user": {...},
    "value", "attributes", "idempotency_key", "action", "difficulty", "tz"}, ...]}. Answers 200 with one
    result per event, in order: the single endpoint's body plus "status" (201, or 200 for a repeated
    idempotency key), or that event's error ({"status": 4xx, "error": {...}}). A bad event does not sink
    the others; events of one player apply in the order given."""
    items = parse(s.BatchBody, json_body()).events  # a refused event is a BadInput in its place
    results: list = [None] * len(items)
    inputs: list[tuple[int, EventIn]] = []
    now = achievements_svc.utcnow()
    for i, item in enumerate(items):
        if isinstance(item, params.BadInput):
            results[i] = {"status": 400, "error": {"message": str(item), "field": item.field}}
        else:
            ev = event_in(item.metric, item)
            # Stamped by its place in the request, a microsecond apart (as if sent one by one), refused
            # events included: the pipeline would number only the events it is handed.
            ev.now = now + timedelta(microseconds=i)
            inputs.append((i, ev))
    batch = [ev for _i, ev in inputs]
    for (i, _ev), result in zip(inputs, events.process_batch(batch, now=now, commit=True)):
        results[i] = result.as_json()
    return jsonify({"results": results})


def batch_size() -> int:
    """What a request costs against the event rate limit: its number of events (1 for the others). The
    Trophy admin batch (POST /trophy/admin/v1/metrics/events) sends its events as the body's array."""
    body = request.get_json(silent=True)
    items = body.get("events") if isinstance(body, dict) else body
    return max(1, min(len(items), events.MAX_BATCH)) if isinstance(items, list) else 1


@bp.post("/users/<external_id>")
@operation("Create or update a player", body=s.IdentifyBody, responses={200: s.UserOut, 201: s.UserOut}, tag="players")
@require_api_key
def identify(external_id: str):
    body = parse(s.IdentifyBody, json_body())
    if len(external_id) > 128:
        raise ApiError(400, "id", "user id must be at most 128 characters")
    user, created = users.identify(external_id, **profile_fields(body))
    return jsonify(_user_json(user)), (201 if created else 200)


def profile_fields(body: s.IdentifyBody) -> dict:
    """The identify body as users.identify takes it (single and bulk identify)."""
    return {
        "name": body.name,
        "email": body.email,
        "tz": body.tz,
        "attributes": body.attributes,
        "sign_up_date": body.sign_up_date,
        "subscribe_to_emails": body.subscribe_to_emails,
        "device_tokens": body.device_tokens,
    }


def _user_json(user) -> dict:
    return {
        "id": user.external_id,
        "name": user.display_name,
        "email": user.email,
        "tz": user.timezone,
        "attributes": user.attributes or {},
        "sign_up_date": user.sign_up_date.isoformat() if user.sign_up_date else None,
        "subscribe_to_emails": user.subscribe_to_emails is not False,
        "device_tokens": users.device_tokens(user.id),
        "created_at": user.created_at.isoformat(),
        # The control group (Admin → Analytics): the host app hides its gamification UI for them.
        "control": bool(user.control_group),
    }


@bp.get("/users/<external_id>")
@operation("A player", responses={200: s.UserOut}, errors=(404,), tag="players")
@require_api_key
def get_user(external_id: str):
    return jsonify(_user_json(_known_user(external_id)))


@bp.get("/users/<external_id>/streak")
@operation("A player's streak", query=s.StreakQuery, responses={200: s.StreakOut}, errors=(404,), tag="players")
@require_api_key
def user_streak(external_id: str):
    user = _known_user(external_id)
    summary = streaks.summary(user)
    n = query(s.StreakQuery, request.args).history
    periods = streaks.history(user.id)[-n:] if n else []
    summary["history"] = [
        {
            "period_start": p.period_start.isoformat(),
            "period_end": p.period_end.isoformat(),
            "length": p.length,
            "outcome": p.outcome,
            "paused": p.outcome == "paused",
        }
        for p in periods
    ]
    summary["pauses"] = [streak_pauses.as_json(p, user) for p in streak_pauses.upcoming(user)]
    return jsonify(summary)


@bp.get("/users/<external_id>/points/<system_key>")
@operation("A player's points in one system", responses={200: s.PointsOut}, errors=(404,), tag="players")
@require_api_key
def user_points(external_id: str, system_key: str):
    user = _known_user(external_id)
    system = points.system_by_key(system_key)
    if system is None:
        raise ApiError(404, "system", f"unknown points system '{system_key}'")
    return jsonify(points.summary(user, system))


@bp.get("/users/<external_id>/achievements")
@operation("A player's achievements", responses={200: s.AchievementsOut}, errors=(404,), tag="players")
@require_api_key
def user_achievements(external_id: str):
    user = _known_user(external_id)
    rows = achievements_svc.completions_oldest_first(user.id)
    return jsonify(
        {"achievements": [achievements_svc.serialize(c.achievement, c) | {"backdated": c.backdated} for c in rows]}
    )


@bp.post("/achievements/<key>/complete")
@operation(
    "Award an achievement",
    body=s.AchievementCompleteBody,
    responses={201: s.CompleteOut, 202: s.CompleteOut},
    errors=(404, 409),
    tag="players",
)
@require_api_key
def complete_achievement(key: str):
    """201 when awarded now, 202 when the player had it already (nothing changes)."""
    raw = json_body()
    achievement = achievements_svc.by_key(key)
    if achievement is None:
        raise ApiError(404, "key", f"unknown achievement '{key}'")
    user = _user_from_body(parse(s.AchievementCompleteBody, raw), create=True)
    created, unlocked, pts = achievements_svc.complete_via_api(user, achievement)
    return jsonify(
        {
            "completed": created,
            "idempotent_replayed": not created,  # the player had it already: answered, nothing changed
            "achievements": [achievements_svc.serialize(a) for a in unlocked],
            "points": pts,
        }
    ), (201 if created else 202)
