"""Trophy's admin API: application API keys (one user's key), attributes, and the unsupported tenants and
environments, through the SDK's admin client and plain HTTP."""

import pytest
import requests
from trophy import CreateApplicationKeyRequestItem, CreateAttributeRequestItem, TrophyApi, UpdateAttributeRequestItem
from trophy.core.api_error import ApiError
from trophy.environment import TrophyApiEnvironment

from gamify.extensions import db as _db
from gamify.models import ApiKey
from gamify.services import leaderboards
from tests import factories as f

from .conftest import wire


@pytest.fixture
def words(db):
    f.metric("words")
    db.session.commit()


def _as(key: str, live_server: str) -> TrophyApi:
    env = TrophyApiEnvironment(api=f"{live_server}/trophy/v1", admin=f"{live_server}/trophy/admin/v1")
    return TrophyApi(api_key=key, environment=env, max_retries=0, timeout=30)


def test_an_application_key_acts_for_its_user_only(sdk, admin_conforms, live_server, api_key, words):
    raw = sdk.admin.application_api_keys.with_raw_response.create(
        request=[CreateApplicationKeyRequestItem(user_id="ann"), CreateApplicationKeyRequestItem(user_id="")]
    )
    assert raw._response.status_code == 201
    admin_conforms(wire(raw), "post", "/application-api-keys", 201)
    (made,) = raw.data.created
    assert made.user_id == "ann" and made.key.startswith(made.prefix) and made.key != api_key
    assert raw.data.issues[0].index == 1

    ann = _as(made.key, live_server)
    assert ann.metrics.event("words", user={"id": "ann"}, value=2).total == 2
    assert ann.users.get("ann").id == "ann"
    assert ann.users.streak("ann").length == 0
    assert ann.achievements.all_() == []  # reading the catalogue is fine
    for call in (
        lambda: ann.metrics.event("words", user={"id": "bob"}, value=1),
        lambda: ann.users.get("bob"),
        lambda: ann.users.create(id="bob"),
        lambda: ann.streaks.list(user_ids=["ann", "bob"]),
        lambda: ann.admin.metrics.list(),
    ):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status_code == 403, err.value.body
    app_key = {"X-API-KEY": made.key}
    r = requests.post(f"{live_server}/api/v1/metrics/words/event", json={"user_id": "ann"}, headers=app_key, timeout=30)
    assert r.status_code == 403 and "/trophy/v1 only" in r.json()["error"]["message"]

    # Revoked through the admin API: refused from the next request on. A host-app key is not an
    # application key: this endpoint does not revoke it.
    host_id = str(_db.session.execute(_db.select(ApiKey.id).where(ApiKey.user_external_id.is_(None))).scalar())
    _db.session.rollback()
    gone = sdk.admin.application_api_keys.delete(ids=[made.id, host_id])
    assert [d.id for d in gone.deleted] == [made.id]
    assert gone.issues[0].id == host_id
    with pytest.raises(ApiError) as err:
        ann.users.get("ann")
    assert err.value.status_code == 401
    assert sdk.users.get("ann").id == "ann"  # the host key still works


def test_tenants_and_environments_are_not_supported(sdk, admin_http):
    with pytest.raises(ApiError) as err:
        sdk.admin.tenants.list()
    assert err.value.status_code == 501 and "one product per installation" in err.value.body["error"]
    for method, path in (
        ("POST", "/tenants"),
        ("GET", "/tenants/1"),
        ("DELETE", "/tenants?ids=1"),
        ("GET", "/environments"),
    ):
        assert admin_http(method, path).status_code == 501
    assert admin_http("GET", "/tenants", key=False).status_code == 401


def test_attributes_declared_listed_renamed_and_deleted(sdk, admin_conforms, admin_http, db):
    m = f.metric("words")
    leaderboards.create(
        {
            "key": "by-city",
            "name": "By city",
            "ranked_by": "metric",
            "metric_id": m.id,
            "frequency": "perpetual",
            "participant_limit": 10,
            "breakdown": ["city"],
        }
    )
    db.session.commit()
    raw = sdk.admin.attributes.with_raw_response.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Device", key="device", type="event"),
            CreateAttributeRequestItem(name="Again", key="plan", type="user"),
            CreateAttributeRequestItem(name="Bad", key="bad key", type="user"),
        ]
    )
    assert raw._response.status_code == 201
    admin_conforms(wire(raw), "post", "/attributes", 201)
    assert [(a.id, a.key, a.name, a.type) for a in raw.data.created] == [
        ("plan", "plan", "Plan", "user"),
        ("device", "device", "Device", "event"),
    ]
    assert [i.index for i in raw.data.issues] == [2, 3]
    # The breakdown's attribute is listed too (undeclared: named by its key).
    listed = sdk.admin.attributes.list()
    assert [(a.key, a.name) for a in listed] == [("city", "city"), ("device", "Device"), ("plan", "Plan")]
    admin_conforms([a.dict(by_alias=True) for a in listed], "get", "/attributes")
    assert sdk.admin.attributes.get("plan").type == "user"
    up = sdk.admin.attributes.update(request=[UpdateAttributeRequestItem(id="city", name="City")])
    assert up.updated[0].name == "City"
    gone = sdk.admin.attributes.delete(ids=["plan", "city", "nope"])
    assert [d.id for d in gone.deleted] == ["plan"]
    assert [i.id for i in gone.issues] == ["city", "nope"] and "leaderboard 'by-city'" in gone.issues[0].message
    assert admin_http("GET", "/attributes/plan").status_code == 404
