"""The player's year in review ("wrapped", services/wrapped.py: the rules; here only what the page prints)
and its share link: a signed link (links.wrapped_token) that shows the same page read-only, without login,
for links.WRAPPED_SHARE_DAYS days.

GET /wrapped                  this year, on the player's local calendar
GET /wrapped/<year>           an earlier year
GET /wrapped/shared/<token>   the shared page: no login; refused once the link expired or was altered, or
                              when its player is gone, in the control group or not a player
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from flask import Blueprint, abort, render_template
from flask_login import login_required

from .. import i18n, links
from ..engine import calendar as cal
from ..extensions import db
from ..models import Leaderboard, Metric, MetricEvent, PointsSystem, User
from ..models._common import utcnow
from ..models.users import ROLE_PLAYER
from ..services import streaks, users
from ..services import wrapped as svc
from . import ui

_ = i18n.gettext

bp = Blueprint("wrapped", __name__)
bp.before_request(ui.control_gate({"wrapped.mine", "wrapped.year"}))

FIRST_YEAR = 2000


@bp.get("/wrapped")
@login_required
def mine():
    return _own_page(ui.me(), None)


@bp.get("/wrapped/<int:year>")
@login_required
def year(year: int):
    return _own_page(ui.me(), year)


def _own_page(user: User, year: Optional[int]):
    now = utcnow()
    this_year = cal.local_date(now, user.timezone).year
    year = this_year if year is None else year
    if not FIRST_YEAR <= year <= this_year:
        abort(404)
    first = _first_year(user, this_year)
    return render_template(
        "player/wrapped.html",
        v=review_view(user, year, now, shared=False),
        shared=False,
        share_url=links.external_url("wrapped.shared", token=links.wrapped_token(user.id, year)),
        share_days=links.WRAPPED_SHARE_DAYS,
        years=list(range(this_year, first - 1, -1)),
    )


def _first_year(user: User, this_year: int) -> int:
    """The earliest year worth a page: when the player joined (here or, as the product says, there) or
    first did something (history imported from before they joined counts)."""
    first_event = db.session.execute(
        db.select(db.func.min(MetricEvent.local_date)).where(MetricEvent.user_id == user.id)
    ).scalar()
    years = [cal.local_date(user.created_at, user.timezone).year]
    years += [d.year for d in (user.sign_up_date, first_event) if d is not None]
    return max(FIRST_YEAR, min(min(years), this_year))


@bp.get("/wrapped/shared/<token>")
def shared(token: str):
    try:
        claim = links.read_wrapped_token(token)
    except links.LinkError as e:
        return _unavailable(e.message, e.status)
    user = users.by_id(claim.user_id)
    if user is None or user.role != ROLE_PLAYER or user.control_group or claim.year < FIRST_YEAR:
        return _unavailable(_("This year in review is not shared any more."), 404)
    return render_template("player/wrapped.html", v=review_view(user, claim.year, utcnow(), shared=True), shared=True)


def _unavailable(message: str, status: int):
    return render_template("player/wrapped_unavailable.html", message=message, expired=status == 410), status


# ------------------------------------------------------------------------------------------ view


def review_view(user: User, year: int, now: datetime, shared: bool) -> dict:
    """What the page prints of services.wrapped.year_in_review: totals, the metrics and points of the
    year, the longest streak, the achievements earned, the best ranks and the most active day, week and
    month. Names are read once; nothing here decides a rule. `shared`: for anyone holding the link, so an
    achievement hidden until earned keeps its secret (others have not earned it)."""
    review = svc.year_in_review(user, year, now)
    metrics = {m.id: m for m in db.session.execute(db.select(Metric)).scalars()}
    systems = {p.id: p for p in db.session.execute(db.select(PointsSystem)).scalars()}
    boards = {b.id: b for b in db.session.execute(db.select(Leaderboard)).scalars()}
    year_p = review.entire_year
    streak = review.longest_streak
    config = streaks.get_config()
    frequency = config.frequency if config else "daily"
    return {
        "name": user.name,
        "year": year,
        "tz": user.timezone,
        "days_active": review.days_active,
        "weeks_active": review.weeks_active,
        "months_active": review.months_active,
        "metrics": _metric_lines(year_p, metrics),
        "points": [
            {"name": systems[sid].name, "badge": systems[sid].badge, "earned": c.change, "total": c.total}
            for sid, c in sorted(year_p.points.items(), key=lambda kv: systems[kv[0]].name)
            if sid in systems and c.change
        ],
        "streak": {
            "length": streak.length,
            "unit": i18n.unit_word(frequency, streak.length),
            "started": day_text(streak.started),
            "reached": day_text(streak.period_start),
        },
        "achievements": [
            {
                "name": _("A hidden achievement") if shared and c.achievement.hidden else c.achievement.name,
                "badge": "❓" if shared and c.achievement.hidden else c.achievement.badge,
                "on": day_text(cal.local_date(c.completed_at, user.timezone)),
            }
            for c in year_p.completions
        ],
        "ranks": sorted(
            ({"board": boards[bid].name, "rank": rank} for bid, rank in year_p.best_ranks.items() if bid in boards),
            key=lambda r: (r["rank"], r["board"]),
        ),
        "top": [
            _top(_("Most active day"), review.day, metrics, single=True),
            _top(_("Most active week"), review.week, metrics),
            _top(_("Most active month"), review.month, metrics),
        ]
        if review.days_active
        else [],
    }


def _metric_lines(period: svc.Period, metrics: dict) -> list[dict]:
    return [
        {"name": metrics[mid].name, "unit": metrics[mid].unit, "amount": c.change}
        for mid, c in sorted(period.metrics.items(), key=lambda kv: metrics[kv[0]].name)
        if mid in metrics and c.change
    ]


def _top(title: str, period: svc.Period, metrics: dict, single: bool = False) -> dict:
    return {
        "title": title,
        "start": day_text(period.start),
        "end": None if single else day_text(period.end),
        "metrics": _metric_lines(period, metrics),
        "achievements": len(period.completions),
    }


def day_text(d: Optional[date]) -> Optional[str]:
    """ "Sun, Feb 1, 2026" / "dom, 1 feb 2026" (None stays None)."""
    return ui.fmt_day(d, with_year=True) if d else None
