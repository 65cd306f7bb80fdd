"""The pipeline's single write: every row an event (or a batch) changes, in bulk, at the end.

Features never execute SQL while they compute; they add rows to a `Writes` collector under a named
operation (`OPS`: which table, insert/upsert/update/delete, which columns). `flush` then writes them:
on PostgreSQL as ONE statement (each operation a data-modifying CTE: `WITH w1 AS (INSERT ...),
w2 AS (INSERT ... ON CONFLICT ...) SELECT ...`), on SQLite as one statement per operation (in-process,
no round trips; SQLite has no data-modifying CTEs). Rows travel as one JSON array parameter per
operation, so statement texts are fixed and compiled once per process.

Upserts and updates are keyed: writing the same key twice in a batch keeps the last row (PostgreSQL
refuses an INSERT ... ON CONFLICT that touches one row twice, and the last state is what counts).
Inside one PostgreSQL statement the CTEs cannot see each other's rows; nothing here needs to, and
foreign keys are checked at the end of the statement, when every CTE has run.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import text

from .sql import BOOL, DATE, DATETIME, FLOAT, INT, JSON, TEXT, Dialect


@dataclass(frozen=True)
class Op:
    name: str
    table: str
    kind: str  # insert | upsert | update | delete | notify
    columns: tuple  # ((column, kind), ...): every column the rows carry
    key: tuple = ()  # upsert: the conflict target; update/delete: the match columns
    set_sql: Optional[dict] = None  # update: column -> SQL expression over `t` (row) and `x` (input)
    returning: tuple = ()  # update: columns of `t` returned (PostgreSQL: by the whole statement)
    lookup: str = ""  # update/delete: the indexed column that finds the rows (default: the first key)


def _cols(*pairs) -> tuple:
    return tuple(pairs)


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op(
            "users",
            "users",
            "update",
            _cols(
                ("id", INT),
                ("timezone", TEXT),
                ("last_seen_at", DATETIME),
                ("display_name", TEXT),
                ("email", TEXT),
                ("attributes", JSON),
            ),
            key=("id",),
        ),
        Op(
            "metric_events",
            "metric_events",
            "insert",
            _cols(
                ("id", INT),
                ("user_id", INT),
                ("metric_id", INT),
                ("value", FLOAT),
                ("occurred_at", DATETIME),
                ("local_date", DATE),
                ("timezone", TEXT),
                ("idempotency_key", TEXT),
                ("attributes", JSON),
            ),
        ),
        Op(
            "metric_totals",
            "metric_totals",
            "upsert",
            _cols(("user_id", INT), ("metric_id", INT), ("total", FLOAT), ("updated_at", DATETIME)),
            key=("user_id", "metric_id"),
        ),
        Op(
            "user_streaks",
            "user_streaks",
            "upsert",
            _cols(
                ("user_id", INT),
                ("length", INT),
                ("longest", INT),
                ("started_on", DATE),
                ("last_extended", DATE),
                ("last_covered", DATE),
                ("progress_period", DATE),
                ("progress", JSON),
                ("periods_since_grant", INT),
                ("freezes", INT),
                ("updated_at", DATETIME),
            ),
            key=("user_id",),
        ),
        Op(
            "streak_periods",
            "streak_periods",
            "insert",
            _cols(
                ("user_id", INT),
                ("period_start", DATE),
                ("period_end", DATE),
                ("length", INT),
                ("outcome", TEXT),
                ("closed_at", DATETIME),
                ("event_id", INT),
            ),
        ),
        Op(
            "freeze_ledger",
            "streak_freeze_ledger",
            "insert",
            _cols(
                ("user_id", INT),
                ("delta", INT),
                ("kind", TEXT),
                ("reason", TEXT),
                ("period_start", DATE),
                ("event_id", INT),
                ("created_at", DATETIME),
            ),
        ),
        Op(
            "completions",
            "achievement_completions",
            "insert",
            _cols(
                ("user_id", INT),
                ("achievement_id", INT),
                ("completed_at", DATETIME),
                ("trigger_event_id", INT),
                ("backdated", BOOL),
            ),
        ),
        Op(
            "achievement_progress",
            "achievement_progress",
            "upsert",
            _cols(("user_id", INT), ("achievement_id", INT), ("value", FLOAT), ("updated_at", DATETIME)),
            key=("user_id", "achievement_id"),
        ),
        # Completion counts move by the batch's completions; rarity from the count the database holds.
        Op(
            "achievement_counts",
            "achievements",
            "update",
            _cols(("id", INT), ("n", INT), ("players", INT)),
            key=("id",),
            set_sql={
                "completion_count": 't.completion_count + x."n"',
                "rarity_pct": 'CASE WHEN x."players" > 0 THEN (t.completion_count + x."n") * 100.0 / x."players" '
                "ELSE 0.0 END",
            },
            returning=("id", "completion_count"),
        ),
        Op(
            "points_awards",
            "points_awards",
            "insert",
            _cols(
                ("user_id", INT),
                ("system_id", INT),
                ("amount", INT),
                ("base_amount", INT),
                ("boost_multiplier", FLOAT),
                ("trigger_type", TEXT),
                ("trigger_id", INT),
                ("source_event_id", INT),
                ("reason", TEXT),
                ("local_date", DATE),
                ("awarded_at", DATETIME),
            ),
        ),
        Op(
            "points_balances",
            "points_balances",
            "upsert",
            _cols(("user_id", INT), ("system_id", INT), ("balance", INT), ("level_id", INT), ("updated_at", DATETIME)),
            key=("user_id", "system_id"),
        ),
        Op(
            "player_energy",
            "player_energy",
            "upsert",
            _cols(
                ("user_id", INT),
                ("current", INT),
                ("remainder_milli", INT),
                ("last_regen_at", DATETIME),
                ("fatigue_milli", INT),
                ("fatigue_updated_at", DATETIME),
                ("premium", BOOL),
                ("regen_per_hour", FLOAT),
                ("tick_minutes", INT),
                ("skills", JSON),
                ("incapacitated_until", DATETIME),
                ("incapacitated_reason", TEXT),
                ("full_notified", BOOL),
                ("created_at", DATETIME),
                ("updated_at", DATETIME),
            ),
            key=("user_id",),
        ),
        Op(
            "energy_transactions",
            "energy_transactions",
            "insert",
            _cols(
                ("user_id", INT),
                ("type", TEXT),
                ("amount", INT),
                ("balance_before", INT),
                ("balance_after", INT),
                ("related_type", TEXT),
                ("related_id", INT),
                ("metadata", JSON),
                ("created_at", DATETIME),
                ("client_ip", TEXT),
            ),
        ),
        Op(
            "energy_reviews",
            "energy_reviews",
            "insert",
            _cols(
                ("user_id", INT),
                ("reason", TEXT),
                ("spent", INT),
                ("allowed", INT),
                ("created_at", DATETIME),
                ("resolved_note", TEXT),
            ),
        ),
        Op(
            "leaderboard_scores",
            "leaderboard_scores",
            "upsert",
            _cols(
                ("leaderboard_id", INT),
                ("period", TEXT),
                ("segment", TEXT),
                ("user_id", INT),
                ("score", FLOAT),
                ("achieved_at", DATETIME),
                ("version", INT),
                ("updated_at", DATETIME),
            ),
            key=("leaderboard_id", "period", "segment", "user_id"),
        ),
        Op(
            "leaderboard_scores_gone",
            "leaderboard_scores",
            "delete",
            _cols(("leaderboard_id", INT), ("period", TEXT), ("segment", TEXT), ("user_id", INT)),
            key=("leaderboard_id", "period", "segment", "user_id"),
            lookup="user_id",
        ),
        Op(
            "rank_changes",
            "leaderboard_rank_changes",
            "insert",
            _cols(
                ("leaderboard_id", INT),
                ("period", TEXT),
                ("segment", TEXT),
                ("user_id", INT),
                ("previous_rank", INT),
                ("new_rank", INT),
                ("occurred_at", DATETIME),
                ("source_event_id", INT),
            ),
        ),
        Op(
            "score_log",
            "leaderboard_score_log",
            "insert",
            _cols(
                ("leaderboard_id", INT),
                ("period", TEXT),
                ("segment", TEXT),
                ("user_id", INT),
                ("old_score", FLOAT),
                ("new_score", FLOAT),
                ("source_event_id", INT),
                ("created_at", DATETIME),
            ),
        ),
        Op(
            "domain_events",
            "domain_events",
            "insert",
            _cols(
                ("type", TEXT), ("user_id", INT), ("payload", JSON), ("source_event_id", INT), ("created_at", DATETIME)
            ),
        ),
        # In-app notifications, unless the player switched the type off in-app (checked by the statement).
        Op(
            "notifications",
            "notifications",
            "notify",
            _cols(
                ("user_id", INT),
                ("type", TEXT),
                ("title", TEXT),
                ("body", TEXT),
                ("link", TEXT),
                ("message", TEXT),
                ("params", JSON),
                ("created_at", DATETIME),
            ),
        ),
    )
}

# The order operations run in on SQLite (parents before children, for the foreign keys).
ORDER = tuple(OPS)

# Keyed operations: op -> (the row's key, the operation that writes the same rows the other way).
_KEYED = {
    op.name: (
        operator.itemgetter(*op.key) if len(op.key) > 1 else (lambda r, k=op.key[0]: (r[k],)),
        op.name + "_gone"
        if op.name + "_gone" in OPS
        else (op.name[: -len("_gone")] if op.name.endswith("_gone") else None),
    )
    for op in OPS.values()
    if op.kind in ("upsert", "update", "delete")
}


class Writes:
    """Rows to write, per operation. Keyed operations keep the last row per key."""

    __slots__ = ("rows",)

    def __init__(self):
        self.rows: dict[str, object] = {}

    def add(self, op: str, row: dict) -> None:
        keyed = _KEYED.get(op)
        if keyed is None:
            rows = self.rows.get(op)
            if rows is None:
                rows = self.rows[op] = []
            rows.append(row)
            return
        key_of, opposite = keyed
        key = key_of(row)
        rows = self.rows.get(op)
        if rows is None:
            rows = self.rows[op] = {}
        rows[key] = row
        if opposite is not None:  # an upsert after a delete of the same key (or the reverse): the last wins
            other = self.rows.get(opposite)
            if other:
                other.pop(key, None)

    def get(self, op: str) -> list:
        got = self.rows.get(op)
        if got is None:
            return []
        return list(got.values()) if isinstance(got, dict) else got

    def __bool__(self) -> bool:
        return any(self.rows.values())


# ------------------------------------------------------------------------------------------ SQL


def _select(d: Dialect, op: Op) -> str:
    fields = ", ".join(f'{d.field(c, kind)} AS "{c}"' for c, kind in op.columns)
    return f"SELECT {fields} FROM {d.rows_from('w_' + op.name)}"


def _dml(d: Dialect, op: Op) -> str:
    cols = [c for c, _ in op.columns]
    collist = ", ".join(f'"{c}"' for c in cols)
    if op.kind in ("insert", "upsert"):
        # ORDER BY the position: ids are handed out in the order the rows were added.
        sql = f"INSERT INTO {op.table} ({collist}) {_select(d, op)} WHERE true ORDER BY {d.order()}"
        if op.kind == "upsert":
            updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols if c not in op.key)
            sql += f" ON CONFLICT ({', '.join(op.key)}) DO UPDATE SET {updates}"
        return sql
    if op.kind == "notify":
        return (
            f"INSERT INTO {op.table} ({collist}) SELECT {collist} FROM ({_select(d, op)}) AS x "
            "WHERE NOT EXISTS (SELECT 1 FROM notification_preferences p WHERE p.user_id = x.user_id "
            "AND p.type = x.type AND p.channel = 'in_app' AND p.enabled = false) "
            # Control-group players get no gamification, in-app notices included (their events count).
            "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = x.user_id AND u.control_group)"
        )
    match = " AND ".join(f't."{k}" = x."{k}"' for k in op.key)
    if d.pg:
        # The rows' first key as an array too: a cached generic plan cannot know how few rows the JSON
        # holds, and would hash-join the whole target table; `= ANY(array)` makes it an index lookup.
        k0 = op.lookup or op.key[0]
        match += (
            f' AND t."{k0}" = ANY(ARRAY(SELECT {d.field(k0, dict(op.columns)[k0])} FROM {d.rows_from("w_" + op.name)}))'
        )
    if op.kind == "update":
        sets = op.set_sql or {c: f"x.{c}" for c in cols if c not in op.key}
        sets_sql = ", ".join(f'"{c}" = {expr}' for c, expr in sets.items())
        if not d.pg:  # SQLite: the target table cannot carry an alias in UPDATE ... FROM
            sets_sql = sets_sql.replace("t.", f"{op.table}.")
            match = match.replace("t.", f"{op.table}.")
            ret = ", ".join(f"{op.table}.{c}" for c in op.returning)
            sql = f"UPDATE {op.table} SET {sets_sql} FROM ({_select(d, op)}) AS x WHERE {match}"
        else:
            ret = ", ".join(f"t.{c}" for c in op.returning)
            sql = f"UPDATE {op.table} AS t SET {sets_sql} FROM ({_select(d, op)}) AS x WHERE {match}"
        return sql + (f" RETURNING {ret}" if ret else "")
    if op.kind == "delete":
        if d.pg:
            return f"DELETE FROM {op.table} AS t USING ({_select(d, op)}) AS x WHERE {match}"
        keys = ", ".join(f'"{k}"' for k in op.key)
        return f"DELETE FROM {op.table} WHERE ({keys}) IN (SELECT {keys} FROM ({_select(d, op)}) AS x)"
    raise ValueError(op.kind)  # pragma: no cover


_compiled: dict[tuple, object] = {}


def _statement(d: Dialect, names: tuple) -> object:
    """PostgreSQL: one statement for the operations `names` (cached per combination)."""
    key = (d.name, names)
    stmt = _compiled.get(key)
    if stmt is None:
        ctes = ", ".join(f"w{i} AS ({_dml(d, OPS[n])})" for i, n in enumerate(names))
        ret = [i for i, n in enumerate(names) if OPS[n].returning]
        final = " UNION ALL ".join(f"SELECT * FROM w{i}" for i in ret) if ret else "SELECT 1"
        stmt = _compiled[key] = text(f"WITH {ctes} {final}")
    return stmt


def _single(d: Dialect, name: str) -> object:
    key = (d.name, name)
    stmt = _compiled.get(key)
    if stmt is None:
        stmt = _compiled[key] = text(_dml(d, OPS[name]))
    return stmt


def flush(conn, d: Dialect, writes: Writes) -> list:
    """Write everything collected; returns the rows the update operations returned (achievement
    counts: (id, completion_count))."""
    names = tuple(n for n in ORDER if writes.rows.get(n))
    if not names:
        return []
    if d.pg:
        # Every operation, empty ones too: one statement text, prepared and planned once per connection.
        params = {f"w_{n}": d.dumps([_row(OPS[n], r) for r in writes.get(n)]) for n in ORDER}
        return [tuple(r) for r in conn.execute(_statement(d, ORDER), params)]
    params = {f"w_{n}": d.dumps([_row(OPS[n], r) for r in writes.get(n)]) for n in names}
    out = []
    for n in names:
        result = conn.execute(_single(d, n), {f"w_{n}": params[f"w_{n}"]})
        if OPS[n].returning:
            out += [tuple(r) for r in result]
    return out


def _row(op: Op, row: dict) -> dict:
    return {c: row.get(c) for c, _ in op.columns}
