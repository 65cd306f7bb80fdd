"""E-mails driven by domain events (achievement.completed, streak.lost) and the weekly recap."""

from datetime import date, datetime, timedelta, timezone

import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import DomainEvent, EmailSend
from gamify.services import achievements, events, outbox, reminders
from tests import factories as f
from tests.mailfixtures import extend_on, player, rq_inline, smtp_server, streak_until  # noqa: F401


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def _streak_config():
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    return m


def test_settlement_fires_streak_lost_near_local_midnight_and_the_come_back_sequence_follows(
    app, db, rq_inline, smtp_server
):
    _streak_config()
    u = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 8)
    short = streak_until(player("bo", "Europe/London"), date(2026, 3, 9), 3)
    smtp_server.messages.clear()
    reminders.update_settings(email_enabled=True)
    db.session.commit()
    outbox.set_preference(u.id, "streak_reminder", "email", False)  # keep this test about reactivation
    outbox.set_preference(short.id, "streak_reminder", "email", False)
    db.session.commit()

    with time_machine.travel(utc(2026, 3, 10, 23, 50), tick=False):  # still 10 March locally
        assert jobs.settle_streaks() == 0
    with time_machine.travel(utc(2026, 3, 11, 0, 5), tick=False):  # just after local midnight
        assert jobs.settle_streaks() == 2
    lost = (
        db.session.execute(
            db.select(DomainEvent).where(DomainEvent.type == "streak.lost").order_by(DomainEvent.user_id)
        )
        .scalars()
        .all()
    )
    assert [(e.user_id, e.payload["lost_length"]) for e in lost] == [(u.id, 8), (short.id, 3)]
    assert all(e.dispatched_at is not None for e in lost)
    rows = (
        db.session.execute(db.select(EmailSend).where(EmailSend.type == "reactivation").order_by(EmailSend.send_after))
        .scalars()
        .all()
    )
    assert {r.user_id for r in rows} == {u.id}  # 3 < threshold 7: nothing for the short one
    # Lost at midnight into 11 March (local): days 3, 7, 14 and 30 at 10:00 London time (BST from 29 March).
    assert [r.send_after for r in rows] == [
        utc(2026, 3, 14, 10, 0),
        utc(2026, 3, 18, 10, 0),
        utc(2026, 3, 25, 10, 0),
        utc(2026, 4, 10, 9, 0),
    ]
    assert smtp_server.messages == []

    with time_machine.travel(utc(2026, 3, 14, 9, 59), tick=False):
        jobs.dispatch_outbox()
    assert smtp_server.messages == []
    with time_machine.travel(utc(2026, 3, 14, 10, 0), tick=False):
        jobs.dispatch_outbox()
    (msg,) = smtp_server.messages
    assert msg.rcpt_tos == [u.email] and "8-day streak" in msg.subject
    assert msg.links("/l/streak/") and msg.message["List-Unsubscribe"]
    # Day 30 (planned 30 days ahead) still goes out when its time comes.
    for at in (utc(2026, 3, 18, 10, 0), utc(2026, 3, 25, 10, 0), utc(2026, 4, 10, 9, 0)):
        with time_machine.travel(at, tick=False):
            jobs.dispatch_outbox()
    assert len(smtp_server.messages) == 4
    db.session.expire_all()
    assert all(db.session.get(EmailSend, r.id).status == "sent" for r in rows)


