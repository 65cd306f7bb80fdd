"""Streak reminders: who gets one at which UTC hour, across time zones and DST, exactly once per period."""

from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import EmailSend
from gamify.services import reminders, streaks
from tests import factories as f
from tests.mailfixtures import extend_on, player, rq_inline, smtp_server, streak_until  # noqa: F401

ZONES = {
    "tokyo": "Asia/Tokyo",
    "london": "Europe/London",
    "newyork": "America/New_York",
    "losangeles": "America/Los_Angeles",
    "sydney": "Australia/Sydney",
}


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def sweep(smtp, start: datetime, hours: int, step_minutes: int = 60) -> dict:
    """Run the reminder job every `step_minutes` from `start`; {recipient: [UTC instants it got mail]}."""
    got: dict = {}
    t = start
    end = start + timedelta(hours=hours)
    while t <= end:
        before = len(smtp.messages)
        with time_machine.travel(t, tick=False):
            jobs.streak_reminders()
        for m in smtp.messages[before:]:
            got.setdefault(m.rcpt_tos[0].split("@")[0], []).append(t)
        t += timedelta(minutes=step_minutes)
    return got


@pytest.mark.parametrize(
    "day, expected_hours",
    [
        # January: Sydney on daylight time (+11), the north on standard time.
        (
            date(2026, 1, 15),
            {
                "sydney": utc(2026, 1, 15, 9),
                "tokyo": utc(2026, 1, 15, 11),
                "london": utc(2026, 1, 15, 20),
                "newyork": utc(2026, 1, 16, 1),
                "losangeles": utc(2026, 1, 16, 4),
            },
        ),
        # July: Sydney on standard time (+10), London/New York/Los Angeles on summer time.
        (
            date(2026, 7, 15),
            {
                "sydney": utc(2026, 7, 15, 10),
                "tokyo": utc(2026, 7, 15, 11),
                "london": utc(2026, 7, 15, 19),
                "newyork": utc(2026, 7, 16, 0),
                "losangeles": utc(2026, 7, 16, 3),
            },
        ),
    ],
)
def test_each_zone_is_reminded_once_at_local_20h(app, db, rq_inline, smtp_server, day, expected_hours):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    for name, tz in ZONES.items():
        streak_until(player(name, tz), day - timedelta(days=1), 5)
    # Extended today (local morning): never reminded.
    early = player("early", "Europe/London")
    streak_until(early, day - timedelta(days=1), 5)
    extend_on(early, day, hour=8)
    # No e-mail address: never reminded.
    streak_until(player("noemail", "Europe/London", email=None), day - timedelta(days=1), 5)
    smtp_server.messages.clear()

    got = sweep(
        smtp_server,
        datetime.combine(day - timedelta(days=1), datetime.min.time(), timezone.utc) + timedelta(hours=20),
        hours=40,
    )

    assert {k: v for k, v in got.items()} == {k: [v] for k, v in expected_hours.items()}
    rows = db.session.execute(db.select(EmailSend).where(EmailSend.type == "streak_reminder")).scalars().all()
    assert len(rows) == 5 and all(r.status == "sent" and r.sent_at is not None for r in rows)


def test_second_run_in_same_period_sends_nothing(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("ann", "Europe/Berlin"), date(2026, 3, 9), 3)
    smtp_server.messages.clear()
    with time_machine.travel(utc(2026, 3, 10, 19, 0), tick=False):  # 20:00 in Berlin
        assert jobs.streak_reminders() == 1
        assert jobs.streak_reminders() == 0
    with time_machine.travel(utc(2026, 3, 10, 22, 45), tick=False):  # 23:45 local, still the same day
        assert jobs.streak_reminders() == 0
    assert [m.rcpt_tos for m in smtp_server.messages] == [[u.email]]


