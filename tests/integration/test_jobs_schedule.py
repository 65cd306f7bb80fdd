"""The recurring schedule on RQ's cron scheduler: what is enqueued when, one leader among several
schedulers, and every scheduled job runs on a real worker."""

from datetime import datetime, timezone

import time_machine
from rq import Queue
from rq.registry import FailedJobRegistry

from gamify import jobs
from gamify.queue import QUEUES, get_redis
from tests import factories as f
from tests.mailfixtures import player, work  # noqa: F401


def queued_names(queues=QUEUES) -> list[str]:
    conn = get_redis()
    return sorted(j.func_name.rsplit(".", 1)[-1] for name in queues for j in Queue(name, connection=conn).get_jobs())


def test_schedule_enqueues_on_rq_cron_times(app, db):
    with time_machine.travel(datetime(2026, 4, 1, 10, 14, 30, tzinfo=timezone.utc), tick=False):
        cron = jobs.build_cron(get_redis())
        assert {j.name for j in cron.get_jobs()} == {s.name for s in jobs.SCHEDULE}
        cron.enqueue_jobs()
        assert queued_names() == ["dispatch_outbox"]  # interval jobs start at once, cron ones wait
        assert queued_names(["events-fanout"]) == ["dispatch_outbox"]  # the dispatcher's own queue
    with time_machine.travel(datetime(2026, 4, 1, 10, 15, 1, tzinfo=timezone.utc), tick=False):
        cron.enqueue_jobs()
        assert queued_names() == sorted(
            [
                "dispatch_outbox",
                "streak_reminders",
                "settle_streaks",
                "weekly_recaps",
                "time_interval_points",
                "energy_fills",
                "audit_energy_ledger",
                "expire_gifts",
                "finalise_leaderboards",
            ]
        )
    with time_machine.travel(datetime(2026, 4, 1, 10, 16, 2, tzinfo=timezone.utc), tick=False):
        cron.enqueue_jobs()
        assert queued_names().count("dispatch_outbox") == 2  # every minute
        assert queued_names().count("streak_reminders") == 1  # every 15 minutes


def test_only_one_of_several_schedulers_enqueues(app, db):
    conn = get_redis()
    with time_machine.travel(datetime(2026, 4, 1, 10, 14, 30, tzinfo=timezone.utc), tick=False):
        a, b = jobs.build_cron(conn, name="a"), jobs.build_cron(conn, name="b")
        a.register_birth()
        b.register_birth()
        a.enqueue_jobs()
        assert b.enqueue_jobs() == []
        assert a.is_leader and not b.is_leader
        assert queued_names() == ["dispatch_outbox"]
        a.register_death()  # the leader stops: the other takes over on its next tick
    with time_machine.travel(datetime(2026, 4, 1, 10, 15, 40, tzinfo=timezone.utc), tick=False):
        assert b.enqueue_jobs()
        assert b.is_leader
        assert queued_names().count("dispatch_outbox") == 2


def test_every_scheduled_job_runs_on_a_worker(app, db, monkeypatch):
    m = f.metric()
    f.streak({m: 1})
    xp = f.system("xp")
    f.trigger(xp, "time_interval", 5, interval_hours=24)
    player("p1")
    db.session.commit()
    calls = []
    real_optional = jobs._optional

    def fake_optional(module, attr):
        if module == "gamify.services.leaderboards":
            return None  # not installed: skipped, not failed
        if module == "gamify.services.energy":
            return lambda now=None: calls.append(attr) or 3
        return real_optional(module, attr)

    for module in (jobs.energy, jobs.leaderboards):  # the jobs that look features up
        monkeypatch.setattr(module, "_optional", fake_optional)
    q = Queue("default", connection=get_redis())
    enqueued = [q.enqueue(s.func) for s in jobs.SCHEDULE]
    work()
    assert FailedJobRegistry(queue=q).count == 0
    results = {j.func_name.rsplit(".", 1)[-1]: j.return_value() for j in (q.fetch_job(x.id) for x in enqueued)}
    assert results["time_interval_points"] == 1
    assert results["expire_gifts"] == "done: 3" and results["energy_fills"] == "done: 3"
    assert results["audit_energy_ledger"] == "done: 3 flagged"
    assert sorted(calls) == ["announce_fills", "audit_ledger", "expire_gifts", "grant_daily"]
    assert results["finalise_leaderboards"].startswith("skipped")


def test_optional_feature_lookup():
    assert jobs._optional("gamify.services.no_such_feature", "run") is None
    assert jobs._optional("gamify.services.points", "no_such_function") is None
    assert jobs._optional("gamify.services.points", "run_time_interval_triggers") is not None
