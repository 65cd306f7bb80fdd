"""Metric and points event summaries through Trophy's SDK: per day, ISO week and month of the user's
local calendar, the change in each period and the running total at its end (worked out by hand)."""

import pytest
from trophy.errors import NotFoundError, UnprocessableEntityError

from gamify.services.events import process_event
from gamify.services.users import identify
from tests import factories as f
from tests.integration.trophy.conftest import wire


@pytest.fixture
def history(world, db):
    user, _ = identify("u-1", tz="Asia/Tokyo")
    for when, words in (
        (f.utc(2025, 12, 31, 3), 10),  # before every window: the base total
        (f.utc(2026, 1, 5, 3), 2),  # Monday 5 January in Tokyo
        (f.utc(2026, 1, 5, 20), 3),  # 05:00 on Tuesday the 6th in Tokyo
        (f.utc(2026, 1, 14, 3), 1),  # Wednesday of the next week
    ):
        process_event("words", user, words, now=when)
    db.session.commit()


def test_metric_summary_by_day_week_and_month(sdk, history, conforms):
    raw = sdk.users.with_raw_response.metric_event_summary(
        "u-1", "words", aggregation="daily", start_date="2026-01-05", end_date="2026-01-07"
    )
    conforms(wire(raw), "get", "/users/{id}/metrics/{key}/event-summary")
    assert [(p.date, p.total, p.change) for p in raw.data] == [
        ("2026-01-05", 12, 2),
        ("2026-01-06", 15, 3),
        ("2026-01-07", 15, 0),
    ]
    weekly = sdk.users.metric_event_summary(
        "u-1", "words", aggregation="weekly", start_date="2026-01-06", end_date="2026-01-14"
    )
    assert [(p.date, p.total, p.change) for p in weekly] == [("2026-01-05", 15, 5), ("2026-01-12", 16, 1)]
    monthly = sdk.users.metric_event_summary(
        "u-1", "words", aggregation="monthly", start_date="2025-12-10", end_date="2026-01-20"
    )
    assert [(p.date, p.total, p.change) for p in monthly] == [("2025-12-01", 10, 10), ("2026-01-01", 16, 6)]


def test_points_summary(sdk, history, conforms):
    # 10 XP a word, doubled; "First words" (5, doubled) with the first event: 210 by the end of 2025.
    raw = sdk.users.with_raw_response.points_event_summary(
        "u-1", "xp", aggregation="daily", start_date="2026-01-05", end_date="2026-01-06"
    )
    conforms(wire(raw), "get", "/users/{id}/points/{key}/event-summary")
    assert [(p.date, p.total, p.change) for p in raw.data] == [("2026-01-05", 250, 40), ("2026-01-06", 310, 60)]


def test_summary_refusals(sdk, history, http):
    ask = sdk.users.metric_event_summary
    with pytest.raises(UnprocessableEntityError):
        ask("u-1", "words", aggregation="daily", start_date="2026-01-07", end_date="2026-01-05")
    with pytest.raises(UnprocessableEntityError):
        ask("u-1", "words", aggregation="daily", start_date="2025-01-01", end_date="2026-03-01")  # > 400 days
    with pytest.raises(UnprocessableEntityError):
        ask("u-1", "words", aggregation="hourly", start_date="2026-01-01", end_date="2026-01-02")
    with pytest.raises(NotFoundError):
        ask("u-1", "nope", aggregation="daily", start_date="2026-01-01", end_date="2026-01-02")
    r = http("GET", "/users/u-1/points/xp/event-summary", params={"aggregation": "daily"})
    assert r.status_code == 422 and r.json() == {"error": "startDate is required"}
