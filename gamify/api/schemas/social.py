"""Shapes of the social API: energy gifts between friends, and friendships. Players are named by the host
app's ids; the checks on amounts, messages and limits are the energy service's (the web pages' own)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import ConfigDict, Field, WithJsonSchema

from ... import params
from .base import ExternalId, In, Missing, Out, checked
from .energy import EnergyOut
from .paging import Cursor, PageSizeArg

GIFT_MESSAGE_MAX = 200  # the service's limit (and the web form's)


def _optional_whole(value: Any, field: str) -> Optional[int]:
    return None if value is None else params.whole_number(value, field)


def _message(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > GIFT_MESSAGE_MAX:
        raise params.BadInput(field, f"{field} must be a string of at most {GIFT_MESSAGE_MAX} characters")
    problem = params.text_problem(value)
    if problem:
        raise params.BadInput(field, f"{field} {problem}")
    return value


def choice(*options: str):
    """A value among `options` (a query string's or a body's), refused with the list of them."""

    def check(value: Any, field: str) -> Any:
        if value is not None and value not in options:
            raise params.BadInput(field, f"{field} must be one of: {', '.join(options)}")
        return value

    return checked(check)


# ------------------------------------------------------------------------------------------ requests


class GiftBody(In):
    """Send energy to a friend: the sender spends it now, the friend accepts (or declines) it later."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"recipient": "u-7", "amount": 10, "message": "Good luck today!"}]}
    )

    recipient: Annotated[ExternalId, Missing("recipient is required: the host app's id of a friend")]
    amount: Annotated[
        Optional[int],
        checked(_optional_whole),
        Field(description="Energy to give (default: the configured default gift; the limits are in `limits`)."),
        WithJsonSchema({"type": ["integer", "null"], "minimum": -params.MAX_INT, "maximum": params.MAX_INT}),
    ] = None
    message: Annotated[
        Optional[str], checked(_message), Field(max_length=GIFT_MESSAGE_MAX, description="Shown to the friend.")
    ] = None


class GiftsQuery(In):
    box: Annotated[
        Literal["received", "sent"], choice("received", "sent"), Field(description="Gifts received or sent.")
    ] = "received"
    status: Annotated[
        Optional[Literal["pending", "accepted", "declined", "expired"]],
        choice("pending", "accepted", "declined", "expired"),
        Field(description="Only gifts in this state (a pending gift past its expiry is expired)."),
    ] = None
    cursor: Cursor = None
    limit: PageSizeArg = 20


class FriendBody(In):
    """Ask a player to be friends (if they already asked, this accepts their request)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"friend": "u-7"}]})

    friend: Annotated[ExternalId, Missing("friend is required: the host app's id of the player to ask")]


# ------------------------------------------------------------------------------------------ responses


class PlayerRef(Out):
    id: Optional[str] = Field(None, description="The host app's id of the player.")
    name: str


class GiftOut(Out):
    id: int
    sender: PlayerRef
    recipient: PlayerRef
    amount: int
    message: str
    status: Literal["pending", "accepted", "declined", "expired"]
    created_at: str
    expires_at: str
    resolved_at: Optional[str] = None
    credited: Optional[int] = Field(None, description="What the recipient got (capped at their maximum).")
    refunded: bool = Field(description="The energy went back to the sender (declined, or expired with refunds on).")


class GiftLimitsOut(Out):
    sent_today: int
    sent_limit: int
    sent_left: int
    received_today: int
    received_limit: int
    received_left: int
    min: int
    max: int
    default: int
    expiry_hours: int


class GiftsOut(Out):
    gifts: list[GiftOut] = Field(description="Newest first.")
    next_cursor: Optional[str] = Field(None, description="Pass as `cursor` for the next page; null on the last.")
    limits: GiftLimitsOut = Field(description="The player's gifts today (their local day) and the gift rules.")


class GiftSentOut(Out):
    gift: GiftOut
    energy: EnergyOut = Field(description="The sender's energy after sending.")


class GiftAcceptedOut(Out):
    gift: GiftOut
    credited: int
    energy: EnergyOut = Field(description="The recipient's energy after accepting.")


class GiftDeclinedOut(Out):
    gift: GiftOut


class FriendOut(PlayerRef):
    since: Optional[str] = None


class FriendRequestOut(PlayerRef):
    requested_at: str


class FriendsOut(Out):
    friends: list[FriendOut] = Field(description="By name.")
    incoming: list[FriendRequestOut] = Field(description="Requests waiting for this player's answer, oldest first.")
    outgoing: list[FriendRequestOut] = Field(description="Requests this player sent, oldest first.")


class FriendshipOut(Out):
    friend: PlayerRef
    status: Literal["pending", "accepted", "none"] = Field(description="The pair's state now.")
    message: str
