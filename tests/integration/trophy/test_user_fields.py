"""Trophy's user fields through its SDK (issue 16 item 3): signUpDate, deviceTokens and subscribeToEmails
are stored and returned (users and event upserts), and refused in Trophy's words (422 naming the field
as the SDK spells it)."""

from datetime import datetime, timedelta, timezone

import pytest
from trophy import UpsertedUser
from trophy.core.api_error import ApiError
from trophy.errors import UnprocessableEntityError

from tests.integration.trophy.conftest import wire


def test_the_fields_are_stored_and_returned(sdk, world, conforms):
    raw = sdk.users.with_raw_response.create(
        id="u-1", sign_up_date="2025-06-01", device_tokens=["ios-1", "android-2"], subscribe_to_emails=False
    )
    conforms(wire(raw), "post", "/users", 201)
    ann = raw.data
    assert (ann.sign_up_date, ann.device_tokens, ann.subscribe_to_emails) == (
        "2025-06-01",
        ["ios-1", "android-2"],
        False,
    )
    # A date-time is taken as its UTC day; tokens are replaced; the e-mail switch stays as set.
    ann = sdk.users.update("u-1", sign_up_date="2025-06-01T23:30:00-02:00", device_tokens=["ios-1"])
    assert (ann.sign_up_date, ann.device_tokens, ann.subscribe_to_emails) == ("2025-06-02", ["ios-1"], False)
    got = sdk.users.get("u-1")
    assert (got.sign_up_date, got.device_tokens, got.subscribe_to_emails) == ("2025-06-02", ["ios-1"], False)
    # The e-mail switch is the player's own: the per-type preferences are left as they were.
    prefs = sdk.users.get_preferences("u-1").notifications
    assert prefs.recap == ["email"] and prefs.streak_reminder == ["email"]


def test_an_event_upsert_stores_them_for_that_user_only(sdk, world):
    sdk.users.create(id="bob", device_tokens=["bob-phone"])
    sdk.metrics.event("words", user=UpsertedUser(id="u-9", device_tokens=["bob-phone", "u9-tab"]), value=1)
    assert sdk.users.get("u-9").device_tokens == ["bob-phone", "u9-tab"]
    assert sdk.users.get("bob").device_tokens == []  # the device now belongs to u-9


def test_bad_fields_are_422_naming_them(sdk, world):
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    for kwargs, name in [
        ({"sign_up_date": tomorrow}, "signUpDate"),
        ({"sign_up_date": "June 1st"}, "signUpDate"),
        ({"device_tokens": [f"t{i}" for i in range(21)]}, "deviceTokens"),
        ({"device_tokens": [""]}, "deviceTokens[0]"),
    ]:
        with pytest.raises(UnprocessableEntityError) as e:
            sdk.users.create(id="u-1", **kwargs)
        assert name in e.value.body["error"], (kwargs, e.value.body)
    with pytest.raises(ApiError) as missing:
        sdk.users.get("u-1")
    assert missing.value.status_code == 404  # nothing was created
