"""Shapes of the core player API: events (single and batch), users, achievements, streaks, points."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Optional, Union

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)

from ... import params
from ...pipeline.base import MAX_BATCH
from ...services import users
from .base import (
    Attributes,
    Email,
    ErrorDetail,
    ExternalId,
    HistoryArg,
    In,
    Missing,
    Name,
    Out,
    ZoneName,
    _action,
    _email,
    _number,
    _plain_text,
    _string,
    _text,
    _zone,
    bad_input,
    checked,
)
from .streaks import PauseOut

# ------------------------------------------------------------------------------------------ requests


class UserIn(In):
    """The player an event or award is for: created on first sight, profile fields updated when given."""

    id: Annotated[ExternalId, Missing("user.id is required")]
    attributes: Attributes = None
    name: Annotated[Optional[Name], checked(_text(120))] = None
    email: Annotated[Optional[Email], checked(_email)] = None
    tz: Annotated[Optional[str], checked(_string), Field(description="IANA time zone of the player.")] = None


def _user(value: Any, field: str) -> dict:
    if not isinstance(value, dict):
        raise params.BadInput(field, f"{field} is required: an object with at least an id")
    return value


class UserRefBody(In):
    """A body naming a player: `user` (an object) or, shorter, `user_id`."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["user"]}, {"required": ["user_id"]}]})

    user: Annotated[Optional[UserIn], checked(_user), Field(validate_default=True)] = None
    user_id: Annotated[
        Optional[ExternalId], Field(description="Shorthand for `user: {id: ...}` (ignored when `user` is given).")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """`user_id` stands for `{"user": {"id": ...}}`; the event's tz defaults to the user's."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "user_id" in data:
            uid = data.pop("user_id")
            if data.get("user") is None:
                data["user"] = {"id": uid}
        user = data.get("user")
        if "tz" not in data and isinstance(user, dict) and "tz" in user and "tz" in cls.model_fields:
            data["tz"] = user["tz"]
        return data


def _idempotency_key(value: Any, field: str) -> Optional[str]:
    if not value:  # absent, empty or false: none (the Idempotency-Key header may give one)
        return None
    if not isinstance(value, str) or len(value) > 255 or params.text_problem(value):
        raise params.BadInput(field, f"{field} must be a string of 1 to 255 characters")
    return value


IdempotencyKey = Annotated[
    Optional[Annotated[str, Field(min_length=1, max_length=255)]],
    checked(_idempotency_key),
    Field(description="Repeating a key answers the first result again (202) and records nothing twice."),
]


def _moment(value: Any, field: str) -> Optional[datetime]:
    return None if value is None else params.moment(value, field)


class EventBody(UserRefBody):
    """One metric event."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["user"]}, {"required": ["user_id"]}],
            "examples": [
                {
                    "user": {"id": "u-42", "name": "Ada", "tz": "Europe/London", "attributes": {"city": "london"}},
                    "value": 1,
                    "idempotency_key": "lesson-981",
                }
            ],
        }
    )

    value: Annotated[
        float,
        checked(_number),
        Field(ge=-params.MAX_JSON_NUMBER, le=params.MAX_JSON_NUMBER, description="Added to the metric's total."),
    ] = 1
    tz: Annotated[Optional[str], checked(_zone), Field(description="IANA time zone (default: the player's).")] = None
    attributes: Attributes = None
    idempotency_key: IdempotencyKey = None
    action: Annotated[
        Optional[str], checked(_action), Field(description="An energy action to pay for with this event.")
    ] = None
    difficulty: Annotated[Optional[str], checked(_string), Field(description="The action's difficulty.")] = None
    occurred_at: Annotated[
        Optional[datetime],
        checked(_moment),
        WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}),
        Field(
            description="When it happened, for importing past events (ISO 8601 with its offset; default: now). "
            "Not in the future, and not before the player's latest recorded event (409): send each player's "
            "history oldest first."
        ),
    ] = None


def _metric(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise params.BadInput(field, f"{field} is required: the key of the metric")
    return value


class _MetricFirst(In):
    metric: Annotated[str, checked(_metric), Missing("metric is required: the key of the metric"), Field(min_length=1)]


class BatchEvent(EventBody, _MetricFirst):
    """One event of a batch: the single endpoint's body plus the metric's key."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["user"]}, {"required": ["user_id"]}],
            "examples": [{"metric": "lessons", "user": {"id": "u-42"}, "value": 1}],
        }
    )


def _batch_item(value: Any, handler) -> Any:
    """An event of a batch, or the BadInput that refuses it alone (the others are still recorded)."""
    if not isinstance(value, dict):
        return params.BadInput("event", "each event must be an object")
    try:
        return handler(value)
    except ValidationError as e:
        return bad_input(e, BatchEvent)


def _events(value: Any, field: str) -> list:
    if not isinstance(value, list) or not value:
        raise params.BadInput(field, f"{field} must be a non-empty array of at most {MAX_BATCH} events")
    if len(value) > MAX_BATCH:
        raise params.BadInput(field, f"at most {MAX_BATCH} events per request (got {len(value)}); split the batch")
    return value


class BatchBody(In):
    """Up to 1,000 events in one request and one transaction."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {"metric": "lessons", "user": {"id": "u-42"}, "value": 1, "idempotency_key": "l-1"},
                        {"metric": "quizzes", "user_id": "u-7", "value": 3},
                    ]
                }
            ]
        }
    )

    events: Annotated[
        list[Annotated[BatchEvent, WrapValidator(_batch_item)]],
        checked(_events),
        Missing(f"events must be a non-empty array of at most {MAX_BATCH} events"),
        Field(min_length=1, max_length=MAX_BATCH),
    ]


