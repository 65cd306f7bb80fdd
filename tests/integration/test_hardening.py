"""Hardening: rate limits, security headers, fuzzed JSON bodies never 5xx."""

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gamify import create_app
from tests import factories as f
from tests.conftest import RANKINGS_ON_CLUSTER
from tests.hypo import examples


@pytest.fixture
def limited_app(app, database_url, redis_server):
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_server["url"],
            # the session app's Redis by role: the rate limits on the cluster under GAMIFY_TEST_REDIS_CLUSTER=1
            **{k: app.config[k] for k in ("REDIS_RANKINGS_URL", "REDIS_RANKINGS_CLUSTER", "REDIS_RATELIMIT_URL")},
            "SECRET_KEY": "t",
            "RATELIMIT_ENABLED": True,
            "RATE_LIMIT_LOGIN": "3 per minute",
            "RATE_LIMIT_EVENTS": "5 per minute",
            "RATE_LIMIT_AUTH_FAILURES": "4 per minute",
            "RATE_LIMIT_LOGIN_ACCOUNT": "4 per minute",
        }
    )


def test_login_is_rate_limited(limited_app, db):
    f.web_player()
    client = limited_app.test_client()
    with limited_app.app_context():
        token = f.csrf_token(client, "/login")
        codes = [
            client.post(
                "/login", data={"email": "player@example.com", "password": "wrong", "csrf_token": token}
            ).status_code
            for _ in range(5)
        ]
    assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
    assert client.get("/login").status_code == 200  # reading the page is not limited


def test_failed_logins_are_limited_per_account_across_addresses(limited_app, db):
    """Each address guesses once (under its own limit); the account's failures still add up."""
    f.web_player()
    f.web_player("other@example.com")
    codes = []
    for i in range(6):
        client = limited_app.test_client()
        env = {"REMOTE_ADDR": f"10.1.0.{i}"}
        token = f.csrf_token(client, "/login")
        codes.append(
            client.post(
                "/login",
                data={"email": "Player@example.com ", "password": "wrong", "csrf_token": token},
                environ_base=env,
            ).status_code
        )
    assert codes == [401] * 4 + [429, 429]
    client = limited_app.test_client()  # another account, from an address already used: not affected
    token = f.csrf_token(client, "/login")
    r = client.post(
        "/login",
        data={"email": "other@example.com", "password": "correct horse", "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.1.0.1"},
    )
    assert r.status_code == 302


def test_event_api_is_rate_limited_per_key(limited_app, db):
    f.metric("lessons")
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    client = limited_app.test_client()
    codes = [
        client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers=headers).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [201] * 5 and codes[5:] == [429, 429]
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers=headers)
    assert r.json["error"]["message"].startswith("rate limit exceeded")
    # counted in the rate-limit Redis (the cluster under GAMIFY_TEST_REDIS_CLUSTER=1), not in the
    # per-process fallback that a Redis error would switch to
    limiter = limited_app.extensions["rate_limiter"]
    assert not limiter._storage_dead and limiter._storage.check()
    assert type(limiter._storage).__name__ == ("RedisClusterStorage" if RANKINGS_ON_CLUSTER else "RedisStorage")


def test_the_event_limit_counts_per_api_key_not_per_address(limited_app, db):
    """Two host apps behind one address (one NAT, one proxy): each key has its own 5 a minute."""
    f.metric("lessons")
    first, second = f.api_key(), f.api_key()
    client = limited_app.test_client()

    def post(key):
        return client.post(
            "/api/v1/metrics/lessons/event", json={"user": {"id": "u"}}, headers={"X-API-Key": key}
        ).status_code

    assert [post(first) for _ in range(6)] == [201] * 5 + [429]
    assert [post(second) for _ in range(5)] == [201] * 5  # same address, another key: not limited yet


def test_api_keys_are_stored_hashed(db):
    """The secret is shown once; the database holds only its SHA-256 and a display prefix."""
    import hashlib

    from gamify.models import ApiKey

    secret = f.api_key()
    row = db.session.execute(db.select(ApiKey)).scalar_one()
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.key_hash, row.prefix, row.name) and len(row.prefix) < len(secret) // 2


