"""Points in the event pipeline: balances (and today's capped earnings) in, triggers, boosts, caps and
levels of `engine.points` applied in memory, the award ledger, balances and notices out."""

from __future__ import annotations

from datetime import timedelta

from .. import notices
from ..engine import points as engine
from ..engine.filters import matches
from .base import EventCtx, Feature, Part, Run
from .sql import DATE, INT


class Points(Feature):
    name = "points"

    def load(self, run: Run) -> list[Part]:
        if not run.snap.systems:
            return []
        d = run.dialect
        uids = d.list_param(sorted(run.players))
        parts = [
            Part(
                "balances",
                [
                    ("user_id", "b.user_id", INT),
                    ("system_id", "b.system_id", INT),
                    ("balance", "b.balance", INT),
                    ("level_id", "b.level_id", INT),
                ],
                f"points_balances b WHERE {d.in_list('b.user_id', 'uids')}",
                {"uids": uids},
            )
        ]
        capped = sorted(s.id for s in run.snap.systems.values() if s.daily_cap is not None)
        if capped:
            # Earnings of the local days the batch can touch (a local date is within a day of the UTC one).
            days = [c.now.date() for c in run.ctxs]
            types = ", ".join(f"'{t}'" for t in engine.CAPPED_TYPES)
            date_cast = (lambda p: f"CAST(:{p} AS date)") if d.pg else (lambda p: f":{p}")
            parts.append(
                Part(
                    "earned",
                    [
                        ("user_id", "t.user_id", INT),
                        ("system_id", "t.system_id", INT),
                        ("day", "t.local_date", DATE),
                        ("earned", "t.earned", INT),
                    ],
                    "(SELECT a.user_id, a.system_id, a.local_date, sum(a.amount) AS earned FROM points_awards a "
                    f"WHERE {d.in_list('a.user_id', 'uids')} AND {d.in_list('a.system_id', 'capped_systems')} "
                    f"AND a.local_date >= {date_cast('earned_from')} AND a.local_date <= {date_cast('earned_to')} "
                    f"AND a.amount > 0 AND a.trigger_type IN ({types}) "
                    "GROUP BY a.user_id, a.system_id, a.local_date) AS t",
                    {
                        "uids": uids,
                        "capped_systems": d.list_param(capped),
                        "earned_from": (min(days) - timedelta(days=1)).isoformat(),
                        "earned_to": (max(days) + timedelta(days=1)).isoformat(),
                    },
                )
            )
        return parts

    def loaded(self, run: Run, rows: dict) -> None:
        for p in run.players.values():
            p.state["balances"] = {}
            p.state["earned"] = {}
        for r in rows.get("balances", []):
            run.players[r["user_id"]].state["balances"][r["system_id"]] = [r["balance"], r["level_id"]]
        for r in rows.get("earned", []):
            run.players[r["user_id"]].state["earned"][(r["system_id"], r["day"])] = r["earned"]

    def apply(self, ctx: EventCtx) -> None:
        snap = ctx.run.snap
        fired: list = []
        for t in snap.triggers_of("metric"):
            if t.metric_id == ctx.metric.id:
                base = engine.metric_trigger_amount(t.points, t.per_units, ctx.old_total, ctx.new_total)
                if base:
                    fired.append((t, base))
        if ctx.streak_extended and ctx.streak_length:
            fired += engine.streak_triggers(snap.triggers, ctx.streak_length)
        for a in ctx.unlocked:
            fired += [(t, t.points) for t in snap.triggers_of("achievement") if t.achievement_id == a.id]
        out: dict = {}
        balances = ctx.player.state.setdefault("balances", {})
        for t, base in fired:
            if not matches(t.attribute_filters, ctx.attributes):
                continue
            system = snap.systems[t.system_id]
            added, total, level = self._award(ctx, system, base, t)
            entry = out.setdefault(system.key, {"added": 0, "total": total})
            entry["added"] += added
            entry["total"] = total
            if level is not None:
                entry["level"] = level[0]
        for system in snap.systems.values():
            out.setdefault(system.key, {"added": 0, "total": balances.get(system.id, [0])[0]})
        ctx.points = out
        ctx.response["points"] = out

    def replay(self, ctx: EventCtx) -> None:
        balances = ctx.player.state.setdefault("balances", {})
        ctx.response["points"] = {
            s.key: {"added": 0, "total": balances.get(s.id, [0])[0]} for s in ctx.run.snap.systems.values()
        }

    @staticmethod
    def _award(ctx: EventCtx, system, base: int, trigger) -> tuple[int, int, object]:
        """One trigger's award: (added, new total, (level json,) when the level changed, else None)."""
        run, player, now = ctx.run, ctx.player, ctx.now
        balances = player.state.setdefault("balances", {})
        earned = player.state.setdefault("earned", {})
        if system.id not in balances:
            balances[system.id] = [0, None]
            run.writes.add(
                "points_balances",
                {"user_id": player.id, "system_id": system.id, "balance": 0, "level_id": None, "updated_at": now},
            )
        row = balances[system.id]
        boosts = (
            [
                b
                for b in run.snap.boosts
                if b.system_id == system.id
                and b.starts_at <= now < b.ends_at
                and matches(b.attribute_filters, ctx.attributes)
            ]
            if base > 0
            else []
        )
        day = ctx.local_date
        amount, multiplier = engine.award(
            base, boosts, row[0], earned.get((system.id, day), 0), system.daily_cap, system.max_balance
        )
        if amount == 0 and base == 0:
            return 0, row[0], None
        run.writes.add(
            "points_awards",
            {
                "user_id": player.id,
                "system_id": system.id,
                "amount": amount,
                "base_amount": base,
                "boost_multiplier": multiplier,
                "trigger_type": trigger.type,
                "trigger_id": trigger.id,
                "source_event_id": ctx.event_id,
                "reason": f"{trigger.type} trigger #{trigger.id}",
                "local_date": day,
                "awarded_at": now,
            },
        )
        if amount == 0:
            return 0, row[0], None  # capped to nothing: the ledger says so, the balance stays
        if amount > 0 and trigger.type in engine.CAPPED_TYPES:
            earned[(system.id, day)] = earned.get((system.id, day), 0) + amount
        row[0] += amount
        run.emit(
            "points.changed", player.id, {"system": system.key, "added": amount, "total": row[0]}, ctx.event_id, now
        )
        level = engine.level_for(system.levels, row[0])
        new_level_id = level.id if level else None
        changed = None
        if new_level_id != row[1]:
            old_id, row[1] = row[1], new_level_id
            payload = engine.level_changed_payload(system.key, system.levels, old_id, level)
            changed = (payload["new_level"],)
            run.emit("points.level_changed", player.id, payload, ctx.event_id, now)
            if level and (old_id is None or amount > 0):
                params = {"system": system.name, "level": level.name}
                title = notices.words("level_up", **params)[0]
                run.notify(player.id, "level_up", title, "", "/points", now, "level_up", params)
        run.writes.add(
            "points_balances",
            {"user_id": player.id, "system_id": system.id, "balance": row[0], "level_id": row[1], "updated_at": now},
        )
        return amount, row[0], changed
