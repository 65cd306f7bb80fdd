"""POST /trophy/v1/metrics/{key}/event through Trophy's SDK: the event's effects in Trophy's shape,
idempotent replays (201, then 202 with idempotentReplayed), and the errors Trophy's definition lists."""

from datetime import date, datetime, timedelta, timezone

import pytest
from trophy import UpsertedUser
from trophy.core.api_error import ApiError
from trophy.errors import BadRequestError, UnauthorizedError, UnprocessableEntityError

from gamify.models import MetricEvent, PointsAward, User
from tests.integration.trophy.conftest import wire


def today() -> date:
    return datetime.now(timezone.utc).date()


def test_first_event_answers_every_effect(sdk, world, http, conforms):
    raw = sdk.metrics.with_raw_response.event(
        "words", user=UpsertedUser(id="u-1", tz="UTC", attributes={"city": "London"}), value=3
    )
    assert raw.status_code == 201
    ev = raw.data  # parsed into the SDK's EventResponse
    conforms(wire(raw), "post", "/metrics/{key}/event", 201)
    assert ev.metric_id == str(world["words"].id) and ev.total == 3
    assert [a.name for a in ev.achievements] == ["First words"]
    assert ev.achievements[0].trigger == "metric" and ev.achievements[0].metric_value == 1
    assert ev.achievements[0].achieved_at is not None
    s = ev.current_streak
    assert (s.length, s.extended, s.frequency) == (1, True, "daily")
    assert s.started == s.period_start == s.period_end == today().isoformat()
    assert s.expires == (today() + timedelta(days=1)).isoformat()  # tomorrow is the last day to keep it
    assert (s.freezes, s.max_freezes) == (1, 2)
    xp = ev.points["xp"]
    # 3 words x 10 XP, doubled by the boost = 60; "First words" 5 XP, doubled = 10.
    assert (xp.added, xp.total, xp.level.key) == (70, 70, "silver")
    assert [(a.awarded, a.total, a.trigger.type) for a in xp.awards] == [(10, 70, "achievement"), (60, 60, "metric")]
    board = ev.leaderboards["words-all"]
    assert (board.rank, board.previous_rank, board.threshold) == (1, None, 0)
    assert board.breakdown_attribute_values[0].value == "London"
    assert ev.idempotent_replayed is False


def test_idempotency_key_replays_with_202_and_changes_nothing(sdk, world, db):
    first = sdk.metrics.with_raw_response.event("words", user=UpsertedUser(id="u-2"), value=2, idempotency_key="k-1")
    again = sdk.metrics.with_raw_response.event("words", user=UpsertedUser(id="u-2"), value=2, idempotency_key="k-1")
    assert (first.status_code, again.status_code) == (201, 202)
    assert again.data.idempotent_replayed is True and again.data.idempotency_key == "k-1"
    assert again.data.event_id == first.data.event_id and again.data.total == 2
    assert again.data.achievements == [] and again.data.current_streak.extended is False
    assert (again.data.points["xp"].added, again.data.points["xp"].total) == (0, 50)  # 2 x 10 x 2 + 5 x 2
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 1
    assert db.session.execute(db.select(db.func.count(PointsAward.id))).scalar() == 2
    db.session.rollback()
    other = sdk.metrics.with_raw_response.event("words", user=UpsertedUser(id="u-2"), value=2, idempotency_key="k-2")
    assert other.status_code == 201 and other.data.total == 4


def test_a_second_player_sees_the_first_ones_score_as_threshold(sdk, world, db):
    sdk.metrics.event("words", user=UpsertedUser(id="a", attributes={"city": "London"}), value=5)
    ev = sdk.metrics.event("words", user=UpsertedUser(id="b", attributes={"city": "Paris"}), value=2)
    assert (ev.leaderboards["words-all"].rank, ev.total) == (2, 2)  # the whole board's rank (1st in Paris)
    overtake = sdk.metrics.event("words", user=UpsertedUser(id="b"), value=4)
    assert (overtake.leaderboards["words-all"].rank, overtake.leaderboards["words-all"].previous_rank) == (1, 2)


def test_new_user_fields_are_stored(sdk, world, db):
    sdk.metrics.event(
        "words",
        user=UpsertedUser(id="u-3", email="Ann@Example.com", name="Ann", tz="Europe/Paris", subscribe_to_emails=False),
        value=1,
        attributes={"source": "mobile"},
    )
    user = db.session.execute(db.select(User).where(User.external_id == "u-3")).scalar_one()
    assert (user.email, user.display_name, user.timezone) == ("ann@example.com", "Ann", "Europe/Paris")
    event = db.session.execute(db.select(MetricEvent)).scalar_one()
    assert event.attributes == {"source": "mobile"} and event.value == 1
    db.session.rollback()
    assert sdk.users.get("u-3").subscribe_to_emails is False


def test_errors_have_trophys_status_and_shape(sdk, world, http):
    with pytest.raises(ApiError) as unknown:
        sdk.metrics.event("nope", user=UpsertedUser(id="u"), value=1)
    assert unknown.value.status_code == 404 and unknown.value.body == {"error": "unknown metric 'nope'"}
    r = http("POST", "/metrics/words/event", key=False, json={"user": {"id": "u"}, "value": 1})
    assert r.status_code == 401 and isinstance(r.json()["error"], str)
    with pytest.raises(UnauthorizedError):
        wrong = {"additional_headers": {"X-API-KEY": "wrong"}}
        sdk.metrics.event("words", user=UpsertedUser(id="u"), value=1, request_options=wrong)
    for bad, status, says in [
        ({"value": 1}, 400, "user is required"),
        ({"user": {"id": "u"}}, 400, "value is required"),
        ({"user": {"id": 7}, "value": 1}, 400, "user.id must be a string"),
        ({"user": {"id": "u"}, "value": "1"}, 400, "value must be a number"),
        ({"user": {"id": "u"}, "value": 1, "attributes": {"a": 1}}, 400, "attributes.a must be a string"),
        ({"user": {"id": "u", "tz": "+05:30"}, "value": 1}, 422, "offset"),
        ({"user": {"id": "u", "email": "not an address"}, "value": 1}, 422, "email"),
        ({"user": {"id": "u"}, "value": -1}, 422, "negative"),
    ]:
        r = http("POST", "/metrics/words/event", json=bad)
        assert r.status_code == status and says in r.json()["error"], (bad, r.status_code, r.text)
        assert set(r.json()) == {"error"}
    r = http("POST", "/metrics/words/event", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json() == {"error": "request body is not valid JSON"}
    with pytest.raises(BadRequestError):
        sdk.metrics.event("words", user=UpsertedUser(id="u"), value="3")
    with pytest.raises(UnprocessableEntityError) as empty:
        sdk.metrics.event("words", user=UpsertedUser(id=""), value=1)
    assert empty.value.body["error"].startswith("user.id must be")
    with pytest.raises(UnprocessableEntityError):
        sdk.metrics.event("words", user=UpsertedUser(id="u", tz="Mars/Base"), value=1)


def test_unknown_paths_answer_in_trophys_shape(world, http):
    r = http("GET", "/no-such-thing")
    assert r.status_code == 404 and isinstance(r.json()["error"], str)
