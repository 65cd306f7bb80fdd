"""Mail goes through RQ (queue "mail") and a real SMTP server; a server that is down loses nothing."""

from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage

import pytest
import time_machine

from gamify import jobs, mail
from gamify.extensions import db
from gamify.models import EmailSend
from gamify.services import reminders
from gamify.services.notification_templates import Rendered
from tests import factories as f
from tests.mailfixtures import player, registries, smtp_server, streak_until, work  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 0, tzinfo=timezone.utc)  # 20:00 in London, the default reminder hour


def _at_risk_player():
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    return streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)


def _row() -> EmailSend:
    db.session.expire_all()
    return db.session.execute(db.select(EmailSend)).scalar_one()


def test_build_and_send_a_multipart_message(app, smtp_server):
    msg = mail.build_notification(
        "x@example.com",
        Rendered("Hello", "🎓 First lesson", "<p>🎓 <b>First lesson</b></p>"),
        "Achievements unlocked",
        unsubscribe_url="http://h/unsubscribe/t",
    )
    assert isinstance(msg, EmailMessage)
    mail.send(msg)
    (got,) = smtp_server.messages
    assert got.rcpt_tos == ["x@example.com"] and got.subject == "Hello"
    assert got.message["From"] == app.config["MAIL_FROM"]
    assert got.message["Message-ID"] and got.message["List-Unsubscribe"] == "<http://h/unsubscribe/t>"
    assert "First lesson" in got.text and "First lesson" in got.html and "🎓" in got.html


def test_send_raises_when_the_server_is_down(app, smtp_server):
    smtp_server.stop()
    msg = mail.build_notification("x@example.com", Rendered("Hello", "Start again", "<p>Start again</p>"), "x")
    with pytest.raises(OSError):
        mail.send(msg)


def test_reminder_jobs_run_on_the_mail_queue(app, db, smtp_server):
    _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
        from rq import Queue

        from gamify.queue import get_redis

        assert Queue("mail", connection=get_redis()).count == 1
        assert _row().status == "pending"
        work()
    assert _row().status == "sent" and len(smtp_server.messages) == 1


def test_smtp_down_job_fails_row_not_sent_then_retried_later(app, db, smtp_server):
    u = _at_risk_player()
    smtp_server.stop()
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
        work()
        row = _row()
        assert row.status == "failed" and row.sent_at is None and row.attempts == 1
        assert "Connection" in row.last_error or "refused" in row.last_error.lower()
        scheduled, failed = registries("mail")
        assert scheduled.count == 1 and failed.count == 0  # RQ will retry in 60 s
        # The 15-minute selection does not send a second reminder for the same period meanwhile.
        assert jobs.streak_reminders() == 0

    smtp_server.start()
    with time_machine.travel(EVENING + timedelta(seconds=30), tick=False):
        work()  # retry not due yet
    assert _row().status == "failed" and smtp_server.messages == []
    with time_machine.travel(EVENING + timedelta(seconds=61), tick=False):
        work()
    row = _row()
    assert row.status == "sent" and row.attempts == 2 and row.sent_at is not None
    assert [m.rcpt_tos for m in smtp_server.messages] == [[u.email]]
    with time_machine.travel(EVENING + timedelta(minutes=15), tick=False):
        scheduled, failed = registries("mail")
        assert scheduled.count == 0 and failed.count == 0
        assert jobs.streak_reminders() == 0
        work()
    assert len(smtp_server.messages) == 1


def test_retries_exhausted_lands_in_failed_registry_and_admin_requeue_sends(app, db, client, smtp_server):
    reminders.update_settings(reminder_hour=12)  # leave room for the full retry ladder before midnight
    db.session.commit()
    _at_risk_player()
    smtp_server.stop()
    t = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
    with time_machine.travel(t, tick=False):
        jobs.streak_reminders()
        work()
    # The documented ladder, written out here (not read from the code): 1 min, 5 min, 15 min, 1 h, 2 h.
    for n, wait in enumerate((60, 300, 900, 3600, 7200), start=1):
        with time_machine.travel(t + timedelta(seconds=wait - 2), tick=False):
            work()
        assert _row().attempts == n  # not before its time
        t += timedelta(seconds=wait + 1)
        with time_machine.travel(t, tick=False):
            work()
        assert _row().attempts == n + 1
    row = _row()
    assert row.status == "failed" and row.attempts == 6 and row.sent_at is None

    f.admin()
    with time_machine.travel(t, tick=False):  # registries expire entries by (travelled) time
        scheduled, failed = registries("mail")
        assert scheduled.count == 0 and failed.count == 1
        (job_id,) = failed.get_job_ids()
        f.login(client, "admin@example.com")
        page = client.get("/admin/jobs")
        assert page.status_code == 200 and job_id in page.get_data(as_text=True)
        # The scheduled dispatch does not re-enqueue it behind the admin's back (it is visible instead).
        jobs.dispatch_outbox()
        assert registries("mail")[1].count == 1
        smtp_server.start()
        token = f.csrf_token(client, "/admin/jobs")
        resp = client.post(f"/admin/jobs/failed/{job_id}/requeue", data={"csrf_token": token})
        assert resp.status_code == 302
        work()
        assert registries("mail")[1].count == 0
    assert _row().status == "sent" and len(smtp_server.messages) == 1


