"""Shapes of the achievements API: a player's progress on every achievement, one achievement's details."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field

from .base import ExternalId, In, Out


class ProgressQuery(In):
    status: Annotated[
        Optional[Literal["completed", "incomplete", "locked"]],
        Field(description="Only the achievements the player has completed, is working on, or cannot earn yet."),
    ] = None


class DetailsQuery(In):
    user_id: Annotated[Optional[ExternalId], Field(description="Add this player's progress.")] = None


# ------------------------------------------------------------------------------------------ responses


class Prerequisite(Out):
    key: str
    name: str = Field(description='"???" for a hidden one the player has not earned.')
    completed: bool


class _Achievement(Out):
    key: str
    name: str = Field(description='"???" while hidden and not earned.')
    description: str
    badge: Optional[str] = None
    trigger: Optional[str] = Field(None, description="metric, streak, api or composite; null while hidden.")
    hidden: bool = Field(description="Hidden until earned: name, description and progress are masked until then.")
    rarity_pct: float = Field(description="Share of players holding it.")
    completion_count: int
    unit: Optional[str] = None
    prerequisites: list[Prerequisite] = Field(description="A composite's prerequisites.")


class Progress(Out):
    status: Literal["completed", "incomplete", "locked"]
    current: Optional[float] = Field(None, description="Null where nothing is measured (api, or hidden).")
    target: Optional[float] = None
    percent: Optional[float] = Field(None, description="0-100; 100 once completed; null while hidden.")
    completed_at: Optional[str] = Field(None, description="ISO 8601, UTC.")
    backdated: Optional[bool] = Field(None, description="Completed by a backfill, not live.")


class AchievementProgress(_Achievement, Progress):
    pass


class ProgressOut(Out):
    user_id: str
    achievements: list[AchievementProgress]


class AchievementDetails(_Achievement):
    state: Literal["active", "locked", "archived"] = Field(
        description="active: earnable; locked: shown, not earnable yet; archived: retired."
    )
    target: Optional[float] = None
    players: int = Field(description="Players in all (rarity's denominator).")
    progress: Optional[Progress] = Field(None, description="With ?user_id=: that player's progress.")
