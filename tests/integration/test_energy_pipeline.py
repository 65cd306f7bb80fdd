"""Energy in the event pipeline (gamify/pipeline/energy.py): an action event regenerates first and then
pays, with a ledger row for each; the low and full notices; the anti-cheat review on the last hour the
batch loaded; a repeated idempotency key answered without paying twice.

Expected values are worked out by hand from the energy spec: a free player has 150 at most and gets 5 an
hour in 12-minute ticks (1 a tick without fatigue); spending adds 0.2 fatigue per energy (0.5 % less per
endurance level), 10 fatigue wears off per hour; "low" is below 20; spending is flagged above max + an
hour of regeneration + top-ups.
"""

from datetime import timedelta

import pytest

from gamify.models import (
    DomainEvent,
    EnergyAction,
    EnergyReview,
    EnergyTransaction,
    MetricEvent,
    Notification,
    PlayerBoost,
    PlayerEnergy,
)
from gamify.services import energy, snapshot
from gamify.services.energy import EnergyError
from gamify.services.events import EventIn, process_batch, process_event
from tests import factories as f

NOW = f.utc(2026, 3, 2, 9, 0)  # on a tick boundary


def action(db, key="drill", cost=10):
    if not db.session.execute(db.select(EnergyAction).where(EnergyAction.metric_key == "lessons")).first():
        f.metric("lessons")
    db.session.add(EnergyAction(key=key, name=key.title(), base_cost=cost, metric_key="lessons", metric_value=1))
    db.session.flush()


def act(user, key="drill", at=NOW, **kw):
    return process_event("lessons", user, 1, now=at, options={"action": key}, **kw)


def ledger(db, user_id):
    rows = db.session.execute(
        db.select(EnergyTransaction).where(EnergyTransaction.user_id == user_id).order_by(EnergyTransaction.id)
    ).scalars()
    return [(t.type, t.amount, t.balance_before, t.balance_after, t.meta) for t in rows]


def notices(db, type_):
    rows = db.session.execute(db.select(Notification).where(Notification.type == type_)).scalars()
    return [(n.title, n.body, n.link) for n in rows]


def notice_words(db, type_):
    """The notices' key in gamify.notices and its values: the words are chosen in the reader's language
    when the notice is shown, from these."""
    rows = db.session.execute(db.select(Notification).where(Notification.type == type_)).scalars()
    return [(n.message, n.params) for n in rows]


def events(db, type_):
    rows = db.session.execute(db.select(DomainEvent).where(DomainEvent.type == type_).order_by(DomainEvent.id))
    return [(e.user_id, e.payload) for e in rows.scalars()]


def test_an_action_after_a_pause_regenerates_first_then_pays(db):
    action(db)
    u = f.player()
    energy.adjust(u, -100, "test", now=NOW)  # 50, no fatigue
    db.session.commit()
    at = NOW + timedelta(minutes=36)  # three ticks: +3

    r = act(u, at=at)

    assert r["energy"] == {
        "action": "drill",
        "difficulty": None,
        "cost": 10,
        "spent": 10,
        "before": 53,
        "current": 43,
        "max": 150,
        "fatigue": 2.0,  # 10 x 0.2
        "low": False,
    }
    assert ledger(db, u.id) == [
        ("admin_adjust", -100, 150, 50, {"reason": "test"}),
        ("regeneration", 3, 50, 53, {"ticks": 3}),
        ("consumption", -10, 53, 43, {"action": "drill", "difficulty": None}),
    ]
    spend = db.session.execute(db.select(EnergyTransaction).where(EnergyTransaction.type == "consumption")).scalar_one()
    assert (spend.related_type, spend.related_id, spend.created_at) == ("metric_event", r["event_id"], at)
    row = db.session.get(PlayerEnergy, u.id)
    assert (row.current, row.remainder_milli, row.last_regen_at) == (43, 0, at)
    assert (row.fatigue_milli, row.fatigue_updated_at, row.full_notified) == (2000, at, False)