def test_guessed_api_keys_are_limited_per_address(limited_app, db):
    """Each guess presents a new key, so per-key buckets never fill: refused keys count per address."""
    import secrets

    f.metric("lessons")
    good = f.api_key()
    db.session.commit()
    client = limited_app.test_client()
    codes = [
        client.post(
            "/api/v1/metrics/lessons/event",
            json={"user": {"id": "u"}},
            headers={"X-API-Key": "gk_" + secrets.token_urlsafe(32)},
        ).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 4 + [429, 429]
    assert client.get("/api/v1/leaderboards", headers={"X-API-Key": "gk_guess"}).status_code == 429  # every route
    other = limited_app.test_client()  # another address is not affected
    r = other.post(
        "/api/v1/metrics/lessons/event",
        json={"user": {"id": "u"}},
        headers={"X-API-Key": good},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert r.status_code == 201


def test_security_headers(client, db):
    r = client.get("/login")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "same-origin"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "user": json_values
            | st.fixed_dictionaries(
                {"id": json_values},
                optional={"tz": json_values, "attributes": json_values, "name": json_values, "email": json_values},
            ),
            "value": json_values,
            "tz": json_values,
            "attributes": json_values,
            "idempotency_key": json_values,
            "user_id": json_values,
            "action": json_values,
            "difficulty": json_values,
        },
    ),
)


def _api_routes(app):
    """Every POST/PUT route of the JSON API as (method, path), with sample path arguments."""
    routes = []
    for rule in app.url_map.iter_rules():
        methods = {"POST", "PUT"} & set(rule.methods or ())
        if rule.rule.startswith("/api/") and methods:
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<{arg}>", "lessons" if arg == "key" else "u1")
                for conv in ("int:", "string:", "path:"):
                    path = path.replace(f"<{conv}{arg}>", "1" if conv == "int:" else "u1")
            routes += [(m, path) for m in sorted(methods)]
    return routes


@settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, raw=st.binary(max_size=40))
def test_fuzzed_json_api_bodies_never_5xx(app, db, body, raw):
    if not db.session.execute(db.select(db.func.count()).select_from(db.metadata.tables["metrics"])).scalar():
        f.metric("lessons")
        f.achievement("lessons", "api")
        db.session.commit()
    key = getattr(test_fuzzed_json_api_bodies_never_5xx, "_key", None) or f.api_key()
    test_fuzzed_json_api_bodies_never_5xx._key = key
    client = app.test_client()
    for method, path in _api_routes(app):
        try:
            payload = json.dumps(body, allow_nan=True)
        except (TypeError, ValueError):
            payload = "{}"
        for data in (payload, raw):
            r = client.open(
                path, method=method, data=data, headers={"X-API-Key": key, "Content-Type": "application/json"}
            )
            assert r.status_code < 500, (method, path, data, r.get_data(as_text=True)[:300])


@settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    params=st.dictionaries(
        st.sampled_from(["limit", "offset", "run", "segment", "history", "page"]), st.text(max_size=12), max_size=4
    )
)
@example(params={"limit": "¹", "offset": "²", "history": "٣", "page": "¹"})  # isdigit() yet not int()
@example(params={"limit": "1" * 12, "offset": "9" * 12, "history": "10" + "0" * 20, "page": str(10**20)})
def test_fuzzed_query_strings_never_5xx(app, db, params):
    if not db.session.execute(db.select(db.func.count()).select_from(db.metadata.tables["metrics"])).scalar():
        m = f.metric("lessons")
        db.session.commit()
        from gamify.services import leaderboards

        leaderboards.create(
            {
                "key": "lb",
                "name": "LB",
                "ranked_by": "metric",
                "metric_id": m.id,
                "frequency": "perpetual",
                "participant_limit": 10,
                "breakdown": ["city"],
            }
        )
        f.player("u1", attributes={"city": "x"})
        db.session.commit()
    key = test_fuzzed_query_strings_never_5xx.__dict__.setdefault("key", {}).get(id(db.engine)) or f.api_key()
    test_fuzzed_query_strings_never_5xx.key[id(db.engine)] = key
    client = app.test_client()
    for path in (
        "/api/v1/leaderboards/lb",
        "/api/v1/leaderboards/lb/users/u1",
        "/api/v1/users/u1/streak",
        "/api/v1/users/u1/energy/transactions",
    ):
        r = client.get(path, query_string=params, headers={"X-API-Key": key})
        assert r.status_code < 500, (path, params, r.get_data(as_text=True)[:300])


