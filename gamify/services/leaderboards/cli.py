"""`flask leaderboards rebuild|finalise|recompute`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import click
from flask.cli import AppGroup
from redis.exceptions import RedisError

from ...extensions import db
from .boards import by_key
from .config import recompute
from .finalise import finalise_due
from .store import rebuild

cli = AppGroup("leaderboards", help="Leaderboards: rebuild Redis from SQL, finalise periods, recompute scores.")


@cli.command("rebuild")
@click.option("--key", help="only this board (default: all)")
def rebuild_command(key: Optional[str]):
    """Restore the Redis rankings exactly from the SQL record."""
    board = None
    if key:
        board = by_key(key, active_only=False)
        if board is None:
            raise click.ClickException(f"unknown leaderboard '{key}'")
    try:
        done = rebuild(board)
    except RedisError as e:
        db.session.rollback()
        raise click.ClickException(f"Redis unavailable: {e}") from e
    db.session.commit()
    click.echo(f"rebuilt {len(done)} leaderboard(s): {', '.join(done) or '-'}")


@cli.command("finalise")
@click.option("--now", "now_text", help="pretend it is this UTC instant (ISO 8601)")
def finalise_command(now_text: Optional[str]):
    """Finalise every period that has ended in all time zones."""
    now = None
    if now_text:
        now = datetime.fromisoformat(now_text)
        now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    done = finalise_due(now)
    db.session.commit()
    for d in done:
        click.echo(f"{d['leaderboard']}: {d['period_start']}..{d['period_end']} ({d['participants']} players)")
    click.echo(f"finalised {len(done)} period(s)")


@cli.command("recompute")
@click.argument("key")
def recompute_command(key: str):
    """Recompute a board's open periods from the ledgers, then rebuild Redis."""
    board = by_key(key, active_only=False)
    if board is None:
        raise click.ClickException(f"unknown leaderboard '{key}'")
    n = recompute(board)
    db.session.commit()
    try:
        rebuild(board)
        db.session.commit()
    except RedisError as e:
        db.session.rollback()
        click.echo(f"Redis unavailable ({e}); it will be rebuilt on the next read")
    click.echo(f"{key}: {n} score row(s)")