def test_low_energy_is_announced_when_an_action_goes_below_20_and_only_then(db):
    action(db)
    u = f.player()
    energy.adjust(u, -120, "test", now=NOW)  # 30
    db.session.commit()
    low = [act(u)["energy"]["low"] for _ in range(3)]  # 30 -> 20 (not below) -> 10 (crossed) -> 0
    assert low == [False, True, True]
    assert notices(db, "energy_low") == [
        ("Your energy is low", "10/150 left. It comes back over time - or refill with tokens.", "/energy")
    ]
    assert events(db, "energy.low") == [(u.id, {"current": 10, "max": 150, "threshold": 20})]


def test_a_free_action_at_full_energy_announces_the_fill_once(db):
    action(db, "wave", cost=0)
    u = f.player()
    energy.spend(u, 2, now=NOW)  # 148: the flag is reset
    db.session.commit()
    later = NOW + timedelta(hours=2)  # ten ticks of about 1: full again
    assert act(u, "wave", at=later)["energy"]["current"] == 150
    act(u, "wave", at=later + timedelta(minutes=1))
    assert notices(db, "energy_full") == [("Your energy is full", "150/150: time to use it!", "/actions")]
    assert notice_words(db, "energy_full") == [("energy_full", {"current": 150, "max": 150})]
    assert events(db, "energy.full") == [(u.id, {"current": 150, "max": 150})]
    assert db.session.get(PlayerEnergy, u.id).full_notified


def test_spending_more_than_the_hour_allows_opens_one_review(db):
    action(db, "raid", cost=74)
    action(db, "step", cost=1)
    u = f.player()
    for type_, amount, minutes_ago in [
        ("consumption", -100, 50),
        ("gift_sent", -20, 10),  # spent: 120
        ("admin_adjust", -5, 15),  # a correction is not spending
        ("token_refill", 30, 20),
        ("admin_adjust", 1, 25),  # top-ups: 31
        ("regeneration", 3, 5),  # not a top-up
        ("consumption", -300, 60),  # exactly an hour ago: outside the hour
        ("consumption", -500, 70),
    ]:
        at = NOW - timedelta(minutes=minutes_ago)
        db.session.add(
            EnergyTransaction(
                user_id=u.id, type=type_, amount=amount, balance_before=0, balance_after=0, created_at=at, meta={}
            )
        )
    db.session.add(
        PlayerBoost(
            user_id=u.id,
            type="regen_speed",
            effect_value=121,
            applied_at=NOW - timedelta(minutes=10),
            expires_at=NOW + timedelta(minutes=20),
            name="Rush",
        )
    )
    db.session.commit()

    # Two raids in one batch: 120 + 74 = 194 spent; allowed 150 + ceil(5 x 2.21) + 31 = 193. The second
    # raid (268) finds the review already open.
    results = process_batch(
        [
            EventIn("lessons", u, 1, action="raid", now=NOW),
            EventIn("lessons", u, 1, action="raid", now=NOW + timedelta(seconds=1)),
        ]
    )
    assert [r.error for r in results] == [None, None]
    act(u, "step", at=NOW + timedelta(seconds=2))  # a later event loads the open review

    [review] = db.session.execute(db.select(EnergyReview)).scalars().all()
    assert (review.user_id, review.spent, review.allowed, review.created_at) == (u.id, 194, 193, NOW)
    assert review.reason == "spent 194 energy in the last hour; max 150 + regeneration 12 + top-ups 31 allow 193"
    assert (review.resolved_at, review.resolved_note) == (None, "")
    assert events(db, "energy.flagged") == [(u.id, {"kind": "spending", "spent": 194, "allowed": 193})]


