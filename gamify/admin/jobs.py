"""Admin: background jobs (queues, schedule, workers, failed jobs with requeue) and the messaging
settings (reminder hour, reactivation threshold, recap time) with the e-mail send log."""

from __future__ import annotations

import logging
import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from .. import i18n, jobs
from ..extensions import db
from ..fields import Whole
from ..i18n import _, _l
from ..models.notifications import NOTIFICATION_TYPES
from ..models.webhooks import EMAIL_TYPES
from ..queue import QUEUES, get_queue, get_redis, redis_url
from ..services import analytics, email_sends, reminders, users
from .base import admin_blueprint

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")

bp = admin_blueprint("admin_jobs", __name__)
log = logging.getLogger(__name__)

LIST_LIMIT = 100


def _job_row(job, when=None) -> dict:
    exc = ""
    try:
        exc = (job.exc_info or "").strip().splitlines()[-1] if job.exc_info else ""
    except Exception:  # noqa: BLE001 - an unreadable result must not break the page
        exc = ""
    try:
        call = job.get_call_string() or job.func_name
    except Exception:  # noqa: BLE001 - e.g. a function that no longer exists
        call = job.func_name or "?"
    return {
        "id": job.id,
        "call": call,
        "origin": job.origin,
        "status": str(job.get_status(refresh=False) or ""),
        "enqueued_at": job.enqueued_at,
        "ended_at": job.ended_at,
        "when": when,
        "error": exc,
        "retries_left": job.retries_left,
    }


def _redis_overview() -> dict:

    conn = get_redis()
    conn.ping()
    queues, scheduled, failed = [], [], []
    for name in QUEUES:
        q = Queue(name, connection=conn)
        sreg, freg, started = ScheduledJobRegistry(queue=q), FailedJobRegistry(queue=q), StartedJobRegistry(queue=q)
        queues.append(
            {"name": name, "queued": q.count, "scheduled": sreg.count, "started": started.count, "failed": freg.count}
        )
        ids = sreg.get_job_ids(0, LIST_LIMIT - 1)
        for job in Job.fetch_many(ids, connection=conn):
            if job is not None:
                try:
                    when = sreg.get_scheduled_time(job)
                except Exception:  # noqa: BLE001
                    when = None
                scheduled.append(_job_row(job, when))
        ids = freg.get_job_ids(0, LIST_LIMIT - 1, desc=True)
        for job in Job.fetch_many(ids, connection=conn):
            if job is not None:
                failed.append(_job_row(job))
    scheduled.sort(key=lambda r: (r["when"] is None, r["when"] or 0))
    workers = [
        {
            "name": w.name,
            "queues": ", ".join(w.queue_names()),
            "state": w.get_state(),
            "current": w.get_current_job_id(),
            "last_heartbeat": w.last_heartbeat,
        }
        for w in Worker.all(connection=conn)
    ]
    crons = []
    for c in CronScheduler.all(conn):
        crons.append(
            {
                "name": c.name,
                "hostname": c.hostname,
                "pid": c.pid,
                "heartbeat": c.last_heartbeat,
                "jobs": {j.name: j for j in c.get_jobs()},
            }
        )
    leader = conn.get(jobs.CRON_LEADER_KEY)
    return {
        "queues": queues,
        "scheduled": scheduled,
        "failed": failed,
        "workers": workers,
        "crons": crons,
        "leader": leader.decode() if isinstance(leader, bytes) else leader,
    }


def _redis_error(e: Exception) -> str:
    return _(
        "The job queue (Redis at %(url)s) is not reachable: %(error)s. Jobs cannot be listed or started until it "
        "is back; e-mails and webhooks wait in the database and are sent once it is.",
        url=redis_url(),
        error=type(e).__name__ + ": " + str(e),
    )


@bp.get("/jobs")
def index():
    overview, error = None, None
    try:
        overview = _redis_overview()
    except (RedisError, OSError) as e:
        error = _redis_error(e)
    return render_template(
        "admin/jobs/index.html",
        overview=overview,
        error=error,
        schedule=jobs.SCHEDULE,
        outbox=analytics.outbox_backlog(),
    )


def _back(error: str | None = None, ok: str | None = None):
    if error:
        flash(error, "error")
    if ok:
        flash(ok, "success")
    return redirect(url_for("admin_jobs.index"))


def _job_id_or_404(job_id: str) -> None:
    """RQ refuses (ValueError) ids other than letters, digits, '_' and '-': such a job cannot exist."""
    if not _JOB_ID.fullmatch(job_id):
        abort(404)


@bp.post("/jobs/failed/<job_id>/requeue")
def requeue(job_id: str):
    _job_id_or_404(job_id)

    try:
        conn = get_redis()
        job = Job.fetch(job_id, connection=conn)
        FailedJobRegistry(job.origin, connection=conn).requeue(job)
    except (NoSuchJobError, InvalidJobOperation):
        return _back(error=_("Job %(id)s is not in the failed list any more.", id=job_id))
    except (RedisError, OSError) as e:
        return _back(error=_redis_error(e))
    return _back(ok=_("Job %(id)s queued again.", id=job_id))


@bp.post("/jobs/failed/requeue-all")
def requeue_all():

    n = 0
    try:
        conn = get_redis()
        for name in QUEUES:
            reg = FailedJobRegistry(name, connection=conn)
            for job_id in reg.get_job_ids():
                try:
                    reg.requeue(job_id)
                    n += 1
                except Exception:  # noqa: BLE001 - vanished meanwhile
                    continue
    except (RedisError, OSError) as e:
        return _back(error=_redis_error(e))
    return _back(ok=f"{n} failed job(s) queued again.")


