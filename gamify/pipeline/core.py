"""The event's way through gamify: validate → lock the players → load → compute → write → after commit.

One function runs a batch of metric events (a single event is a batch of one) in one transaction:

1. **Validate** every event without the database (value, time zone, attributes, idempotency key).
   A bad event gets its own 4xx result; the others go on.
2. **Lock the players** in id order (`SELECT ... ORDER BY id FOR NO KEY UPDATE`: concurrent batches
   never deadlock), reading the configuration counter with them; players seen for the first time are
   created. The configuration itself comes from the per-process snapshot.
3. **Load** the state every feature needs for every player of the batch in ONE statement (each
   feature contributes JSON-aggregated subqueries), plus the features' own locks (leaderboards: the
   board rows, FOR SHARE).
4. **Compute**, event by event, in order: each feature (`Feature`) checks and applies the event to the
   loaded state in memory, using the pure rules in `gamify.engine`, and adds rows to `run.writes`.
   An event a feature refuses (`EventError`, e.g. not enough energy) changes nothing. A repeated
   idempotency key is answered from the current state (`replay`).
5. **Write** every change in bulk (`writes.flush`: one statement on PostgreSQL).
6. **After commit** (`gamify.after_commit`): Redis rankings, the outbox dispatcher, the rank fan-out.

Features are equals: each is one module implementing `Feature` and registered in
`gamify.features.register`; the pipeline knows none of them by name. They run in registration order,
and later features read what earlier ones put on the event (`EventCtx`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import text
from sqlalchemy.orm.attributes import set_committed_value

from .. import after_commit, database, params
from ..engine import calendar as cal
from ..extensions import db
from ..models import User
from ..models._common import utcnow
from ..ops import telemetry
from ..services import snapshot
from . import players as players_mod
from . import writes as writes_mod
from .base import (  # noqa: F401  (re-exported: the pipeline's public names)
    FEATURES,
    MAX_BATCH,
    EventCtx,
    EventError,
    EventIn,
    Feature,
    Part,
    Player,
    Result,
    Run,
    UserRef,
    register,
)
from .sql import DATETIME, INT, TEXT, Dialect

# ------------------------------------------------------------------------------------------ validation

# A stated time this far ahead of the server's clock is taken as now (the caller's clock runs a little fast).
CLOCK_SKEW = timedelta(seconds=60)


def _validate(ev: EventIn, now: datetime) -> tuple[float, Optional[str], dict, Optional[str]]:
    try:
        value = params.number(ev.value, "value")
    except params.BadInput as e:
        raise EventError(e.field, str(e)) from e
    if ev.tz is not None:
        if not isinstance(ev.tz, str):
            raise EventError("tz", "tz must be an IANA timezone name such as 'Europe/London'")
        try:
            cal.zone(ev.tz)
        except cal.InvalidTimezone as e:
            raise EventError("tz", str(e)) from e
    try:
        attrs = params.attributes(ev.attributes, "attributes")
    except params.BadInput as e:
        raise EventError(e.field, str(e)) from e
    key = ev.idempotency_key
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255 or params.text_problem(key)):
        raise EventError("idempotency_key", "idempotency_key must be a string of 1 to 255 characters")
    if not isinstance(ev.metric, str) or not ev.metric:
        raise EventError("metric", "metric must be a metric key")
    if ev.occurred_at is not None:
        _check_stated_time(ev, now)
    return float(value), ev.tz, dict(attrs or {}), key


def _check_stated_time(ev: EventIn, now: datetime) -> None:
    at = ev.occurred_at
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise EventError("occurred_at", "occurred_at must be a moment with its UTC offset")
    if at > now + CLOCK_SKEW:
        raise EventError(
            "occurred_at",
            f"occurred_at {_iso(at)} is in the future (the server's time is {_iso(now)}): only past events "
            "can be imported",
        )
    if ev.action is not None:  # energy is spent and regenerates in the present
        raise EventError("occurred_at", "an action spends energy now: send it without occurred_at")


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _check_order(ctx: EventCtx) -> None:
    """A stated time must not come before the player's latest recorded event: streaks, totals and
    leaderboard periods are computed forward in time. Checked under the player's lock (the batch holds
    it), so a concurrent batch cannot record a later event in between."""
    latest = ctx.player.state.get("latest_at")
    if latest is not None and ctx.now < latest:
        raise EventError(
            "occurred_at",
            f"occurred_at {_iso(ctx.now)} is before this player's latest recorded event ({_iso(latest)}): "
            "import each player's events oldest first, before their new activity",
            409,
            latest_recorded=_iso(latest),
        )


# ------------------------------------------------------------------------------------------ load


def _load(run: Run) -> None:
    parts: list[tuple[Optional[Feature], Part]] = [(None, p) for p in _core_parts(run)]
    for f in FEATURES:
        parts += [(f, p) for p in f.load(run)]
    rows = run.select(parts)
    _core_loaded(run, rows.get(None, {}))
    for f in FEATURES:
        f.loaded(run, rows.get(f, {}))


def _core_parts(run: Run) -> list[Part]:
    d = run.dialect
    uids = d.list_param(sorted(run.players))
    mids = d.list_param(sorted({c.metric.id for c in run.ctxs}))
    parts = [
        Part(
            "metric_totals",
            [("user_id", "t.user_id", INT), ("metric_id", "t.metric_id", INT), ("total", "t.total", "float")],
            f"metric_totals t WHERE {d.in_list('t.user_id', 'uids')} AND {d.in_list('t.metric_id', 'mids')}",
            {"uids": uids, "mids": mids},
        )
    ]
    if any(c.stated for c in run.ctxs):  # only imports of past events pay for this look-up
        parts.append(
            Part(
                "latest_events",
                [("user_id", "le.user_id", INT), ("at", "le.at", DATETIME)],
                "(SELECT e.user_id AS user_id, max(e.occurred_at) AS at FROM metric_events e "
                f"WHERE {d.in_list('e.user_id', 'uids')} GROUP BY e.user_id) AS le",
                {"uids": uids},
            )
        )
    keys = sorted({c.idempotency_key for c in run.ctxs if c.idempotency_key is not None})
    if keys:
        parts.append(
            Part(
                "stored_keys",
                [
                    ("id", "e.id", INT),
                    ("user_id", "e.user_id", INT),
                    ("metric_id", "e.metric_id", INT),
                    ("key", "e.idempotency_key", TEXT),
                ],
                f"metric_events e WHERE {d.in_list('e.user_id', 'uids')} AND {d.in_list('e.idempotency_key', 'keys')}",
                {"uids": uids, "keys": d.list_param(keys)},
            )
        )
    # Event ids handed out now, so every derived row can name its event before anything is written.
    if d.pg:
        parts.append(
            Part(
                "event_ids",
                [("id", "nextval(CAST(:event_seq AS regclass))", INT)],
                "generate_series(1, :n_events) AS g",
                {"n_events": len(run.ctxs), "event_seq": _event_sequence()},
            )
        )
    else:  # SQLite: this transaction holds the write lock, nobody else inserts meanwhile
        parts.append(
            Part("event_ids", [("id", "coalesce(e.m, 0)", INT)], "(SELECT max(id) AS m FROM metric_events) AS e")
        )
    return parts


_sequence_name: list = []


def _event_sequence() -> str:
    if not _sequence_name:
        _sequence_name.append(db.session.execute(text("SELECT pg_get_serial_sequence('metric_events', 'id')")).scalar())
    return _sequence_name[0]


def _core_loaded(run: Run, rows: dict) -> None:
    for r in rows.get("metric_totals", []):
        run.players[r["user_id"]].state.setdefault("totals", {})[r["metric_id"]] = r["total"]
    for r in rows.get("latest_events", []):
        run.players[r["user_id"]].state["latest_at"] = r["at"]
    run.stored_keys = {(r["user_id"], r["metric_id"], r["key"]): r["id"] for r in rows.get("stored_keys", [])}
    ids = [r["id"] for r in rows.get("event_ids", [])]
    if run.dialect.pg:
        run.event_ids = ids
    else:
        base = ids[0] if ids else 0
        run.event_ids = list(range(base + 1, base + 1 + len(run.ctxs)))


# ------------------------------------------------------------------------------------------ the run


def process_batch(events: list[EventIn], *, now: Optional[datetime] = None, commit: bool = True) -> list[Result]:
    """Record `events` in one transaction; one Result per event, in order. Events of one player apply
    in the order given; the outcome equals sending them one by one."""
    if len(events) > MAX_BATCH:
        raise EventError("events", f"at most {MAX_BATCH} events per batch")
    now = now or utcnow()
    session = db.session
    session.flush()  # pending ORM changes first: the pipeline reads and writes with plain statements
    database.event_transaction(session)  # committed state only: nothing of the event reads a replica
    conn = session.connection()
    run = Run(Dialect(conn.dialect.name), conn, now)
    results: list[Result] = [Result() for _ in events]

    # 1. validate
    valid: list[tuple[int, EventIn, tuple]] = []
    for i, ev in enumerate(events):
        try:
            valid.append((i, ev, _validate(ev, now)))
        except EventError as e:
            results[i].error = e

    # 2. lock the known players, read the configuration counter with them
    ids = {_user_id(ev) for _i, ev, _v in valid if not isinstance(ev.user, UserRef)}
    refs = {ev.user.external_id for _i, ev, _v in valid if isinstance(ev.user, UserRef)}
    players, by_ext, version = players_mod.lock(run, ids, refs)
    run.snap = snapshot.get(version)

    # 3. refuse what the configuration refuses; create the players seen for the first time (those with
    #    an event left to record: a bad event leaves no trace, as when sent alone), then lock them too
    accepted = []
    for i, ev, checked in valid:
        try:
            if ev.metric not in run.snap.metrics:
                raise EventError("metric", f"unknown metric '{ev.metric}'", 404)
            if checked[0] < 0 and not run.snap.metrics[ev.metric].allow_negative:
                raise EventError(
                    "value",
                    f"metric '{ev.metric}' takes no negative values (an admin can allow them on the metric's page)",
                )
            if isinstance(ev.user, UserRef) and ev.user.email is not None:
                ev.user.email = players_mod.clean_email(ev.user.email)
            for f in FEATURES:
                f.refuse(run, ev)
            accepted.append((i, ev, checked))
        except EventError as e:
            results[i].error = e
    new_refs: dict[str, UserRef] = {}
    for _i, ev, _c in accepted:
        if isinstance(ev.user, UserRef) and ev.user.external_id not in by_ext:
            new_refs.setdefault(ev.user.external_id, ev.user)  # created with what its first event says
    if new_refs:
        taken = players_mod.taken_emails(new_refs.values())
        for i, ev, _c in accepted:
            if (
                isinstance(ev.user, UserRef)
                and ev.user.external_id in new_refs
                and ev.user.email
                and ev.user.email.lower() in taken
            ):
                results[i].error = EventError("user.email", "that email belongs to another user")
        accepted = [a for a in accepted if results[a[0]].error is None]
        wanted = {ev.user.external_id for _i, ev, _c in accepted if isinstance(ev.user, UserRef)}
        create = [r for ext, r in new_refs.items() if ext in wanted]
        if create:
            players_mod.create(run, create)
            more, more_ext, _version = players_mod.lock(run, set(), {r.external_id for r in create}, features=False)
            players.update(more)
            by_ext.update(more_ext)
    run.players = players
    for i, ev, (value, tz, attrs, key) in accepted:
        player = players.get(by_ext.get(ev.user.external_id) if isinstance(ev.user, UserRef) else _user_id(ev))
        if player is None:
            results[i].error = EventError("user", "unknown user", 404)
            continue
        # Stamped in the order given, a microsecond apart: the earlier event stays the earlier achiever
        # (leaderboard ties), as when the events are sent one by one.
        at = ev.now or (now + timedelta(microseconds=i))
        if ev.occurred_at is not None:
            at = min(ev.occurred_at, at)  # a stated time slightly ahead (clock skew) is taken as now
        if player.id in run.created and run.created[player.id] is None:
            run.created[player.id] = len(run.ctxs)
        run.ctxs.append(
            EventCtx(
                index=i,
                seq=len(run.ctxs),
                run=run,
                player=player,
                metric=run.snap.metrics[ev.metric],
                value=value,
                tz=tz or "",
                now=at,
                local_date=at.date(),
                attributes={},
                event_attributes=attrs,
                idempotency_key=key,
                action=ev.action,
                difficulty=ev.difficulty,
                profile=ev.user if isinstance(ev.user, UserRef) else None,
                stated=ev.occurred_at is not None,
            )
        )
    if run.ctxs:
        _load(run)

    # 4. compute, event by event
    for n, ctx in enumerate(run.ctxs):
        ctx.event_id = run.event_ids[n]
        try:
            _apply(run, ctx)
            results[ctx.index].response = ctx.response
        except EventError as e:
            results[ctx.index].error = e
    done = [c for c in run.ctxs if results[c.index].error is None]
    run.ctxs = done
    for f in FEATURES:
        f.finish(run)

    # 5. write
    for c in done:  # last seen: their latest event (historical events keep their own time)
        if c.player.seen_at is None or c.now > c.player.seen_at:
            c.player.seen_at = c.now
    for p in players.values():
        if p.seen_at is not None or p.profile_changed:
            run.writes.add(
                "users",
                {
                    "id": p.id,
                    "timezone": p.timezone,
                    "last_seen_at": p.seen_at,
                    "display_name": p.display_name,
                    "email": p.email,
                    "attributes": p.attributes,
                },
            )
    returned = writes_mod.flush(conn, run.dialect, run.writes)
    for f in FEATURES:
        f.written(run, returned)
    _sync_orm(events, players)
    _count(events, results, run)
    if commit:
        session.commit()
    else:
        session.expire_all()  # ORM rows loaded earlier in this session may predate the write
    return results


def _count(events: list[EventIn], results: list[Result], run: Run) -> None:
    """The events series (ops.telemetry): refusals now, created and replayed events once their
    transaction committed. Unknown metric keys count as "unknown" (a series per typo would grow without
    end)."""
    known = run.snap.metrics
    refused: Counter = Counter()
    recorded: Counter = Counter()
    for ev, res in zip(events, results):
        metric = ev.metric if isinstance(ev.metric, str) and ev.metric in known else "unknown"
        if res.error is not None:
            refused[(metric, "refused")] += 1
        else:
            recorded[(metric, "replayed" if res.response.get("idempotent_replayed") else "created")] += 1
    telemetry.batch_ran(len(events))
    if refused:
        telemetry.events_done(refused)
    if recorded:
        after_commit.defer(lambda: telemetry.events_done(recorded))


def _user_id(ev: EventIn) -> int:
    return ev.user if isinstance(ev.user, int) else ev.user.id


def _apply(run: Run, ctx: EventCtx) -> None:
    player = ctx.player
    if ctx.profile is not None:
        players_mod.profile(player, ctx.profile)
    key = ctx.idempotency_key
    if key is not None:
        k = (player.id, ctx.metric.id, key)
        prior = run.batch_keys.get(k)
        stored = run.stored_keys.get(k)
        if prior is not None or stored is not None:
            ctx.event_id = prior.event_id if prior is not None else stored
            ctx.scratch["replay_of"] = prior
            totals = player.state.setdefault("totals", {})
            ctx.response = {
                "event_id": ctx.event_id,
                "metric": ctx.metric.key,
                "metric_total": totals.get(ctx.metric.id, 0.0),
                "idempotent_replayed": True,
                "control": ctx.player.control,
                "achievements": [],
                "points": {},
                "streak": None,
            }
            ctx.tz = player.timezone
            ctx.local_date = cal.local_date(ctx.now, ctx.tz)
            ctx.attributes = dict(player.attributes)
            for f in FEATURES:
                f.replay(ctx)
            return
    if ctx.stated:
        _check_order(ctx)
    tz = ctx.tz or player.timezone
    ctx.tz = tz
    ctx.local_date = cal.local_date(ctx.now, tz)
    ctx.attributes = {**player.attributes, **ctx.event_attributes}
    for f in FEATURES:
        f.check(ctx)
    if tz != player.timezone:
        player.timezone = tz  # travel: the local calendar follows the player from now on
    totals = player.state.setdefault("totals", {})
    ctx.old_total = totals.get(ctx.metric.id, 0.0)
    ctx.new_total = ctx.old_total + ctx.value
    totals[ctx.metric.id] = ctx.new_total
    run.writes.add(
        "metric_events",
        {
            "id": ctx.event_id,
            "user_id": player.id,
            "metric_id": ctx.metric.id,
            "value": ctx.value,
            "occurred_at": ctx.now,
            "local_date": ctx.local_date,
            "timezone": tz,
            "idempotency_key": key,
            "attributes": ctx.event_attributes,
        },
    )
    run.writes.add(
        "metric_totals",
        {"user_id": player.id, "metric_id": ctx.metric.id, "total": ctx.new_total, "updated_at": ctx.now},
    )
    ctx.response = {
        "event_id": ctx.event_id,
        "metric": ctx.metric.key,
        "metric_total": ctx.new_total,
        "idempotent_replayed": False,
        "control": ctx.player.control,
    }
    for f in FEATURES:
        f.apply(ctx)
    if key is not None:
        run.batch_keys[(player.id, ctx.metric.id, key)] = ctx
    latest = player.state.get("latest_at")
    if latest is None or ctx.now > latest:
        player.state["latest_at"] = ctx.now  # a later event of the batch is checked against this one


def _sync_orm(events: list[EventIn], players: dict[int, Player]) -> None:
    """User rows the caller holds: tell the ORM what the write just stored (no reload needed)."""
    for ev in events:
        u = ev.user
        if isinstance(u, User) and u.id in players:
            p = players[u.id]
            set_committed_value(u, "timezone", p.timezone)
            if p.seen_at is not None:
                set_committed_value(u, "last_seen_at", p.seen_at)
            if p.profile_changed:
                set_committed_value(u, "attributes", p.attributes)


def process_event(
    metric_key: str,
    user,
    value: Any = 1,
    tz: Optional[str] = None,
    attributes: Optional[dict] = None,
    idempotency_key: Optional[str] = None,
    now: Optional[datetime] = None,
    options: Optional[dict] = None,
    commit: bool = True,
) -> dict:
    """One event: its response, or EventError (nothing recorded)."""
    options = options or {}
    result = process_batch(
        [
            EventIn(
                metric_key,
                user,
                value,
                tz,
                attributes,
                idempotency_key,
                options.get("action"),
                options.get("difficulty"),
                now,
            )
        ],
        now=now,
        commit=False,
    )[0]
    if result.error is not None:
        db.session.rollback()
        raise result.error
    if commit:
        db.session.commit()
    return result.response