def test_reactivation_threshold_is_a_setting_and_comeback_players_are_skipped(app, db, rq_inline, smtp_server):
    _streak_config()
    reminders.update_settings(reactivation_threshold=3)
    db.session.commit()
    u = streak_until(player("cy", "Asia/Tokyo"), date(2026, 3, 9), 3)
    outbox.set_preference(u.id, "streak_reminder", "email", False)
    db.session.commit()
    smtp_server.messages.clear()
    with time_machine.travel(utc(2026, 3, 10, 15, 5), tick=False):  # 00:05 on 11 March in Tokyo
        jobs.settle_streaks()
    rows = db.session.execute(db.select(EmailSend).where(EmailSend.type == "reactivation")).scalars().all()
    assert len(rows) == 4  # days 3, 7, 14, 30
    extend_on(u, date(2026, 3, 13), hour=8)  # back before the first mail (14 March, 10:00 in Tokyo)
    for at in (utc(2026, 3, 14, 1, 0), utc(2026, 3, 18, 1, 0)):  # 10:00 in Tokyo, days 3 and 7
        with time_machine.travel(at, tick=False):
            jobs.dispatch_outbox()
    db.session.expire_all()
    done = [db.session.get(EmailSend, r.id) for r in sorted(rows, key=lambda r: r.send_after)[:2]]
    # Day 3: a new streak runs; day 7: it lapsed again, but the player came back once: the sequence stopped.
    assert [(r.status, r.last_error) for r in done] == [
        ("skipped", "the player already started a new streak"),
        ("skipped", "the player came back after the loss"),
    ]
    assert smtp_server.messages == []


def test_achievement_mail_for_live_completions_only(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.achievement(
        "first", "metric", metric_id=m.id, threshold=1, name="First lesson", description="Finish your first lesson"
    )
    db.session.commit()
    u = player("dee")
    events.process_event("lessons", u, 1)
    (msg,) = smtp_server.messages
    assert msg.rcpt_tos == [u.email] and msg.subject == "Achievement unlocked: First lesson"
    assert "Finish your first lesson" in msg.text
    (deep,) = msg.links("/l/achievements/")
    assert "/unsubscribe/" in msg.unsubscribe_url

    # Backdated (silent) completions never mail.
    old = player("eve")
    events.process_event("lessons", old, 5)
    smtp_server.messages.clear()
    five = f.achievement("five", "metric", status="inactive", metric_id=m.id, threshold=5)
    db.session.commit()
    assert achievements.activate([five]) >= 1
    db.session.commit()
    jobs.dispatch_outbox()
    assert smtp_server.messages == []
    assert not db.session.execute(db.select(EmailSend).where(EmailSend.ref == "five")).first()


def test_achievement_mail_respects_the_email_preference(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    db.session.commit()
    u = player("fay")
    outbox.set_preference(u.id, "achievement", "email", False)
    db.session.commit()
    events.process_event("lessons", u, 1)
    assert smtp_server.messages == []
    # In-app notifications are a separate channel.
    assert outbox.channel_enabled(u.id, "achievement", "in_app")


def test_email_master_switch(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    reminders.update_settings(email_enabled=False)
    db.session.commit()
    events.process_event("lessons", player("gus"), 1)
    assert smtp_server.messages == []


def test_weekly_recap_on_the_local_recap_day_once_per_week(app, db, rq_inline, smtp_server):
    m = _streak_config()
    xp = f.system("xp", name="XP")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson")
    db.session.commit()
    u = player("hal", "America/New_York")
    idle = player("ida", "America/New_York")  # nothing happened: no recap
    for d in (date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)):
        extend_on(u, d)
    smtp_server.messages.clear()

    monday_9 = utc(2026, 3, 16, 13, 0)  # Monday 09:00 in New York (EDT since 8 March)
    with time_machine.travel(monday_9 - timedelta(minutes=15), tick=False):
        assert jobs.weekly_recaps() == 0
    with time_machine.travel(monday_9, tick=False):
        assert jobs.weekly_recaps() == 2
        assert jobs.weekly_recaps() == 0
    with time_machine.travel(monday_9 + timedelta(hours=5), tick=False):
        assert jobs.weekly_recaps() == 0
    (msg,) = smtp_server.messages
    assert msg.rcpt_tos == [u.email] and msg.subject == "Your week in review"
    assert "XP: +30" in msg.text and "First lesson" in msg.text
    assert "kept going 3 times" in msg.text
    skipped = db.session.execute(db.select(EmailSend).where(EmailSend.user_id == idle.id)).scalar_one()
    assert skipped.status == "skipped"
