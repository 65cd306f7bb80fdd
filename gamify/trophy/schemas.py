"""The Trophy-compatible API's declared shapes: request bodies and query strings as the views read them,
responses as the views build them. Names are snake_case in Python and camelCase on the wire
(`alias_generator=to_camel`), as in Trophy's published definition (application API 1.21.1).

Responses are dumped with only the fields that were set (`base.dump`): a field Trophy omits when it does
not apply (`streakLength` on a metric achievement) is simply not passed, and a field it sends as null
when empty (`description`) has no default, so every view must say it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .. import params
from ..api.schemas.base import _zone, checked


class TIn(BaseModel):
    """A Trophy request body or query string: strict JSON types, unknown keys ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore")


class TOut(BaseModel):
    """A Trophy response (dumped by alias, only the fields set)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ------------------------------------------------------------------------------------------ requests


def _attributes(value: Any, field: str) -> Any:
    return params.attributes(value, field)


def _text(max_len: int):
    def check(value: Any, field: str) -> Any:
        return params.text(value, field, max_len) if isinstance(value, str) else value

    return check


def _user_id(value: Any, field: str) -> Any:
    if isinstance(value, str):
        return params.text(value, field, 128, required=True, strip=False)
    return value


Attributes = Annotated[Optional[dict[str, str]], checked(_attributes)]


class UpdatedUserIn(TIn):
    """Trophy's editable user fields (UpdatedUser)."""

    email: Annotated[Optional[str], checked(_text(255))] = None
    name: Annotated[Optional[str], checked(_text(120))] = None
    tz: Annotated[Optional[str], checked(_zone)] = None
    device_tokens: Optional[list[str]] = None
    subscribe_to_emails: Optional[bool] = None
    sign_up_date: Optional[str] = None  # sent by SDKs after 1.21.1
    attributes: Attributes = None


class UpsertedUserIn(UpdatedUserIn):
    """A user named by the product's id (UpsertedUser)."""

    id: Annotated[str, checked(_user_id)]


def _value(value: Any, field: str) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return params.number(value, field)
    return value


class EventIn(TIn):
    """POST /metrics/{key}/event."""

    user: UpsertedUserIn
    value: Annotated[float, checked(_value)]
    attributes: Attributes = None


class CompleteIn(TIn):
    """POST /achievements/{key}/complete."""

    user: UpsertedUserIn


Channel = Literal["email", "push"]


class NotificationPrefsIn(TIn):
    model_config = ConfigDict(alias_generator=None, populate_by_name=True, strict=True, extra="ignore")

    achievement_completed: Optional[list[Channel]] = None
    recap: Optional[list[Channel]] = None
    reactivation: Optional[list[Channel]] = None
    streak_reminder: Optional[list[Channel]] = None


class PreferencesIn(TIn):
    """PATCH /users/{id}/preferences."""

    notifications: Optional[NotificationPrefsIn] = None
    streak: Optional[dict[str, Any]] = None


class HistoryQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    history_periods: int = Field(7, ge=0, le=1000)


class AchievementsQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    include_incomplete: Optional[str] = None


class AwardsQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    awards: int = Field(10, ge=1, le=100)


class SummaryQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    aggregation: Literal["daily", "weekly", "monthly"]
    start_date: date
    end_date: date


class UserAttributesQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    user_attributes: Optional[str] = None


class FinishedQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    include_finished: bool = False


class BulkStreakQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    user_ids: Union[str, list[str]]


class RankingsQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    offset: int = Field(0, ge=0, le=1_000_000)
    limit: int = Field(10, ge=0, le=1000)
    run: Optional[date] = None
    user_id: Optional[str] = None
    user_attributes: Optional[str] = None


class UserBoardQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    run: Optional[date] = None
    num_events: int = Field(10, ge=0, le=100)


class WrappedQuery(TIn):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=False, extra="ignore")

    year: Optional[int] = Field(None, ge=1)


# ------------------------------------------------------------------------------------------ responses


class PairOut(TOut):
    key: str
    value: str


class AchievementOut(TOut):
    id: str
    name: str
    trigger: Literal["metric", "streak", "api", "achievement"]
    description: Optional[str]
    badge_url: Optional[str]
    user_attributes: list[PairOut]
    key: Optional[str] = None
    streak_length: Optional[int] = None
    achievement_ids: Optional[list[str]] = None
    metric_id: Optional[str] = None
    metric_value: Optional[float] = None
    metric_name: Optional[str] = None
    event_attributes: Optional[list[PairOut]] = None


class UserAchievementOut(AchievementOut):
    achieved_at: Optional[str]


class AchievementWithStatsOut(AchievementOut):
    completions: int
    rarity: float


class UserAchievementWithStatsOut(AchievementWithStatsOut):
    achieved_at: Optional[str]


class MetricOut(TOut):
    id: str
    key: str
    name: str
    current: float
    achievements: list[UserAchievementOut]


class UserOut(TOut):
    id: str
    email: Optional[str]
    name: Optional[str]
    tz: Optional[str]
    device_tokens: Optional[list[str]]
    subscribe_to_emails: bool
    sign_up_date: Optional[str]  # in the SDKs after 1.21.1: YYYY-MM-DD, null when not sent
    attributes: dict[str, str]
    control: bool
    created: str
    updated: str


