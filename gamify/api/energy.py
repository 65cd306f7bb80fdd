"""Energy API routes, attached to the shared `api` blueprint (/api/v1). Imported in features.py before the
blueprint is registered. EnergyError is an EventError, so the blueprint's handler answers it
({"error": {"message", "field", ...extra}}) and rolls the transaction back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import jsonify, request

from .. import params
from ..models._common import utcnow
from ..params import MAX_INT
from ..services import energy
from . import ApiError, _known_user, _user_ref, bp, json_body, require_api_key


def _int_field(body: dict, name: str, required: bool = True, default=None):
    v = body.get(name, default)
    if v is None:
        if required:
            raise ApiError(400, name, f"{name} is required")
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not -MAX_INT <= v <= MAX_INT:
        raise ApiError(400, name, f"{name} must be a whole number from {-MAX_INT} to {MAX_INT}")
    return v


@bp.get("/users/<external_id>/energy")
@require_api_key
def user_energy(external_id: str):
    user = _known_user(external_id)
    body = energy.status(user)
    return jsonify(body)


@bp.get("/users/<external_id>/energy/transactions")
@require_api_key
def user_energy_transactions(external_id: str):
    user = _known_user(external_id)
    try:
        page = params.int_arg(request.args, "page", 1, 1, params.MAX_PAGE)
    except params.BadNumber as e:
        raise ApiError(400, e.field, str(e)) from e
    p = energy.history(user, page)
    return jsonify(
        {
            "page": p.page,
            "pages": p.pages,
            "total": p.total,
            "per_page": p.per_page,
            "transactions": [energy.transaction_json(t) for t in p.items],
        }
    )


@bp.post("/users/<external_id>/energy/refill")
@require_api_key
def user_energy_refill(external_id: str):
    body = json_body()
    tokens = _int_field(body, "tokens")
    user = _known_user(external_id)
    result = energy.refill(user, tokens)
    return jsonify(result)


@bp.post("/users/<external_id>/energy/boosts/<key>")
@require_api_key
def user_energy_boost(external_id: str, key: str):
    user = _known_user(external_id)
    pb = energy.apply_boost(user, key)
    return jsonify({"boost": energy.boost_json(pb), "energy": energy.status(user)}), 201


@bp.put("/users/<external_id>/energy/skills")
@require_api_key
def user_energy_skills(external_id: str):
    body = json_body()
    user = _known_user(external_id)
    skills = energy.set_skills(user, body.get("skills"))
    return jsonify({"skills": skills})


@bp.put("/users/<external_id>/energy/tier")
@require_api_key
def user_energy_tier(external_id: str):
    body = json_body()
    premium = body.get("premium")
    if not isinstance(premium, bool):
        raise ApiError(400, "premium", "premium must be true or false")
    user = _known_user(external_id)
    result = energy.set_premium(user, premium)
    return jsonify(result)


@bp.post("/users/<external_id>/energy/rest")
@require_api_key
def user_energy_rest(external_id: str):
    """{"minutes": 30, "reason": "hospital"} or {"until": ISO-8601} or {"minutes": 0} to end it."""
    body = json_body()
    until = None
    if "until" in body and body["until"] is not None:
        try:
            until = datetime.fromisoformat(str(body["until"]).replace("Z", "+00:00"))
        except ValueError:
            raise ApiError(400, "until", "until must be an ISO-8601 date-time with a UTC offset") from None
        if until.tzinfo is None:
            raise ApiError(400, "until", "until must include a UTC offset (e.g. 2026-01-01T12:00:00Z)")
        if not 2000 <= until.year <= 2200:  # year 1 or 9999 overflow once the offset is applied
            raise ApiError(400, "until", "until must be a date-time between the years 2000 and 2200")
        until = until.astimezone(timezone.utc)
    else:
        minutes = _int_field(body, "minutes")
        if not 0 <= minutes <= 60 * 24 * 365:
            raise ApiError(400, "minutes", "minutes must be from 0 to 525600")
        until = utcnow() + timedelta(minutes=minutes) if minutes else None
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 120:
        raise ApiError(400, "reason", "reason must be a string of at most 120 characters")
    user = _known_user(external_id)
    energy.set_resting(user, until, reason)
    return jsonify(energy.status(user))


@bp.post("/users/<external_id>/energy/adjust")
@require_api_key
def user_energy_adjust(external_id: str):
    body = json_body()
    amount = _int_field(body, "amount")
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 200:
        raise ApiError(400, "reason", "reason must be a string of at most 200 characters")
    user = _known_user(external_id)
    result = energy.adjust(user, amount, reason)
    return jsonify(result)


@bp.get("/actions")
@require_api_key
def list_actions():
    """The action catalogue; with ?user_id= the costs are that player's (skills and boosts applied)."""
    actions = energy.list_actions()
    costs = None
    uid = request.args.get("user_id")
    if uid:
        costs = energy.action_costs(_known_user(uid), actions)
    else:
        costs = {
            a.key: (
                {d: energy.action_cost(a, d, {}, energy.config(energy.get_settings())) for d in (a.difficulties or {})}
                or {"": energy.action_cost(a, None, {}, energy.config(energy.get_settings()))}
            )
            for a in actions
        }
    return jsonify(
        {
            "actions": [
                {
                    "key": a.key,
                    "name": a.name,
                    "description": a.description,
                    "base_cost": a.base_cost,
                    "difficulties": a.difficulties or {},
                    "skill_reductions": a.skill_reductions or {},
                    "metric": a.metric_key,
                    "value": a.metric_value,
                    "cost": costs[a.key].get("") if "" in costs[a.key] else None,
                    "costs": {k: v for k, v in costs[a.key].items() if k},
                }
                for a in actions
            ]
        }
    )


@bp.post("/actions/<key>")
@require_api_key
def perform_action(key: str):
    """Body: {"user": {"id": ...}, "difficulty": "hard", "idempotency_key": ...}. Spends the action's energy
    and records its metric event in one transaction: 201 with the event response (plus "energy"), or 409
    with required/available/seconds_until_enough and nothing recorded."""
    body = json_body()
    difficulty = body.get("difficulty")
    if difficulty is not None and not isinstance(difficulty, str):
        raise ApiError(400, "difficulty", "difficulty must be a string")
    idem = body.get("idempotency_key") or request.headers.get("Idempotency-Key")
    action = energy.get_action(key)  # 404 before the user is created
    energy.resolve_difficulty(action, difficulty)
    result = energy.perform_action(_user_ref(body), key, difficulty, idempotency_key=idem)
    return jsonify(result), (202 if result.get("idempotent_replayed") else 201)
