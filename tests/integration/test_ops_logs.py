"""Request ids in logs: an incoming X-Request-ID is kept (a made one otherwise), returned, put on every
log line of the request, carried by the jobs the request enqueued and put on their log lines; lines are
JSON objects with LOG_FORMAT=json."""

import io
import json
import logging
import re

import pytest
from rq import Queue

from gamify.ops import logs
from gamify.queue import get_redis
from tests import factories as f
from tests.mailfixtures import work


def _lines(caplog, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def test_an_incoming_request_id_is_returned_and_on_every_line_of_the_request(client, caplog):
    caplog.set_level(logging.WARNING, logger="gamify.ops.health")
    r = client.get("/readyz", headers={"X-Request-ID": "lb-7f3a.42"})  # unmigrated test database: it warns
    assert r.headers["X-Request-ID"] == "lb-7f3a.42"
    lines = _lines(caplog, "gamify.ops.health")
    assert lines and {rec.request_id for rec in lines} == {"lb-7f3a.42"}
    logging.getLogger("gamify.test").warning("outside any request")
    assert caplog.records[-1].request_id == "-"


@pytest.mark.parametrize("sent", [None, "", "two words", "x" * 129, "forged] ERROR admin logged in", "<script>"])
def test_an_id_is_made_when_none_or_an_unusable_one_comes(client, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    first = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    second = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@pytest.fixture
def log_stream():
    """logs.configure's handler on a string buffer; the root logger as it was afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    stream = io.StringIO()

    def _configure(fmt):
        logs.configure(fmt, "INFO", stream=stream)
        return stream

    yield _configure
    for h in list(root.handlers):
        if h not in saved[1]:
            root.removeHandler(h)
    root.setLevel(saved[0])


def test_json_lines_carry_the_request_id(client, log_stream):
    stream = log_stream("json")
    client.get("/readyz", headers={"X-Request-ID": "req-1"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [line for line in lines if line["logger"] == "gamify.ops.health"]
    assert mine, lines
    for line in mine:
        assert line["request_id"] == "req-1" and line["level"] == "WARNING"
        assert line["message"].startswith("readiness check migrations failed")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])


def test_text_lines_name_the_request_id(client, log_stream):
    stream = log_stream("text")
    client.get("/readyz", headers={"X-Request-ID": "req-2"})
    assert re.search(r" WARNING gamify\.ops\.health \[req-2\] readiness check migrations failed", stream.getvalue())


def test_a_job_enqueued_by_a_request_carries_its_id_and_logs_it(client, db, caplog):
    m = f.metric("lessons")
    f.achievement("first", "metric", metric_id=m.id, threshold=1)  # unlocked: a domain event to dispatch
    headers = {"X-API-Key": f.api_key(), "X-Request-ID": "evt-9"}
    r = client.post("/api/v1/metrics/lessons/event", headers=headers, json={"user": {"id": "u1"}})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "evt-9"
    queued = Queue("events-fanout", connection=get_redis()).get_jobs()
    assert [j.func_name.rsplit(".", 1)[-1] for j in queued] == ["dispatch_outbox"]
    assert queued[0].meta["request_id"] == "evt-9"
    caplog.set_level(logging.INFO, logger="gamify.jobs")
    work()
    done = [rec for rec in _lines(caplog, "gamify.jobs") if "dispatch_outbox" in rec.getMessage()]
    assert done and done[0].request_id == "evt-9", [(r.getMessage(), r.request_id) for r in caplog.records]
    assert logs.current() is None  # the job put the id back as it found it
