"""The ledger audit: energy that rose with no ledger row to explain it.

Every change of a player's energy writes a ledger row (regeneration ticks included) with the balance
before and after, so for one player each row's `balance_before` equals the previous row's
`balance_after`. A row that starts higher than its predecessor ended means the balance was raised
outside the ledger (a direct database edit, a bug, a client that found a way around the rules): it is
flagged for review. A drop is not flagged: it cannot help a player. A scheduled job walks new rows once,
from a cursor kept in the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select

from ...extensions import db
from ...models import EnergyReview, EnergyTransaction, JobCursor
from ...models._common import utcnow
from .. import outbox

CURSOR = "energy_ledger_audit"
# Rows younger than this are left for the next run: ids are taken when a row is inserted, not when its
# transaction commits, so a row with a lower id may still become visible after a higher one. A
# transaction that stays open longer than this is not expected (requests and jobs take seconds).
SETTLE = timedelta(minutes=5)


def audit_ledger(now: Optional[datetime] = None, batch: int = 5000) -> int:
    """Check the ledger rows written since the last run (at most `batch` of them; the next run goes on).
    Returns how many reviews were opened. Runs in the caller's transaction, cursor included."""
    now = now or utcnow()
    cursor = db.session.get(JobCursor, CURSOR, with_for_update=True)
    if cursor is None:
        cursor = JobCursor(name=CURSOR, position=0)
        db.session.add(cursor)
    t, p = EnergyTransaction.__table__.alias("t"), EnergyTransaction.__table__.alias("p")
    previous = (
        select(p.c.balance_after)
        .where(p.c.user_id == t.c.user_id, p.c.id < t.c.id)
        .order_by(p.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(t.c.id, t.c.user_id, t.c.balance_before, t.c.created_at, previous.label("previous_after"))
        .where(t.c.id > cursor.position)
        .order_by(t.c.id)
        .limit(batch)
    ).all()
    opened = 0
    checked = None
    for row in rows:
        if row.created_at > now - SETTLE:
            break  # too young: later rows wait too, so the cursor never passes a row not yet seen
        checked = row.id
        gap = row.previous_after is not None and row.balance_before - row.previous_after
        if gap and gap > 0 and not _reviewed(row.id):
            db.session.add(
                EnergyReview(
                    user_id=row.user_id,
                    kind="unexplained_increase",
                    transaction_id=row.id,
                    spent=gap,
                    allowed=0,
                    reason=(
                        f"energy rose from {row.previous_after} to {row.balance_before} with no ledger row "
                        f"(found before transaction #{row.id})"
                    ),
                    created_at=now,
                )
            )
            outbox.emit(
                "energy.flagged",
                row.user_id,
                {
                    "kind": "unexplained_increase",
                    "increase": gap,
                    "from": row.previous_after,
                    "to": row.balance_before,
                    "transaction_id": row.id,
                },
            )
            opened += 1
    if checked is not None:
        cursor.position = checked
    db.session.flush()
    return opened


def _reviewed(transaction_id: int) -> bool:
    return (
        db.session.execute(select(EnergyReview.id).where(EnergyReview.transaction_id == transaction_id)).first()
        is not None
    )
