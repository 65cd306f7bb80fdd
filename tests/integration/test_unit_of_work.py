"""A request is a unit of work (gamify/uow.py): what a successful request leaves pending is committed,
a failed one is rolled back; no view has to remember to commit what a read settled."""

from datetime import timedelta

import time_machine

from gamify.models import Notification, User
from gamify.services import energy
from tests import factories as f

NOW = f.utc(2026, 3, 2, 9, 0)


def _fulls(db) -> int:
    return db.session.execute(
        db.select(db.func.count(Notification.id)).where(Notification.type == "energy_full")
    ).scalar()


def test_a_read_that_settles_state_is_kept_though_the_view_never_commits(client, db):
    """Reading the energy bar notices it filled up (a notification, once per fill). The view only reads."""
    u = f.player("ann")
    energy.spend(u, 2, now=NOW)
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    with time_machine.travel(NOW + timedelta(minutes=36), tick=False):
        r = client.get("/api/v1/users/ann/energy", headers=headers)
    assert r.status_code == 200 and r.json["full"]
    db.session.rollback()  # whatever the request left uncommitted is gone now
    assert _fulls(db) == 1


def test_a_failed_request_leaves_nothing_behind(client, db):
    """An event refused after its player row was written in the same transaction: rolled back whole."""
    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "new"}, "value": -1}, headers=headers)
    assert r.status_code == 400
    db.session.rollback()
    assert db.session.execute(db.select(User).where(User.external_id == "new")).first() is None
