"""Test sessions under mutation testing (scripts/mutation.py; active when GAMIFY_MUTATION_SLOTS is set).

mutmut tests each mutant in a new pytest session forked from one process. Building the app, the schema
and a Redis server in every session would cost seconds per mutant, more than most mutants' tests. Here
the sessions share one app (built by the first session, inherited by every fork) and each session holds
one of the slots the script prepared: a SQLite file and a Redis port. A lock file per slot says which
slot is free, so two mutants tested side by side never share a database or a Redis.

A session starts by emptying its slot (the last mutant tested there may have been stopped mid-test), and
ends by closing its database connections: no SQLite connection is ever inherited across a fork.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import inspect

from gamify import create_app
from gamify.extensions import db as _db

SLOTS: list[dict] | None = json.loads(os.environ.get("GAMIFY_MUTATION_SLOTS") or "null")
ACTIVE = SLOTS is not None

_apps: list = []  # the one app, once built
_database: list[str] = [""]  # the SQLite file of the slot this session holds: where new connections go


def acquire() -> tuple[dict, int]:
    """A free slot and its lock (released by `release`, or by the process ending)."""
    deadline = time.monotonic() + 120
    while True:
        for slot in SLOTS or []:
            fd = os.open(slot["lock"], os.O_CREAT | os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return slot, fd
        if time.monotonic() > deadline:
            raise RuntimeError("no free mutation slot: more sessions at once than GAMIFY_MUTATION_SLOTS has")
        time.sleep(0.05)


def release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def redis_server(slot: dict, binary: str) -> dict:
    """The slot's Redis ({'url', 'port', 'start()', 'stop()'} as conftest's), started if a test stopped it
    and the session ended before starting it again."""
    port = slot["port"]
    client = redis_lib.Redis(port=port, socket_connect_timeout=1)
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    args += ["--dir", slot["dir"]]

    def up() -> bool:
        try:
            return bool(client.ping())
        except redis_lib.ConnectionError:
            return False

    def start() -> None:
        # Daemonised (the launcher exits at once, waited for here): the server outlives the forked session
        # that starts it (scripts/mutation.py shuts it down) and is never a child of mutmut's main process,
        # whose os.wait() for its mutants would take the server's exit, when a test stops it, for a mutant's.
        daemon = ["--daemonize", "yes", "--pidfile", f"{slot['dir']}/redis-{port}.pid"]
        subprocess.run(args + daemon, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        for _ in range(250):
            if up():
                return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        try:
            client.shutdown(nosave=True)
        except redis_lib.ConnectionError:
            pass  # it closes the connection as it goes
        while up():
            time.sleep(0.01)

    if not up():
        start()
    return {"url": f"redis://127.0.0.1:{port}/0", "port": port, "start": start, "stop": stop}


def _connect():
    return sqlite3.connect(_database[0], check_same_thread=False)


def shared_app(config: dict, slot: dict, redis_url: str):
    """The app, built once (its engine connects to the current slot's file), pointed at this slot."""
    if not _apps:
        engine = {**config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "creator": _connect}
        _apps.append(
            create_app(
                {
                    **config,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{slot['db']}",
                    "SQLALCHEMY_ENGINE_OPTIONS": engine,
                    "REDIS_URL": redis_url,
                }
            )
        )
    app = _apps[0]
    _database[0] = slot["db"]
    app.config["REDIS_URL"] = redis_url
    with app.app_context():
        _db.engine.dispose(close=False)  # any pooled connection belongs to the process this one forked from
        if not inspect(_db.engine).has_table("users"):
            _db.create_all()
        else:
            with _db.engine.begin() as conn:
                for table in reversed(_db.metadata.sorted_tables):
                    conn.execute(table.delete())
    redis_lib.Redis.from_url(redis_url).flushall()
    return app


def session_done(app) -> None:
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _durations() -> dict[str, float]:
    """What each test's call took when mutmut measured it (mutmut-stats.json, in the working copy the tests
    run from); empty before it has measured."""
    stats = Path("mutmut-stats.json")
    return json.loads(stats.read_text()).get("duration_by_test", {}) if stats.exists() else {}


def per_test_timeouts(items, durations: dict[str, float]) -> None:
    """A time limit for the call of each test of a mutant's run (not its fixtures: mutmut measures the call):
    ten times what the call took when mutmut measured it plus 5 s. mutmut's own limit covers every test of
    the mutated function together (for the energy simulation that is the property tests' 10 s): a mutant
    that loops forever in the first, millisecond-long test held a worker for a minute or more."""
    for item in items:
        took = durations.get(item.nodeid)
        if took is not None:
            item.add_marker(pytest.mark.timeout(5 + 10 * took, method="signal", func_only=True))


# Which test failed for which mutant (one "mutant<TAB>test id" line per kill, appended by every session;
# scripts/mutation.py names the file). Siblings of a mutant (the other mutants of its function) are mostly
# caught by the same test, so that test goes first.
KILLS = os.environ.get("GAMIFY_MUTATION_KILLS")


def _mutant() -> str:
    name = os.environ.get("MUTANT_UNDER_TEST", "")
    return name if "__mutmut_" in name else ""  # "" in mutmut's own (stats, clean) runs


def _function(mutant: str) -> str:
    return mutant.split("__mutmut_", 1)[0]


def order_tests(items, durations: dict[str, float]) -> None:
    """The tests of a mutant's run in the order most likely to fail soonest: by the chance that a test
    fails (its kills among the function's mutants tested so far, plus a little for tests never seen to)
    over its cost (the call mutmut measured plus ~20 ms of fixtures). With no kills recorded that is
    mutmut's own order, fastest first. A killed mutant's run stops at its first failure (-x), so this is
    most of what a killed mutant costs; a surviving one runs every test whatever the order."""
    mutant = _mutant()
    if not mutant:
        return
    kills: dict[str, int] = {}
    if KILLS and os.path.exists(KILLS):
        function = _function(mutant)
        with open(KILLS, encoding="utf-8") as fh:
            for line in fh:
                name, _, test = line.rstrip("\n").partition("\t")
                if _function(name) == function:
                    kills[test] = kills.get(test, 0) + 1
    items.sort(key=lambda it: -(kills.get(it.nodeid, 0) + 0.1) / (durations.get(it.nodeid, 1.0) + 0.02))


def record_kill(report) -> None:
    """Appends the failing test of a mutant's run to the kills file (one short line: appends of two
    sessions at once do not interleave)."""
    mutant = _mutant()
    if not (ACTIVE and KILLS and mutant and report.failed):
        return
    with open(KILLS, "a", encoding="utf-8") as fh:
        fh.write(f"{mutant}\t{report.nodeid}\n")


SKIPPED = 34  # mutmut's exit status for "skipped"


def skipped_as_equivalent() -> frozenset[str]:
    """The mutants judged equivalent, when scripts/mutation.py skips them: the names it read from
    tests/mutation_equivalent.txt, one per line."""
    return frozenset(os.environ.get("GAMIFY_MUTATION_SKIP_EQUIVALENT", "").split())


def arrange(items) -> None:
    """pytest_collection_modifyitems under scripts/mutation.py: a mutant judged equivalent ends its session
    at once (no test can catch it: running them all only cost time), else per-test time limits, then the
    order."""
    if not ACTIVE:
        return
    if _mutant() in skipped_as_equivalent():
        os._exit(SKIPPED)  # the forked session of one mutant: nothing to clean up yet
    durations = _durations()
    if durations:  # not measured yet: nothing to go by
        per_test_timeouts(items, durations)
    order_tests(items, durations)