def test_pending_row_without_a_job_is_picked_up_by_the_dispatch(app, db, smtp_server, monkeypatch):
    """Redis was down when the reminder was selected: the row waits, the next dispatch enqueues it."""
    _at_risk_player()
    calls = []
    monkeypatch.setattr(jobs.push, "enqueue_email", lambda send_id: calls.append(send_id) or False)  # its caller
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
    monkeypatch.undo()
    assert _row().status == "pending" and calls
    with time_machine.travel(EVENING + timedelta(minutes=1), tick=False):
        jobs.dispatch_outbox()
        work()
    assert _row().status == "sent" and len(smtp_server.messages) == 1


def test_late_retry_after_the_period_expires_instead_of_sending(app, db, smtp_server):
    _at_risk_player()
    smtp_server.stop()
    late = datetime(2026, 3, 10, 23, 55, tzinfo=timezone.utc)
    with time_machine.travel(late, tick=False):
        jobs.streak_reminders()
        work()
    smtp_server.start()
    with time_machine.travel(late + timedelta(minutes=6), tick=False):  # past midnight: period over
        work()
    row = _row()
    assert row.status == "expired" and smtp_server.messages == []


def test_a_crash_while_building_the_mail_leaves_it_failed_not_claimed(app, db, smtp_server, monkeypatch):
    _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        (send_id,) = reminders.select_streak_reminders()
        db.session.commit()

        def broken(*_a, **_k):
            raise RuntimeError("template exploded")

        monkeypatch.setattr(reminders, "compose", broken)
        with pytest.raises(RuntimeError):
            jobs.deliver_email(send_id)
        row = _row()
        assert row.status == "failed" and "template exploded" in row.last_error
        monkeypatch.undo()
        assert jobs.deliver_email(send_id).startswith("sent")
    assert _row().status == "sent" and len(smtp_server.messages) == 1


def test_a_stored_address_that_is_not_one_mailbox_is_skipped_not_mailed(app, db, smtp_server):
    """An address stored before addresses were checked: a list (or a header break) never reaches a
    header; the reminder is skipped with the reason."""
    user = _at_risk_player()
    user.email = "victim@example.com, attacker@example.com"
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        (send_id,) = reminders.select_streak_reminders()
        db.session.commit()
        assert jobs.deliver_email(send_id).startswith("skipped")
    row = _row()
    assert row.status == "skipped" and "not valid" in row.last_error
    assert smtp_server.messages == []


def test_a_crash_after_the_server_accepted_never_sends_twice(app, db, smtp_server, monkeypatch):
    """The worker dies between the SMTP server accepting the message and 'sent' being recorded. The
    retry finds the attempt recorded (with its Message-ID) and does not send again; the row ends
    'unknown' for an admin, who may send it again with the same Message-ID."""
    _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        (send_id,) = reminders.select_streak_reminders()
        db.session.commit()

        def killed(*_a, **_k):
            raise SystemExit("worker killed")  # not an Exception: nothing in the job may catch it

        monkeypatch.setattr(reminders, "mark_sent", killed)
        with pytest.raises(SystemExit):
            jobs.deliver_email(send_id)
        monkeypatch.undo()
        db.session.rollback()
        assert len(smtp_server.messages) == 1
        first_id = smtp_server.messages[0].message["Message-ID"]
        assert _row().message_id == first_id
    for minutes in (11, 30):  # past the claim timeout: the retry and the scheduled dispatch
        with time_machine.travel(EVENING + timedelta(minutes=minutes), tick=False):
            assert jobs.deliver_email(send_id).startswith("not claimable")
            jobs.dispatch_outbox()
    assert len(smtp_server.messages) == 1
    row = _row()
    assert row.status == "unknown" and "may or may not" in row.last_error

    # An admin sends it again: same Message-ID, so a mailbox that has it can drop the copy.
    with time_machine.travel(EVENING + timedelta(minutes=31), tick=False):
        reminders.release(row)
        row.status = "failed"
        db.session.commit()
        assert jobs.deliver_email(send_id).startswith("sent")
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [first_id, first_id]


def test_a_connection_lost_while_the_server_answers_is_not_retried(app, db, smtp_server, monkeypatch):
    import smtplib

    _at_risk_player()
    real = smtplib.SMTP.send_message

    def lost_after_sending(self, *a, **k):
        real(self, *a, **k)
        raise smtplib.SMTPServerDisconnected("connection unexpectedly closed")

    with time_machine.travel(EVENING, tick=False):
        (send_id,) = reminders.select_streak_reminders()
        db.session.commit()
        monkeypatch.setattr(smtplib.SMTP, "send_message", lost_after_sending)
        assert jobs.deliver_email(send_id).startswith("outcome unknown")
        monkeypatch.undo()
        assert _row().status == "unknown"
    with time_machine.travel(EVENING + timedelta(minutes=30), tick=False):
        jobs.dispatch_outbox()
        assert jobs.deliver_email(send_id).startswith("not claimable")
    assert len(smtp_server.messages) == 1
