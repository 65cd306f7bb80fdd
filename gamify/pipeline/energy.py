"""Energy in the event pipeline: an event sent as an action ({"action": key, "difficulty": ...}) pays the
action's energy cost in the event's transaction; not enough energy refuses the event (409) and
nothing of it is recorded.

The player's energy row, live boosts, last hour of spending and open reviews are loaded with the
batch; regeneration (`engine.energy.advance`), the cost and the spend are computed in memory. The
refusal happens in `check`, before any feature changed anything, so a refused event in a batch
leaves no trace while the others go on.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import text

from .. import notices, origin
from ..engine import energy as engine
from ..services import energy as energy_svc
from ..services.energy import EnergyError
from . import writes as writes_mod
from .base import EventCtx, Feature, Part, Run
from .sql import DATETIME, FLOAT, INT, TEXT

# The player's energy row as the load returns it: the columns the write upserts (writes.OPS).
_ROW = list(writes_mod.OPS["player_energy"].columns)
_TX_TYPES = energy_svc.SPEND_TYPES + energy_svc.INFLOW_TYPES


def _config(run: Run) -> energy_svc.CachedConfig:
    cached = run.snap.extras.get("energy")
    if cached is None:  # a snapshot built before the energy module registered its loader
        cached = run.state.setdefault("energy_config", energy_svc._load_cached_config())
    return cached


class Energy(Feature):
    name = "energy"

    def load(self, run: Run) -> list[Part]:
        if all(c.action in (None, "") for c in run.ctxs):
            return []  # a replayed action loads what it needs itself (replay)
        return _parts(run.dialect, sorted(run.players), min(c.now for c in run.ctxs))

    def loaded(self, run: Run, rows: dict) -> None:
        if rows:
            _receive(run.players, rows)

    # -- the spend --------------------------------------------------------------------------

    def refuse(self, run: Run, event) -> None:
        _action(run, event.action, event.metric, event.difficulty)

    def check(self, ctx: EventCtx) -> None:
        if ctx.action in (None, ""):
            return
        cached = _config(ctx.run)
        action, difficulty = _action(ctx.run, ctx.action, ctx.metric.key, ctx.difficulty)
        state = ctx.player.state.get("energy")
        if state is None:  # pragma: no cover - loaded whenever the batch has an action
            raise RuntimeError("energy state not loaded")
        s, now = cached.settings, ctx.now
        stored = state["row"]
        row = (
            SimpleNamespace(**vars(stored))
            if stored is not None
            else SimpleNamespace(
                **energy_svc._row_values(ctx.player.id, s, now),
                regen_per_hour=None,
                tick_minutes=None,
                incapacitated_until=None,
            )
        )
        env = _env(row, state, s, cached.cfg, now)
        before = row.current
        new = engine.advance(energy_svc._state(row), env, now)
        regen = None
        if new != energy_svc._state(row):
            ticks = engine.tick_index(new.last_regen_at, env.tick_us) - engine.tick_index(
                row.last_regen_at, env.tick_us
            )
            if new.fatigue_milli != row.fatigue_milli:
                row.fatigue_updated_at = new.last_regen_at
            row.current, row.remainder_milli = new.current, new.remainder_milli
            row.fatigue_milli, row.last_regen_at = new.fatigue_milli, new.last_regen_at
            row.updated_at = now
            if new.current > before:
                regen = (before, new.current, ticks)
        locked = energy_svc._Locked(user=None, row=row, s=s, cfg=cached.cfg, env=env, now=now)
        cost = energy_svc.action_cost(action, difficulty, row.skills or {}, cached.cfg, env.consumption_pct_at(now))
        energy_svc._resting_error(locked, cost)
        if cost > 0 and row.current < cost:
            raise energy_svc._insufficient(locked, cost)
        ctx.scratch["energy"] = (action, difficulty, cost, locked, regen, stored is None)

    def apply(self, ctx: EventCtx) -> None:
        plan = ctx.scratch.get("energy")
        if plan is None:
            return
        action, difficulty, cost, L, regen, _new = plan
        run, uid, now, row = ctx.run, ctx.player.id, ctx.now, L.row
        state = ctx.player.state["energy"]
        if regen is not None:
            before, after, ticks = regen
            _ledger(run, state, uid, "regeneration", after - before, before, after, None, None, {"ticks": ticks}, now)
        before = row.current
        if cost > 0:
            row.current = before - cost
            row.updated_at = now
            gain = engine.fatigue_gain_milli(cost, (row.skills or {}).get("endurance", 0), L.cfg)
            if gain:
                row.fatigue_milli = min(engine.FATIGUE_MAX, (row.fatigue_milli or 0) + gain)
                row.fatigue_updated_at = now
        meta = {"action": action.key, "difficulty": difficulty}
        _ledger(run, state, uid, "consumption", -cost, before, row.current, "metric_event", ctx.event_id, meta, now)
        threshold = L.s.low_threshold
        if cost > 0 and before >= threshold > row.current:
            params = {"current": row.current, "max": L.max}
            run.notify(uid, "energy_low", *notices.words("energy_low", **params), "/energy", now, "energy_low", params)
            run.emit("energy.low", uid, {"current": row.current, "max": L.max, "threshold": threshold}, None, now)
        _full_flag(run, uid, row, L.max, now)
        if cost > 0:
            _review(run, state, uid, L, now)
        state["row"] = row
        _write_row(run, row)
        ctx.scratch["energy_done"] = (action.key, difficulty, cost)
        ctx.response["energy"] = {
            "action": action.key,
            "difficulty": difficulty,
            "cost": cost,
            "spent": cost,
            "before": before,
            "current": row.current,
            "max": L.max,
            "fatigue": round(row.fatigue_milli / engine.MILLI, 1),
            "low": row.current < threshold,
        }

    def replay(self, ctx: EventCtx) -> None:
        """A repeated action spends nothing again: what it cost, and the energy now."""
        prior = ctx.scratch.get("replay_of")
        if prior is not None:
            done = prior.scratch.get("energy_done")
        else:
            done = _stored_spend(ctx)
        if done is None:
            return  # not an action
        state = ctx.player.state.get("energy") or _load_one(ctx.run, ctx.player)
        if state["row"] is None:
            return
        cached = _config(ctx.run)
        row, now = state["row"], ctx.now
        env = _env(row, state, cached.settings, cached.cfg, now)
        st = engine.advance(energy_svc._state(row), env, now)
        max_now = env.max_at(now)
        if st.current >= max_now and not row.full_notified:  # reads announce a fill once, as the pages do
            row.full_notified = True
            _write_row(ctx.run, row)
            _announce_full(ctx.run, ctx.player.id, st.current, max_now, now)
        action, difficulty, cost = done
        ctx.response["energy"] = {
            "action": action,
            "difficulty": difficulty,
            "cost": cost,
            "spent": 0,
            "current": st.current,
            "max": max_now,
            "fatigue": round(st.fatigue_milli / engine.MILLI, 1),
        }


def _action(run: Run, key, metric_key: str, difficulty):
    """The action an event names and its difficulty (None, None: not an action); EventError for an
    unknown action, another metric's action or a difficulty it does not have."""
    if key in (None, ""):
        return None, None
    if not isinstance(key, str):
        raise EnergyError("action", "action must be an action key")
    action = _config(run).actions.get(key)
    if action is None:
        raise EnergyError("action", f"unknown action '{key}'", 404)
    if action.metric_key != metric_key:
        raise EnergyError("action", f"action '{key}' records metric '{action.metric_key}', not '{metric_key}'")
    difficulty, _mult = energy_svc.resolve_difficulty(action, difficulty)
    return action, difficulty


