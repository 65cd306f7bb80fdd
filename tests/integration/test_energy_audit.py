"""The energy ledger's integrity (issue 14, item 8): energy that rose with no ledger row is flagged by the
scheduled audit, once; ordinary play is not; changes made through the API record the client's address."""

from datetime import timedelta

import pytest
import time_machine

from gamify import jobs
from gamify.models import DomainEvent, EnergyAction, EnergyReview, EnergyTransaction, JobCursor, User
from gamify.services import energy
from tests import factories as f

NOW = f.utc(2026, 3, 2, 9, 0)  # a tick boundary


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def headers(db):
    f.metric("duels", "Duels")
    db.session.add(EnergyAction(key="duel", name="Duel", base_cost=25, metric_key="duels", metric_value=1))
    db.session.commit()
    return {"X-API-Key": f.api_key()}


def player(db, external_id="u1"):
    return db.session.execute(db.select(User).where(User.external_id == external_id)).scalar_one()


def txs(db, user_id):
    q = db.select(EnergyTransaction).where(EnergyTransaction.user_id == user_id).order_by(EnergyTransaction.id)
    return list(db.session.execute(q).scalars())


def reviews(db):
    return list(db.session.execute(db.select(EnergyReview).order_by(EnergyReview.id)).scalars())


def test_ordinary_play_leaves_an_unbroken_ledger(client, headers, db):
    # Spends through the event pipeline, regeneration ticks, an admin adjustment and a refill of a full
    # bar: every change has its row, so nothing is flagged.
    for minutes in (0, 0, 30, 95):
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            r = client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
            assert r.status_code == 201, r.json
    u = player(db)
    energy.adjust(u, -10, "test", now=NOW + timedelta(minutes=100))
    db.session.commit()
    types = [t.type for t in txs(db, u.id)]
    assert "regeneration" in types and types.count("consumption") == 4  # the test covers regeneration
    assert jobs.audit_energy_ledger(now=NOW + timedelta(hours=2)) == "done: 0 flagged"
    assert reviews(db) == []


def test_energy_raised_outside_the_ledger_is_flagged_once(client, headers, db):
    client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)  # 150 -> 125
    u = player(db)
    # Someone edits the balance directly: +40 with no ledger row.
    db.session.execute(db.text("UPDATE player_energy SET current = current + 40 WHERE user_id = :u"), {"u": u.id})
    db.session.commit()
    energy.adjust(u, -5, "after the edit", now=NOW)  # the next change starts from 165, not 125
    db.session.commit()
    after_gap = txs(db, u.id)[-1]
    assert (after_gap.balance_before, after_gap.balance_after) == (165, 160)

    assert jobs.audit_energy_ledger(now=NOW + timedelta(minutes=15)) == "done: 1 flagged"
    (review,) = reviews(db)
    assert review.kind == "unexplained_increase" and review.user_id == u.id
    assert review.spent == 40 and review.transaction_id == after_gap.id
    assert "125 to 165" in review.reason
    event = db.session.execute(db.select(DomainEvent).where(DomainEvent.type == "energy.flagged")).scalar_one()
    assert event.payload["kind"] == "unexplained_increase" and event.payload["increase"] == 40

    # The next run starts after the rows already seen; a run from scratch does not flag the gap again.
    assert jobs.audit_energy_ledger(now=NOW + timedelta(minutes=30)) == "done: 0 flagged"
    db.session.get(JobCursor, energy.audit.CURSOR).position = 0
    db.session.commit()
    assert jobs.audit_energy_ledger(now=NOW + timedelta(minutes=45)) == "done: 0 flagged"
    assert len(reviews(db)) == 1


def test_a_lowered_balance_is_not_flagged(client, headers, db):
    client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    u = player(db)
    db.session.execute(db.text("UPDATE player_energy SET current = current - 40 WHERE user_id = :u"), {"u": u.id})
    db.session.commit()
    energy.adjust(u, 5, "after the edit", now=NOW)
    db.session.commit()
    assert jobs.audit_energy_ledger(now=NOW + timedelta(minutes=10)) == "done: 0 flagged"
    assert db.session.get(JobCursor, energy.audit.CURSOR).position == txs(db, u.id)[-1].id  # it did look