def test_not_before_the_reminder_hour_and_configurable(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    streak_until(player("ann", "Europe/Berlin"), date(2026, 3, 9), 3)
    smtp_server.messages.clear()
    with time_machine.travel(utc(2026, 3, 10, 18, 59), tick=False):  # 19:59 local
        assert jobs.streak_reminders() == 0
    reminders.update_settings(reminder_hour=17)
    db.session.commit()
    with time_machine.travel(utc(2026, 3, 10, 16, 0), tick=False):  # 17:00 local
        assert jobs.streak_reminders() == 1
    assert len(smtp_server.messages) == 1


def test_freeze_changes_the_copy_and_long_streaks_go_first(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    last = date(2026, 5, 4)
    short = streak_until(player("short", "America/Chicago"), last, 3)
    long_ = streak_until(player("long", "America/Chicago"), last, 12)
    mid = streak_until(player("mid", "America/Chicago"), last, 7)
    streaks.grant_freeze(mid.id, "test")
    db.session.commit()
    smtp_server.messages.clear()

    with time_machine.travel(utc(2026, 5, 6, 1, 0), tick=False):  # 20:00 in Chicago (CDT) on May 5
        assert jobs.streak_reminders() == 3

    order = [m.rcpt_tos[0] for m in smtp_server.messages]
    assert order == [long_.email, mid.email, short.email]
    by = {m.rcpt_tos[0]: m for m in smtp_server.messages}
    assert "your 12-day streak ends at midnight" in by[long_.email].text.lower()
    assert "freeze" not in by[long_.email].text.lower()
    assert "a freeze will protect you" in by[mid.email].text.lower()
    assert "ends at midnight" not in by[mid.email].text.lower()
    assert "a freeze will protect you" in by[mid.email].html.lower()
    assert by[long_.email].subject != by[mid.email].subject


def test_extended_between_selection_and_send_is_skipped(app, db, smtp_server):
    """The send job re-checks the streak: a player who extended after being selected gets nothing."""
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("ann", "Europe/Paris"), date(2026, 3, 9), 4)
    at = utc(2026, 3, 10, 19, 30)
    with time_machine.travel(at, tick=False):
        ids = reminders.select_streak_reminders(at)
        db.session.commit()
    assert len(ids) == 1
    extend_on(u, date(2026, 3, 10), hour=20)  # 20:xx local: extends before the mail job runs
    smtp_server.messages.clear()
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        result = jobs.deliver_email(ids[0])
    assert result.startswith("skipped")
    row = db.session.get(EmailSend, ids[0])
    assert row.status == "skipped" and row.sent_at is None
    assert smtp_server.messages == []


def test_weekly_streaks_are_reminded_on_friday_morning(app, db, rq_inline, smtp_server):
    """Weekly streaks: Friday 09:00 local by default (Friday holds a quarter of all streak losses), and the
    mail says the week ends on Sunday."""
    m = f.metric()
    f.streak({m: 1}, frequency="weekly")
    db.session.commit()
    u = player("wk", "Asia/Tokyo")
    extend_on(u, date(2026, 3, 4))  # Wednesday of the week of Mon 2 March
    smtp_server.messages.clear()
    # Thursday 12 March (next week) evening and Friday 13 March 08:59 in Tokyo: not yet.
    for at in (utc(2026, 3, 12, 11, 0), utc(2026, 3, 12, 23, 59)):
        with time_machine.travel(at, tick=False):
            assert jobs.streak_reminders() == 0
    # Friday 13 March 09:00 in Tokyo (00:00 UTC).
    with time_machine.travel(utc(2026, 3, 13, 0, 0), tick=False):
        assert jobs.streak_reminders() == 1
    assert "1-week streak ends on Sunday at midnight" in smtp_server.messages[0].text
    with time_machine.travel(utc(2026, 3, 15, 11, 0), tick=False):  # Sunday evening: once per week
        assert jobs.streak_reminders() == 0


def test_monthly_streaks_are_reminded_days_before_the_month_ends(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1}, frequency="monthly")
    db.session.commit()
    u = player("mo", "Europe/London")
    extend_on(u, date(2026, 4, 10))
    smtp_server.messages.clear()
    with time_machine.travel(utc(2026, 5, 27, 20, 0), tick=False):  # 27 May, 21:00 BST: not yet
        assert jobs.streak_reminders() == 0
    with time_machine.travel(utc(2026, 5, 28, 19, 0), tick=False):  # 28 May, 20:00 BST: 3 days before the 31st
        assert jobs.streak_reminders() == 1
    assert "1-month streak ends on Sunday at midnight" in smtp_server.messages[0].text  # 31 May 2026
