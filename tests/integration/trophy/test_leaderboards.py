"""Leaderboards through Trophy's SDK: the list, rankings (offset, limit, userId, userAttributes, run)
and a user's rank with its history."""

from datetime import date, timedelta

import pytest
from trophy import UpsertedUser
from trophy.errors import NotFoundError, UnprocessableEntityError

from gamify.services import leaderboards
from gamify.services.events import process_event
from gamify.services.users import identify
from tests import factories as f
from tests.integration.trophy.conftest import wire


@pytest.fixture
def ranked(sdk, world):
    """a: 5 words (London), b: 3 (Paris), c: 1 (London)."""
    for uid, value, city in (("a", 5, "London"), ("b", 3, "Paris"), ("c", 1, "London")):
        sdk.metrics.event("words", user=UpsertedUser(id=uid, name=uid.upper(), attributes={"city": city}), value=value)


def test_list_of_boards(sdk, world, db, conforms):
    weekly = leaderboards.create(
        {
            "key": "weekly",
            "name": "Weekly words",
            "ranked_by": "points",
            "system_id": world["xp"].id,
            "frequency": "weekly",
            "start_date": date(2026, 1, 5),
            "participant_limit": 5,
        }
    )
    weekly_id = weekly.id
    leaderboards.create(
        {"key": "old", "name": "Old", "ranked_by": "streak", "frequency": "perpetual", "participant_limit": 3}
    ).active = False
    db.session.commit()
    raw = sdk.leaderboards.with_raw_response.all_()
    conforms(wire(raw), "get", "/leaderboards")
    assert [(b.key, b.status, b.rank_by) for b in raw.data] == [
        ("words-all", "active", "metric"),
        ("weekly", "active", "points"),
    ]
    words, week = raw.data
    assert (words.metric_key, words.run_unit, words.breakdown_attributes, words.max_participants) == (
        "words",
        None,
        ["city"],
        10,
    )
    assert (week.id, week.points_system_key, week.run_unit, week.run_interval, week.start) == (
        str(weekly_id),
        "xp",
        "day",
        7,
        "2026-01-05",
    )
    every = sdk.leaderboards.all_(include_finished=True)
    assert [(b.key, b.status) for b in every][-1] == ("old", "finished")


def test_rankings_pages_and_segments(sdk, ranked, conforms):
    raw = sdk.leaderboards.with_raw_response.get("words-all")
    conforms(wire(raw), "get", "/leaderboards/{key}")
    assert [(r.user_id, r.user_name, r.rank, r.value) for r in raw.data.rankings] == [
        ("a", "A", 1, 5),
        ("b", "B", 2, 3),
        ("c", "C", 3, 1),
    ]
    assert [r.user_id for r in sdk.leaderboards.get("words-all", offset=1, limit=1).rankings] == ["b"]
    assert [r.user_id for r in sdk.leaderboards.get("words-all", user_id="b", limit=2).rankings] == ["b", "c"]
    assert sdk.leaderboards.get("words-all", user_id="nobody").rankings == []
    london = sdk.leaderboards.get("words-all", user_attributes="city:London")
    assert [(r.user_id, r.rank) for r in london.rankings] == [("a", 1), ("c", 2)]
    with pytest.raises(UnprocessableEntityError):
        sdk.leaderboards.get("words-all", user_attributes="plan:pro")
    with pytest.raises(UnprocessableEntityError):
        sdk.leaderboards.get("words-all", run="2026-01-05")  # a perpetual board has no runs
    with pytest.raises(NotFoundError):
        sdk.leaderboards.get("nope")


def test_a_users_rank_and_history(sdk, ranked, conforms):
    raw = sdk.users.with_raw_response.leaderboard("b", "words-all")
    conforms(wire(raw), "get", "/users/{id}/leaderboards/{key}")
    me = raw.data
    assert (me.key, me.rank, me.value) == ("words-all", 2, 3)
    (day,) = me.history  # b entered at 2 and stayed there (c came in below)
    assert (day.previous_rank, day.rank) == (None, 2)
    sdk.metrics.event("words", user=UpsertedUser(id="b"), value=3)  # 6 > 5: b overtakes a
    me = sdk.users.leaderboard("b", "words-all")
    assert (me.rank, me.value) == (1, 6)
    assert [(h.previous_rank, h.rank) for h in me.history] == [(None, 1)]  # the day: from nowhere to 1
    sdk.users.create(id="z")
    unranked = sdk.users.leaderboard("z", "words-all")
    assert (unranked.rank, unranked.value, unranked.history) == (None, None, [])
    with pytest.raises(NotFoundError):
        sdk.users.leaderboard("b", "nope")
    with pytest.raises(NotFoundError):
        sdk.users.leaderboard("nobody", "words-all")


def test_a_past_run_from_the_archive(sdk, world, db, conforms):
    monday = date(2026, 1, 5)
    leaderboards.create(
        {
            "key": "weekly-words",
            "name": "Weekly words",
            "ranked_by": "metric",
            "metric_id": world["words"].id,
            "frequency": "weekly",
            "start_date": monday,
            "participant_limit": 5,
        },
        now=f.utc(2026, 1, 5, 1),
    )
    for uid, words in (("a", 2), ("b", 7)):
        process_event("words", identify(uid)[0], words, now=f.utc(2026, 1, 6, 12))
    leaderboards.finalise_due(f.utc(2026, 1, 13, 13))  # the week of the 5th is over everywhere
    db.session.commit()
    raw = sdk.leaderboards.with_raw_response.get("weekly-words", run=monday.isoformat())
    conforms(wire(raw), "get", "/leaderboards/{key}")
    assert [(r.user_id, r.rank, r.value) for r in raw.data.rankings] == [("b", 1, 7), ("a", 2, 2)]
    mine = sdk.users.leaderboard("a", "weekly-words", run=monday.isoformat())
    assert (mine.rank, mine.value) == (2, 2)
    with pytest.raises(NotFoundError):
        sdk.leaderboards.get("weekly-words", run=(monday + timedelta(days=1)).isoformat())  # no run starts then
