"""Data erasure: a player and every row that references them, in the caller's transaction (a data-erasure
request through the API, or an admin's "erase this player"). Nothing is committed here.

What goes, and how:
- every row whose foreign key names the player (found from the models' metadata, so a new table with a
  user foreign key is covered without editing this module), and the rows of the columns that hold a
  users.id without a key (`UNKEYED`: the outbox, rank history and score log, used login links);
  a nullable key that only says who did something (a backfill run an admin started) is set to NULL;
- rows elsewhere that point at the deleted rows: webhook deliveries of the player's domain events are
  deleted with them (their body is the player's data); other nullable references are set to NULL;
- gifts still waiting for the player go back to their senders first;
- achievements they held count one completion fewer, and rarity is recomputed for the smaller player base;
- archived leaderboard runs keep their ranks, with the player's entry anonymised (no id, no name);
- live leaderboards: the boards they were on are marked dirty in this transaction (any read rebuilds
  them from SQL, which no longer lists them) and a rebuild is requested after the commit.
Other players' ledgers may still hold the bare numeric id in JSON metadata (a gift's "from"), which names
nobody once the user row is gone.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Table, case, delete, or_, select, update

from .. import after_commit
from ..extensions import db
from ..models import (
    ROLE_PLAYER,
    Achievement,
    AchievementCompletion,
    EnergyGift,
    Leaderboard,
    LeaderboardRun,
    LeaderboardScore,
    User,
)
from ..models._common import utcnow
from . import achievements, energy

# Columns that hold a users.id without a foreign key (written on the event path, where a key check per
# row costs too much; see DomainEvent).
UNKEYED = {
    "domain_events": "user_id",
    "leaderboard_rank_changes": "user_id",
    "leaderboard_score_log": "user_id",
    "used_login_links": "user_id",
}
# Rows that are part of the row they point at: deleted with it rather than detached from it.
DELETED_WITH = {("webhook_deliveries", "domain_event_id")}
ERASED_NAME = "(erased player)"


class ErasureError(ValueError):
    def __init__(self, field: str, message: str, status: int = 409):
        super().__init__(message)
        self.field, self.status = field, status


def references() -> list[tuple[Table, Column]]:
    """Every column holding a users.id: the foreign keys to users, then the unkeyed ones."""
    tables = db.metadata.tables
    users_id = tables["users"].c.id
    out = [(t, fk.parent) for t in db.metadata.sorted_tables for fk in t.foreign_keys if fk.column is users_id]
    return out + [(tables[t], tables[t].c[c]) for t, c in UNKEYED.items()]


def erase(user: User, now: Optional[datetime] = None) -> dict[str, int]:
    """Erase the player; returns how many rows went, per table (the player's own row as "users")."""
    if user.role != ROLE_PLAYER:
        raise ErasureError("user_id", "Only players can be erased: this account is an admin.")
    now = now or utcnow()
    uid = user.id
    senders = db.session.execute(
        select(EnergyGift.sender_id).where(EnergyGift.recipient_id == uid, EnergyGift.status == "pending")
    ).scalars()
    # Users in id order, as every other writer locks them: the player's events and gifts wait for this.
    for locked in sorted({uid, *senders}):
        db.session.execute(select(User.id).where(User.id == locked).with_for_update(key_share=True))
    energy.return_unanswered_gifts(user, now)
    board_ids = set(
        db.session.execute(select(LeaderboardScore.leaderboard_id).where(LeaderboardScore.user_id == uid)).scalars()
    )
    _anonymise_runs(uid, board_ids)
    db.session.execute(
        update(Achievement)
        .where(
            Achievement.id.in_(select(AchievementCompletion.achievement_id).where(AchievementCompletion.user_id == uid))
        )
        .values(completion_count=case((Achievement.completion_count > 0, Achievement.completion_count - 1), else_=0))
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    counts = _delete_rows(uid)
    db.session.expunge(user)
    counts["users"] = db.session.execute(delete(User).where(User.id == uid)).rowcount
    achievements.players_changed()
    achievements.refresh_rarity()
    if board_ids:
        db.session.execute(
            update(Leaderboard)
            .where(Leaderboard.id.in_(sorted(board_ids)))
            .values(redis_dirty=True)
            .execution_options(synchronize_session=False)
        )
        after_commit.request("leaderboards.rebuild")
    return {table: n for table, n in counts.items() if n}


def _delete_rows(uid: int) -> dict[str, int]:
    """Children before parents (the metadata's dependency order, reversed), so no key is left dangling."""
    by_table: dict[Table, list[Column]] = defaultdict(list)
    for table, column in references():
        by_table[table].append(column)
    counts: dict[str, int] = {}
    for table in reversed(db.metadata.sorted_tables):
        columns = by_table.get(table)
        if not columns or table.name == "users":
            continue
        owned = [c for c in columns if not c.nullable or table.name in UNKEYED]
        for c in columns:
            if c not in owned:  # who did it, not whose it is: the row stays, the name goes
                db.session.execute(update(table).where(c == uid).values({c.name: None}))
        if not owned:
            continue
        mine = or_(*(c == uid for c in owned))
        _detach_dependents(table, mine)
        counts[table.name] = db.session.execute(delete(table).where(mine)).rowcount
    return counts


def _detach_dependents(table: Table, mine) -> None:
    """Rows of other tables pointing at the rows about to go: deleted with them (DELETED_WITH, or a key
    that cannot be NULL), else their reference set to NULL."""
    ids = select(table.c.id).where(mine).scalar_subquery() if "id" in table.c else None
    if ids is None:
        return
    for other in db.metadata.sorted_tables:
        for fk in other.foreign_keys:
            if fk.column is not table.c.id:
                continue
            col = fk.parent
            if (other.name, col.name) in DELETED_WITH or not col.nullable:
                db.session.execute(delete(other).where(col.in_(ids)))
            else:
                db.session.execute(update(other).where(col.in_(ids)).values({col.name: None}))


def _anonymise_runs(uid: int, board_ids: set[int]) -> None:
    """Archived runs keep every rank; the player's entry names nobody."""
    if not board_ids:
        return
    runs = db.session.execute(select(LeaderboardRun).where(LeaderboardRun.leaderboard_id.in_(sorted(board_ids))))
    for run in runs.scalars():
        entries = list(run.rankings or [])
        if any(e.get("user_id") == uid for e in entries):
            run.rankings = [
                {**e, "user_id": None, "external_id": None, "name": ERASED_NAME} if e.get("user_id") == uid else e
                for e in entries
            ]
