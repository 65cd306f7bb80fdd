"""A typed Python client for gamify's JSON API (/api/v1).

Every method is one operation of the API's OpenAPI document (`OPERATIONS` maps each to its operationId,
method and path) and answers the pydantic model the server declares for it: the same classes the
document is generated from (gamify/api/schemas/), so the client, the document and the server cannot
drift apart. tests/integration/test_client.py checks the table against the served document, both ways.

    from gamify.client import Client, GamifyError

    api = Client.http("https://gamify.example.com", api_key)
    result = api.send_event("lessons", "u-42", value=1, idempotency_key="lesson-981")
    result.metric_total, result.achievements
    try:
        api.user("nobody")
    except GamifyError as e:
        e.status, e.field, e.message            # 404, "user_id", "unknown user 'nobody'"

`Client.in_app(app, api_key)` calls a Flask app in-process (no socket): the demo seeding uses it.
Answers keep keys the models do not name (they are `extra="allow"`), e.g. `control` on every answer about
a player."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Protocol, Union
from urllib.parse import quote

from pydantic import BaseModel

from .api.schemas import achievements as ach
from .api.schemas import analytics as an
from .api.schemas import devices as dv
from .api.schemas import energy as en
from .api.schemas import events as ev
from .api.schemas import leaderboard_history as lh
from .api.schemas import leaderboards as lb
from .api.schemas import notifications as no
from .api.schemas import players as pl
from .api.schemas import points as pt
from .api.schemas import social as so
from .api.schemas import streaks as st

PREFIX = "/api/v1"


class GamifyError(Exception):
    """An answer outside 2xx: the status, and the error body's field and message."""

    def __init__(self, status: int, body: Any):
        err = body.get("error", {}) if isinstance(body, dict) else {}
        self.status, self.body = status, body
        self.field: Optional[str] = err.get("field")
        self.message: str = err.get("message") or f"HTTP {status}"
        super().__init__(f"{status} {self.field or ''}: {self.message}".replace(" :", ":"))


class Transport(Protocol):
    def __call__(
        self, method: str, path: str, *, json: Any, params: dict, headers: dict
    ) -> tuple[int, Any]: ...  # (status, parsed JSON body or None)


class HttpTransport:
    """Over HTTP with `requests` (one session: keep-alive)."""

    def __init__(self, base_url: str, timeout: float = 30.0, session=None):
        import requests  # noqa: PLC0415  (only this transport needs it)

        self.base_url, self.timeout = base_url.rstrip("/"), timeout
        self.session = session or requests.Session()

    def __call__(self, method, path, *, json, params, headers):
        r = self.session.request(
            method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeout
        )
        return r.status_code, (r.json() if r.content and "json" in r.headers.get("Content-Type", "") else None)


class AppTransport:
    """In-process, through the Flask app's test client: the same routes, checks and answers, no socket."""

    def __init__(self, app):
        self.client = app.test_client()

    def __call__(self, method, path, *, json, params, headers):
        r = self.client.open(path, method=method, json=json, query_string=params, headers=headers)
        return r.status_code, r.get_json(silent=True)


@dataclass(frozen=True)
class Op:
    operation_id: str
    method: str
    path: str  # as in the OpenAPI document, under PREFIX
    body: Optional[type[BaseModel]]
    out: type[BaseModel]


def _op(operation_id, method, path, body, out) -> Op:
    return Op(operation_id, method, path, body, out)


