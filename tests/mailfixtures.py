"""Messaging test helpers: a real SMTP server (aiosmtpd) on a free loopback port that captures every
message, RQ helpers (inline jobs, or a real SimpleWorker against the test Redis), and a tiny HTTP
server for webhook receivers. Import the fixtures in a test module:

    from tests.mailfixtures import smtp_server, rq_inline  # noqa: F401
"""

from __future__ import annotations

import re
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# SMTP


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list
    raw: bytes
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return body.get_content()

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def links(self, kind: str = "/l/") -> list[str]:
        return re.findall(r"https?://[^\s\"'<>]*" + re.escape(kind) + r"[^\s\"'<>)]+", self.text)

    @property
    def unsubscribe_url(self) -> str:
        value = str(self.message["List-Unsubscribe"])
        return value.strip().strip("<>")


class _Handler:
    def __init__(self, sink: list):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content
        self.sink.append(
            Captured(envelope.mail_from, list(envelope.rcpt_tos), raw, message_from_bytes(raw, policy=policy.default))
        )
        return "250 OK"


class SmtpServer:
    """start()/stop() simulate the mail server going down and coming back on the same port."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[Captured] = []
        self._controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Handler(self.messages), hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def up(self) -> bool:
        return self._controller is not None

    def to(self, address: str) -> list[Captured]:
        return [m for m in self.messages if address in m.rcpt_tos]


@pytest.fixture
def smtp_server(app):
    """A real SMTP server capturing messages; the app is pointed at it for the test."""
    server = SmtpServer(free_port())
    server.start()
    keys = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USERNAME", "MAIL_PASSWORD")
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False, MAIL_USERNAME=None, MAIL_PASSWORD=None
    )
    yield server
    server.stop()
    app.config.update(saved)


# ---------------------------------------------------------------------------------------------
# RQ


@pytest.fixture
def rq_inline(app, monkeypatch):
    """Jobs run inline, in the caller's app context (RQ_ASYNC=False)."""
    monkeypatch.setitem(app.config, "RQ_ASYNC", False)
    return app


def work(queues=("events-fanout", "default", "mail"), with_scheduler: bool = True) -> bool:
    """Run a real RQ SimpleWorker in burst mode against the test Redis (same process, so jobs use the
    test's app context). With the scheduler, jobs whose retry time has come are enqueued first."""
    from rq import Queue, SimpleWorker

    from gamify.queue import get_redis

    conn = get_redis()
    worker = SimpleWorker([Queue(q, connection=conn) for q in queues], connection=conn)
    return worker.work(burst=True, with_scheduler=with_scheduler, logging_level="WARNING")


def registries(queue: str = "mail"):
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry

    from gamify.queue import get_redis

    q = Queue(queue, connection=get_redis())
    return ScheduledJobRegistry(queue=q), FailedJobRegistry(queue=q)


# ---------------------------------------------------------------------------------------------
# HTTP receiver for webhooks


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class HttpReceiver:
    """Answers POSTs with the next status from `statuses` (the last one repeats)."""

    statuses: list = field(default_factory=lambda: [200])
    requests: list = field(default_factory=list)
    server: Optional[ThreadingHTTPServer] = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"


@contextmanager
def loopback_http(handler):
    """An HTTP server on a free loopback port answering with `handler`, served from a thread until the
    block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_receiver():
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
            n = len(receiver.requests)
            status = receiver.statuses[min(n, len(receiver.statuses)) - 1]
            payload = b"ok" if status < 300 else b"boom"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    with loopback_http(Handler) as receiver.server:
        yield receiver


# ---------------------------------------------------------------------------------------------
# Data


def player(external_id: str, tz: str = "UTC", email: Optional[str] = "auto"):
    from gamify.extensions import db
    from gamify.services import users

    user, _ = users.identify(external_id, tz=tz, email=f"{external_id}@example.com" if email == "auto" else email)
    db.session.commit()
    return user


def extend_on(user, day, metric_key: str = "lessons", hour: int = 12):
    """One qualifying event at `hour` local time on local date `day`, with the clock set to then."""
    from datetime import time

    import time_machine

    from gamify.engine import calendar as cal
    from gamify.services import events

    at = cal.local_time_utc(day, time(hour), user.timezone)
    with time_machine.travel(at, tick=False):
        events.process_event(metric_key, user, 1, now=at)
    return at


def streak_until(user, last_day, length: int, metric_key: str = "lessons"):
    """A streak of `length` periods (daily) whose last extended day is local `last_day`."""
    from datetime import timedelta

    for i in range(length):
        extend_on(user, last_day - timedelta(days=length - 1 - i), metric_key)
    return user


class redis_down:
    """with redis_down(redis_server): ... — the test Redis is stopped inside the block, restarted after
    (and the enqueue back-off forgotten, as it would be 15 s later)."""

    def __init__(self, redis_server):
        self.redis_server = redis_server

    def __enter__(self):
        self.redis_server["stop"]()
        return self

    def __exit__(self, *exc):
        self.redis_server["start"]()
        from gamify import queue

        queue.reset_redis_backoff()
        return False
