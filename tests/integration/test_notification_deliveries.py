"""The delivery log: written by the e-mail job with the outcome, one row per message; the first click on
a message's signed link recorded before the player is logged in; the counts the admin console shows,
checked against data built by hand."""

from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

import time_machine

from gamify import jobs, links
from gamify.extensions import db
from gamify.models import EmailSend, NotificationDelivery, StreakPeriod, UsedLoginLink
from gamify.services import deliveries, outbox
from tests import factories as f
from tests.mailfixtures import player, rq_inline, smtp_server, streak_until, work  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)  # 20:30 in London (GMT)
MIDNIGHT = datetime(2026, 3, 11, tzinfo=timezone.utc)


def _at_risk(name="ann"):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    return streak_until(player(name, "Europe/London"), date(2026, 3, 9), 5)


def _log() -> list[NotificationDelivery]:
    db.session.expire_all()
    return list(db.session.execute(db.select(NotificationDelivery).order_by(NotificationDelivery.id)).scalars())


def test_the_mail_job_records_failed_then_sent_on_the_same_row(app, db, smtp_server):
    u = _at_risk()
    smtp_server.stop()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        work()
    send = db.session.execute(db.select(EmailSend)).scalar_one()
    (d,) = _log()
    assert (d.ref, d.type, d.channel, d.status, d.user_id) == (
        f"email-{send.id}",
        "streak_reminder",
        "email",
        "failed",
        u.id,
    )
    assert d.sent_at is None and d.period_start == date(2026, 3, 10) and d.period_ends_at == MIDNIGHT
    smtp_server.start()
    with time_machine.travel(EVENING + timedelta(seconds=61), tick=False):
        work()
    (d,) = _log()
    assert d.status == "sent" and d.sent_at == EVENING + timedelta(seconds=61)
    assert d.period_start == date(2026, 3, 10) and len(smtp_server.messages) == 1


def test_a_skipped_mail_is_no_delivery(app, db, rq_inline, smtp_server):
    u = _at_risk()
    outbox.set_preference(u.id, "streak_reminder", "email", False)
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
    assert _log() == []


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def test_the_first_click_is_recorded_before_the_login_whatever_the_login_does(app, db, client, rq_inline, smtp_server):
    u = _at_risk()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        (msg,) = smtp_server.messages
        (deep,) = msg.links("/l/streak/")
        claim = links.read_login_token(_path(deep).rsplit("/", 1)[1], "streak")
    # The link was used up already (say, in another browser that then lost its session): no login now,
    # but the click still counts.
    db.session.add(UsedLoginLink(nonce=claim.nonce, user_id=u.id, used_at=EVENING))
    db.session.commit()
    clicked = EVENING + timedelta(hours=1)
    with time_machine.travel(clicked, tick=False):
        resp = client.get(_path(deep))
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    (d,) = _log()
    assert d.clicked_at == clicked and d.status == "sent"
    with time_machine.travel(clicked + timedelta(hours=1), tick=False):
        client.get(_path(deep))
    assert _log()[0].clicked_at == clicked  # the first click only


def test_a_click_logs_in_and_counts_once_and_only_for_the_links_player(app, db, client, rq_inline, smtp_server):
    u = _at_risk()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
    (msg,) = smtp_server.messages
    (deep,) = msg.links("/l/streak/")
    with time_machine.travel(EVENING + timedelta(minutes=5), tick=False):
        assert client.get(_path(deep)).headers["Location"].endswith("/streak")
        with client.session_transaction() as s:
            assert s["_user_id"] == str(u.id)
    (d,) = _log()
    assert d.clicked_at == EVENING + timedelta(minutes=5)
    # A link for another player naming this message changes nothing.
    other = player("bo")
    db.session.execute(db.update(NotificationDelivery).values(clicked_at=None))
    db.session.commit()
    token = links.login_token(other.id, "streak", d.ref)
    app.test_client().get(f"/l/streak/{token}")
    assert _log()[0].clicked_at is None


# ---------------------------------------------------------------------------------------------
# Counts

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=timezone.utc)


def _kept(user, start: date, outcome="extended"):
    db.session.add(
        StreakPeriod(user_id=user.id, period_start=start, period_end=start, length=3, outcome=outcome, closed_at=NOW)
    )