def _device_tokens(value: Any, field: str) -> Any:
    return None if value is None else users.clean_device_tokens(value)


class IdentifyBody(In):
    """Create or update a player (profile fields are optional; attributes merge into the stored ones)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Ada", "email": "ada@example.com", "tz": "Europe/London", "attributes": {"plan": "pro"}}
            ]
        }
    )

    attributes: Attributes = None
    name: Annotated[Optional[Name], checked(_plain_text(120))] = None
    email: Annotated[Optional[Email], checked(_plain_text(255))] = None
    tz: Annotated[Optional[ZoneName], checked(_plain_text(64))] = None
    # Lengths inside the Optional: on the Optional itself pydantic would measure a null (a 500).
    sign_up_date: Annotated[
        Optional[Annotated[str, Field(max_length=40)]],
        checked(_string),
        Field(
            description="When the player signed up in your product: YYYY-MM-DD, or an ISO 8601 date-time (its "
            "UTC day); not after the player's today."
        ),
    ] = None
    subscribe_to_emails: Optional[bool] = Field(
        None, description="false: gamify sends this player no e-mail at all (reminders, recaps, achievements)."
    )
    device_tokens: Annotated[
        Optional[
            Annotated[
                list[Annotated[str, Field(min_length=1, max_length=users.DEVICE_TOKEN_MAX)]],
                Field(max_length=users.MAX_DEVICE_TOKENS),
            ]
        ],
        checked(_device_tokens),
        Field(
            description="Push tokens of the player's devices; replaces the stored ones ([] removes them). A token "
            "another player held moves to this one."
        ),
    ] = None


class AchievementCompleteBody(UserRefBody):
    """Award an achievement (the player is created on first sight)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["user"]}, {"required": ["user_id"]}],
            "examples": [{"user": {"id": "u-42"}}],
        }
    )


class StreakQuery(In):
    history: HistoryArg = Field(14, description="How many past periods to list.")


# ------------------------------------------------------------------------------------------ responses


class AchievementOut(Out):
    key: str
    name: str
    description: str
    badge: Optional[str] = None
    trigger: str
    completed_at: Optional[str] = None
    rarity_pct: Optional[float] = None


class StreakBlock(Out):
    length: int
    extended: bool
    frozen: bool
    paused: bool = Field(False, description="The current period is paused: it neither extends nor breaks the streak.")
    freezes: int
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    expires_utc: Optional[str] = None


class LeaderboardBlock(Out):
    key: str
    segment: str
    period: str
    rank: Optional[int] = None
    previous_rank: Optional[int] = None
    score: Optional[float] = None


class EnergySpend(Out):
    action: str
    difficulty: Optional[str] = None
    cost: int
    spent: int
    current: int
    max: int


class EventOut(Out):
    """The event's effects: the metric's new total, streak, achievements unlocked, points, energy, ranks."""

    event_id: int
    metric: str
    metric_total: float
    idempotent_replayed: bool
    control: bool = Field(description="The player is in the control group: hide the gamification.")
    achievements: list[AchievementOut] = []
    points: dict[str, dict[str, Any]] = Field({}, description="Per points system: added, total (and level).")
    streak: Optional[StreakBlock] = None
    energy: Optional[EnergySpend] = None
    leaderboards: list[LeaderboardBlock] = []


class BatchResultOk(EventOut):
    status: int = Field(description="201, or 202 for a repeated idempotency key.")


class BatchResultError(Out):
    status: int = Field(description="This event's 4xx.")
    error: ErrorDetail


class BatchOut(Out):
    results: list[Union[BatchResultOk, BatchResultError]] = Field(description="One per event, in order.")


class UserOut(Out):
    id: str
    name: Optional[str] = None
    email: Optional[str] = None
    tz: str
    attributes: dict[str, Any]
    sign_up_date: Optional[str] = Field(None, description="YYYY-MM-DD, as your product sent it (null: not sent).")
    subscribe_to_emails: bool = True
    device_tokens: list[str] = Field(default_factory=list)
    created_at: str
    control: bool


class StreakPeriod(Out):
    period_start: str
    period_end: str
    length: int
    outcome: Optional[str] = Field(None, description="extended, paused, frozen or broken.")
    paused: bool = Field(False, description="A pause covered the period: it neither extended nor broke the streak.")


class StreakOut(Out):
    length: int
    longest: int
    frequency: Optional[str] = None
    freezes: int
    at_risk: bool
    paused: bool = Field(False, description="The current period is paused.")
    history: list[StreakPeriod]
    pauses: list[PauseOut] = Field(default_factory=list, description="Current and upcoming pauses.")


class PointsOut(Out):
    system: str
    name: str
    total: float
    level: Optional[dict[str, Any]] = None
    next_level: Optional[dict[str, Any]] = None
    progress_pct: Optional[float] = None


class AchievementHeld(AchievementOut):
    backdated: bool


class AchievementsOut(Out):
    achievements: list[AchievementHeld]


class CompleteOut(Out):
    completed: bool
    idempotent_replayed: bool
    achievements: list[AchievementOut]
    points: dict[str, dict[str, Any]]