def _stored_spend(ctx: EventCtx):
    """(action, difficulty, cost) of the recorded event a repeated key names, if it was an action (a
    replay is rare: one look-up of its own)."""
    row = ctx.run.conn.execute(
        text(
            "SELECT amount, metadata FROM energy_transactions WHERE user_id = :u AND type = 'consumption' AND "
            "related_type = 'metric_event' AND related_id = :e"
        ),
        {"u": ctx.player.id, "e": ctx.event_id},
    ).first()
    if row is None:
        return None
    meta = json.loads(row[1]) if isinstance(row[1], str) else (row[1] or {})
    return meta.get("action"), meta.get("difficulty"), -row[0]


def _load_one(run: Run, player) -> dict:
    """The energy state of one player, for a replay in a batch that loaded none."""
    rows = run.select([(None, p) for p in _parts(run.dialect, [player.id], run.now)])[None]
    _receive({player.id: player}, rows)
    return player.state["energy"]


def _parts(d, uids: list, now) -> list[Part]:
    """The load statement's energy subqueries for these players."""
    uids = d.list_param(uids)
    types = ", ".join(f"'{t}'" for t in _TX_TYPES)
    return [
        Part(
            "energy_rows",
            [(c, f"pe.{c}", kind) for c, kind in _ROW],
            f"player_energy pe WHERE {d.in_list('pe.user_id', 'uids')}",
            {"uids": uids},
        ),
        # Boosts that matter from min(last regeneration, now) on; the exact cut is made per event.
        Part(
            "energy_boosts",
            [
                ("user_id", "b.user_id", INT),
                ("type", "b.type", TEXT),
                ("effect_value", "b.effect_value", FLOAT),
                ("applied_at", "b.applied_at", DATETIME),
                ("expires_at", "b.expires_at", DATETIME),
            ],
            "player_energy_boosts b LEFT JOIN player_energy pe2 ON pe2.user_id = b.user_id "
            f"WHERE {d.in_list('b.user_id', 'uids')} AND b.type <> 'instant_refill' AND "
            "(b.expires_at IS NULL OR b.expires_at > :energy_now OR b.expires_at > pe2.last_regen_at)",
            {"uids": uids, "energy_now": d.time(now)},
        ),
        # The last hour of spending and top-ups, for the anti-cheat review.
        Part(
            "energy_recent",
            [
                ("user_id", "t.user_id", INT),
                ("type", "t.type", TEXT),
                ("amount", "t.amount", INT),
                ("created_at", "t.created_at", DATETIME),
            ],
            f"energy_transactions t WHERE {d.in_list('t.user_id', 'uids')} AND t.created_at > :energy_since "
            f"AND t.type IN ({types})",
            {"uids": uids, "energy_since": d.time(now - timedelta(hours=1))},
        ),
        Part(
            "energy_reviews",
            [("user_id", "r.user_id", INT)],
            f"energy_reviews r WHERE {d.in_list('r.user_id', 'uids')} AND r.resolved_at IS NULL",
            {"uids": uids},
        ),
    ]


