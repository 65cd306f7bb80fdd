"""Streaks in the event pipeline: the player's streak row and pauses in, the local-calendar rules of
`engine.streaks` applied in memory, the row, closed periods and freeze ledger out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from ..engine import calendar as cal
from ..engine import streaks as engine
from ..services import streaks as streaks_svc
from .base import EventCtx, Feature, Part, Run
from .sql import DATE, DATETIME, INT, JSON

_COLUMNS = [
    ("user_id", "s.user_id", INT),
    ("length", "s.length", INT),
    ("longest", "s.longest", INT),
    ("started_on", "s.started_on", DATE),
    ("last_extended", "s.last_extended", DATE),
    ("last_covered", "s.last_covered", DATE),
    ("progress_period", "s.progress_period", DATE),
    ("progress", "s.progress", JSON),
    ("periods_since_grant", "s.periods_since_grant", INT),
    ("freezes", "s.freezes", INT),
    ("updated_at", "s.updated_at", DATETIME),
]


def state_of(row: dict) -> engine.StreakState:
    return engine.StreakState(
        length=row["length"],
        longest=row["longest"],
        started_on=row["started_on"],
        last_extended=row["last_extended"],
        last_covered=row["last_covered"],
        progress_period=row["progress_period"],
        progress=dict(row["progress"] or {}),
        periods_since_grant=row["periods_since_grant"],
        freezes=row["freezes"],
    )


class Streaks(Feature):
    name = "streaks"

    def load(self, run: Run) -> list[Part]:
        if run.snap.streak is None:
            return []
        d = run.dialect
        uids = d.list_param(sorted(run.players))
        # Pauses that can matter (services.streaks.pause_floor): reaching the last covered period, or the
        # lookback before today in any zone (UTC's date minus a day is on or before every local today).
        floor = run.now.date() - timedelta(days=streaks_svc.PAUSE_LOOKBACK_DAYS + 1)
        return [
            Part(
                "user_streaks",
                _COLUMNS,
                f"user_streaks s WHERE {d.in_list('s.user_id', 'uids')}",
                {"uids": uids},
            ),
            Part(
                "streak_pauses",
                [("user_id", "sp.user_id", INT), ("start_on", "sp.start_on", DATE), ("end_on", "sp.end_on", DATE)],
                f"streak_pauses sp WHERE {d.in_list('sp.user_id', 'uids')} AND (sp.end_on >= :pause_floor OR "
                "sp.end_on >= (SELECT s2.last_covered FROM user_streaks s2 WHERE s2.user_id = sp.user_id))",
                {"uids": uids, "pause_floor": floor if d.pg else floor.isoformat()},
            ),
        ]

    def loaded(self, run: Run, rows: dict) -> None:
        for r in rows.get("user_streaks", []):
            run.players[r["user_id"]].state["streak"] = state_of(r)
        for r in rows.get("streak_pauses", []):
            player = run.players[r["user_id"]]
            player.state["streak_pauses"] = tuple(
                sorted(player.state.get("streak_pauses", ()) + ((r["start_on"], r["end_on"]),))
            )

    def apply(self, ctx: EventCtx) -> None:
        rules = ctx.run.snap.streak
        if rules is None:
            ctx.response["streak"] = None
            return
        state = self._state(ctx, rules)
        pauses = ctx.player.state.get("streak_pauses", ())
        change = engine.record_activity(rules, state, ctx.local_date, ctx.metric.key, ctx.value, pauses)
        self._write(ctx.run, ctx.player.id, change, rules, ctx.tz, ctx.event_id, ctx.now)
        ctx.streak_extended = change.extended
        ctx.streak_length = change.state.length
        ctx.response["streak"] = _response(
            change.state,
            rules,
            ctx.now,
            ctx.player.timezone,
            pauses,
            extended=change.extended,
            frozen=bool(change.freezes_consumed),
        )

    def replay(self, ctx: EventCtx) -> None:
        """The streak as it stands (settled first: a lapsed streak reads as 0, as the API shows it)."""
        rules = ctx.run.snap.streak
        if rules is None:
            return
        state = ctx.player.state.get("streak")
        pauses = ctx.player.state.get("streak_pauses", ())
        if state is not None:
            change = engine.settle(rules, state, cal.local_date(ctx.now, ctx.player.timezone), pauses)
            if change.periods:
                self._write(ctx.run, ctx.player.id, change, rules, ctx.player.timezone, None, ctx.now)
            state = change.state
        ctx.response["streak"] = _response(
            state or engine.StreakState(), rules, ctx.now, ctx.player.timezone, pauses, extended=False, frozen=False
        )

    @staticmethod
    def _state(ctx: EventCtx, rules: engine.StreakRules) -> engine.StreakState:
        state = ctx.player.state.get("streak")
        if state is None:  # first activity of a player created before the streak existed
            initial = min(rules.freeze_initial, rules.freeze_max or rules.freeze_initial)
            state = engine.StreakState(freezes=max(0, initial))
            for _ in range(state.freezes):
                ctx.run.writes.add(
                    "freeze_ledger",
                    {
                        "user_id": ctx.player.id,
                        "delta": 1,
                        "kind": "granted",
                        "reason": "initial grant",
                        "created_at": ctx.now,
                    },
                )
        return state

    @staticmethod
    def _write(
        run: Run,
        user_id: int,
        change: engine.StreakChange,
        rules: engine.StreakRules,
        tz: str,
        event_id: Optional[int],
        now: datetime,
    ) -> None:
        s = change.state
        run.players[user_id].state["streak"] = s
        run.writes.add(
            "user_streaks",
            {
                "user_id": user_id,
                "length": s.length,
                "longest": s.longest,
                "started_on": s.started_on,
                "last_extended": s.last_extended,
                "last_covered": s.last_covered,
                "progress_period": s.progress_period,
                "progress": dict(s.progress),
                "periods_since_grant": s.periods_since_grant,
                "freezes": s.freezes,
                "updated_at": now,
            },
        )
        for p in change.periods:
            # A missed period closed at its local midnight, even when we only notice it later.
            closed = (
                now
                if p.outcome == "extended"
                else min(now, cal.local_midnight_utc(cal.next_period_start(rules.frequency, p.period_start), tz))
            )
            run.writes.add(
                "streak_periods",
                {
                    "user_id": user_id,
                    "period_start": p.period_start,
                    "period_end": p.period_end,
                    "length": p.length,
                    "outcome": p.outcome,
                    "closed_at": closed,
                    "event_id": event_id if p.outcome == "extended" else None,
                },
            )
        for start in change.freezes_consumed:
            run.writes.add(
                "freeze_ledger",
                {
                    "user_id": user_id,
                    "delta": -1,
                    "kind": "consumed",
                    "reason": "missed period",
                    "period_start": start,
                    "created_at": min(now, cal.local_midnight_utc(cal.next_period_start(rules.frequency, start), tz)),
                },
            )
        for _ in range(change.freezes_granted):
            run.writes.add(
                "freeze_ledger",
                {
                    "user_id": user_id,
                    "delta": 1,
                    "kind": "granted",
                    "reason": f"every {rules.freeze_every} periods",
                    "period_start": s.last_extended,
                    "event_id": event_id,
                    "created_at": now,
                },
            )
        if change.broken:
            run.emit("streak.lost", user_id, {"lost_length": change.lost_length}, event_id, now)
        if change.extended:
            run.emit("streak.extended", user_id, {"length": s.length}, event_id, now)


def _response(
    state: engine.StreakState,
    rules: engine.StreakRules,
    now: datetime,
    tz: str,
    pauses: tuple,
    *,
    extended: bool,
    frozen: bool,
) -> dict:
    today = cal.local_date(now, tz)
    current = cal.period_start(rules.frequency, today)
    expires = engine.expires_at(rules, state, today, tz, pauses)
    return {
        "length": state.length,
        "extended": extended,
        "frozen": frozen,
        "paused": engine.paused(rules.frequency, current, pauses),
        "freezes": state.freezes,
        "expires_utc": expires.isoformat() if expires else None,
        "period_start": current.isoformat(),
        "period_end": cal.period_end(rules.frequency, current).isoformat(),
    }
