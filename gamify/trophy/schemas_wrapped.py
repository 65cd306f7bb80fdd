"""Trophy's year in review (WrappedResponse) as response models, beside schemas.py's (same conventions:
snake_case here, camelCase on the wire, only the fields set are sent)."""

from __future__ import annotations

from typing import Optional

from .schemas import Frequency, LeaderboardOut, TOut, UserAchievementOut, UserOut


class WrappedAttributeOut(TOut):
    name: str
    units: Optional[str]
    current_total: float
    change_this_period: float
    percent_change: float


class WrappedMetricOut(WrappedAttributeOut):
    by_attribute: dict[str, dict[str, WrappedAttributeOut]]


class WrappedPointsOut(TOut):
    name: str
    current_total: float
    change_this_period: float
    percent_change: float


class UserBoardOut(LeaderboardOut):
    rank: Optional[int]
    value: Optional[int]


class WrappedPeriodOut(TOut):
    metrics: dict[str, WrappedMetricOut]
    points: dict[str, WrappedPointsOut]
    achievements: list[UserAchievementOut]
    leaderboards: dict[str, UserBoardOut]


class WrappedDayOut(WrappedPeriodOut):
    date: str


class WrappedWeekOut(WrappedPeriodOut):
    start: str
    end: str


class WrappedMonthOut(WrappedPeriodOut):
    month: int  # 0 = January


class WrappedStreakOut(TOut):
    length: int
    frequency: Frequency
    period_start: Optional[str]
    period_end: Optional[str]
    started: Optional[str]


class WrappedYearOut(WrappedPeriodOut):
    longest_streak: WrappedStreakOut


class WrappedActivityOut(TOut):
    days_active: int
    weeks_active: int
    months_active: int
    most_active_day: WrappedDayOut
    most_active_week: WrappedWeekOut
    most_active_month: WrappedMonthOut
    entire_year: WrappedYearOut


class WrappedOut(TOut):
    user: UserOut
    activity: WrappedActivityOut
