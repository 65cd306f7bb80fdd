"""`flask seed-demo`: the generated history through the batch path, then the present day through the typed
API client (gamify/client.py, in-process): the beta-tester badge, friends, gifts waiting, energy used."""

from datetime import timedelta

from gamify import demo, demo_messages
from gamify.engine import calendar as cal
from gamify.models import (
    AchievementCompletion,
    EmailSend,
    EnergyGift,
    EnergyTransaction,
    Friendship,
    MetricEvent,
    NotificationDelivery,
    PointsAward,
    UsedLoginLink,
    User,
)
from gamify.services import deliveries


def test_seed_demo_sends_the_present_day_through_the_client(app, db, tmp_path):
    demo.seed(players=8, days=5, echo=lambda *a: None, mail_dir=tmp_path)
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


def test_the_demo_week_sends_real_mails_and_the_delivery_chart_counts_them(app, db, tmp_path):
    """The last week is replayed with the e-mail schedule: every delivery row is a send row's outcome
    (written by the mail job), sent ones reached the SMTP server, clicks came through the link route."""
    demo.seed(players=40, days=10, echo=lambda *a: None, mail_dir=tmp_path)
    sends = {s.id: s for s in db.session.execute(db.select(EmailSend)).scalars()}
    log = list(db.session.execute(db.select(NotificationDelivery)).scalars())
    assert log and {d.ref for d in log} <= {f"email-{i}" for i in sends}
    for d in log:
        send = sends[int(d.ref.removeprefix("email-"))]
        assert (d.type, d.user_id) == (send.type, send.user_id)
        assert (d.status == "sent") == (send.status == "sent"), (d.status, send.status)
        assert d.clicked_at is None or d.status == "sent"
        # Opened within half a day of being sent (not all at the moment of seeding: the click chart).
        assert d.clicked_at is None or d.sent_at < d.clicked_at <= d.sent_at + demo_messages.OPEN_WITHIN
    assert len(list(tmp_path.glob("*.eml"))) == sum(d.status == "sent" for d in log)
    # The evening the mail server was down, nothing was sent.
    end = max(d.created_at for d in log)
    down = (end - timedelta(days=demo_messages.OUTAGE_DAY)).replace(hour=18, minute=0, second=0, microsecond=0)
    assert not [d for d in log if d.sent_at and down <= d.sent_at < down + timedelta(hours=6)]
    used = db.session.execute(db.select(db.func.count(UsedLoginLink.nonce))).scalar()
    s = deliveries.stats()
    rows = {(r.type, r.channel): r for r in s.rows}
    reminders_ = rows[("streak_reminder", "email")]
    assert reminders_.sent > 0 and 0 < reminders_.clicked <= reminders_.sent
    assert sum(r.clicked for r in s.rows) == used  # each click signed a player in through the link route
    assert s.effects and 0 < s.effects[0].decided <= reminders_.sent
    assert sum(n for _, n in s.daily) == sum(r.sent for r in s.rows)


def test_signup_points_are_dated_when_each_player_signed_up(app, db, tmp_path):
    """The signup trigger (20 gems) is awarded as the player is created, i.e. while seeding; the demo
    then dates the player back. Their signup award goes back with them: the points chart showed every
    player's 20 gems on the seeding day (6000 gems 'today' in the 300-player demo)."""
    demo.seed(players=12, days=20, echo=lambda *a: None, mail_dir=tmp_path)
    rows = db.session.execute(
        db.select(PointsAward, User)
        .join(User, User.id == PointsAward.user_id)
        .where(PointsAward.trigger_type == "signup")
    ).all()
    assert len(rows) == 12  # one per player (the admin is not a player)
    for award, user in rows:
        assert award.awarded_at == user.created_at
        assert award.local_date == cal.local_date(user.created_at, user.timezone)
    assert len({a.local_date for a, _ in rows}) > 1  # players joined on different days
