"""Every scheduled job may run twice (an RQ retry after a worker died mid-job, two schedulers for a
moment, an admin's "run now"): the second run at the same instant changes nothing, neither in the
database nor in Redis's queues; the webhook and e-mail jobs they queue, each run twice, send once.
The world is the demo's (tests/integration/test_demo_seed.py) a week later, with a webhook endpoint
listening and a few players back: every scheduled job has work to do then (the test checks it)."""

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from rq import Queue
from sqlalchemy import select

from gamify import demo, jobs
from gamify.models import User
from gamify.models.webhooks import WebhookDelivery
from gamify.queue import QUEUES, get_redis
from gamify.services import webhooks
from gamify.services.events import process_event
from tests.mailfixtures import http_receiver, smtp_server  # noqa: F401

SEEDED = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)  # a Sunday morning
# Monday a week later, 19:00 UTC: evening in Europe (streak reminders for those who played yesterday),
# the recap weekday after its hour everywhere, the weekly board's period (7 days from its start date,
# 120 days before the seed) over in every zone, the others' streaks lapsed.
LATER = SEEDED + timedelta(days=8, hours=10)


def _database(db) -> dict:
    out = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table)).all()
        out[table.name] = sorted((tuple(map(repr, r)) for r in rows))
    return out


def _queues() -> dict:
    conn = get_redis()
    return {q: sorted(conn.lrange(f"rq:queue:{q}", 0, -1)) for q in QUEUES}


def _state(db, receiver, smtp) -> tuple:
    db.session.commit()
    return _database(db), _queues(), len(receiver.requests), len(smtp.messages)


@pytest.fixture
def world(app, db, http_receiver, smtp_server):
    with time_machine.travel(SEEDED, tick=False):
        demo.seed(players=12, days=10, echo=lambda *a: None)
        endpoint = webhooks.create_endpoint(http_receiver.url, sorted(webhooks.WEBHOOK_EVENT_TYPES))
        db.session.flush()
        # A delivery logged long ago, for prune-logs to forget.
        db.session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                event_type="test",
                body="{}",
                status="succeeded",
                created_at=SEEDED - timedelta(days=120),
            )
        )
        db.session.commit()
    players = (
        db.session.execute(
            select(User)
            .where(User.external_id.is_not(None), User.control_group.is_(False))  # the control group gets no e-mails
            .order_by(User.id)  # the same six on every database
            .limit(6)
        )
        .scalars()
        .all()
    )
    with time_machine.travel(LATER - timedelta(days=1), tick=False):
        for user in players:  # yesterday's play: a streak at risk tonight
            process_event("lessons_completed", user, 1)
    with time_machine.travel(LATER - timedelta(hours=1), tick=False):
        # News since the seed (the seed's own history is muted): events that change ranks and unlock.
        for user in players[:2]:
            process_event("lessons_completed", user, 5)
    return http_receiver, smtp_server


def test_every_scheduled_job_changes_nothing_when_run_again(app, db, world):
    receiver, smtp = world
    did_work = set()
    with time_machine.travel(LATER, tick=False):
        for s in jobs.SCHEDULE:
            before = _state(db, receiver, smtp)
            s.func()
            first = _state(db, receiver, smtp)
            s.func()
            second = _state(db, receiver, smtp)
            if first != before:
                did_work.add(s.name)
            assert second == first, (s.name, _diff(first, second))
    assert did_work == {s.name for s in jobs.SCHEDULE}, sorted({s.name for s in jobs.SCHEDULE} - did_work)
    # Deliveries are jobs of their own, queued by the schedule: each run twice, each sent once.
    conn = get_redis()
    queued = [j for q in QUEUES for j in Queue(q, connection=conn).get_jobs()]
    hooks = [j for j in queued if j.func_name == "gamify.jobs.deliver_webhook"]
    mails = [j for j in queued if j.func_name == "gamify.jobs.deliver_email"]
    assert hooks and mails and receiver.requests == [] and smtp.messages == []
    with time_machine.travel(LATER, tick=False):
        for job in hooks + mails:
            job.func(*job.args)
            job.func(*job.args)
    posted = [r.headers[webhooks.DELIVERY_HEADER] for r in receiver.requests]
    assert sorted(posted) == sorted(str(j.args[0]) for j in hooks)
    sent = [m.message["Message-ID"] for m in smtp.messages]
    assert sent and len(sent) == len(set(sent))


def _diff(a: tuple, b: tuple) -> list:
    out = []
    for table in a[0]:
        if a[0][table] != b[0][table]:
            out.append((table, set(b[0][table]) ^ set(a[0][table])))
    return out + [x for x in zip(a[1:], b[1:]) if x[0] != x[1]]
