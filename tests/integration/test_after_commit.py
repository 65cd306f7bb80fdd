"""The one after-commit mechanism: work runs once its transaction committed, never after a rollback."""

import logging

from gamify import after_commit
from tests import factories as f


def test_deferred_work_runs_after_commit_and_is_dropped_on_rollback(db):
    ran = []
    after_commit.defer(lambda: ran.append("kept"))
    f.metric("lessons")
    assert ran == []  # not before the commit
    db.session.commit()
    assert ran == ["kept"]
    after_commit.defer(lambda: ran.append("rolled back"))
    db.session.rollback()
    db.session.commit()
    assert ran == ["kept"]


def test_requests_run_once_per_handler_and_arguments(db, monkeypatch):
    calls = []
    monkeypatch.setitem(after_commit.HANDLERS, "a", lambda *args: calls.append(("a",) + args))
    monkeypatch.setitem(after_commit.HANDLERS, "b", after_commit.HANDLERS["a"])  # one handler, two topics
    for topic, args in (("a", ()), ("a", ()), ("b", ()), ("a", (1,)), ("a", (1,))):
        after_commit.request(topic, *args)
    db.session.commit()
    assert calls == [("a",), ("a", 1)]


def test_a_failing_step_is_logged_and_the_others_still_run(db, caplog):
    ran = []

    def boom():
        raise RuntimeError("redis went away")

    after_commit.defer(boom)
    after_commit.defer(lambda: ran.append("next"))
    with caplog.at_level(logging.ERROR, logger="gamify.after_commit"):
        db.session.commit()  # the caller's commit succeeds
    assert ran == ["next"]
    assert "redis went away" in caplog.text
