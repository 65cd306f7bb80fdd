"""Users through Trophy's SDK: create, get, identify (PUT), update (PATCH), preferences and metrics."""

import pytest
from trophy import NotificationPreferences, StreakPreferences, UpsertedUser
from trophy.core.api_error import ApiError
from trophy.errors import BadRequestError, ForbiddenError, NotFoundError, UnprocessableEntityError

from tests.integration.trophy.conftest import wire


def test_create_get_identify_update(sdk, world, http, conforms):
    raw = sdk.users.with_raw_response.create(
        id="u-1", email="Ann@Example.com", name="Ann", tz="Europe/London", attributes={"plan": "pro"}
    )
    assert raw.status_code == 201
    conforms(wire(raw), "post", "/users", 201)
    ann = raw.data
    assert (ann.id, ann.email, ann.name, ann.tz) == ("u-1", "ann@example.com", "Ann", "Europe/London")
    assert (ann.attributes, ann.subscribe_to_emails, ann.control) == ({"plan": "pro"}, True, False)
    assert (ann.device_tokens, ann.sign_up_date) == ([], None)
    got = sdk.users.with_raw_response.get("u-1")
    assert conforms(wire(got), "get", "/users/{id}") == wire(raw)

    # PUT identifies: updates a known user, creates an unknown one (attributes merge)
    put = sdk.users.with_raw_response.identify("u-1", name="Ann B", attributes={"region": "eu"})
    conforms(wire(put), "put", "/users/{id}")
    assert (put.data.name, put.data.attributes) == ("Ann B", {"plan": "pro", "region": "eu"})
    assert sdk.users.identify("u-2", tz="Asia/Tokyo").tz == "Asia/Tokyo"
    assert sdk.users.get("u-2").name is None  # no name given: none (not the id)

    # PATCH updates a known user only
    patched = sdk.users.with_raw_response.update("u-1", subscribe_to_emails=False)
    conforms(wire(patched), "patch", "/users/{id}")
    assert patched.data.subscribe_to_emails is False and patched.data.name == "Ann B"
    with pytest.raises(NotFoundError):
        sdk.users.update("nobody", name="X")
    with pytest.raises(ApiError) as missing:
        sdk.users.get("nobody")
    assert missing.value.status_code == 404 and missing.value.body == {"error": "user 'nobody' not found"}


def test_user_errors(sdk, world, http):
    r = http("POST", "/users", json={"email": "a@example.com"})
    assert r.status_code == 400 and r.json() == {"error": "id is required"}
    with pytest.raises(UnprocessableEntityError):
        sdk.users.create(id="u", tz="Europe/Nowhere")
    sdk.users.create(id="u-1", email="taken@example.com")
    with pytest.raises(UnprocessableEntityError) as taken:
        sdk.users.create(id="u-2", email="taken@example.com")
    assert "belongs to another user" in taken.value.body["error"]
    r = http("PUT", "/users/u-1", json={"attributes": {"age": 30}})
    assert r.status_code == 400 and r.json() == {"error": "attributes.age must be a string"}
    with pytest.raises(BadRequestError):
        sdk.users.identify("u-1", subscribe_to_emails="yes")
    assert http("GET", "/users/u-1", key=False).status_code == 401


def test_preferences(sdk, world, http, conforms):
    sdk.users.create(id="u-1", email="a@example.com")
    prefs = sdk.users.with_raw_response.get_preferences("u-1")
    conforms(wire(prefs), "get", "/users/{id}/preferences")
    assert wire(prefs)["notifications"] == {
        "achievement_completed": ["email"],
        "recap": ["email"],
        "reactivation": ["email"],
        "streak_reminder": ["email"],
    }
    changed = sdk.users.with_raw_response.update_preferences(
        "u-1", notifications=NotificationPreferences(streak_reminder=[], recap=["email"])
    )
    conforms(wire(changed), "patch", "/users/{id}/preferences")
    assert changed.data.notifications.streak_reminder == [] and changed.data.notifications.recap == ["email"]
    assert sdk.users.get("u-1").subscribe_to_emails is True  # the master switch, apart from the types
    with pytest.raises(UnprocessableEntityError) as push:
        sdk.users.update_preferences("u-1", notifications=NotificationPreferences(recap=["email", "push"]))
    assert "push" in push.value.body["error"]
    with pytest.raises(ForbiddenError):
        sdk.users.update_preferences("u-1", streak=StreakPreferences(enabled=False))
    with pytest.raises(NotFoundError):
        sdk.users.get_preferences("nobody")
    r = http("PATCH", "/users/u-1/preferences", json={"notifications": {"recap": "email"}})
    assert r.status_code == 422  # no 400 in this operation's definition


def test_a_users_metrics(sdk, world, conforms):
    sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=3)
    raw = sdk.users.with_raw_response.all_metrics("u-1")
    conforms(wire(raw), "get", "/users/{id}/metrics")
    (words,) = raw.data
    assert (words.key, words.name, words.current) == ("words", "Words written", 3)
    assert [(a.name, a.metric_value, a.achieved_at is not None) for a in words.achievements] == [
        ("First words", 1, True),
        ("A hundred words", 100, False),
    ]
    one = sdk.users.with_raw_response.single_metric("u-1", "words")
    assert conforms(wire(one), "get", "/users/{id}/metrics/{key}") == wire(raw)[0]
    with pytest.raises(NotFoundError):
        sdk.users.single_metric("u-1", "nope")
    with pytest.raises(NotFoundError):
        sdk.users.all_metrics("nobody")