def test_the_audit_goes_on_where_a_full_batch_stopped(client, headers, db):
    client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    u = player(db)
    db.session.execute(db.text("UPDATE player_energy SET current = current + 7 WHERE user_id = :u"), {"u": u.id})
    db.session.commit()
    energy.adjust(u, -1, "a", now=NOW)
    energy.adjust(u, -1, "b", now=NOW)
    db.session.commit()
    rows = txs(db, u.id)
    later = NOW + timedelta(minutes=10)
    assert energy.audit_ledger(later, batch=len(rows) - 2) == 0  # stops before the row after the gap
    assert energy.audit_ledger(later, batch=len(rows)) == 1
    assert db.session.get(JobCursor, energy.audit.CURSOR).position == rows[-1].id


def test_changes_through_the_api_record_the_client_address(client, headers, db):
    r = client.post(
        "/api/v1/actions/duel",
        json={"user": {"id": "u1"}},
        headers=headers,
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert r.status_code == 201
    r = client.post(
        "/api/v1/users/u1/energy/adjust",
        json={"amount": 3, "reason": "support"},
        headers=headers,
        environ_base={"REMOTE_ADDR": "2001:db8::42"},
    )
    assert r.status_code == 200, r.json
    u = player(db)
    energy.adjust(u, 1, "from a job", now=NOW)  # outside a request: no address
    db.session.commit()
    assert [(t.type, t.client_ip) for t in txs(db, u.id)] == [
        ("consumption", "203.0.113.7"),
        ("admin_adjust", "2001:db8::42"),
        ("admin_adjust", None),
    ]


def test_rows_younger_than_five_minutes_wait_for_the_next_run(client, headers, db):
    # A row's id is taken at insert, not at commit: a lower id may still appear, so the audit leaves
    # the last five minutes for later and its cursor does not pass them.
    client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers)
    u = player(db)
    db.session.execute(db.text("UPDATE player_energy SET current = current + 9 WHERE user_id = :u"), {"u": u.id})
    db.session.commit()
    energy.adjust(u, -1, "after the edit", now=NOW)
    db.session.commit()
    assert energy.audit_ledger(NOW + timedelta(minutes=4)) == 0
    assert db.session.get(JobCursor, energy.audit.CURSOR).position == 0
    assert energy.audit_ledger(NOW + timedelta(minutes=6)) == 1


def test_more_than_200_spent_in_an_hour_through_actions_is_flagged(client, headers, db):
    # The energy spec's limit, on the event pipeline's path (POST /actions): 200 in an hour is allowed,
    # 225 is not. A top-up keeps the other rule (more than max + regeneration + top-ups) out of it.
    client.post("/api/v1/users/u1", json={}, headers=headers)
    r = client.post("/api/v1/users/u1/energy/adjust", json={"amount": 100, "reason": "top-up"}, headers=headers)
    assert r.json["current"] == 250
    for minute in range(8):  # 8 x 25 = 200
        with time_machine.travel(NOW + timedelta(minutes=minute), tick=False):
            assert client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers).status_code == 201
    assert reviews(db) == []
    with time_machine.travel(NOW + timedelta(minutes=9), tick=False):
        assert client.post("/api/v1/actions/duel", json={"user": {"id": "u1"}}, headers=headers).status_code == 201
    (review,) = reviews(db)
    assert (review.kind, review.spent) == ("spending", 225)
    event = db.session.execute(db.select(DomainEvent).where(DomainEvent.type == "energy.flagged")).scalar_one()
    assert event.payload["kind"] == "spending" and event.payload["spent"] == 225


def test_energy_flagged_is_a_webhook_endpoints_can_subscribe_to():
    from gamify.models.webhooks import WEBHOOK_EVENT_TYPES

    assert "energy.flagged" in WEBHOOK_EVENT_TYPES
