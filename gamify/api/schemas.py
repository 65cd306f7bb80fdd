"""The JSON API's declared shapes: request bodies, query strings and responses as pydantic models.

The request models are what the views read (`parse(Model, data)`), and the OpenAPI document
(gamify/api/openapi.py) is generated from the same models, so the published contract is the one enforced.

Validation keeps the API's error shape: the first problem becomes a `params.BadInput(field, message)`,
which the blueprint answers with 400 `{"error": {"field": ..., "message": ...}}`. The checks themselves
are the ones in gamify/params.py (text, attributes, numbers, limits), run by `checked(...)` validators
with today's messages; the pydantic types and constraints declare the same limits for the document.
Models are strict (no "5" -> 5 coercion); unknown keys are ignored, as they always were.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime, timezone
from typing import Annotated, Any, Callable, Optional, TypeVar, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import params
from ..engine import calendar as cal
from ..pipeline.base import MAX_BATCH
from ..services.users import UserError, clean_email

M = TypeVar("M", bound=BaseModel)

# ------------------------------------------------------------------------------------------ machinery


class Missing:
    """Annotated metadata: the message when a required field is absent (default "<field> is required")."""

    def __init__(self, message: str):
        self.message = message


def checked(fn: Callable[[Any, str], Any]) -> BeforeValidator:
    """A validator running `fn(value, field_name)` (a params-style check returning the clean value or
    raising params.BadInput / UserError) before pydantic's own type check."""

    def run(value: Any, info: ValidationInfo) -> Any:
        try:
            return fn(value, info.field_name or "")
        except params.BadInput as e:
            raise _error(e) from None
        except UserError as e:  # the service's message names no path: it stays as written
            ctx = {"message": str(e), "field": e.field, "as_is": True}
            raise PydanticCustomError("bad_input", "{message}", ctx) from None

    return BeforeValidator(run)


def _error(e: params.BadInput) -> PydanticCustomError:
    return PydanticCustomError("bad_input", "{message}", {"message": str(e), "field": e.field})


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _field_info(model: type[BaseModel], loc: tuple):
    """The FieldInfo `loc` ends at (through nested models; list indexes skipped), or None."""
    info, current = None, model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        current = _model_in(info.annotation)
    return info


def _model_in(annotation) -> Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def bad_input(exc: ValidationError, model: type[BaseModel]) -> params.BadInput:
    """The first problem of a failed validation as BadInput, its field a JSON path ("user.id",
    "attributes.city", "events[3]")."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    where = _path(loc)
    if err["type"] == "bad_input":
        ctx = err.get("ctx") or {}
        message, field = ctx.get("message", err["msg"]), ctx.get("field") or where
        parent = _path(loc[:-1])
        if parent:  # the check named the field locally ("id"): name it fully ("user.id")
            field = f"{parent}.{field}"
            if isinstance(loc[-1], str) and not ctx.get("as_is"):
                message = message.replace(loc[-1], f"{parent}.{loc[-1]}", 1)
        return params.BadInput(field, message)
    if err["type"] == "missing":
        info = _field_info(model, loc)
        custom = next((m.message for m in (info.metadata if info else ()) if isinstance(m, Missing)), None)
        return params.BadInput(where, custom or f"{where} is required")
    return params.BadInput(where or "body", f"{where or 'body'}: {err['msg']}")


def parse(model: type[M], data: Any) -> M:
    """`data` (a JSON body or a query string as a dict) as `model`; params.BadInput on the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise bad_input(e, model) from None


def query(model: type[M], args) -> M:
    """A query string as `model`: the first value of each name, empty values meaning "not given"."""
    return parse(model, {k: v for k, v in args.items() if v != ""})


class In(BaseModel):
    """A request body or query string: strict types, unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class Out(BaseModel):
    """A response body (documentation only: views build dicts). Blocks may grow new keys."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------------------ field types

# Constraints on the text inside an Optional (None passes untouched).
Name = Annotated[str, Field(max_length=120)]
Email = Annotated[str, Field(max_length=255, json_schema_extra={"format": "email"})]
ZoneName = Annotated[str, Field(max_length=64, description="IANA time zone.")]


def _external_id(value: Any, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return params.text(value, field, 128, required=True, strip=False)


ExternalId = Annotated[
    str,
    checked(_external_id),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "minLength": 1, "maxLength": 128}, {"type": "integer"}],
            "description": "The host product's id of the player (a number is taken as its digits).",
        }
    ),
]


def _attributes(value: Any, field: str) -> Optional[dict]:
    return params.attributes(value, field)


Attributes = Annotated[
    Optional[dict[str, Any]],
    checked(_attributes),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "maxProperties": params.MAX_ATTRIBUTES,
                    "propertyNames": {"minLength": 1, "maxLength": params.MAX_ATTRIBUTE_KEY},
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "string", "maxLength": params.MAX_ATTRIBUTE_TEXT},
                            {"type": "number", "minimum": -params.MAX_JSON_NUMBER, "maximum": params.MAX_JSON_NUMBER},
                            {"type": "boolean"},
                            {"type": "null"},
                        ]
                    },
                },
                {"type": "null"},
            ],
            "description": f"At most {params.MAX_ATTRIBUTES} entries: text, numbers, booleans or null.",
        }
    ),
]