def test_counts_per_type_and_channel_against_hand_built_data(app, db):
    a, b, c, d, e, g = (f.player(x) for x in "abcdeg")
    ended, running = date(2026, 4, 18), date(2026, 4, 20)
    ended_at, running_ends = datetime(2026, 4, 19, tzinfo=timezone.utc), datetime(2026, 4, 21, tzinfo=timezone.utc)
    day1, day2 = datetime(2026, 4, 18, 20, tzinfo=timezone.utc), datetime(2026, 4, 20, 8, tzinfo=timezone.utc)

    def rem(ref, user, status, channel="email", period=ended, ends=ended_at, at=day1):
        deliveries.record(
            ref,
            type="streak_reminder",
            channel=channel,
            user_id=user.id,
            status=status,
            now=at,
            period_start=period,
            period_ends_at=ends,
        )

    rem("r-a", a, "sent")  # kept going in time
    rem("r-b", b, "sent")  # period over, lost
    rem("r-c", c, "sent", period=running, ends=running_ends, at=day2)  # still running, not yet kept: left out
    rem("r-d", d, "sent", period=running, ends=running_ends, at=day2)  # still running, kept already
    rem("r-e", e, "failed")
    rem("p-a", a, "sent", channel="push")
    rem("p-g", g, "fell_back", channel="push")
    _kept(a, ended)
    _kept(b, ended, "broken")
    _kept(d, running)
    _kept(c, ended)  # an earlier period of c's: not the one reminded about
    for ref, user, status in (("a-1", a, "sent"), ("a-2", b, "sent"), ("a-3", c, "failed")):
        deliveries.record(ref, type="achievement", channel="email", user_id=user.id, status=status, now=day2)
    deliveries.record(
        "old", type="achievement", channel="email", user_id=a.id, status="sent", now=NOW - timedelta(days=31)
    )
    db.session.commit()
    for ref in ("r-a", "r-c", "a-1", "a-3"):  # a-3 failed: a click on it does not count as a sent one clicked
        db.session.execute(
            db.update(NotificationDelivery).where(NotificationDelivery.ref == ref).values(clicked_at=NOW)
        )
    db.session.commit()

    s = deliveries.stats(days=30, now=NOW, daily_days=30)
    got = {(r.type, r.channel): (r.sent, r.failed, r.fell_back, r.clicked) for r in s.rows}
    assert got == {
        ("achievement", "email"): (2, 1, 0, 1),
        ("streak_reminder", "email"): (4, 1, 0, 2),
        ("streak_reminder", "push"): (1, 0, 1, 0),
    }
    assert {r.channel: round(r.click_rate, 1) for r in s.rows if r.type == "streak_reminder"} == {
        "email": 50.0,
        "push": 0.0,
    }
    # E-mail: a kept, b lost, d kept (c undecided) -> 2 of 3. Push: a kept -> 1 of 1.
    # All channels: (a, 18 Apr), (b, 18 Apr), (d, 20 Apr) once each -> 2 of 3.
    assert [(x.channel, x.decided, x.extended) for x in s.effects] == [("email", 3, 2), ("push", 1, 1), ("all", 3, 2)]
    assert round(s.effects[0].rate, 1) == 66.7
    daily = dict(s.daily)
    assert len(s.daily) == 30 and s.daily[-1][0] == date(2026, 4, 20) and s.daily[0][0] == date(2026, 3, 22)
    # 18 Apr: r-a, r-b, p-a sent; 20 Apr: r-c, r-d, a-1, a-2. (The 31-day-old one is outside.)
    assert (daily[date(2026, 4, 18)], daily[date(2026, 4, 19)], daily[date(2026, 4, 20)]) == (3, 0, 4)
    assert s.daily_by_day_of_month[-3:] == [("18", 3), ("19", 0), ("20", 4)]
    assert sum(daily.values()) == 7


def test_a_retried_message_keeps_its_first_send_time_and_its_click(app, db):
    a = f.player("a")
    t0 = datetime(2026, 4, 1, tzinfo=timezone.utc)
    deliveries.record("x", type="recap", channel="email", user_id=a.id, status="sent", now=t0)
    db.session.execute(db.update(NotificationDelivery).values(clicked_at=t0 + timedelta(hours=1)))
    deliveries.record("x", type="recap", channel="email", user_id=a.id, status="sent", now=t0 + timedelta(days=1))
    db.session.commit()
    (d,) = _log()
    assert d.sent_at == t0 and d.clicked_at == t0 + timedelta(hours=1)
