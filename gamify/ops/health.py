"""Liveness and readiness probes for load balancers and orchestrators.

`GET /healthz`: the process answers (no dependency is touched: a database outage must not get every
web process restarted). `GET /readyz`: this process can serve: the database and Redis answer and the
database's schema is at the migrations' head (a process of a newer release must not take traffic
before `flask db upgrade` ran, nor one of an older release after). 200 when every check passes, 503
otherwise; the JSON body names each check. Failures say only the error's kind: the body is public,
the log line carries the details."""

from __future__ import annotations

import functools
import logging
import time

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import jsonify
from sqlalchemy import text

from ..config import ROOT
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


CHECKS = (("database", _database), ("redis", _redis), ("migrations", _migrations))


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS:
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
    return results


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = run_checks()
    ready = all(c["ok"] for c in checks.values())
    response = jsonify(status="ready" if ready else "unready", checks=checks)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