def _string(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be a string")
    return value


def _text(max_len: int) -> Callable[[Any, str], Optional[str]]:
    def check(value: Any, field: str) -> Optional[str]:
        return params.text(_string(value, field), field, max_len)

    return check


def _plain_text(max_len: int) -> Callable[[Any, str], Optional[str]]:
    def check(value: Any, field: str) -> Optional[str]:
        return params.text(value, field, max_len)

    return check


def _action(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be an action key")
    return value


def _email(value: Any, field: str) -> Optional[str]:
    return None if _string(value, field) is None else clean_email(value)


def _zone(value: Any, field: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be an IANA timezone name such as 'Europe/London'")
    try:
        cal.zone(value)
    except cal.InvalidTimezone as e:
        raise params.BadInput(field, str(e)) from e
    return value


def _number(value: Any, field: str) -> float:
    return params.number(value, field)


def _whole(value: Any, field: str) -> int:
    return params.whole_number(value, field)


Whole = Annotated[int, checked(_whole), Field(ge=-params.MAX_INT, le=params.MAX_INT)]


def _query_int(lo: int, hi: int, note: str = "") -> Annotated:
    """A whole number in a query string (ASCII digits, in [lo, hi]): today's int_arg, as a type."""

    def check(value: Any, field: str) -> int:
        n = params.whole(value, lo, hi) if isinstance(value, str) else None
        if n is None:
            raise params.BadInput(field, f"{params.BadNumber(field, lo, hi)}{note}")
        return n

    return Annotated[int, checked(check), Field(ge=lo, le=hi)]


HistoryArg = _query_int(0, 1000, " (periods)")
PageArg = _query_int(1, params.MAX_PAGE)
MAX_LIMIT = 100  # rankings per page
LimitArg = _query_int(1, MAX_LIMIT)
OffsetArg = _query_int(0, 1_000_000)
RadiusArg = _query_int(0, 25)


def _run_day(value: Any, field: str) -> Optional[date]:
    raw = value.strip() if isinstance(value, str) else ""
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise params.BadInput(field, f"{field} must be a date (YYYY-MM-DD): the first day of a past period") from None


RunArg = Annotated[Optional[date], checked(_run_day), Field(description="A past period by its first day (YYYY-MM-DD).")]
ZoneArg = Annotated[Optional[str], checked(_zone), Field(description="IANA time zone choosing the current period.")]

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


class TransactionsQuery(In):
    page: PageArg = 1


class RefillBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"tokens": 2}]})

    tokens: Annotated[Whole, Field(description="Tokens to spend on energy.")]


def _skills(value: Any, field: str) -> dict:
    if not isinstance(value, dict) or not value:
        raise params.BadInput(field, f"{field} must be an object of skill name -> level 0-100")
    return value


class SkillsBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"skills": {"gun_fighting": 80}}]})

    skills: Annotated[
        dict[str, Any],
        checked(_skills),
        Missing("skills must be an object of skill name -> level 0-100"),
        WithJsonSchema(
            {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": "^[a-z0-9_]+$"},
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 100},
            }
        ),
    ]


def _premium(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise params.BadInput(field, f"{field} must be true or false")
    return value


class TierBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"premium": True}]})

    premium: Annotated[bool, checked(_premium), Missing("premium must be true or false")]


def _until(value: Any, field: str) -> Optional[datetime]:
    if value is None:
        return None
    try:
        until = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise params.BadInput(field, f"{field} must be an ISO-8601 date-time with a UTC offset") from None
    if until.tzinfo is None:
        raise params.BadInput(field, f"{field} must include a UTC offset (e.g. 2026-01-01T12:00:00Z)")
    if not 2000 <= until.year <= 2200:  # year 1 or 9999 overflow once the offset is applied
        raise params.BadInput(field, f"{field} must be a date-time between the years 2000 and 2200")
    return until.astimezone(timezone.utc)


MAX_REST_MINUTES = 60 * 24 * 365


def _rest_minutes(value: Any, info: ValidationInfo) -> Optional[int]:
    """Required unless `until` is given (then not read at all), from 0 to a year."""
    if info.data.get("until") is not None or "until" not in info.data:
        return None  # until given (or refused already): minutes is not read
    try:
        if value is None:
            raise params.BadInput("minutes", "minutes is required")
        minutes = params.whole_number(value, "minutes")
        if not 0 <= minutes <= MAX_REST_MINUTES:
            raise params.BadInput("minutes", f"minutes must be from 0 to {MAX_REST_MINUTES}")
    except params.BadInput as e:
        raise _error(e) from None
    return minutes


def _reason(max_len: int) -> Callable[[Any, str], str]:
    def check(value: Any, field: str) -> str:
        value = value or ""
        if not isinstance(value, str) or len(value) > max_len:
            raise params.BadInput(field, f"{field} must be a string of at most {max_len} characters")
        return value

    return check


