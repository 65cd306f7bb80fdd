"""The configuration snapshot is cached per process; a change made by another process (an admin page
served by another gunicorn worker) is seen by the next event here, through the shared version counter."""

import os
import subprocess
import sys

from gamify.config import ROOT
from gamify.services.events import EventError, process_event
from tests import factories as f

CHANGE = """
from gamify import create_app
from gamify.extensions import db
from gamify.models import Metric
app = create_app()
with app.app_context():
    db.session.add(Metric(key="minutes", name="Minutes", unit="minutes"))
    db.session.commit()
"""


def test_a_metric_added_by_another_process_is_known_to_the_next_event(app, db, database_url, redis_server):
    f.metric("lessons")
    u = f.player("ann")
    db.session.commit()
    process_event("lessons", u, 1)  # this process now holds a snapshot without "minutes"
    try:
        process_event("minutes", u, 5)
        raise AssertionError("'minutes' does not exist yet")
    except EventError as e:
        assert e.status == 404
    db.session.rollback()
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_server["url"], SECRET_KEY="test-secret")
    done = subprocess.run([sys.executable, "-c", CHANGE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert process_event("minutes", u, 5)["metric_total"] == 5  # the version moved: the snapshot reloaded
