"""Liveness and readiness probes for load balancers and orchestrators.

`GET /healthz`: the process answers (no dependency is touched: a database outage must not get every
web process restarted). `GET /readyz`: this process can serve: the database and Redis answer and the
database's schema is at the migrations' head (a process of a newer release must not take traffic
before `flask db upgrade` ran, nor one of an older release after). 200 when every check passes, 503
otherwise; the JSON body names each check. Failures say only the error's kind: the body is public,
the log line carries the details.

The dependencies gamify can serve without are checked too, when they are configured apart from the
required ones, but only reported: a separate rankings Redis (pages and events fall back to SQL ranks),
rate-limit Redis (the limiter falls back to memory) and read replica (reads go to the primary). Taking
every web process out of the load balancer because one of them is down would turn a degraded service
into an outage; the body says "degraded" so a dashboard or an alert can still see it."""

from __future__ import annotations

import functools
import logging
import time

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import jsonify
from sqlalchemy import text

from .. import redis_roles
from ..config import ROOT
from ..database import replica_engine
from ..extensions import db
from ..queue import get_redis
from . import bp

log = logging.getLogger(__name__)


class CheckFailed(Exception):
    """A readiness check's own refusal (as opposed to an error reaching a dependency)."""


@functools.cache
def script_heads() -> tuple[str, ...]:
    """The head revision(s) of the migrations this code ships (read once per process)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return tuple(sorted(ScriptDirectory.from_config(cfg).get_heads()))


def _database() -> None:
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis() -> None:
    get_redis().ping()


def _migrations() -> None:
    with db.engine.connect() as conn:
        current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    if current != script_heads():
        raise CheckFailed(f"database at {', '.join(current) or 'no revision'}, code at {', '.join(script_heads())}")


def _separate_redis(role: str):
    """The role's own Redis check, or None when the role shares the queue's Redis (checked already)."""
    clustered = role == "rankings" and redis_roles.rankings_is_cluster()
    if not clustered and redis_roles.role_url(role) == redis_roles.role_url("queue"):
        return None
    return lambda: redis_roles.role_client(role).ping()


def _replica():
    engine = replica_engine()
    if engine is None:
        return None

    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


CHECKS = (("database", _database), ("redis", _redis), ("migrations", _migrations))


def optional_checks() -> list[tuple[str, object]]:
    """(name, check) for the configured dependencies gamify degrades without."""
    found = [
        ("rankings_redis", _separate_redis("rankings")),
        ("ratelimit_redis", _separate_redis("ratelimit")),
        ("replica", _replica()),
    ]
    return [(name, check) for name, check in found if check is not None]


def run_checks() -> dict[str, dict]:
    results = {}
    required = [(name, check, True) for name, check in CHECKS]
    for name, check, needed in required + [(name, check, False) for name, check in optional_checks()]:
        started = time.perf_counter()
        try:
            check()
            results[name] = {"ok": True}
        except CheckFailed as e:
            results[name] = {"ok": False, "error": str(e)}
            log.warning("readiness check %s failed: %s", name, e)
        except Exception as e:  # noqa: BLE001 - any failure means not ready; the probe itself must answer
            results[name] = {"ok": False, "error": type(e).__name__}
            log.warning("readiness check %s failed: %s: %s", name, type(e).__name__, e)
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
        if not needed:
            results[name]["required"] = False
    return results


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = run_checks()
    ready = all(c["ok"] for c in checks.values() if c.get("required", True))
    degraded = ready and not all(c["ok"] for c in checks.values())
    response = jsonify(status="degraded" if degraded else "ready" if ready else "unready", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
