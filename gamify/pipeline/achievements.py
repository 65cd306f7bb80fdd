"""Achievements in the event pipeline: the player's completions and filtered progress in, the unlock
rules of `engine.achievements` applied in memory, completions, counts and notices out.

Rarity is the share of players holding an achievement. The completion count lives on the achievement
row and moves by one statement per batch (`achievement_counts`, returning the new counts), so
concurrent events never lose a count; each unlock's rarity is then the count it brought the
achievement to over the players that existed at that event, as if the events had been sent one by
one (players a batch creates count from their first event on).
"""

from __future__ import annotations

from .. import notices
from ..engine import achievements as engine
from ..services import achievements as achievements_svc
from .base import EventCtx, Feature, Part, Run
from .sql import FLOAT, INT


class Achievements(Feature):
    name = "achievements"

    def load(self, run: Run) -> list[Part]:
        if not any(a.status == "active" for a in run.snap.achievements):
            return []
        d = run.dialect
        uids = d.list_param(sorted(run.players))
        parts = [
            Part(
                "completions",
                [("user_id", "c.user_id", INT), ("achievement_id", "c.achievement_id", INT)],
                f"achievement_completions c WHERE {d.in_list('c.user_id', 'uids')}",
                {"uids": uids},
            )
        ]
        filtered = sorted(
            a.id
            for a in run.snap.achievements
            if a.status == "active" and a.trigger == "metric" and a.attribute_filters
        )
        if filtered:
            parts.append(
                Part(
                    "progress",
                    [
                        ("user_id", "p.user_id", INT),
                        ("achievement_id", "p.achievement_id", INT),
                        ("value", "p.value", FLOAT),
                    ],
                    f"achievement_progress p WHERE {d.in_list('p.user_id', 'uids')} AND "
                    f"{d.in_list('p.achievement_id', 'filtered_achievements')}",
                    {"uids": uids, "filtered_achievements": d.list_param(filtered)},
                )
            )
        return parts

    def loaded(self, run: Run, rows: dict) -> None:
        for p in run.players.values():
            p.state["completed"] = set()
            p.state["progress"] = {}
        for r in rows.get("completions", []):
            run.players[r["user_id"]].state["completed"].add(r["achievement_id"])
        for r in rows.get("progress", []):
            run.players[r["user_id"]].state["progress"][r["achievement_id"]] = r["value"]
        run.state["achievements"] = {"counts": {}, "unlocks": []}

    def apply(self, ctx: EventCtx) -> None:
        run, player = ctx.run, ctx.player
        snap = run.snap
        done = player.state.setdefault("completed", set())
        progress = player.state.setdefault("progress", {})
        outcome = engine.evaluate(
            metric_achievements=snap.active_achievements("metric", ctx.metric.id),
            streak_achievements=snap.active_achievements("streak") if ctx.streak_extended else [],
            composites=snap.active_achievements("composite"),
            done=done,
            progress=progress,
            value=ctx.value,
            new_total=ctx.new_total,
            streak_length=ctx.streak_length if ctx.streak_extended else None,
            attributes=ctx.attributes,
        )
        for aid, value in outcome.progress.items():
            progress[aid] = value
            run.writes.add(
                "achievement_progress",
                {"user_id": player.id, "achievement_id": aid, "value": value, "updated_at": ctx.now},
            )
        ctx.unlocked = outcome.unlocked
        ctx.response["achievements"] = []
        if not outcome.unlocked:
            return
        state = run.state["achievements"]
        if "players" not in state:
            state["players"] = achievements_svc.recent_player_count()  # new players of the batch included
        players_now = state["players"] - run.players_created_after(ctx)
        for a in outcome.unlocked:
            done.add(a.id)
            run.writes.add(
                "completions",
                {
                    "user_id": player.id,
                    "achievement_id": a.id,
                    "completed_at": ctx.now,
                    "trigger_event_id": ctx.event_id,
                    "backdated": False,
                },
            )
            ordinal = state["counts"].get(a.id, 0) + 1
            state["counts"][a.id] = ordinal
            run.writes.add("achievement_counts", {"id": a.id, "n": ordinal, "players": state["players"]})
            body = achievements_svc.serialize(a, rarity=0.0) | {"completed_at": ctx.now.isoformat()}
            state["unlocks"].append((a.id, ordinal, body, players_now))
            ctx.response["achievements"].append(body)
            run.emit(
                "achievement.completed",
                player.id,
                {"achievement": a.key, "name": a.name, "badge": a.badge},
                ctx.event_id,
                ctx.now,
            )
            run.notify(
                player.id,
                "achievement",
                notices.words("achievement", name=a.name)[0],
                a.description,
                f"/achievements#{a.key}",
                ctx.now,
                "achievement",
                {"name": a.name},
            )

    def written(self, run: Run, returned: list) -> None:
        state = run.state.get("achievements")
        if not state or not state["unlocks"]:
            return
        final = {aid: count for aid, count in returned}
        for aid, ordinal, body, players in state["unlocks"]:
            count = final[aid] - state["counts"][aid] + ordinal  # the count this completion brought it to
            body["rarity_pct"] = round(engine.rarity_pct(count, players), 1)
