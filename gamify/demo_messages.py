"""The demo's last week, hour by hour, with its e-mails: so the delivery analytics have real numbers.

The events of each hour go through the batch path; then what the schedule would run at that hour runs
with that hour as its clock: the streak-reminder and recap selections (services.reminders) and the mail
job (jobs.deliver_email) for every send that is due, over SMTP to a local devmail server (messages land
in instance/mail/, as with `make run`). One evening the mail server is down, as happens: those mails
fail, are retried every hour, and the reminders whose streak period ended meanwhile stay failed. At the
end some players open their mails: a signed link like the one in their mail, through the link route,
which records the click as it does for any player; the click's time is then moved back to when the
player opened the mail (within OPEN_WITHIN of its sending: the route records the real time, which put
every click on the seeding day in the charts). Nothing here writes a send, a delivery or a click itself."""

from __future__ import annotations

import logging
import random
import socket
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import urlsplit

from flask import current_app

from . import devmail, jobs, links
from .config import INSTANCE
from .extensions import db
from .models import NotificationDelivery
from .models._common import utcnow
from .services import reminders
from .services.events import EventIn
from .services.notification_templates import PURPOSES

REPLAY_DAYS = 7
OUTAGE_DAY = 2  # days before today: the mail server is down that evening ...
OUTAGE_HOURS = (18, 24)  # ... from 18:00 to midnight UTC
CLICK_SHARE = {"streak_reminder": 0.35, "recap": 0.2, "achievement": 0.5, "reactivation": 0.15}
OPEN_WITHIN = timedelta(hours=12)  # a mail is opened at most this long after it was sent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replay(
    events: list[EventIn],
    start: datetime,
    end: datetime,
    send: Callable[[list[EventIn]], int],
    rng: random.Random,
    mail_dir: Optional[Path] = None,
    echo=print,
) -> int:
    """Send `events` (all at or after `start`) hour by hour until `end`, running the e-mail schedule at
    each hour; returns how many events were sent."""
    events = sorted(events, key=lambda e: e.now)
    port = _free_port()
    directory = Path(mail_dir) if mail_dir is not None else INSTANCE / "mail"
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME", "MAIL_PASSWORD")
    saved = {k: current_app.config.get(k) for k in keys}
    current_app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USERNAME=None, MAIL_PASSWORD=None
    )
    # A thousand mails would log several lines each (the SMTP server, devmail, the job): not news here.
    quiet = [logging.getLogger(n) for n in ("mail.log", "gamify.devmail", "gamify.jobs")]
    levels = [q.level for q in quiet]
    for q in quiet:
        q.setLevel(logging.WARNING)
    server = devmail.serve("127.0.0.1", port, directory)
    outage = (
        (end - timedelta(days=OUTAGE_DAY)).replace(hour=OUTAGE_HOURS[0], minute=0, second=0, microsecond=0),
        (end - timedelta(days=OUTAGE_DAY - 1)).replace(hour=0, minute=0, second=0, microsecond=0),
    )
    sent, i = 0, 0
    tick = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    try:
        while tick <= end:
            batch = []
            while i < len(events) and events[i].now < tick:
                batch.append(events[i])
                i += 1
            sent += send(batch)
            down = outage[0] <= tick < outage[1]
            if down and server is not None:
                server.stop()
                server = None
            elif not down and server is None:
                server = devmail.serve("127.0.0.1", port, directory)
            _run_schedule(tick)
            tick += timedelta(hours=1)
        sent += send(events[i:])
    finally:
        if server is not None:
            server.stop()
        current_app.config.update(saved)
        for q, level in zip(quiet, levels):
            q.setLevel(level)
    _open_some(rng)
    echo(f"  … the last {REPLAY_DAYS} days' e-mails sent hour by hour to {directory}")
    return sent


def _run_schedule(at: datetime) -> None:
    """What jobs.streak_reminders, weekly_recaps and the dispatch's catch-up do at `at`, without RQ."""
    new = reminders.select_streak_reminders(at) + reminders.prepare_recaps(at)
    db.session.commit()
    for send_id in sorted(set(new) | set(reminders.due_ids(at))):
        try:
            jobs.deliver_email(send_id, at=at)
        except Exception:  # noqa: BLE001 - a failed send is recorded by the job (the outage); retried next hour
            db.session.rollback()


def _open_some(rng: random.Random) -> None:
    """Some players open a mail they got: its signed link (minted again: the same route, the same record),
    some minutes to hours after it was sent."""
    rows = db.session.execute(
        db.select(
            NotificationDelivery.id,
            NotificationDelivery.ref,
            NotificationDelivery.type,
            NotificationDelivery.user_id,
            NotificationDelivery.sent_at,
        )
        .where(NotificationDelivery.status == "sent")
        .order_by(NotificationDelivery.id)
    ).all()
    db.session.commit()
    opened = {}
    for id_, ref, type_, user_id, sent_at in rows:
        if rng.random() >= CLICK_SHARE.get(type_, 0.2):
            continue
        browser = current_app.test_client()  # each player's own browser
        url = links.deep_link(user_id, PURPOSES[type_], ref)
        browser.get(urlsplit(url).path)
        delay = timedelta(seconds=rng.randrange(60, int(OPEN_WITHIN.total_seconds()) + 1))
        opened[id_] = min(sent_at + delay, utcnow())
    for id_, at in opened.items():
        db.session.execute(
            db.update(NotificationDelivery)
            .where(NotificationDelivery.id == id_, NotificationDelivery.clicked_at.is_not(None))
            .values(clicked_at=at)
        )
    db.session.commit()
