"""A user's year in review through Trophy's SDK (GET /users/{id}/wrapped), worked out by hand."""

import pytest
from trophy.errors import NotFoundError, UnprocessableEntityError

from gamify.services import achievements
from gamify.services.events import process_event
from gamify.services.users import identify
from tests import factories as f
from tests.integration.trophy.conftest import wire


@pytest.fixture
def year(world, db):
    user, _ = identify("u-1", tz="UTC")
    rival, _ = identify("rival", tz="UTC")
    process_event("words", user, 10, now=f.utc(2024, 12, 31, 12))  # before the year: the base
    process_event("words", rival, 12, now=f.utc(2025, 3, 10, 8))  # takes first place for a morning
    process_event("words", user, 2, attributes={"source": "mobile"}, now=f.utc(2025, 3, 10, 12))
    process_event("words", user, 3, attributes={"source": "web"}, now=f.utc(2025, 3, 10, 13))
    process_event("words", user, 1, attributes={"source": "mobile"}, now=f.utc(2025, 3, 11, 12))
    process_event("words", user, 4, now=f.utc(2025, 6, 2, 12))
    achievements.complete_via_api(user, achievements.by_key("onboarded"), f.utc(2025, 3, 10, 14))
    db.session.commit()


def test_year_in_review(sdk, year, conforms):
    raw = sdk.users.with_raw_response.wrapped("u-1", year=2025)
    conforms(wire(raw), "get", "/users/{id}/wrapped")
    w = raw.data.activity
    assert (raw.data.user.id, w.days_active, w.weeks_active, w.months_active) == ("u-1", 3, 2, 2)

    day = w.most_active_day  # 10 March: two events
    assert day.date == "2025-03-10"
    words = day.metrics["words"]
    assert (words.name, words.units, words.current_total, words.change_this_period, words.percent_change) == (
        "Words written",
        "words",
        15,
        5,
        50.0,
    )
    mobile = words.by_attribute["source"]["mobile"]
    assert (mobile.current_total, mobile.change_this_period) == (2, 2)
    xp = day.points["xp"]  # 20 XP a word (10, doubled): 210 before (with "First words"), +100
    assert (xp.current_total, xp.change_this_period, xp.percent_change) == (310, 100, 47.6)
    assert [a.key for a in day.achievements] == ["onboarded"]
    assert day.leaderboards["words-all"].rank == 1  # back on top by noon

    assert (w.most_active_week.start, w.most_active_week.end) == ("2025-03-10", "2025-03-16")
    assert w.most_active_week.metrics["words"].change_this_period == 6
    assert (w.most_active_month.month, w.most_active_month.metrics["words"].current_total) == (2, 16)  # March
    whole = w.entire_year
    assert (whole.metrics["words"].current_total, whole.metrics["words"].change_this_period) == (20, 10)
    assert whole.metrics["words"].percent_change == 100.0
    s = whole.longest_streak
    assert (s.length, s.frequency, s.period_start, s.started) == (2, "daily", "2025-03-11", "2025-03-10")


def test_wrapped_refusals(sdk, year):
    quiet = sdk.users.wrapped("rival", year=2020)  # nothing that year: zeros, the year's first periods
    assert (quiet.activity.days_active, quiet.activity.most_active_day.date) == (0, "2020-01-01")
    assert quiet.activity.entire_year.longest_streak.length == 0
    with pytest.raises(UnprocessableEntityError):
        sdk.users.wrapped("u-1", year=3000)
    with pytest.raises(UnprocessableEntityError):
        sdk.users.wrapped("u-1", year=0)
    with pytest.raises(NotFoundError):
        sdk.users.wrapped("nobody")