Frequency = Literal["daily", "weekly", "monthly"]


class StreakBaseOut(TOut):
    length: int
    frequency: Frequency
    started: Optional[str]
    period_start: Optional[str]
    period_end: Optional[str]
    expires: Optional[str]
    freezes: Optional[int] = None
    max_freezes: Optional[int] = None


class EventStreakOut(StreakBaseOut):
    extended: bool


class StreakPeriodOut(TOut):
    period_start: str
    period_end: str
    length: int
    used_freeze: Optional[bool] = None
    used_pause: bool


class StreakPauseOut(TOut):
    id: str
    start: str
    end: str


class StreakOut(StreakBaseOut):
    extended: Optional[str]
    streak_history: list[StreakPeriodOut]
    pauses: list[StreakPauseOut]


class BulkStreakOut(TOut):
    user_id: str
    streak_length: int
    extended: Optional[str]


class PointsLevelOut(TOut):
    id: str
    key: str
    name: str
    description: str
    badge_url: Optional[str]
    points: int


class PointsBoostOut(TOut):
    id: str
    name: str
    status: Literal["active", "scheduled", "finished"]
    start: str
    end: Optional[str]
    multiplier: float
    rounding: Literal["down", "up", "nearest"]


class PointsTriggerOut(TOut):
    id: str
    type: Literal["metric", "achievement", "streak", "time", "user_creation"]
    points: int
    status: Literal["active", "inactive", "archived"]
    user_attributes: list[PairOut]
    created: str
    updated: str
    achievement_id: Optional[str] = None
    achievement_name: Optional[str] = None
    metric_id: Optional[str] = None
    metric_name: Optional[str] = None
    metric_threshold: Optional[int] = None
    streak_length_threshold: Optional[int] = None
    time_unit: Optional[Literal["hour", "day"]] = None
    time_interval: Optional[int] = None
    event_attributes: Optional[list[PairOut]] = None


class PointsAwardOut(TOut):
    id: str
    awarded: int
    date: str
    total: int
    trigger: Optional[PointsTriggerOut] = None


class PointsBaseOut(TOut):
    id: str
    key: str
    name: str
    description: Optional[str]
    badge_url: Optional[str]
    max_points: Optional[float]


class UserPointsOut(PointsBaseOut):
    total: int
    level: Optional[PointsLevelOut]
    awards: list[PointsAwardOut]


class EventPointsOut(PointsBaseOut):
    total: int
    added: int
    awards: list[PointsAwardOut]
    level: Optional[PointsLevelOut] = None  # only when the event changed the level


class PointsSystemOut(TOut):
    id: str
    name: str
    description: Optional[str]
    badge_url: Optional[str]
    max_points: Optional[float]
    triggers: list[PointsTriggerOut]


class PointsRangeOut(TOut):
    from_: int = Field(alias="from")
    to: int
    users: int


class LevelCountOut(TOut):
    level: PointsLevelOut
    users: int


class LeaderboardOut(TOut):
    id: str
    name: str
    key: str
    status: Literal["active", "scheduled", "finished"]
    rank_by: Literal["points", "streak", "metric"]
    breakdown_attribute: Optional[str]
    breakdown_attributes: list[str]
    description: Optional[str]
    start: Optional[str]
    end: Optional[str]
    start_time: Optional[str]
    end_time: Optional[str]
    max_participants: Optional[int]
    run_unit: Optional[Literal["day", "month", "year"]]
    run_interval: Optional[int]
    user_attributes: list[PairOut]  # who may take part (SDKs after 1.21.1 require it)
    metric_key: Optional[str] = None
    metric_name: Optional[str] = None
    points_system_key: Optional[str] = None
    points_system_name: Optional[str] = None


class RankingOut(TOut):
    user_id: str
    user_name: Optional[str]
    rank: int
    value: int


class LeaderboardWithRankingsOut(LeaderboardOut):
    rankings: list[RankingOut]


class EventLeaderboardOut(LeaderboardOut):
    rank: Optional[int]
    previous_rank: Optional[int]
    threshold: int
    breakdown_attribute_values: Optional[list[PairOut]] = None


class LeaderboardEventOut(TOut):
    date: str
    timestamp: str
    previous_rank: Optional[int]
    rank: Optional[int]
    previous_value: Optional[int]
    value: Optional[int]


class UserLeaderboardOut(LeaderboardOut):
    rank: Optional[int]
    value: Optional[int]
    history: list[LeaderboardEventOut]


class EventOut(TOut):
    event_id: str
    metric_id: str
    total: float
    achievements: list[UserAchievementOut]
    current_streak: EventStreakOut
    points: dict[str, EventPointsOut]
    leaderboards: dict[str, EventLeaderboardOut]
    idempotency_key: Optional[str] = None
    idempotent_replayed: Optional[bool] = None


class CompletionOut(TOut):
    completion_id: str
    achievement: UserAchievementOut
    points: dict[str, EventPointsOut]


class PreferencesOut(TOut):
    notifications: dict[str, list[Channel]]


class SummaryPointOut(TOut):
    date: str
    total: float
    change: float
