"""The unit of work: a web request, a job or a CLI command owns its transaction; services never commit.
Whatever a successful unit leaves pending is committed when it ends, and a failed one is rolled back, so
a read that settles state (a streak whose period ended is closed when it is read) is never lost because
a GET view forgot to commit. Units that need several transactions (a job that must not hold one during
an SMTP or HTTP call) still commit in between; the end of the unit commits what is left."""

from __future__ import annotations

from flask import Flask

from .extensions import db


def finish(ok: bool) -> None:
    """End the unit: commit what is pending if it succeeded, roll back if not. A session without an open
    transaction (nothing read or written since the last commit) costs nothing."""
    if not db.session().in_transaction():
        return
    if ok:
        db.session.commit()
    else:
        db.session.rollback()


def init_app(app: Flask) -> None:
    @app.after_request
    def _end_request(response):
        finish(response.status_code < 400)
        return response
