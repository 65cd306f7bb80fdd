"""`flask seed-demo`: the generated history through the batch path, then the present day through the typed
API client (gamify/client.py, in-process): the beta-tester badge, friends, gifts waiting, energy used."""

from gamify import demo
from gamify.models import AchievementCompletion, EnergyGift, EnergyTransaction, Friendship, MetricEvent, User


def test_seed_demo_sends_the_present_day_through_the_client(app, db):
    demo.seed(players=8, days=5, echo=lambda *a: None)
    me = db.session.execute(db.select(User).where(User.email == demo.DEMO_EMAIL)).scalar_one()
    held = db.session.execute(db.select(AchievementCompletion).where(AchievementCompletion.user_id == me.id)).scalars()
    assert "beta_tester" in {c.achievement.key for c in held}
    rows = db.session.execute(
        db.select(Friendship).where((Friendship.requester_id == me.id) | (Friendship.addressee_id == me.id))
    ).scalars()
    assert sorted(r.status for r in rows) == ["accepted"] * 4 + ["pending"] * 2
    gifts = db.session.execute(db.select(EnergyGift).where(EnergyGift.recipient_id == me.id)).scalars().all()
    assert sorted((g.amount, g.status) for g in gifts) == [(10, "pending"), (15, "pending")]
    spent = db.session.execute(
        db.select(EnergyTransaction).where(EnergyTransaction.user_id == me.id, EnergyTransaction.type == "consumption")
    ).scalars()
    assert len(list(spent)) == 3
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() > 8  # the history is there too