@bp.post("/jobs/failed/<job_id>/delete")
def delete_failed(job_id: str):
    _job_id_or_404(job_id)

    try:
        Job.fetch(job_id, connection=get_redis()).delete()
    except NoSuchJobError:
        pass
    except (RedisError, OSError) as e:
        return _back(error=_redis_error(e))
    return _back(ok=_("Job %(id)s deleted.", id=job_id))


@bp.post("/jobs/run/<name>")
def run_now(name: str):

    try:
        s = jobs.scheduled(name)
    except KeyError:
        return _back(error=_("No scheduled job called %(name)s.", name=repr(name)))
    try:
        job = get_queue(jobs.DEFAULT_QUEUE).enqueue(
            s.func, job_timeout=s.timeout, result_ttl=3600, failure_ttl=7 * 86400
        )
    except (RedisError, OSError) as e:
        return _back(error=_redis_error(e))
    return _back(ok=f"{name} queued (job {job.id}).")


# ---------------------------------------------------------------------------------------------
# Messaging settings


HOURS = [SelectChoice(h, f"{h:02d}:00") for h in range(24)]


class SettingsForm(FlaskForm):
    email_enabled = BooleanField(_l("Send e-mails to players"))
    reminder_hour = SelectField(_l("Streak reminders from (player's local time)"), coerce=int, choices=HOURS)
    weekly_reminder_weekday = SelectField(
        _l("Weekly streaks: remind on"),
        coerce=int,
        choices=[SelectChoice(i, d) for i, d in enumerate(reminders.WEEKDAYS)],
    )
    weekly_reminder_hour = SelectField(_l("Weekly streaks: remind from (local time)"), coerce=int, choices=HOURS)
    monthly_reminder_days_before = Whole(
        _l("Monthly streaks: remind this many days before the month's last day"),
        validators=[InputRequired(), NumberRange(min=0, max=27)],
    )
    reactivation_threshold = Whole(
        _l("Come-back e-mail after losing a streak of at least"),
        validators=[InputRequired(), NumberRange(min=1, max=10000)],
    )
    reactivation_hour = SelectField(_l("Come-back e-mails go out from (local time)"), coerce=int, choices=HOURS)
    reactivation_days = StringField(
        _l("Come-back sequence (days after the loss)"),
        validators=[Length(max=64)],
        description=_l(
            "Comma-separated, e.g. 3, 7, 14, 30 (0 = the next morning). Each step is skipped once the "
            "player is back; empty: no come-back e-mails."
        ),
    )

    def validate_reactivation_days(self, field):
        try:
            steps = reminders.reactivation_steps(field.data)
        except ValueError as e:
            raise ValidationError(str(e)) from e
        field.data = ",".join(str(s) for s in steps)

    recap_weekday = SelectField(
        _l("Weekly recap on"), coerce=int, choices=[SelectChoice(i, d) for i, d in enumerate(reminders.WEEKDAYS)]
    )
    recap_hour = SelectField(_l("Weekly recap from (local time)"), coerce=int, choices=HOURS)
    # Choices from the shipped catalogues: a language without one can never be stored.
    default_locale = SelectField(
        _l("Default language"),
        choices=[SelectChoice(code, name) for code, name in i18n.LANGUAGES.items()],
        description=_l(
            "For pages and e-mails of players who chose no language and whose browser asks for none the app speaks."
        ),
    )


@bp.route("/notifications", methods=["GET", "POST"])
def notifications():
    settings = reminders.get_settings()
    form = SettingsForm(obj=settings)
    days = [SelectChoice(i, i18n.weekday_name(i)) for i in range(7)]  # in the admin's language
    form.weekly_reminder_weekday.choices = form.recap_weekday.choices = days
    if form.validate_on_submit():
        reminders.update_settings(**{f: getattr(form, f).data for f in reminders.DEFAULTS if hasattr(form, f)})
        flash(_("Messaging settings saved."), "success")
        return redirect(url_for("admin_jobs.notifications"))
    type_filter = request.args.get("type") or None
    recent = email_sends.latest(type_filter, LIST_LIMIT)
    return render_template(
        "admin/jobs/notifications.html",
        form=form,
        counts=email_sends.counts_by_type(days=7),
        recent=recent,
        names=users.emails_by_id(r.user_id for r in recent),
        types={t: NOTIFICATION_TYPES.get(t, t) for t in EMAIL_TYPES},
        type_filter=type_filter,
    ), (400 if form.errors else 200)


@bp.post("/notifications/sends/<int:send_id>/retry")
def retry_send(send_id: int):
    send = email_sends.find(send_id) or abort(404)
    if send.status not in email_sends.RETRYABLE:
        flash(
            _(
                "E-mail #%(id)s is %(status)s; only failed e-mails (or those whose delivery is unknown) "
                "can be sent again.",
                id=send.id,
                status=send.status,
            ),
            "error",
        )
        return redirect(url_for("admin_jobs.notifications"))
    email_sends.reopen_for_retry(send)
    db.session.commit()  # the mail job may run before this request ends: it must find the send failed

    try:
        try:
            Job.fetch(f"gamify-email-{send.id}", connection=get_redis()).delete()
        except NoSuchJobError:
            pass
        ok = jobs.enqueue_email(send.id)
    except (RedisError, OSError):
        ok = False
    flash(
        _("E-mail #%(id)s queued.", id=send.id)
        if ok
        else _("The job queue (Redis) is not reachable; it will be sent by the scheduled dispatch once it is back."),
        "success" if ok else "error",
    )
    return redirect(url_for("admin_jobs.notifications"))
