"""The Trophy admin API's declared shapes (admin API 1.21.1): bulk items as the views read them (camelCase
on the wire, unknown keys ignored), resources as the views build them. Request items are checked for their
JSON types here; every rule about their values is a service's (gamify/services/)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field

from ... import params
from ...api.schemas.base import checked
from ..schemas import Attributes, TIn, TOut, UpsertedUserIn, _value

# ------------------------------------------------------------------------------------------ shared


def _day(value: Any, field: str) -> Any:
    """A date as Trophy writes them, YYYY-MM-DD."""
    if value is None or isinstance(value, date):
        return value
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise params.BadInput(field, f"{field} must be a date (YYYY-MM-DD)") from None


Day = Annotated[date, checked(_day)]


class AttributeFilterIn(TIn):
    attribute_id: str
    attribute_value: str


class AttributeFilterOut(TOut):
    attribute_id: str
    attribute_value: str


class BadgeIn(TIn):
    url: str


# ------------------------------------------------------------------------------------------ metrics

UnitType = Literal["number", "currency"]


class MetricCreateIn(TIn):
    name: str
    key: str
    unit_type: UnitType = "number"
    units: Optional[str] = None


class MetricUpdateIn(TIn):
    id: str
    name: Optional[str] = None
    unit_type: Optional[UnitType] = None
    units: Optional[str] = None


class MetricOut(TOut):
    id: str
    name: str
    key: str
    unit_type: UnitType
    units: str


def _moment(value: Any, field: str) -> Any:
    return None if value is None else params.moment(value, field)


class BatchEventIn(TIn):
    """BatchMetricEvent, plus gamify's `occurredAt` for importing past events."""

    key: str
    user: UpsertedUserIn
    value: Annotated[float, checked(_value)]
    attributes: Attributes = None
    idempotency_key: Optional[str] = Field(None, min_length=1, max_length=255)
    occurred_at: Annotated[Optional[datetime], checked(_moment)] = None


# ------------------------------------------------------------------------------------------ attributes

AttributeType = Literal["user", "event"]


class AttributeCreateIn(TIn):
    name: str
    key: str
    type: AttributeType


class AttributeUpdateIn(TIn):
    id: str
    name: Optional[str] = None


class AttributeOut(TOut):
    id: str
    name: str
    key: str
    type: AttributeType


# ------------------------------------------------------------------------------------------ points

Rounding = Literal["down", "up", "nearest"]
TriggerType = Literal["metric", "achievement", "streak", "time", "user_creation"]


class LevelIn(TIn):
    name: str
    key: str
    points: int
    description: Optional[str] = None
    badge: Optional[BadgeIn] = None


class LevelPatchIn(TIn):
    id: str
    name: Optional[str] = None
    points: Optional[int] = None
    description: Optional[str] = None
    badge: Optional[BadgeIn] = None


class LevelOut(TOut):
    id: str
    name: str
    key: str
    points: int
    description: str
    badge: Optional[dict]


class BoostIn(TIn):
    name: str
    start: Day
    multiplier: Union[int, float]
    end: Optional[Day] = None
    rounding: Rounding = "down"
    user_id: Optional[str] = None
    user_attributes: Optional[list[AttributeFilterIn]] = None


class BoostPatchIn(TIn):
    id: str
    name: Optional[str] = None
    start: Optional[Day] = None
    end: Optional[Day] = None
    multiplier: Optional[Union[int, float]] = None
    rounding: Optional[Rounding] = None
    user_attributes: Optional[list[AttributeFilterIn]] = None


class BoostOut(TOut):
    id: str
    name: str
    status: Literal["active", "scheduled", "finished"]
    start: str
    end: Optional[str]
    multiplier: float
    rounding: Rounding
    user_id: Optional[str]
    user_attributes: list[AttributeFilterOut]


class TriggerIn(TIn):
    type: TriggerType
    points: int
    status: Literal["active", "inactive"] = "inactive"
    user_attributes: Optional[list[AttributeFilterIn]] = None
    metric_id: Optional[str] = None
    metric_threshold: Optional[int] = None
    event_attributes: Optional[list[AttributeFilterIn]] = None
    achievement_id: Optional[str] = None
    streak_length: Optional[int] = None
    time_unit: Optional[Literal["hours", "days"]] = None
    time_interval: Optional[int] = None
    block_if_out_of_points: bool = False


