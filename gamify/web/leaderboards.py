"""Player leaderboard pages: tabs per board and per segment (HTMX partials), my row and neighbours,
past runs."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from .. import i18n
from ..database import replica_reads
from ..engine import leaderboards as engine
from ..models import Leaderboard
from ..services import leaderboards as svc
from . import ui

bp = Blueprint("leaderboards", __name__)
_ = i18n.gettext
bp.before_request(ui.control_gate())


@bp.app_template_filter("lb_score")
def lb_score(value) -> str:
    if value is None:
        return "—"
    return ui.num(value, 2)


def board_unit(board: Leaderboard) -> str:
    if board.ranked_by == "metric" and board.metric is not None:
        return board.metric.unit or board.metric.name
    if board.ranked_by == "points" and board.system is not None:
        return board.system.name
    return _("streak")


def _segment_tabs(board: Leaderboard) -> list[dict]:
    mine = engine.segments_for(current_user.attributes, board.breakdown or [])
    return [{"segment": s, "label": segment_label(s)} for s in mine]


@bp.app_template_filter("lb_segment")
def segment_label(segment: str) -> str:
    """The player's own segment as the tabs name it: 'Global', 'My country' (the attribute's name as sent)."""
    if segment == engine.GLOBAL:
        return _("Global")
    return _("My %(attribute)s", attribute=segment.partition(":")[0].replace("_", " "))


def _panel(board: Leaderboard, segment: str) -> dict:
    tz = current_user.timezone
    period = svc.current_period(board, tz)
    data = svc.rankings(board, period, segment)
    me = svc.position(board, period, segment, current_user.id, radius=2)
    shown = {e["user_id"] for e in data["entries"]}
    around = [] if me is None or current_user.id in shown else [e for e in me["around"] if e["user_id"] not in shown]
    return {
        "board": board,
        "segment": segment,
        "segment_label": segment_label(segment),
        "segment_tabs": _segment_tabs(board),
        "period": svc.period_info(board, period, tz),
        "data": data,
        "me": me,
        "around": around,
        "runs": svc.runs(board, segment, 10) if board.repeating else [],
        "unit": board_unit(board),
    }


def _resolve(key: str | None) -> tuple[list[Leaderboard], Leaderboard | None, str]:
    boards = svc.active_boards()
    board = next((b for b in boards if b.key == key), None) if key else (boards[0] if boards else None)
    if key and board is None:
        abort(404)
    segment = engine.GLOBAL
    if board is not None and request.args.get("segment"):
        segment = engine.parse_segment(request.args["segment"], board.breakdown or []) or engine.GLOBAL
    return boards, board, segment


@bp.get("/leaderboards")
@login_required
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def index():
    boards, board, segment = _resolve(request.args.get("board"))
    ctx = {"boards": boards, **(_panel(board, segment) if board else {"board": None})}
    template = "leaderboards/_panel.html" if ui.is_htmx() else "leaderboards/index.html"
    html = render_template(template, **ctx)
    return html


@bp.get("/leaderboards/<key>/panel")
@login_required
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def panel(key: str):
    """HTMX partial: one board (and segment) panel, swapped into #lb-panel by the tabs."""
    boards, board, segment = _resolve(key)
    html = render_template("leaderboards/_panel.html", boards=boards, **_panel(board, segment))
    return html


@bp.get("/leaderboards/<key>/runs/<period_start>")
@login_required
@replica_reads()  # read-only, tolerates the replica's lag (gamify/database.py)
def run(key: str, period_start: str):
    _boards, board, segment = _resolve(key)
    try:
        day = date.fromisoformat(period_start)
    except ValueError:
        abort(404)
    found = svc.get_run(board, day, segment)
    if found is None and not svc.has_run(board, day):
        abort(404)
    mine = None
    entries = list(found.rankings or []) if found else []
    if not any(e.get("user_id") == current_user.id for e in entries):
        mine = svc.position(board, day.isoformat(), segment, current_user.id, 0, use_redis=False)
    return render_template(
        "leaderboards/run.html",
        board=board,
        segment=segment,
        run=found,
        day=day,
        end=engine.period_end(board.frequency, board.start_date, day),
        entries=entries,
        mine=mine,
        unit=board_unit(board),
        segment_label=segment_label(segment),
        runs=svc.runs(board, segment, 10),
    )