def _receive(players: dict, rows: dict) -> None:
    for p in players.values():
        p.state["energy"] = {"row": None, "boosts": [], "recent": [], "open_review": False}
    for r in rows.get("energy_rows", []):
        players[r["user_id"]].state["energy"]["row"] = SimpleNamespace(**r)
    for r in rows.get("energy_boosts", []):
        players[r.pop("user_id")].state["energy"]["boosts"].append(SimpleNamespace(**r))
    for r in rows.get("energy_recent", []):
        players[r.pop("user_id")].state["energy"]["recent"].append(SimpleNamespace(**r))
    for r in rows.get("energy_reviews", []):
        players[r["user_id"]].state["energy"]["open_review"] = True


def _env(row, state: dict, s, cfg, now) -> engine.Env:
    since = min(row.last_regen_at, now)
    boosts = [b for b in state["boosts"] if b.expires_at is None or b.expires_at > since]
    return energy_svc._env(row, s, cfg, boosts)


def _ledger(
    run: Run,
    state: dict,
    user_id: int,
    type_: str,
    amount: int,
    before: int,
    after: int,
    related_type,
    related_id,
    meta,
    now,
) -> None:
    run.writes.add(
        "energy_transactions",
        {
            "user_id": user_id,
            "type": type_,
            "amount": amount,
            "balance_before": before,
            "balance_after": after,
            "related_type": related_type,
            "related_id": related_id,
            "metadata": meta or {},
            "created_at": now,
            "client_ip": origin.client_ip(),
        },
    )
    if type_ in _TX_TYPES:
        state["recent"].append(SimpleNamespace(type=type_, amount=amount, created_at=now))


def _write_row(run: Run, row) -> None:
    run.writes.add("player_energy", {c: getattr(row, c, None) for c, _kind in _ROW})


def _announce_full(run: Run, user_id: int, current: int, max_energy: int, now) -> None:
    params = {"current": current, "max": max_energy}
    run.notify(user_id, "energy_full", *notices.words("energy_full", **params), "/actions", now, "energy_full", params)
    run.emit("energy.full", user_id, {"current": current, "max": max_energy}, None, now)


def _full_flag(run: Run, user_id: int, row, max_energy: int, now) -> None:
    """The "energy full" flag (see services.energy._after_write): reset below max; a fill by
    regeneration is announced once."""
    if row.current < max_energy:
        row.full_notified = False
    elif not row.full_notified:
        row.full_notified = True
        _announce_full(run, user_id, row.current, max_energy, now)


def _review(run: Run, state: dict, user_id: int, L, now) -> None:
    """The anti-cheat review (engine.spending_review) on the loaded last hour of the ledger."""
    if state["open_review"]:
        return
    since = now - timedelta(hours=1)
    recent = [t for t in state["recent"] if t.created_at > since]
    spent = -sum(t.amount for t in recent if t.type in energy_svc.SPEND_TYPES and t.amount < 0)
    inflow = sum(t.amount for t in recent if t.type in energy_svc.INFLOW_TYPES and t.amount > 0)
    regen = math.ceil(L.env.regen_per_hour * (1 + L.env.regen_pct_at(now) / 100))
    verdict = engine.spending_review(spent, inflow, L.max, regen, L.cfg)
    if verdict is None:
        return
    allowed, reason = verdict
    state["open_review"] = True
    run.writes.add(
        "energy_reviews",
        {
            "user_id": user_id,
            "spent": spent,
            "allowed": allowed,
            "created_at": now,
            "resolved_note": "",
            "reason": reason,
        },
    )
    run.emit("energy.flagged", user_id, {"kind": "spending", "spent": spent, "allowed": allowed}, None, now)
