"""Shapes of the points API: a player's award history and daily summary, the level summary, manual awards."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field, model_validator

from ... import params
from ...services.day_ranges import MAX_DAYS
from .base import In, LimitArg, Missing, Out, Whole, _error, checked
from .events import IdempotencyKey, PointsOut

Cursor = Annotated[
    Optional[str],
    Field(max_length=1000, description="The `next_cursor` of the previous page, unchanged."),
]


def _day(value: Any, field: str) -> Optional[date]:
    raw = value.strip() if isinstance(value, str) else ""
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise params.BadInput(field, f"{field} must be a date (YYYY-MM-DD)") from None


def _from_day(value: Any, _field: str) -> Optional[date]:
    return _day(value, "from")  # the field is from_ in Python (a keyword), "from" in the query string


Day = Annotated[Optional[date], checked(_day)]
FromDay = Annotated[Optional[date], checked(_from_day)]


class AwardsQuery(In):
    limit: LimitArg = Field(25, description="Awards per page.")
    cursor: Cursor = None


def _amount(value: Any, field: str) -> int:
    n = params.whole_number(value, field)
    if n == 0:
        raise params.BadInput(field, f"{field} must not be 0: positive adds points, negative takes them away")
    return n


def _reason(value: Any, field: str) -> str:
    text = params.text(value, field, 255, required=True)
    return text


class AwardBody(In):
    """A manual award (positive) or deduction (negative) by the host app."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": 50, "reason": "Referred a friend", "idempotency_key": "ref-42"}]}
    )

    amount: Annotated[
        Whole,
        checked(_amount),
        Missing("amount is required: a whole number, negative to take points away"),
        Field(description="Points to add (negative: to take away); not 0."),
    ]
    reason: Annotated[
        str,
        checked(_reason),
        Missing("reason is required: why the points change (kept in the ledger)"),
        Field(min_length=1, max_length=255),
    ]
    idempotency_key: IdempotencyKey = None


class DayRange(In):
    """`?from=&to=`: a range of the player's local days, at most MAX_DAYS long."""

    from_: Annotated[FromDay, Field(alias="from", description="First local day (default: 29 days before `to`).")] = None
    to: Annotated[Day, Field(description="Last local day (default: the player's today).")] = None

    @model_validator(mode="after")
    def _bounded(self):
        if self.from_ is not None and self.to is not None:
            if self.from_ > self.to:
                raise _error(params.BadInput("from", "from must not be after to"))
            if (self.to - self.from_).days >= MAX_DAYS:
                raise _error(params.BadInput("to", f"the range may span at most {MAX_DAYS} days"))
        return self


class DailyQuery(DayRange):
    pass


# ------------------------------------------------------------------------------------------ responses


class AwardOut(Out):
    id: int
    amount: int = Field(description="What the balance changed by (after boosts and caps).")
    base_amount: int = Field(description="Before boosts and caps.")
    multiplier: float = Field(description="The boosts' combined multiplier (1 for none).")
    trigger: str = Field(description="A trigger type (metric, streak, achievement, ...), or admin, spend, refill.")
    trigger_id: Optional[int] = None
    source_event_id: Optional[int] = Field(None, description="The metric event that caused it.")
    reason: str
    local_date: str = Field(description="The player's local day (YYYY-MM-DD).")
    awarded_at: str = Field(description="ISO 8601, UTC.")
    idempotency_key: Optional[str] = None


class AwardsOut(Out):
    user_id: str
    system: str
    awards: list[AwardOut] = Field(description="Newest first.")
    has_more: bool
    next_cursor: Optional[str] = Field(None, description="Pass as ?cursor= for the next page; null on the last.")


class ManualAwardOut(Out):
    award: AwardOut
    points: PointsOut
    level_changed: bool
    idempotent_replayed: bool


class DayOut(Out):
    date: str
    earned: int
    deducted: int = Field(description="Points taken away that day (a positive number).")
    net: int
    awards: int = Field(description="Ledger rows that day.")
    balance: int = Field(description="The balance at the end of the day.")


class DailyOut(Out):
    user_id: str
    system: str
    tz: str = Field(description="The player's time zone: the days are theirs.")
    from_: str = Field(alias="from")
    to: str
    days: list[DayOut] = Field(description="Every day of the range, oldest first.")


class LevelOut(Out):
    key: str
    name: str
    badge: str
    threshold: int
    players: int
    share_pct: float


class LevelsOut(Out):
    system: str
    name: str
    players: int = Field(description="Every player.")
    below_first_level: int
    levels: list[LevelOut] = Field(description="By threshold, lowest first.")