def test_a_connection_cut_while_idle_is_replaced_not_failed(app, client, db, monkeypatch):
    """A connection idle in the pool may have been cut (database restart, proxy timeout): the next request
    pings it first and gets a fresh one, instead of failing. Connections used moments ago are not pinged
    (no round trip per request)."""
    import gamify
    from tests import factories as f

    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    assert client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u"}}).status_code == 201
    db.session.remove()  # our connection goes back to the pool
    pool = db.engine.pool
    checked_out = pool.checkedout()
    if db.engine.dialect.name == "postgresql":  # cut every idle connection of this database, as a restart would
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        killer = create_engine(db.engine.url, poolclass=NullPool)  # not one of the pool's
        with killer.connect() as other:
            other.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                "datname = current_database() AND pid <> pg_backend_pid()"
            )
        killer.dispose()
    else:  # SQLite: close the idle connections under the pool's feet
        for rec in list(pool._pool.queue):
            rec.dbapi_connection.close()
    monkeypatch.setattr(gamify, "IDLE_PING_SECONDS", 0.0)  # "a while" has passed
    r = client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u"}})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert pool.checkedout() >= checked_out
    db.session.remove()
    db.engine.dispose()  # other connections cut above must not meet the fixtures' cleanup


@pytest.mark.parametrize(
    "body, field",
    [
        ('{"user": {"id": "u\\u0000"}}', "user.id"),
        ('{"user": {"id": "\\ud800"}}', "user.id"),
        ('{"user": {"id": "u", "name": "%s"}}' % ("n" * 121), "user.name"),
        ('{"user": {"id": "u"}, "value": %d}' % 2**63, "value"),
        ('{"user": {"id": "u"}, "value": 1e308}', "value"),
        ('{"user": {"id": "u"}, "attributes": {"city": NaN}}', "body"),
        ('{"user": {"id": "u"}, "attributes": {"k\\u0000": "v"}}', "attributes"),
        ('{"user": {"id": "u"}, "attributes": {"a": %s}}' % ("[" * 1000 + "]" * 1000), "attributes.a"),
        ('{"user": {"id": "u"}, "idempotency_key": "k\\u0000"}', "idempotency_key"),
    ],
)
def test_bad_event_input_is_a_400_naming_the_field_and_writes_nothing(client, db, body, field):
    from gamify.models import MetricEvent, User

    f.metric("lessons")
    headers = {"X-API-Key": f.api_key(), "Content-Type": "application/json"}
    r = client.post("/api/v1/metrics/lessons/event", data=body, headers=headers)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.json["error"]["field"].startswith(field), r.json
    assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar() == 0
    assert db.session.execute(db.select(db.func.count()).select_from(MetricEvent)).scalar() == 0


def test_request_size_ids_and_form_text_limits(app, client, db):
    f.metric("lessons")
    key = f.api_key()
    admin = f.admin()
    huge = '{"user": {"id": "u"}, "attributes": {"a": "%s"}}' % ("x" * (3 * 1024 * 1024))
    r = client.post(
        "/api/v1/metrics/lessons/event", data=huge, headers={"X-API-Key": key, "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "error" in r.json
    # An id past a database integer is a 404, not an overflow in the query.
    f.login(client, admin.email)
    assert client.get(f"/admin/players/{2**31}").status_code == 404
    assert client.get(f"/admin/players/{2**31 - 1}").status_code == 404
    # A NUL in any form field, the unauthenticated login form included, is a 400 naming the field.
    anon = app.test_client()
    token = f.csrf_token(anon, "/login")
    r = anon.post("/login", data={"email": "a\x00@example.com", "password": "x", "csrf_token": token})
    assert r.status_code == 400 and "email" in r.get_data(as_text=True), r.get_data(as_text=True)[-900:]
    r = anon.get("/leaderboards", query_string={"tz": "Europe/London\x00"})
    assert r.status_code == 400
