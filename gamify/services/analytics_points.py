"""Points analytics: the distribution of balances over buckets the admin chooses (one query per system,
a SUM(CASE) per bucket), with the default buckets at the system's level thresholds."""

from __future__ import annotations

from typing import Optional

from sqlalchemy import and_, case, func

from .. import i18n
from ..extensions import db
from ..i18n import _
from ..models import PointsBalance, PointsSystem, User
from ..models.users import ROLE_PLAYER
from . import achievements

MAX_EDGES = 20
MAX_EDGE = 10**12


def parse_edges(raw: Optional[str]) -> Optional[list[int]]:
    """'0, 100, 500' → [0, 100, 500]: whole numbers, at most MAX_EDGES, sorted, duplicates dropped;
    None when there is nothing usable (the page then uses the default)."""
    if not raw:
        return None
    out = set()
    for part in raw.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        neg = part.startswith("-")
        digits = part[1:] if neg else part
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 13 or int(digits) > MAX_EDGE:
            return None
        out.add(-int(digits) if neg else int(digits))
    edges = sorted(out)
    return edges[:MAX_EDGES] if edges else None


def default_edges(system: PointsSystem) -> list[int]:
    thresholds = sorted({lv.threshold for lv in system.levels} | {0})
    if len(thresholds) >= 3:
        return thresholds
    return [0, 1, 10, 100, 1_000, 10_000]


def _short(n: int) -> str:
    """1500 → '1.5k', 2000000 → '2M': bucket labels that fit under a column at phone width."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return str(n)


def label(lo: int, hi: Optional[int]) -> str:
    if hi is None:
        return f"{_short(lo)}+"
    return _short(lo) if hi - lo == 1 else f"{_short(lo)}–{_short(hi - 1)}"


def histogram(system: PointsSystem, edges: list[int]) -> list[tuple[str, int]]:
    """Players per balance bucket [edge_i, edge_i+1), the last one open; players with no balance row have 0.
    A bucket "below" the first edge is added when some balance lies there."""
    bal = func.coalesce(PointsBalance.balance, 0)
    bounds = [(None, edges[0])] + [(lo, hi) for lo, hi in zip(edges, edges[1:])] + [(edges[-1], None)]
    cols = []
    for lo, hi in bounds:
        conds = ([bal >= lo] if lo is not None else []) + ([bal < hi] if hi is not None else [])
        cols.append(func.coalesce(func.sum(case((and_(*conds), 1), else_=0)), 0))
    row = db.session.execute(
        db.select(*cols)
        .select_from(User)
        .outerjoin(PointsBalance, and_(PointsBalance.user_id == User.id, PointsBalance.system_id == system.id))
        .where(User.role == ROLE_PLAYER)
    ).one()
    # In the language now in force (the admin's on the page, English for the API and the CSV).
    out = [(_("below %(n)s", n=i18n.num(edges[0])), int(row[0]))] if row[0] else []
    return out + [(label(lo, hi), int(n)) for (lo, hi), n in zip(bounds[1:], row[1:])]


def systems() -> list[PointsSystem]:
    return list(db.session.execute(db.select(PointsSystem).order_by(PointsSystem.id)).scalars())


def players() -> int:
    return achievements.player_count()