class RestBody(In):
    """Rest for `minutes` (0 ends it) or until a date-time."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"minutes": 30, "reason": "hospital"}]})

    until: Annotated[Optional[datetime], checked(_until), Field(description="Rest until then (wins over minutes).")] = (
        None
    )
    minutes: Annotated[
        Optional[Annotated[int, Field(ge=0, le=MAX_REST_MINUTES)]],
        BeforeValidator(_rest_minutes),
        Field(validate_default=True, description="Rest this long (0 ends resting)."),
    ] = None
    reason: Annotated[str, checked(_reason(120)), Field(max_length=120)] = ""


class AdjustBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": -10, "reason": "support refund"}]})

    amount: Annotated[Whole, Field(description="Energy added (negative: taken).")]
    reason: Annotated[str, checked(_reason(200)), Field(max_length=200)] = ""


class ActionsQuery(In):
    user_id: Annotated[Optional[str], Field(description="Costs for this player (skills and boosts applied).")] = None


class ActionBody(UserRefBody):
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["user"]}, {"required": ["user_id"]}],
            "examples": [{"user": {"id": "u-42"}, "difficulty": "hard", "idempotency_key": "duel-77"}],
        }
    )

    difficulty: Annotated[Optional[str], checked(_string)] = None
    idempotency_key: IdempotencyKey = None


class RankingsQuery(In):
    segment: Annotated[Optional[str], Field(description="global or <attribute>:<value>")] = None
    limit: Optional[LimitArg] = Field(None, description="Default: the board's size, at most 25.")
    offset: OffsetArg = 0
    run: RunArg = None
    tz: ZoneArg = None


class PositionQuery(In):
    segment: Annotated[Optional[str], Field(description="global or <attribute>:<value>")] = None
    radius: RadiusArg = 2
    run: RunArg = None


# ------------------------------------------------------------------------------------------ responses


class ErrorDetail(Out):
    message: str
    field: Optional[str] = Field(None, description="Where the problem is: a JSON path such as events[3].value.")


class ErrorOut(Out):
    """Every 4xx: what is wrong, and where (extra keys for some: required/available for energy)."""

    error: ErrorDetail


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
    created_at: str
    control: bool


class StreakPeriod(Out):
    period_start: str
    period_end: str
    length: int
    outcome: Optional[str] = None


class StreakOut(Out):
    length: int
    longest: int
    frequency: Optional[str] = None
    freezes: int
    at_risk: bool
    history: list[StreakPeriod]


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


class BoostOut(Out):
    id: int
    name: str
    type: str
    effect_value: float
    applied_at: str
    expires_at: Optional[str] = None


class EnergyOut(Out):
    current: int
    max: int
    full: bool
    low: bool
    resting: bool
    premium: bool
    tier: str
    regen_per_hour: float
    next_tick_at: Optional[str] = None
    incapacitated_until: Optional[str] = None
    skills: dict[str, int]
    boosts: list[BoostOut]


class TransactionOut(Out):
    id: int
    type: str
    amount: int
    before: int
    after: int
    related_type: Optional[str] = None
    related_id: Optional[int] = None
    metadata: dict[str, Any]
    created_at: str


class TransactionsOut(Out):
    page: int
    pages: int
    total: int
    per_page: int
    transactions: list[TransactionOut]


class RefillOut(Out):
    tokens_charged: int
    energy_added: int
    current: int
    max: int


class BoostAppliedOut(Out):
    boost: BoostOut
    energy: EnergyOut


class SkillsOut(Out):
    skills: dict[str, int]


class TierOut(Out):
    premium: bool
    current: int
    max: int


class AdjustOut(Out):
    current: int
    max: int


class ActionOut(Out):
    key: str
    name: str
    description: str
    base_cost: int
    difficulties: dict[str, float]
    skill_reductions: dict[str, Any]
    metric: str
    value: float
    cost: Optional[int] = Field(None, description="The cost (actions without difficulty levels).")
    costs: dict[str, int] = Field(description="The cost per difficulty level.")


class ActionsOut(Out):
    actions: list[ActionOut]


class ActionPerformedOut(EventOut):
    energy: Optional[EnergySpend] = None


class BoardOut(Out):
    key: str
    name: str
    ranked_by: str
    metric: Optional[str] = None
    system: Optional[str] = None
    frequency: str
    start_date: Optional[str] = None
    participant_limit: int
    breakdown: list[str]


class BoardsOut(Out):
    leaderboards: list[BoardOut]


class PeriodOut(Out):
    key: str
    start: Optional[str] = None
    end: Optional[str] = None
    status: str
    ends_at: Optional[str] = None
    finalises_at: Optional[str] = None


class EntryOut(Out):
    rank: int
    user_id: Optional[str] = None
    name: Optional[str] = None
    score: float


class RankingsOut(Out):
    leaderboard: BoardOut
    segment: str
    offset: int
    limit: int
    period: PeriodOut
    participants: int
    total: int
    rankings: list[EntryOut]


class PositionOut(Out):
    leaderboard: str
    segment: str
    user_id: str
    name: Optional[str] = None
    period: PeriodOut
    participants: int
    rank: Optional[int] = None
    score: Optional[float] = None
    around: list[EntryOut]
