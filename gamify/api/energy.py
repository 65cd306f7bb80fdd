"""Energy API routes, attached to the shared `api` blueprint (/api/v1). Imported in features.py before the
blueprint is registered. EnergyError is an EventError, so the blueprint's handler answers it
({"error": {"message", "field", ...extra}}) and rolls the transaction back."""

from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request

from ..models._common import utcnow
from ..services import energy
from . import _known_user, bp, json_body, require_api_key, user_ref
from .openapi import IDEMPOTENCY_HEADER, operation
from .schemas import energy as s
from .schemas.base import parse, query


@bp.get("/users/<external_id>/energy")
@operation("A player's energy", responses={200: s.EnergyOut}, errors=(404,), tag="energy")
@require_api_key
def user_energy(external_id: str):
    user = _known_user(external_id)
    body = energy.status(user)
    return jsonify(body)


@bp.get("/users/<external_id>/energy/transactions")
@operation(
    "A player's energy ledger (newest first)",
    query=s.TransactionsQuery,
    responses={200: s.TransactionsOut},
    errors=(404,),
    tag="energy",
)
@require_api_key
def user_energy_transactions(external_id: str):
    user = _known_user(external_id)
    p = energy.history(user, query(s.TransactionsQuery, request.args).page)
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
@operation("Buy energy with tokens", body=s.RefillBody, responses={200: s.RefillOut}, errors=(404, 409), tag="energy")
@require_api_key
def user_energy_refill(external_id: str):
    body = parse(s.RefillBody, json_body())
    user = _known_user(external_id)
    result = energy.refill(user, body.tokens)
    return jsonify(result)


@bp.post("/users/<external_id>/energy/boosts/<key>")
@operation("Buy and apply a boost", responses={201: s.BoostAppliedOut}, errors=(404, 409), tag="energy")
@require_api_key
def user_energy_boost(external_id: str, key: str):
    user = _known_user(external_id)
    pb = energy.apply_boost(user, key)
    return jsonify({"boost": energy.boost_json(pb), "energy": energy.status(user)}), 201


@bp.put("/users/<external_id>/energy/skills")
@operation("Set skill levels", body=s.SkillsBody, responses={200: s.SkillsOut}, errors=(404, 409), tag="energy")
@require_api_key
def user_energy_skills(external_id: str):
    raw = json_body()
    user = _known_user(external_id)
    skills = energy.set_skills(user, parse(s.SkillsBody, raw).skills)
    return jsonify({"skills": skills})


@bp.put("/users/<external_id>/energy/tier")
@operation("Set the premium tier", body=s.TierBody, responses={200: s.TierOut}, errors=(404, 409), tag="energy")
@require_api_key
def user_energy_tier(external_id: str):
    body = parse(s.TierBody, json_body())
    user = _known_user(external_id)
    result = energy.set_premium(user, body.premium)
    return jsonify(result)


@bp.post("/users/<external_id>/energy/rest")
@operation(
    "Rest (no actions) for a while", body=s.RestBody, responses={200: s.EnergyOut}, errors=(404, 409), tag="energy"
)
@require_api_key
def user_energy_rest(external_id: str):
    """{"minutes": 30, "reason": "hospital"} or {"until": ISO-8601} or {"minutes": 0} to end it."""
    body = parse(s.RestBody, json_body())
    until = body.until
    if until is None and body.minutes:
        until = utcnow() + timedelta(minutes=body.minutes)
    user = _known_user(external_id)
    energy.set_resting(user, until, body.reason)
    return jsonify(energy.status(user))


@bp.post("/users/<external_id>/energy/adjust")
@operation("Add or take energy", body=s.AdjustBody, responses={200: s.AdjustOut}, errors=(404, 409), tag="energy")
@require_api_key
def user_energy_adjust(external_id: str):
    body = parse(s.AdjustBody, json_body())
    user = _known_user(external_id)
    result = energy.adjust(user, body.amount, body.reason)
    return jsonify(result)


@bp.get("/actions")
@operation("The action catalogue", query=s.ActionsQuery, responses={200: s.ActionsOut}, errors=(404,), tag="energy")
@require_api_key
def list_actions():
    """The action catalogue; with ?user_id= the costs are that player's (skills and boosts applied)."""
    actions = energy.list_actions()
    costs = None
    uid = query(s.ActionsQuery, request.args).user_id
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
@operation(
    "Perform an action (spend energy, record its event)",
    body=s.ActionBody,
    responses={201: s.EventOut, 202: s.EventOut},
    errors=(404, 409),
    headers=IDEMPOTENCY_HEADER,
)
@require_api_key
def perform_action(key: str):
    """Body: {"user": {"id": ...}, "difficulty": "hard", "idempotency_key": ...}. Spends the action's energy
    and records its metric event in one transaction: 201 with the event response (plus "energy"), or 409
    with required/available/seconds_until_enough and nothing recorded."""
    body = parse(s.ActionBody, json_body())
    idem = body.idempotency_key or request.headers.get("Idempotency-Key")
    action = energy.get_action(key)  # 404 before the user is created
    energy.resolve_difficulty(action, body.difficulty)
    result = energy.perform_action(user_ref(body.user), key, body.difficulty, idempotency_key=idem)
    return jsonify(result), (202 if result.get("idempotent_replayed") else 201)