# Every operation of the document but the document itself (GET /openapi.json).
OPERATIONS: dict[str, Op] = {
    o.operation_id: o
    for o in (
        _op("metric_event", "POST", "/metrics/{key}/event", ev.EventBody, ev.EventOut),
        _op("batch_events", "POST", "/events", ev.BatchBody, ev.BatchOut),
        _op("get_user", "GET", "/users/{external_id}", None, ev.UserOut),
        _op("identify", "POST", "/users/{external_id}", ev.IdentifyBody, ev.UserOut),
        _op("bulk_identify", "POST", "/users", pl.BulkIdentifyBody, pl.BulkIdentifyOut),
        _op("erase_user", "DELETE", "/users/{external_id}", None, pl.ErasedOut),
        _op("user_streak", "GET", "/users/{external_id}/streak", None, ev.StreakOut),
        _op("user_streak_freezes", "POST", "/users/{external_id}/streak/freezes", st.FreezeBody, st.FreezesOut),
        _op("user_streak_restore", "POST", "/users/{external_id}/streak/restore", st.RestoreBody, st.RestoreOut),
        _op("user_streak_pause", "POST", "/users/{external_id}/streak/pauses", st.PauseBody, st.PauseCreated),
        _op("user_streak_unpause", "DELETE", "/users/{external_id}/streak/pauses/{pause_id}", None, st.PauseDeleted),
        _op("user_points", "GET", "/users/{external_id}/points/{system_key}", None, ev.PointsOut),
        _op("user_points_awards", "GET", "/users/{external_id}/points/{system_key}/awards", None, pt.AwardsOut),
        _op(
            "user_points_award",
            "POST",
            "/users/{external_id}/points/{system_key}/awards",
            pt.AwardBody,
            pt.ManualAwardOut,
        ),
        _op("user_points_daily", "GET", "/users/{external_id}/points/{system_key}/daily", None, pt.DailyOut),
        _op("points_levels", "GET", "/points/{system_key}/levels", None, pt.LevelsOut),
        _op("analytics_trends", "GET", "/analytics/trends", None, an.TrendsOut),
        _op("analytics_retention_figures", "GET", "/analytics/retention", None, an.RetentionOut),
        _op("analytics_achievements", "GET", "/analytics/achievements", None, an.FunnelsOut),
        _op("analytics_balances", "GET", "/analytics/points/{system_key}/balances", None, an.BalancesOut),
        _op("user_achievements", "GET", "/users/{external_id}/achievements", None, ev.AchievementsOut),
        _op("user_achievement_progress", "GET", "/users/{external_id}/achievements/progress", None, ach.ProgressOut),
        _op("achievement_details", "GET", "/achievements/{key}", None, ach.AchievementDetails),
        _op("complete_achievement", "POST", "/achievements/{key}/complete", ev.AchievementCompleteBody, ev.CompleteOut),
        _op("leaderboards_index", "GET", "/leaderboards", None, lb.BoardsOut),
        _op("leaderboard_rankings", "GET", "/leaderboards/{key}", None, lb.RankingsOut),
        _op("leaderboard_user", "GET", "/leaderboards/{key}/users/{external_id}", None, lb.PositionOut),
        _op("leaderboard_user_history", "GET", "/leaderboards/{key}/users/{external_id}/history", None, lh.HistoryOut),
        _op("leaderboard_runs", "GET", "/leaderboards/{key}/runs", None, lh.RunsOut),
        _op("leaderboard_run", "GET", "/leaderboards/{key}/runs/{run}", None, lh.RunOut),
        _op("list_actions", "GET", "/actions", None, en.ActionsOut),
        _op("perform_action", "POST", "/actions/{key}", en.ActionBody, ev.EventOut),
        _op("user_energy", "GET", "/users/{external_id}/energy", None, en.EnergyOut),
        _op("user_energy_transactions", "GET", "/users/{external_id}/energy/transactions", None, en.TransactionsOut),
        _op("user_energy_adjust", "POST", "/users/{external_id}/energy/adjust", en.AdjustBody, en.AdjustOut),
        _op("user_energy_refill", "POST", "/users/{external_id}/energy/refill", en.RefillBody, en.RefillOut),
        _op("user_energy_boost", "POST", "/users/{external_id}/energy/boosts/{key}", None, en.BoostAppliedOut),
        _op("user_energy_rest", "POST", "/users/{external_id}/energy/rest", en.RestBody, en.EnergyOut),
        _op("user_energy_skills", "PUT", "/users/{external_id}/energy/skills", en.SkillsBody, en.SkillsOut),
        _op("user_energy_tier", "PUT", "/users/{external_id}/energy/tier", en.TierBody, en.TierOut),
        _op("list_friends", "GET", "/users/{external_id}/friends", None, so.FriendsOut),
        _op("request_friend", "POST", "/users/{external_id}/friends", so.FriendBody, so.FriendshipOut),
        _op("accept_friend", "POST", "/users/{external_id}/friends/{friend_id}/accept", None, so.FriendshipOut),
        _op("decline_friend", "POST", "/users/{external_id}/friends/{friend_id}/decline", None, so.FriendshipOut),
        _op("remove_friend", "DELETE", "/users/{external_id}/friends/{friend_id}", None, so.FriendshipOut),
        _op("list_gifts", "GET", "/users/{external_id}/gifts", None, so.GiftsOut),
        _op("send_gift", "POST", "/users/{external_id}/gifts", so.GiftBody, so.GiftSentOut),
        _op("accept_gift", "POST", "/users/{external_id}/gifts/{gift_id}/accept", None, so.GiftAcceptedOut),
        _op("decline_gift", "POST", "/users/{external_id}/gifts/{gift_id}/decline", None, so.GiftDeclinedOut),
        _op("list_notifications", "GET", "/users/{external_id}/notifications", None, no.InboxOut),
        _op("read_notification", "POST", "/users/{external_id}/notifications/{nid}/read", None, no.NotificationOut),
        _op("read_all_notifications", "POST", "/users/{external_id}/notifications/read-all", None, no.ReadAllOut),
        _op(
            "get_notification_preferences",
            "GET",
            "/users/{external_id}/notification-preferences",
            None,
            no.PreferencesOut,
        ),
        _op(
            "patch_notification_preferences",
            "PATCH",
            "/users/{external_id}/notification-preferences",
            no.PreferencesBody,
            no.PreferencesOut,
        ),
        _op("list_devices", "GET", "/users/{external_id}/devices", None, dv.DevicesOut),
        _op("register_device", "POST", "/users/{external_id}/devices", dv.DeviceBody, dv.DeviceOut),
        _op("delete_device", "DELETE", "/users/{external_id}/devices/{token}", None, dv.DeviceDeleted),
    )
}

