"""Shapes of the energy API: balance, refills, boosts, skills, tier, rest, adjustments, actions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Callable, Optional

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
)

from ... import params
from .base import (
    In,
    Missing,
    Out,
    PageArg,
    Whole,
    _error,
    _string,
    checked,
)
from .events import (
    EnergySpend,
    EventOut,
    IdempotencyKey,
    UserRefBody,
)


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


# ------------------------------------------------------------------------------------------ responses


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
