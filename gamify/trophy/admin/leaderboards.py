"""Trophy's admin leaderboards (services/leaderboards: create, update_board, delete_board check and recompute).

    GET|POST|PATCH|DELETE  /trophy/admin/v1/leaderboards
    GET                    /trophy/admin/v1/leaderboards/{id}

gamify boards repeat daily, weekly or monthly (Trophy's day/1, day/7, month/1) or never, run until
switched off (no end, no time-of-day window) and take every player: other settings are issues. A board
switched off is `inactive` (Trophy's `finished` switches it off too); `scheduled` is an active board whose
first day has not begun anywhere. The key never changes (gamify's URLs and the host app use it).
"""

from __future__ import annotations

from ...extensions import db
from ...models import Leaderboard
from ...models._common import utcnow
from ...services import leaderboards as lb
from ...services.config_rules import ConfigError
from ..base import answer, not_found
from . import schemas as s
from . import shapes
from .base import Issues, attempt, bp, created, ids_arg, items, listed, page, paging, require_admin_key, row


@bp.get("/leaderboards")
@require_admin_key
def list_leaderboards():
    limit, skip = paging()
    now = utcnow()
    return answer(
        [shapes.board_out(b, now) for b in page(db.select(Leaderboard).order_by(Leaderboard.id), limit, skip)]
    )


@bp.get("/leaderboards/<board_id>")
@require_admin_key
def get_leaderboard(board_id: str):
    board = row(Leaderboard, board_id)
    if board is None:
        raise not_found("leaderboard", board_id)
    return answer(shapes.board_out(board, utcnow()))


def _warn_description(issues: Issues, data, **where) -> None:
    if data.description:
        issues.warn("description is not stored: gamify leaderboards have none", **where)


@bp.post("/leaderboards")
@require_admin_key
def create_leaderboards():
    issues, done, now = Issues(), [], utcnow()
    for i, data in items(s.LeaderboardIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        board = attempt(issues, lambda d=data: lb.create(shapes.board_args(d, now.date()), now), index=i)
        if board is not None:
            _warn_description(issues, data, index=i)
            done.append(shapes.board_out(board, now))
    return created("created", done, issues)


def _update(board: Leaderboard, data: s.LeaderboardPatchIn, now) -> Leaderboard:
    if data.key is not None and data.key != board.key:
        raise ConfigError("key", "a gamify leaderboard's key never changes (the host app and its URLs use it)")
    changed = data.model_fields_set - {"id"}
    merged = {**shapes.board_as_input(board, now), **{k: getattr(data, k) for k in changed}}
    args = shapes.board_args(s.LeaderboardIn.model_validate(merged), now.date())
    if "start" not in changed:
        args["start_date"] = board.start_date
    if "status" not in changed:
        args["active"] = board.active
    lb.update_board(board, args, now)
    return board


@bp.patch("/leaderboards")
@require_admin_key
def update_leaderboards():
    issues, done, now = Issues(), [], utcnow()
    for i, data in items(s.LeaderboardPatchIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        board = row(Leaderboard, data.id)
        if board is None:
            issues.add(f"leaderboard '{data.id}' not found", id=data.id)
            continue
        saved = attempt(issues, lambda b=board, d=data: _update(b, d, now), id=data.id)
        if saved is not None:
            _warn_description(issues, data, id=data.id)
            done.append(shapes.board_out(saved, now))
    return answer(listed("updated", done, issues))


@bp.delete("/leaderboards")
@require_admin_key
def delete_leaderboards():
    issues, done = Issues(), []
    for raw in ids_arg():
        board = row(Leaderboard, raw)
        if board is None:
            issues.add(f"leaderboard '{raw}' not found", id=raw)
        else:
            lb.delete_board(board)
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))
