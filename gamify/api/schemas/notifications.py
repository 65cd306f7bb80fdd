"""Shapes of the notifications API: the in-app inbox (cursor pages, read marks) and the per-type,
per-channel preferences (the player's settings page's checkboxes)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

from pydantic import ConfigDict, Field, WithJsonSchema, create_model

from ... import params
from ...models.notifications import CHANNELS, NOTIFICATION_TYPES
from .base import In, Missing, Out, checked
from .paging import Cursor, PageSizeArg


def _flag(value: Any, field: str) -> bool:
    """A yes/no query parameter: true/false (also 1/0, yes/no)."""
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    raise params.BadInput(field, f"{field} must be true or false")


class InboxQuery(In):
    unread: Annotated[
        bool,
        checked(_flag),
        WithJsonSchema({"type": "boolean", "description": "Only the unread ones (true/false)."}),
    ] = False
    cursor: Cursor = None
    limit: PageSizeArg = 20


def _preferences(value: Any, field: str) -> dict[str, dict[str, bool]]:
    if not isinstance(value, dict) or not value:
        raise params.BadInput(field, f"{field} must be an object of type -> {{channel: true|false}}")
    for type_, channels in value.items():
        if type_ not in NOTIFICATION_TYPES:
            raise params.BadInput(
                f"{field}.{type_}", f"unknown notification type: one of {', '.join(NOTIFICATION_TYPES)}"
            )
        if not isinstance(channels, dict) or not channels:
            raise params.BadInput(f"{field}.{type_}", f"{field}.{type_} must be an object of channel -> true|false")
        for channel, enabled in channels.items():
            where = f"{field}.{type_}.{channel}"
            if channel not in CHANNELS:
                raise params.BadInput(where, f"unknown channel: one of {', '.join(CHANNELS)}")
            if not isinstance(enabled, bool):
                raise params.BadInput(where, f"{where} must be true or false")
    return value


_CHANNELS_SCHEMA = {
    "type": "object",
    "minProperties": 1,
    "properties": {ch: {"type": "boolean"} for ch in CHANNELS},
    "additionalProperties": False,
}


class PreferencesBody(In):
    """The settings to change: {type: {channel: true|false}}; the others stay as they are."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"preferences": {"gift": {"email": False}}}]})

    preferences: Annotated[
        dict[str, dict[str, bool]],
        checked(_preferences),
        Missing("preferences is required: an object of type -> {channel: true|false}"),
        WithJsonSchema(
            {
                "type": "object",
                "minProperties": 1,
                "properties": {t: _CHANNELS_SCHEMA for t in NOTIFICATION_TYPES},
                "additionalProperties": False,
                "description": "Notification types: "
                + ", ".join(f"{t} ({label})" for t, label in NOTIFICATION_TYPES.items()),
            }
        ),
    ]


# ------------------------------------------------------------------------------------------ responses


class NotificationOut(Out):
    id: int
    type: str
    title: str
    body: str
    link: str = Field(description="A path of the web app (empty when none).")
    created_at: str
    read_at: Optional[str] = None


class InboxOut(Out):
    notifications: list[NotificationOut] = Field(description="Newest first.")
    unread_count: int
    next_cursor: Optional[str] = Field(None, description="Pass as `cursor` for the next page; null on the last.")


class ReadAllOut(Out):
    marked: int = Field(description="How many were unread until now.")
    unread_count: int


ChannelsOut = create_model("ChannelsOut", __base__=Out, **{ch: (bool, ...) for ch in CHANNELS})
TypesOut = create_model("TypesOut", __base__=Out, **{t: (ChannelsOut, ...) for t in NOTIFICATION_TYPES})


class PreferencesOut(Out):
    preferences: TypesOut = Field(description="Every notification type, every channel: on unless switched off.")
    types: dict[str, str] = Field(description="What each type is, in words.")
