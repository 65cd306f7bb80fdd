"""Hardening: rate limits, security headers, fuzzed JSON bodies never 5xx."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gamify import create_app
from tests import factories as f


@pytest.fixture
def limited_app(app, database_url, redis_server):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_server["url"],
                       "SECRET_KEY": "t", "RATELIMIT_ENABLED": True, "RATE_LIMIT_LOGIN": "3 per minute",
                       "RATE_LIMIT_EVENTS": "5 per minute"})


def test_login_is_rate_limited(limited_app, db):
    f.web_player()
    client = limited_app.test_client()
    with limited_app.app_context():
        token = f.csrf_token(client, "/login")
        codes = [client.post("/login", data={"email": "player@example.com", "password": "wrong",
                                             "csrf_token": token}).status_code for _ in range(5)]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert client.get("/login").status_code == 200  # reading the page is not limited


def test_event_api_is_rate_limited_per_key(limited_app, db):
    f.metric("lessons")
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    client = limited_app.test_client()
    codes = [client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers=headers).status_code
             for _ in range(7)]
    assert codes[:5] == [201] * 5 and codes[5:] == [429, 429]
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers=headers)
    assert r.json["error"]["message"].startswith("rate limit exceeded")


def test_security_headers(client, db):
    r = client.get("/login")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "same-origin"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={"user": json_values | st.fixed_dictionaries(
        {"id": json_values}, optional={"tz": json_values, "attributes": json_values, "name": json_values,
                                       "email": json_values}),
        "value": json_values, "tz": json_values, "attributes": json_values, "idempotency_key": json_values,
        "user_id": json_values, "action": json_values, "difficulty": json_values}),
)


def _api_routes(app):
    """Every POST route of the JSON API, with sample path arguments."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and "POST" in (rule.methods or ()):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", "lessons" if arg == "key" else "u1")
                for conv in ("int:", "string:", "path:"):
                    path = path.replace(f"<{conv}{arg}>", "1" if conv == "int:" else "u1")
            routes.append(path)
    return routes


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, raw=st.binary(max_size=40))
def test_fuzzed_json_api_bodies_never_5xx(app, db, body, raw):
    if not db.session.execute(db.select(db.func.count()).select_from(db.metadata.tables["metrics"])).scalar():
        f.metric("lessons")
        f.achievement("lessons", "api")
        db.session.commit()
    key = getattr(test_fuzzed_json_api_bodies_never_5xx, "_key", None) or f.api_key()
    test_fuzzed_json_api_bodies_never_5xx._key = key
    client = app.test_client()
    for path in _api_routes(app):
        try:
            payload = json.dumps(body, allow_nan=True)
        except (TypeError, ValueError):
            payload = "{}"
        for data in (payload, raw):
            r = client.post(path, data=data, headers={"X-API-Key": key, "Content-Type": "application/json"})
            assert r.status_code < 500, (path, data, r.get_data(as_text=True)[:300])
