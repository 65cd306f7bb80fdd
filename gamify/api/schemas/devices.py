"""Shapes of the devices API: the push tokens of a player's phones, per platform (services/mobile_push.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from ...services.users import DEVICE_TOKEN_MAX
from .base import In, Missing, Out


class DeviceBody(In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]", "platform": "expo"}]}
    )

    token: Annotated[
        str,
        Field(min_length=1, max_length=DEVICE_TOKEN_MAX, description="The push token the app got on the device."),
        Missing("token is required: the device's push token"),
    ]
    platform: Annotated[
        Literal["ios", "android", "expo"],
        Field(description="expo: an Expo push token; ios/android: an FCM registration token."),
        Missing("platform is required: ios, android or expo"),
    ]


class DeviceOut(Out):
    token: str
    platform: str = Field(description="ios, android, expo ('' for a token set through identify's device_tokens).")
    created_at: str


class DevicesOut(Out):
    devices: list[DeviceOut]


class DeviceDeleted(Out):
    deleted: bool = Field(description="false when the player had no such device (nothing changed).")