def test_a_repeated_action_key_pays_once_and_answers_with_the_energy_now(db):
    action(db, cost=7)
    u = f.player()
    energy.set_skills(u, {"endurance": 1}, now=NOW)  # fatigue 7 x 0.2 x 0.995 = 1.393
    db.session.add(PlayerBoost(user_id=u.id, type="max_energy_increase", effect_value=50, applied_at=NOW, name="Tank"))
    db.session.commit()
    first, again = process_batch(
        [
            EventIn("lessons", u, 1, idempotency_key="k", action="drill", now=NOW),
            EventIn("lessons", u, 1, idempotency_key="k", action="drill", now=NOW),
        ]
    )
    paid = {"action": "drill", "difficulty": None, "cost": 7, "current": 143, "max": 200, "fatigue": 1.4}
    assert first.response["energy"] == {**paid, "spent": 7, "before": 150, "low": False}
    assert again.response["energy"] == {**paid, "spent": 0}  # answered in the batch
    later = act(u, at=NOW, idempotency_key="k")["energy"]  # answered from the ledger
    plain = process_event("lessons", u, 1, now=NOW, idempotency_key="k")["energy"]  # no action named
    assert later == plain == {**paid, "spent": 0}
    assert [t[0] for t in ledger(db, u.id)] == ["consumption"]


def test_a_repeated_key_after_regeneration_filled_the_bar_announces_the_fill_once(db):
    action(db, cost=2)
    u = f.player()
    act(u, idempotency_key="k")  # 148
    later = NOW + timedelta(hours=2)
    assert act(u, at=later, idempotency_key="k")["energy"]["current"] == 150
    act(u, at=later + timedelta(minutes=1), idempotency_key="k")
    assert notices(db, "energy_full") == [("Your energy is full", "150/150: time to use it!", "/actions")]
    assert notice_words(db, "energy_full") == [("energy_full", {"current": 150, "max": 150})]
    assert events(db, "energy.full") == [(u.id, {"current": 150, "max": 150})]
    assert db.session.get(PlayerEnergy, u.id).full_notified


def test_the_hour_under_review_ends_at_each_events_own_time(db):
    action(db, "wave", cost=0)
    action(db, "raid", cost=60)
    u = f.player()
    for amount, minutes_ago in [(-100, 20), (-400, 30), (-400, 45)]:
        at = NOW - timedelta(minutes=minutes_ago)
        db.session.add(
            EnergyTransaction(
                user_id=u.id, type="consumption", amount=amount, balance_before=0, balance_after=0, created_at=at
            )
        )
    db.session.commit()
    # The batch loads the hour before its first event; the raid half an hour later counts from 08:30 on
    # (exclusive): 100 + 60 = 160 spent, 150 + 5 allowed.
    process_batch(
        [
            EventIn("lessons", u, 1, action="wave", now=NOW),
            EventIn("lessons", u, 1, action="raid", now=NOW + timedelta(minutes=30)),
        ]
    )
    [review] = db.session.execute(db.select(EnergyReview)).scalars().all()
    assert (review.spent, review.allowed) == (160, 155)


def test_a_snapshot_without_the_energy_configuration_still_prices_actions(db, monkeypatch):
    """A snapshot built before the energy module registered its loader holds no energy configuration:
    the step loads it itself, once per batch."""
    action(db, cost=25)
    u = f.player()
    db.session.commit()
    monkeypatch.delitem(snapshot.EXTRA_LOADERS, "energy")
    snapshot.invalidate()
    first, second = process_batch(
        [EventIn("lessons", u, 1, action="drill", now=NOW), EventIn("lessons", u, 1, action="drill", now=NOW)]
    )
    assert [first.response["energy"]["current"], second.response["energy"]["current"]] == [125, 100]


def test_an_action_that_is_not_a_key_is_refused_naming_the_field(db):
    """A Python caller (the API checks the type first) naming an action with a number: a 400 on "action",
    nothing recorded."""
    action(db)
    u = f.player("u")
    db.session.commit()
    with pytest.raises(EnergyError) as refused:
        act(u, key=7)
    assert (refused.value.field, refused.value.status, str(refused.value)) == (
        "action",
        400,
        "action must be an action key",
    )
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 0
