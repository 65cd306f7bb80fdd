"""The event path through PgBouncer in transaction mode (Debian's pgbouncer, scripts/pgbouncer.sh ensure):
two app processes' worth of engines share ONE server connection (default_pool_size = 1), so every
transaction of either may run on a server connection the other prepared statements on.

With DATABASE_PGBOUNCER=1 events go through and count; without it the second client's psycopg prepares
a statement whose name the first one already used on that server connection, and PostgreSQL refuses
(what a deployment meets as soon as PgBouncer hands a transaction to another server connection). The
statement timeout's startup option is refused by PgBouncer, which is why gamify does not send it there.
PostgreSQL only (TEST_DATABASE_URL)."""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gamify import create_app
from gamify.config import ROOT
from gamify.extensions import db as _db
from tests import factories as f
from tests.conftest import APP_CONFIG

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="PostgreSQL only (TEST_DATABASE_URL)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pgbouncer(database_url):
    binary = subprocess.run(["bash", str(ROOT / "scripts/pgbouncer.sh"), "path"], capture_output=True, text=True)
    if binary.returncode != 0:
        pytest.skip("pgbouncer not installed (scripts/pgbouncer.sh ensure)")
    pg = make_url(database_url)
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="gamify-pgbouncer-")
    os.chmod(workdir, 0o755)
    with open(os.path.join(workdir, "users.txt"), "w") as fh:
        fh.write(f'"{pg.username}" ""\n')
    with open(os.path.join(workdir, "pgbouncer.ini"), "w") as fh:
        fh.write(
            f"""[databases]
* = host={pg.host} port={pg.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 50
logfile = {workdir}/pgbouncer.log
pidfile = {workdir}/pgbouncer.pid
"""
        )
    cmd = [binary.stdout.strip(), os.path.join(workdir, "pgbouncer.ini")]
    if os.getuid() == 0:  # pgbouncer refuses to run as root
        shutil.chown(workdir, "postgres")
        for name in os.listdir(workdir):
            shutil.chown(os.path.join(workdir, name), "postgres")
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"pgbouncer did not start: {open(os.path.join(workdir, 'pgbouncer.log')).read()}")
            time.sleep(0.1)
    yield pg.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def world(app, db):
    f.metric("lessons")
    f.player("p1")
    f.player("p2")
    secret = f.api_key()
    db.session.commit()
    return secret


def _bounced_apps(url: str, redis_url: str, **settings) -> list:
    config = {
        **APP_CONFIG,
        "SQLALCHEMY_DATABASE_URI": url,
        "REDIS_URL": redis_url,
        "DATABASE_STATEMENT_TIMEOUT_MS": 0,
        **settings,
    }
    return [create_app(config), create_app(config)]


def _send(apps, secret: str, rounds: int) -> list[int]:
    """Events in turn from each app (each its own client connection to PgBouncer)."""
    statuses = []
    for i in range(rounds):
        for n, app in enumerate(apps):
            r = app.test_client().post(
                "/api/v1/metrics/lessons/event",
                json={"user": {"id": f"p{n + 1}"}, "value": 1, "idempotency_key": f"k-{n}-{i}"},
                headers={"X-API-Key": secret},
            )
            statuses.append(r.status_code)
    return statuses


def _dispose(apps) -> None:
    for app in apps:
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def _recorded() -> int:
    with _db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM metric_events")).scalar()


def test_events_through_pgbouncer_in_transaction_mode(world, pgbouncer, redis_server):
    apps = _bounced_apps(pgbouncer, redis_server["url"], DATABASE_PGBOUNCER=True)
    try:
        assert _send(apps, world, rounds=4) == [201] * 8
    finally:
        _dispose(apps)
    assert _recorded() == 8


def test_prepared_statements_break_behind_pgbouncer_without_the_setting(world, pgbouncer, redis_server):
    apps = _bounced_apps(pgbouncer, redis_server["url"], DATABASE_PGBOUNCER=False)
    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            _send(apps, world, rounds=4)
    finally:
        _dispose(apps)


def test_pgbouncer_refuses_the_statement_timeout_startup_option(pgbouncer, redis_server):
    (app, _other) = _bounced_apps(
        pgbouncer, redis_server["url"], DATABASE_PGBOUNCER=False, DATABASE_STATEMENT_TIMEOUT_MS=15000
    )
    try:
        with app.app_context(), pytest.raises(DBAPIError, match="unsupported startup parameter"):
            _db.session.execute(text("SELECT 1"))
    finally:
        _dispose([app, _other])
