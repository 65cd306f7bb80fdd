"""Shapes of the players API beyond one player: identifying many at once, and erasing one."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import ConfigDict, Field, ValidationError, WrapValidator

from ... import params
from .base import ErrorDetail, ExternalId, In, Missing, Out, bad_input, checked
from .events import IdentifyBody, UserOut

# A new player costs about 20 statements (signup points, streak row, rarity): 100 keep a request short
# (Trophy's batch operations take 100 too; only its events take 1,000).
MAX_BULK_USERS = 100


class BulkUser(IdentifyBody):
    """One player of a bulk identify: the single endpoint's body plus the player's id."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "u-42", "name": "Ada", "tz": "Europe/London"}]})

    id: Annotated[ExternalId, Missing("id is required: the host app's id of the player")]


def _bulk_item(value: Any, handler) -> Any:
    """A player of the list, or the BadInput that refuses it alone (the others are still identified)."""
    if not isinstance(value, dict):
        return params.BadInput("user", "each user must be an object")
    try:
        return handler(value)
    except ValidationError as e:
        return bad_input(e, BulkUser)


def _users(value: Any, field: str) -> list:
    if not isinstance(value, list) or not value:
        raise params.BadInput(field, f"{field} must be a non-empty array of at most {MAX_BULK_USERS} users")
    if len(value) > MAX_BULK_USERS:
        raise params.BadInput(field, f"at most {MAX_BULK_USERS} users per request (got {len(value)}); split the list")
    return value


class BulkIdentifyBody(In):
    """Create or update up to 100 players in one request."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "users": [
                        {"id": "u-42", "name": "Ada", "email": "ada@example.com", "tz": "Europe/London"},
                        {"id": "u-7", "attributes": {"plan": "pro"}},
                    ]
                }
            ]
        }
    )

    users: Annotated[
        list[Annotated[BulkUser, WrapValidator(_bulk_item)]],
        checked(_users),
        Missing(f"users must be a non-empty array of at most {MAX_BULK_USERS} users"),
        Field(min_length=1, max_length=MAX_BULK_USERS),
    ]


# ------------------------------------------------------------------------------------------ responses


class BulkResultOk(UserOut):
    status: int = Field(description="201 when the player was created, 200 when updated.")


class BulkResultError(Out):
    status: int = Field(description="This player's 4xx: nothing of it was written.")
    error: ErrorDetail


class BulkIdentifyOut(Out):
    results: list[Union[BulkResultOk, BulkResultError]] = Field(description="One per user, in order.")


class ErasedOut(Out):
    id: str = Field(description="The host app's id of the erased player (free to be used again).")
    deleted: bool
    rows: dict[str, int] = Field(description="Rows removed, per table (the player's own row as `users`).")
