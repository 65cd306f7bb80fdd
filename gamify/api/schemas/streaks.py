"""Shapes of the streak admin API: freeze grants, restoring a lost streak, pauses."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field

from ... import params
from .base import In, Missing, Out, checked

MAX_FREEZE_GRANT = 50  # as the admin console's form
FREEZE_REASON_MAX = 40  # the ledger's reason column also holds who granted it


def _amount(value: Any, field: str) -> int:
    return params.whole_number(value, field, 1, MAX_FREEZE_GRANT)


def _plain_reason(max_len: int):
    def check(value: Any, field: str) -> Optional[str]:
        return params.text(value, field, max_len)

    return check


def _reason(max_len: int):
    def check(value: Any, field: str) -> str:
        return params.text(value, field, max_len, required=True)

    return check


class FreezeBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": 2, "reason": "support ticket 123"}]})

    amount: Annotated[int, checked(_amount), Field(ge=1, le=MAX_FREEZE_GRANT, description="Freezes to grant.")] = 1
    reason: Annotated[
        str,
        checked(_reason(FREEZE_REASON_MAX)),
        Missing("reason is required: why the freezes are granted (kept in the ledger)"),
        Field(min_length=1, max_length=FREEZE_REASON_MAX),
    ]


class RestoreBody(In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "outage on 3 March"}]})

    reason: Annotated[
        str,
        checked(_reason(255)),
        Missing("reason is required: why the streak is given back (kept in the ledger)"),
        Field(min_length=1, max_length=255),
    ]


def _day(value: Any, field: str) -> date:
    raw = value.strip() if isinstance(value, str) else ""
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise params.BadInput(field, f"{field} must be a date (YYYY-MM-DD), a day in the player's time zone") from None


Day = Annotated[date, checked(_day)]


class PauseBody(In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"start": "2026-08-20", "end": "2026-08-27", "reason": "holiday"}]}
    )

    start: Annotated[
        Day, Missing("start is required: the first paused day (YYYY-MM-DD, not before the player's today)")
    ]
    end: Annotated[Day, Missing("end is required: the last paused day (YYYY-MM-DD, on or after start)")]
    # The length inside the Optional: on the Optional itself pydantic would measure a null (a 500).
    reason: Annotated[Optional[Annotated[str, Field(max_length=120)]], checked(_plain_reason(120))] = None


# ------------------------------------------------------------------------------------------ responses


class FreezesOut(Out):
    granted: int = Field(description="Fewer than requested when the player reached the maximum.")
    requested: int
    freezes: int = Field(description="Freezes the player holds now.")
    max_freezes: Optional[int] = Field(None, description="The most a player may hold (null: no maximum).")


class StreakNow(Out):
    length: int
    longest: int
    frequency: Optional[str] = None
    freezes: int
    at_risk: bool
    period_start: Optional[str] = None
    period_end: Optional[str] = None
    expires_utc: Optional[str] = Field(None, description="ISO 8601, UTC: lost then unless extended.")


class Restoration(Out):
    length: int = Field(description="The length given back: what the streak had when it broke.")
    lost_period_start: str = Field(description="The period that broke it (kept in the history).")
    reason: str
    created_at: str = Field(description="ISO 8601, UTC.")


class RestoreOut(Out):
    restored: Restoration
    streak: StreakNow


class PauseOut(Out):
    id: str = Field(description="The pause's id, a UUID.", json_schema_extra={"format": "uuid"})
    start: str = Field(description="First paused day (YYYY-MM-DD, the player's local calendar).")
    end: str = Field(description="Last paused day (included).")
    reason: str
    status: str = Field(description="active (covers today or a later day) or archived (over).")
    created_at: str = Field(description="ISO 8601, UTC.")


class PauseCreated(Out):
    pause: PauseOut
    streak: StreakNow


class PauseDeleted(Out):
    deleted: str = Field(description="The id of the pause deleted.")
    streak: StreakNow