UserArg = Union[str, dict]  # an id, or {"id", "name", "email", "tz", "attributes"} (created at first sight)


def _fields(**kw) -> dict:
    return {k: v for k, v in kw.items() if v is not None}


class Client:
    def __init__(self, transport: Transport, api_key: str):
        self.transport, self.api_key = transport, api_key

    @classmethod
    def http(cls, base_url: str, api_key: str, timeout: float = 30.0) -> Client:
        return cls(HttpTransport(base_url, timeout), api_key)

    @classmethod
    def in_app(cls, app, api_key: str) -> Client:
        return cls(AppTransport(app), api_key)

    # ---------------------------------------------------------------------------------------- machinery

    def call(
        self,
        operation_id: str,
        path: Optional[dict] = None,
        body: Optional[dict] = None,
        query: Optional[dict] = None,
        headers: Optional[dict] = None,
    ) -> BaseModel:
        """One operation by its operationId; the answer as the operation's declared model."""
        op = OPERATIONS[operation_id]
        url = PREFIX + op.path.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
        status, data = self.transport(
            op.method,
            url,
            json=body if op.body is not None else None,
            params={k: v for k, v in (query or {}).items() if v is not None},
            headers={"X-API-Key": self.api_key, **(headers or {})},
        )
        if not 200 <= status < 300:
            raise GamifyError(status, data)
        return op.out.model_validate(data)

    # -------------------------------------------------------------------------------- events and users

    def send_event(
        self,
        metric: str,
        user: UserArg,
        value: float = 1,
        idempotency_key: Optional[str] = None,
        attributes: Optional[dict] = None,
        tz: Optional[str] = None,
        action: Optional[str] = None,
        difficulty: Optional[str] = None,
        occurred_at: Optional[str] = None,
    ) -> ev.EventOut:
        """`occurred_at` (ISO 8601 with its offset) imports a past event: oldest first for each player."""
        body = _fields(
            user=_user(user),
            value=value,
            idempotency_key=idempotency_key,
            attributes=attributes,
            tz=tz,
            action=action,
            difficulty=difficulty,
            occurred_at=occurred_at,
        )
        return self.call("metric_event", {"key": metric}, body)

    def send_batch(self, events: list[dict]) -> ev.BatchOut:
        """Up to 1,000 events ({"metric", "user" or "user_id", "value", ...}), one result each."""
        return self.call("batch_events", body={"events": events})

    def identify(
        self,
        external_id: str,
        name: Optional[str] = None,
        email: Optional[str] = None,
        tz: Optional[str] = None,
        attributes: Optional[dict] = None,
        sign_up_date: Optional[str] = None,
        subscribe_to_emails: Optional[bool] = None,
        device_tokens: Optional[list[str]] = None,
    ) -> ev.UserOut:
        body = _fields(
            name=name,
            email=email,
            tz=tz,
            attributes=attributes,
            sign_up_date=sign_up_date,
            subscribe_to_emails=subscribe_to_emails,
            device_tokens=device_tokens,
        )
        return self.call("identify", {"external_id": external_id}, body)

    def user(self, external_id: str) -> ev.UserOut:
        return self.call("get_user", {"external_id": external_id})

    def identify_many(self, users: list[dict]) -> pl.BulkIdentifyOut:
        """Up to 100 players ({"id", "name", "email", "tz", "attributes"}), one result each."""
        return self.call("bulk_identify", body={"users": users})

    def erase_user(self, external_id: str) -> pl.ErasedOut:
        """The player and every row that references them (a data-erasure request)."""
        return self.call("erase_user", {"external_id": external_id})

    # --------------------------------------------------------------------------------------- streaks

    def streak(self, external_id: str, history: Optional[int] = None) -> ev.StreakOut:
        return self.call("user_streak", {"external_id": external_id}, query={"history": history})

    def grant_freezes(self, external_id: str, amount: int = 1, reason: str = "") -> st.FreezesOut:
        body = {"amount": amount, "reason": reason}
        return self.call("user_streak_freezes", {"external_id": external_id}, body)

    def restore_streak(self, external_id: str, reason: str) -> st.RestoreOut:
        return self.call("user_streak_restore", {"external_id": external_id}, {"reason": reason})

    def pause_streak(self, external_id: str, start: str, end: str, reason: Optional[str] = None) -> st.PauseCreated:
        """Pause the streak from `start` to `end` (YYYY-MM-DD, the player's local days, both included)."""
        body = _fields(start=start, end=end, reason=reason)
        return self.call("user_streak_pause", {"external_id": external_id}, body)

    def delete_streak_pause(self, external_id: str, pause_id: str) -> st.PauseDeleted:
        return self.call("user_streak_unpause", {"external_id": external_id, "pause_id": pause_id})

    # ---------------------------------------------------------------------------------------- points

    def points(self, external_id: str, system: str) -> ev.PointsOut:
        return self.call("user_points", {"external_id": external_id, "system_key": system})

    def points_awards(
        self, external_id: str, system: str, cursor: Optional[str] = None, limit: Optional[int] = None
    ) -> pt.AwardsOut:
        path = {"external_id": external_id, "system_key": system}
        return self.call("user_points_awards", path, query={"cursor": cursor, "limit": limit})

    def award_points(
        self, external_id: str, system: str, amount: int, reason: str, idempotency_key: Optional[str] = None
    ) -> pt.ManualAwardOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        path = {"external_id": external_id, "system_key": system}
        return self.call("user_points_award", path, {"amount": amount, "reason": reason}, headers=headers)

    def points_daily(self, external_id: str, system: str, start: str, end: str) -> pt.DailyOut:
        path = {"external_id": external_id, "system_key": system}
        return self.call("user_points_daily", path, query={"from": start, "to": end})

    def points_levels(self, system: str) -> pt.LevelsOut:
        return self.call("points_levels", {"system_key": system})

    # ---------------------------------------------------------------------------------- analytics

    def analytics_trends(self, days: int = 30, grain: str = "day") -> an.TrendsOut:
        return self.call("analytics_trends", query={"days": days, "grain": grain})

    def analytics_retention(self, weeks: int = 12) -> an.RetentionOut:
        return self.call("analytics_retention_figures", query={"weeks": weeks})

    def analytics_achievements(self) -> an.FunnelsOut:
        return self.call("analytics_achievements")

    def analytics_balances(self, system: str, edges: Optional[list[int]] = None) -> an.BalancesOut:
        q = {"edges": ",".join(map(str, edges)) if edges else None}
        return self.call("analytics_balances", {"system_key": system}, query=q)

    # ---------------------------------------------------------------------------------- achievements

    def achievements(self, external_id: str) -> ev.AchievementsOut:
        return self.call("user_achievements", {"external_id": external_id})

    def achievement_progress(self, external_id: str, status: Optional[str] = None) -> ach.ProgressOut:
        return self.call("user_achievement_progress", {"external_id": external_id}, query={"status": status})

    def achievement(self, key: str, user_id: Optional[str] = None) -> ach.AchievementDetails:
        return self.call("achievement_details", {"key": key}, query={"user_id": user_id})

    def complete_achievement(self, key: str, user: UserArg) -> ev.CompleteOut:
        return self.call("complete_achievement", {"key": key}, {"user": _user(user)})

    # ---------------------------------------------------------------------------------- leaderboards

    def leaderboards(self) -> lb.BoardsOut:
        return self.call("leaderboards_index")

    def leaderboard(self, key: str, **query) -> lb.RankingsOut:
        """Query: segment, run, limit, offset (see the document)."""
        return self.call("leaderboard_rankings", {"key": key}, query=query)

    def leaderboard_position(self, key: str, external_id: str, **query) -> lb.PositionOut:
        return self.call("leaderboard_user", {"key": key, "external_id": external_id}, query=query)

    def rank_history(self, key: str, external_id: str, **query) -> lh.HistoryOut:
        return self.call("leaderboard_user_history", {"key": key, "external_id": external_id}, query=query)

    def leaderboard_runs(self, key: str, **query) -> lh.RunsOut:
        return self.call("leaderboard_runs", {"key": key}, query=query)

    def leaderboard_run(self, key: str, run: str, **query) -> lh.RunOut:
        return self.call("leaderboard_run", {"key": key, "run": run}, query=query)

    # ---------------------------------------------------------------------------------------- energy

    def actions(self, user_id: Optional[str] = None) -> en.ActionsOut:
        return self.call("list_actions", query={"user_id": user_id})

    def perform_action(
        self, key: str, user: UserArg, difficulty: Optional[str] = None, idempotency_key: Optional[str] = None
    ) -> ev.EventOut:
        body = _fields(user=_user(user), difficulty=difficulty, idempotency_key=idempotency_key)
        return self.call("perform_action", {"key": key}, body)

    def energy(self, external_id: str) -> en.EnergyOut:
        return self.call("user_energy", {"external_id": external_id})

    def energy_transactions(self, external_id: str, page: Optional[int] = None) -> en.TransactionsOut:
        return self.call("user_energy_transactions", {"external_id": external_id}, query={"page": page})

    def adjust_energy(self, external_id: str, amount: int, reason: str = "") -> en.AdjustOut:
        return self.call("user_energy_adjust", {"external_id": external_id}, {"amount": amount, "reason": reason})

    def refill_energy(self, external_id: str, tokens: int) -> en.RefillOut:
        return self.call("user_energy_refill", {"external_id": external_id}, {"tokens": tokens})

    def apply_boost(self, external_id: str, key: str) -> en.BoostAppliedOut:
        return self.call("user_energy_boost", {"external_id": external_id, "key": key})

    def rest(self, external_id: str, minutes: Optional[int] = None, until: Optional[str] = None) -> en.EnergyOut:
        return self.call("user_energy_rest", {"external_id": external_id}, _fields(minutes=minutes, until=until))

    def set_skills(self, external_id: str, skills: dict[str, int]) -> en.SkillsOut:
        return self.call("user_energy_skills", {"external_id": external_id}, {"skills": skills})

    def set_tier(self, external_id: str, premium: bool) -> en.TierOut:
        return self.call("user_energy_tier", {"external_id": external_id}, {"premium": premium})

    # ---------------------------------------------------------------------------------- friends, gifts

    def friends(self, external_id: str) -> so.FriendsOut:
        return self.call("list_friends", {"external_id": external_id})

    def request_friend(self, external_id: str, friend: str) -> so.FriendshipOut:
        return self.call("request_friend", {"external_id": external_id}, {"friend": friend})

    def accept_friend(self, external_id: str, friend: str) -> so.FriendshipOut:
        return self.call("accept_friend", {"external_id": external_id, "friend_id": friend})

    def decline_friend(self, external_id: str, friend: str) -> so.FriendshipOut:
        return self.call("decline_friend", {"external_id": external_id, "friend_id": friend})

    def remove_friend(self, external_id: str, friend: str) -> so.FriendshipOut:
        return self.call("remove_friend", {"external_id": external_id, "friend_id": friend})

    def gifts(self, external_id: str, box: Optional[str] = None, cursor: Optional[str] = None) -> so.GiftsOut:
        return self.call("list_gifts", {"external_id": external_id}, query={"box": box, "cursor": cursor})

    def send_gift(
        self, external_id: str, recipient: str, amount: Optional[int] = None, message: Optional[str] = None
    ) -> so.GiftSentOut:
        body = _fields(recipient=recipient, amount=amount, message=message)
        return self.call("send_gift", {"external_id": external_id}, body)

    def accept_gift(self, external_id: str, gift_id: int) -> so.GiftAcceptedOut:
        return self.call("accept_gift", {"external_id": external_id, "gift_id": gift_id})

    def decline_gift(self, external_id: str, gift_id: int) -> so.GiftDeclinedOut:
        return self.call("decline_gift", {"external_id": external_id, "gift_id": gift_id})

    # --------------------------------------------------------------------------------- notifications

    def notifications(
        self, external_id: str, unread: Optional[bool] = None, cursor: Optional[str] = None
    ) -> no.InboxOut:
        query = {"unread": None if unread is None else str(unread).lower(), "cursor": cursor}
        return self.call("list_notifications", {"external_id": external_id}, query=query)

    def read_notification(self, external_id: str, notification_id: int) -> no.NotificationOut:
        return self.call("read_notification", {"external_id": external_id, "nid": notification_id})

    def read_all_notifications(self, external_id: str) -> no.ReadAllOut:
        return self.call("read_all_notifications", {"external_id": external_id})

    def notification_preferences(self, external_id: str) -> no.PreferencesOut:
        return self.call("get_notification_preferences", {"external_id": external_id})

    def set_notification_preferences(self, external_id: str, preferences: dict) -> no.PreferencesOut:
        body = {"preferences": preferences}
        return self.call("patch_notification_preferences", {"external_id": external_id}, body)

    # --------------------------------------------------------------------------------- devices

    def devices(self, external_id: str) -> dv.DevicesOut:
        return self.call("list_devices", {"external_id": external_id})

    def register_device(self, external_id: str, token: str, platform: str) -> dv.DeviceOut:
        return self.call("register_device", {"external_id": external_id}, {"token": token, "platform": platform})

    def delete_device(self, external_id: str, token: str) -> dv.DeviceDeleted:
        return self.call("delete_device", {"external_id": external_id, "token": token})


def _user(user: UserArg) -> dict:
    return {"id": user} if isinstance(user, str) else dict(user)