class TriggerPatchIn(TIn):
    id: str
    type: Optional[TriggerType] = None
    points: Optional[int] = None
    status: Optional[Literal["active", "inactive"]] = None
    user_attributes: Optional[list[AttributeFilterIn]] = None
    metric_id: Optional[str] = None
    metric_threshold: Optional[int] = None
    event_attributes: Optional[list[AttributeFilterIn]] = None
    achievement_id: Optional[str] = None
    streak_length: Optional[int] = None
    time_unit: Optional[Literal["hours", "days"]] = None
    time_interval: Optional[int] = None
    block_if_out_of_points: Optional[bool] = None


class TriggerOut(TOut):
    id: str
    type: TriggerType
    points: int
    status: Literal["active", "inactive"]
    user_attributes: list[AttributeFilterOut]
    block_if_out_of_points: bool
    metric_id: Optional[str] = None
    metric_threshold: Optional[int] = None
    event_attributes: Optional[list[AttributeFilterOut]] = None
    achievement_id: Optional[str] = None
    streak_length: Optional[int] = None
    time_unit: Optional[Literal["hours", "days"]] = None
    time_interval: Optional[int] = None


class SystemIn(TIn):
    name: str
    key: str
    description: Optional[str] = None
    badge: Optional[BadgeIn] = None
    max_points: Optional[int] = None
    levels: Optional[list[dict]] = None  # each item is read as LevelIn, BoostIn, TriggerIn: issues per item
    boosts: Optional[list[dict]] = None
    triggers: Optional[list[dict]] = None


class SystemPatchIn(TIn):
    id: str
    name: Optional[str] = None
    description: Optional[str] = None
    badge: Optional[BadgeIn] = None
    max_points: Optional[int] = None


class SystemOut(TOut):
    id: str
    name: str
    key: str
    description: str
    status: Literal["active", "archived"]
    badge: Optional[dict]
    max_points: Optional[int]
    levels: Optional[list[LevelOut]] = None
    boosts: Optional[list[BoostOut]] = None
    triggers: Optional[list[TriggerOut]] = None


# ------------------------------------------------------------------------------------------ leaderboards

BoardStatus = Literal["inactive", "active", "scheduled", "finished"]
RankBy = Literal["metric", "streak", "points"]
RunUnit = Literal["day", "month", "year"]


class LeaderboardIn(TIn):
    name: str
    key: str
    rank_by: RankBy
    description: Optional[str] = None
    status: BoardStatus = "inactive"
    metric_id: Optional[str] = None
    points_system_id: Optional[str] = None
    max_participants: Optional[int] = 1000
    start: Optional[Day] = None
    end: Optional[Day] = None
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    breakdown_attributes: Optional[list[str]] = None
    run_unit: Optional[RunUnit] = None
    run_interval: Optional[int] = None
    user_attributes: Optional[list[AttributeFilterIn]] = None


class LeaderboardPatchIn(TIn):
    id: str
    name: Optional[str] = None
    key: Optional[str] = None
    description: Optional[str] = None
    status: Optional[BoardStatus] = None
    rank_by: Optional[RankBy] = None
    metric_id: Optional[str] = None
    points_system_id: Optional[str] = None
    max_participants: Optional[int] = None
    start: Optional[Day] = None
    end: Optional[Day] = None
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    breakdown_attributes: Optional[list[str]] = None
    run_unit: Optional[RunUnit] = None
    run_interval: Optional[int] = None
    user_attributes: Optional[list[AttributeFilterIn]] = None


class LeaderboardOut(TOut):
    id: str
    name: str
    key: str
    status: BoardStatus
    rank_by: RankBy
    max_participants: Optional[int]
    start: str
    breakdown_attributes: list[str]
    user_attributes: list[AttributeFilterOut]  # who may take part: gamify boards take every player
    metric_id: Optional[str] = None
    points_system_id: Optional[str] = None
    run_unit: Optional[RunUnit] = None
    run_interval: Optional[int] = None


# ------------------------------------------------------------------------------------------ streaks, keys


class UserIdIn(TIn):
    user_id: str


class IdIn(TIn):
    id: str


class FreezesIn(TIn):
    freezes: list[dict] = Field(min_length=1, max_length=100)


class RestoreIn(TIn):
    users: list[dict] = Field(min_length=1, max_length=100)


class PausesIn(TIn):
    pauses: list[dict] = Field(min_length=1, max_length=100)


class PauseIn(TIn):
    user_id: str
    start: Day
    end: Day


class PauseOut(TOut):
    id: str
    user_id: str
    start: str
    end: str
    status: Literal["active", "archived"]


class AppKeyOut(TOut):
    id: str
    user_id: str
    key: str
    prefix: str
