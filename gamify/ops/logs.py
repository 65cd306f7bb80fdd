"""Log lines that can be followed across processes: every record carries the request id of the web
request (or of the request that enqueued the job) it was logged under, and the whole line is JSON when
LOG_FORMAT=json (for a log shipper), text otherwise (`make run`).

The id comes from the client's or the proxy's `X-Request-ID` (when it looks like an id), or is made
here; the response returns it. Jobs enqueued while a request (or a job) runs carry it in their RQ meta
(queue.get_queue's queue class asks `meta_for_job`), and jobs.app_job puts it back while the job runs.
The id lives in a context variable and a log-record factory copies it onto every record, so every
handler (ours, gunicorn's, pytest's) sees `record.request_id`."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Optional

from flask import Flask, g, request

HEADER = "X-Request-ID"
META_KEY = "request_id"
# What an incoming id may be: long enough for a UUID or a trace id, nothing that could forge a log line.
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

_request_id: ContextVar[Optional[str]] = ContextVar("gamify_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def current() -> Optional[str]:
    return _request_id.get()


def bind(request_id: Optional[str]):
    """Make `request_id` the current one; returns the token for `unbind`."""
    return _request_id.set(request_id)


def unbind(token) -> None:
    try:
        _request_id.reset(token)
    except ValueError:  # set in another context (a streamed response): just clear it
        _request_id.set(None)


def incoming_or_new(value: Optional[str]) -> str:
    if value and _ACCEPTED.match(value):
        return value
    return uuid.uuid4().hex


def meta_for_job() -> dict:
    """What a job enqueued now should carry (RQ job meta)."""
    rid = _request_id.get()
    return {META_KEY: rid} if rid else {}


# ------------------------------------------------------------------------------------------ records

_installed_factory = False


def _install_record_factory() -> None:
    global _installed_factory
    if _installed_factory:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = _request_id.get() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _installed_factory = True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "pid": record.process,
        }
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc_info"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _OurHandler(logging.StreamHandler):
    """Marks the handler `configure` installed, so a second call replaces it instead of adding one."""


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def configure(fmt: str = "text", level: str = "INFO", stream=None) -> logging.Handler:
    """Send the root logger's records to stderr (or `stream`) as text or JSON lines, at `level`."""
    _install_record_factory()
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(h)
    handler = _OurHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler


# ------------------------------------------------------------------------------------------ requests


def init_app(app: Flask) -> None:
    _install_record_factory()
    # A process that configured no logging (gunicorn's workers, `flask run`) gets ours; one that did
    # (the worker's main, pytest's capture) keeps its own handlers, which see request_id all the same.
    if not logging.getLogger().handlers:
        configure(app.config.get("LOG_FORMAT", "text"), app.config.get("LOG_LEVEL", "INFO"))

    @app.before_request
    def _bind_request_id():
        rid = incoming_or_new(request.headers.get(HEADER))
        g.request_id = rid
        request.environ["gamify.request_id_token"] = bind(rid)

    @app.after_request
    def _return_request_id(response):
        rid = g.get("request_id")
        if rid:
            response.headers[HEADER] = rid
        return response

    @app.teardown_request
    def _unbind_request_id(_exc=None):
        token = request.environ.pop("gamify.request_id_token", None)
        if token is not None:
            unbind(token)
