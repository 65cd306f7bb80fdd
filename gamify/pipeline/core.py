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

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Optional, Union

from sqlalchemy import text
from sqlalchemy.orm.attributes import set_committed_value

from .. import after_commit
from ..engine import calendar as cal
from ..extensions import db
from ..models import ROLE_PLAYER, User
from ..models._common import utcnow
from ..services import snapshot
from ..services.snapshot import MetricDef, Snapshot
from . import writes as writes_mod
from .sql import BOOL, DATETIME, INT, JSON, TEXT, Dialect

MAX_BATCH = 1000


class EventError(ValueError):
    """An event that cannot be recorded; `field` names what to fix (the API answers a 4xx with it)."""

    def __init__(self, field: str, message: str, status: int = 400, **extra):
        super().__init__(message)
        self.field, self.status, self.extra = field, status, extra

    def as_json(self) -> dict:
        return {"error": {"message": str(self), **({"field": self.field} if self.field else {}), **self.extra}}


@dataclass
class UserRef:
    """A player named by the host product's id, created on first sight (profile fields are optional
    updates: attributes merge into the stored ones)."""
    external_id: str
    name: Optional[str] = None
    email: Optional[str] = None
    attributes: Optional[dict] = None


@dataclass
class EventIn:
    """One event as a caller hands it in: `user` is a User row, a user id or a UserRef."""
    metric: str
    user: Union[User, int, UserRef]
    value: Any = 1
    tz: Optional[str] = None
    attributes: Any = None
    idempotency_key: Any = None
    action: Any = None
    difficulty: Any = None
    now: Optional[datetime] = None  # when it happened (default: when the batch arrived)


@dataclass
class Player:
    """A locked player and, under `state`, what each feature loaded for them."""
    id: int
    external_id: Optional[str]
    display_name: str
    email: Optional[str]
    timezone: str
    attributes: dict
    role: str
    seen_at: Optional[datetime] = None
    profile_changed: bool = False
    state: dict = field(default_factory=dict)


@dataclass
class EventCtx:
    """One event while features compute it. Earlier features leave their results for later ones:
    `streak_length`/`streak_extended` (streaks), `unlocked` (achievements), `points` (points, the
    response block), and every feature adds its block to `response`."""
    index: int  # position in the caller's list
    seq: int  # position among the batch's recordable events
    run: "Run"
    player: Player
    metric: MetricDef
    value: float
    tz: str
    now: datetime
    local_date: date
    attributes: dict  # the player's attributes overlaid with the event's
    event_attributes: dict
    idempotency_key: Optional[str]
    action: Any
    difficulty: Any
    profile: Optional[UserRef] = None  # the host product's name/email/attributes sent with the event
    event_id: int = 0
    old_total: float = 0.0
    new_total: float = 0.0
    response: dict = field(default_factory=dict)
    streak_length: Optional[int] = None
    streak_extended: bool = False
    unlocked: list = field(default_factory=list)
    points: dict = field(default_factory=dict)
    scratch: dict = field(default_factory=dict)  # per feature, e.g. the energy spend planned in check()


class Feature:
    """What a feature implements to take part in the pipeline (every method optional)."""

    name = "feature"

    def lock(self, run: "Run") -> list["Part"]:
        """Subqueries of the lock statement (after the players' locks): the feature's own locks."""
        return []

    def locked(self, run: "Run", rows: dict[str, list[dict]]) -> None:
        """What the lock statement returned for this feature's parts."""

    def load(self, run: "Run") -> list["Part"]:
        """Subqueries for the one load statement."""
        return []

    def loaded(self, run: "Run", rows: dict[str, list[dict]]) -> None:
        """Build per-player state (`player.state[self.name]`) from the rows of this feature's parts."""

    def refuse(self, run: "Run", event: EventIn) -> None:
        """Refuse an event the configuration alone rules out (EventError), before players are created:
        a refused event leaves no trace, not even its new player."""

    def check(self, ctx: EventCtx) -> None:
        """Refuse the event by raising EventError, before any feature changed anything."""

    def apply(self, ctx: EventCtx) -> None:
        """Apply the event to the state, add rows to `ctx.run.writes` and a block to `ctx.response`."""

    def replay(self, ctx: EventCtx) -> None:
        """Answer a repeated idempotency key: describe the current state in `ctx.response`."""

    def finish(self, run: "Run") -> None:
        """After every event of the batch, before the write (e.g. ranks that need the whole batch)."""

    def written(self, run: "Run", returned: list) -> None:
        """After the write, in the transaction (e.g. values the database computed)."""


FEATURES: list[Feature] = []


def register(feature: Feature) -> None:
    if all(f.name != feature.name for f in FEATURES):
        FEATURES.append(feature)


@dataclass
class Part:
    """One subquery of the load statement: `sql` is a FROM ... WHERE ... clause, `columns` what each
    row carries ((name, SQL expression, kind), ...), params its bind values."""
    name: str
    columns: list
    sql: str
    params: dict = field(default_factory=dict)


class Run:
    """A batch being processed: the locked players, the loaded state, the collected writes."""

    def __init__(self, dialect: Dialect, conn, now: datetime):
        self.dialect, self.conn, self.now = dialect, conn, now
        self.snap: Snapshot = None  # type: ignore[assignment]
        self.players: dict[int, Player] = {}
        self.ctxs: list[EventCtx] = []
        self.writes = writes_mod.Writes()
        self.state: dict = {}  # per feature
        self.event_ids: list[int] = []
        self.created: dict[int, Optional[int]] = {}  # players created by this batch -> seq of their 1st event
        self.stored_keys: dict[tuple, int] = {}  # (user, metric, key) -> event id already recorded
        self.batch_keys: dict[tuple, EventCtx] = {}  # ... recorded earlier in this batch

    def players_created_after(self, ctx: EventCtx) -> int:
        """Players this batch created whose first event comes after `ctx` (sent one by one, they would
        not exist yet when ctx is recorded)."""
        return sum(1 for seq in self.created.values() if seq is None or seq > ctx.seq)

    def emit(self, type_: str, user_id: Optional[int], payload: dict, event_id: Optional[int], now: datetime):
        """A domain event (webhooks, e-mails read the outbox) written with the batch; the dispatcher is
        asked for once the batch commits."""
        if not self.writes.rows.get("domain_events"):
            after_commit.request("outbox")
        self.writes.add("domain_events", {"type": type_, "user_id": user_id, "payload": payload,
                                          "source_event_id": event_id, "created_at": now})

    def notify(self, user_id: int, type_: str, title: str, body: str, link: str, now: datetime):
        self.writes.add("notifications", {"user_id": user_id, "type": type_, "title": title, "body": body or "",
                                          "link": link or "", "created_at": now})


# ------------------------------------------------------------------------------------------ validation

def _validate(ev: EventIn) -> tuple[float, Optional[str], dict, Optional[str]]:
    value = ev.value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError("value", "value must be a finite number")
    if ev.tz is not None:
        if not isinstance(ev.tz, str):
            raise EventError("tz", "tz must be an IANA timezone name such as 'Europe/London'")
        try:
            cal.zone(ev.tz)
        except cal.InvalidTimezone as e:
            raise EventError("tz", str(e))
    attrs = ev.attributes
    if attrs is not None and not isinstance(attrs, dict):
        raise EventError("attributes", "attributes must be an object of string keys")
    if attrs and not all(isinstance(v, (str, int, float, bool)) or v is None for v in attrs.values()):
        raise EventError("attributes", "attribute values must be strings, numbers or booleans")
    key = ev.idempotency_key
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        raise EventError("idempotency_key", "idempotency_key must be a string of 1 to 255 characters")
    if not isinstance(ev.metric, str) or not ev.metric:
        raise EventError("metric", "metric must be a metric key")
    return float(value), ev.tz, dict(attrs or {}), key


# ------------------------------------------------------------------------------------------ players

_PLAYER_COLUMNS = [("id", "u.id", INT), ("external_id", "u.external_id", TEXT),
                   ("display_name", "u.display_name", TEXT), ("email", "u.email", TEXT),
                   ("timezone", "u.timezone", TEXT), ("attributes", "u.attributes", JSON), ("role", "u.role", TEXT)]


def _lock_parts(d: Dialect, ids: set[int], exts: set[str]) -> list[Part]:
    """The players, locked in id order (FOR NO KEY UPDATE: it excludes another event of the same player
    but not the key-share locks of rows inserted elsewhere that reference them), and the configuration
    counter."""
    lock = " FOR NO KEY UPDATE OF u" if d.pg else ""
    cols = ", ".join(expr for _n, expr, _k in _PLAYER_COLUMNS)
    return [
        Part("players", [(n, f"u.{n}", k) for n, _e, k in _PLAYER_COLUMNS],
             f"(SELECT {cols} FROM users u WHERE {d.in_list('u.id', 'lock_ids')} OR "
             f"{d.in_list('u.external_id', 'lock_exts')} ORDER BY u.id{lock}) AS u",
             {"lock_ids": d.list_param(sorted(ids)), "lock_exts": d.list_param(sorted(exts))}),
        Part("config_version", [("version", "c.version", INT)], "config_version c WHERE c.id = 1"),
    ] + ([Part("plans", [("mode", "g.mode", TEXT)],
               # For the rest of this transaction: the pipeline's statements take their rows as JSON
               # parameters, so their best plan does not depend on the values; a cached generic plan
               # saves planning them on every event (SET LOCAL, as a function the statement can call).
               "(SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS mode) AS g")] if d.pg else [])


def _lock_players(run: Run, ids: set[int], exts: set[str], features: bool = True
                  ) -> tuple[dict[int, Player], dict[str, int], int]:
    """One statement: lock the players, read the configuration counter, and take the features' own
    locks (leaderboards: the board rows FOR SHARE)."""
    d = run.dialect
    parts: list[tuple[Optional[Feature], Part]] = [(None, p) for p in _lock_parts(d, ids, exts)]
    if features:
        for f in FEATURES:
            parts += [(f, p) for p in f.lock(run)]
    rows = _select_parts(run, parts)
    players, by_ext = {}, {}
    for r in rows[None]["players"]:
        players[r["id"]] = Player(r["id"], r["external_id"], r["display_name"] or "", r["email"], r["timezone"] or "UTC",
                                  dict(r["attributes"] or {}), r["role"])
        if r["external_id"] is not None:
            by_ext[r["external_id"]] = r["id"]
    version = rows[None]["config_version"]
    if features:
        for f in FEATURES:
            f.locked(run, rows.get(f, {}))
    return players, by_ext, int(version[0]["version"]) if version else 0


_select_sql: dict[tuple, Any] = {}


def _select_parts(run: Run, parts: list) -> dict:
    """One SELECT of the parts' JSON aggregates; returns {feature (None: core): {part name: rows}}."""
    d = run.dialect
    key = (d.name,) + tuple(p.name + "\x00" + p.sql for _f, p in parts)
    stmt = _select_sql.get(key)
    if stmt is None:
        stmt = _select_sql[key] = text("SELECT " + ", ".join(
            f"{d.json_rows(p.columns, p.sql)} AS {p.name}" for _f, p in parts))
    params: dict = {}
    for _f, p in parts:
        params.update(p.params)
    row = run.conn.execute(stmt, params).one()
    out: dict = {}
    for (f, p), raw in zip(parts, row):
        out.setdefault(f, {})[p.name] = d.parse_rows(raw, p.columns)
    return out


def _create_players(run: Run, refs: list[UserRef]) -> None:
    """Players seen for the first time: created in external-id order (so two batches creating the same
    ones queue instead of deadlocking), with everything a new player gets (signup points, streak row)."""
    from ..services import achievements as achievements_svc
    from ..services import users as users_svc  # the signup rules live with the users service
    from ..services.upsert import dialect_insert
    for ref in sorted(refs, key=lambda r: r.external_id):
        email = ref.email.lower() if ref.email else None  # checked free by the caller
        stmt = dialect_insert(User).values(
            external_id=ref.external_id, role=ROLE_PLAYER, timezone="UTC", attributes=dict(ref.attributes or {}),
            display_name=ref.name or ref.external_id, email=email, created_at=run.now, control_group=False,
        ).on_conflict_do_nothing(index_elements=["external_id"]).returning(User.id)
        new_id = db.session.execute(stmt).scalar()
        if new_id is not None:
            run.created[new_id] = None
            achievements_svc.players_changed()
            users_svc.on_created(db.session.get(User, new_id))
    db.session.flush()


def _profile(player: Player, ref: UserRef) -> None:
    """identify(): the host product's name, email and attributes for the player (email checked first, so
    a refused event changes nothing)."""
    email = ref.email.lower() if ref.email is not None else None
    if email is not None and email != player.email:
        other = db.session.execute(db.select(User.id).where(User.email == email)).scalar()
        if other is not None and other != player.id:
            raise EventError("user.email", "that email belongs to another user")
        player.email, player.profile_changed = email, True
    if ref.name is not None and ref.name != player.display_name:
        player.display_name, player.profile_changed = ref.name, True
    if ref.attributes:
        merged = {**player.attributes, **ref.attributes}
        if merged != player.attributes:
            player.attributes, player.profile_changed = merged, True


def _taken_emails(refs) -> set[str]:
    emails = {r.email.lower() for r in refs if r.email}
    if not emails:
        return set()
    return set(db.session.execute(db.select(User.email).where(User.email.in_(sorted(emails)))).scalars())


# ------------------------------------------------------------------------------------------ load

def _load(run: Run) -> None:
    parts: list[tuple[Optional[Feature], Part]] = [(None, p) for p in _core_parts(run)]
    for f in FEATURES:
        parts += [(f, p) for p in f.load(run)]
    rows = _select_parts(run, parts)
    _core_loaded(run, rows.get(None, {}))
    for f in FEATURES:
        f.loaded(run, rows.get(f, {}))


def _core_parts(run: Run) -> list[Part]:
    d = run.dialect
    uids = d.list_param(sorted(run.players))
    mids = d.list_param(sorted({c.metric.id for c in run.ctxs}))
    parts = [Part("metric_totals", [("user_id", "t.user_id", INT), ("metric_id", "t.metric_id", INT),
                                    ("total", "t.total", "float")],
                  f"metric_totals t WHERE {d.in_list('t.user_id', 'uids')} AND {d.in_list('t.metric_id', 'mids')}",
                  {"uids": uids, "mids": mids})]
    keys = sorted({c.idempotency_key for c in run.ctxs if c.idempotency_key is not None})
    if keys:
        parts.append(Part("stored_keys", [("id", "e.id", INT), ("user_id", "e.user_id", INT),
                                          ("metric_id", "e.metric_id", INT), ("key", "e.idempotency_key", TEXT)],
                          f"metric_events e WHERE {d.in_list('e.user_id', 'uids')} AND "
                          f"{d.in_list('e.idempotency_key', 'keys')}",
                          {"uids": uids, "keys": d.list_param(keys)}))
    # Event ids handed out now, so every derived row can name its event before anything is written.
    if d.pg:
        parts.append(Part("event_ids", [("id", "nextval(CAST(:event_seq AS regclass))", INT)],
                          "generate_series(1, :n_events) AS g", {"n_events": len(run.ctxs),
                                                                 "event_seq": _event_sequence()}))
    else:  # SQLite: this transaction holds the write lock, nobody else inserts meanwhile
        parts.append(Part("event_ids", [("id", "coalesce(e.m, 0)", INT)],
                          "(SELECT max(id) AS m FROM metric_events) AS e"))
    return parts


_sequence_name: list = []


def _event_sequence() -> str:
    if not _sequence_name:
        _sequence_name.append(db.session.execute(text(
            "SELECT pg_get_serial_sequence('metric_events', 'id')")).scalar())
    return _sequence_name[0]


def _core_loaded(run: Run, rows: dict) -> None:
    for r in rows.get("metric_totals", []):
        run.players[r["user_id"]].state.setdefault("totals", {})[r["metric_id"]] = r["total"]
    run.stored_keys = {(r["user_id"], r["metric_id"], r["key"]): r["id"] for r in rows.get("stored_keys", [])}
    ids = [r["id"] for r in rows.get("event_ids", [])]
    if run.dialect.pg:
        run.event_ids = ids
    else:
        base = ids[0] if ids else 0
        run.event_ids = list(range(base + 1, base + 1 + len(run.ctxs)))


# ------------------------------------------------------------------------------------------ the run

@dataclass
class Result:
    """One event's outcome: `response` (the API body) or `error`."""
    response: Optional[dict] = None
    error: Optional[EventError] = None

    @property
    def status(self) -> int:
        if self.error is not None:
            return self.error.status
        return 200 if self.response.get("idempotent_replayed") else 201

    def as_json(self) -> dict:
        return {"status": self.status, **(self.error.as_json() if self.error else self.response)}


def process_batch(events: list[EventIn], *, now: Optional[datetime] = None, commit: bool = True) -> list[Result]:
    """Record `events` in one transaction; one Result per event, in order. Events of one player apply
    in the order given; the outcome equals sending them one by one."""
    if len(events) > MAX_BATCH:
        raise EventError("events", f"at most {MAX_BATCH} events per batch")
    now = now or utcnow()
    session = db.session
    session.flush()  # pending ORM changes first: the pipeline reads and writes with plain statements
    conn = session.connection()
    run = Run(Dialect(conn.dialect.name), conn, now)
    results: list[Result] = [Result() for _ in events]

    # 1. validate
    valid: list[tuple[int, EventIn, tuple]] = []
    for i, ev in enumerate(events):
        try:
            valid.append((i, ev, _validate(ev)))
        except EventError as e:
            results[i].error = e

    # 2. lock the known players, read the configuration counter with them
    ids = {_user_id(ev) for _i, ev, _v in valid if not isinstance(ev.user, UserRef)}
    refs = {ev.user.external_id for _i, ev, _v in valid if isinstance(ev.user, UserRef)}
    players, by_ext, version = _lock_players(run, ids, refs)
    run.snap = snapshot.get(version)

    # 3. refuse what the configuration refuses; create the players seen for the first time (those with
    #    an event left to record: a bad event leaves no trace, as when sent alone), then lock them too
    accepted = []
    for i, ev, checked in valid:
        try:
            if ev.metric not in run.snap.metrics:
                raise EventError("metric", f"unknown metric '{ev.metric}'", 404)
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
        taken = _taken_emails(new_refs.values())
        for i, ev, _c in accepted:
            if isinstance(ev.user, UserRef) and ev.user.external_id in new_refs and ev.user.email \
                    and ev.user.email.lower() in taken:
                results[i].error = EventError("user.email", "that email belongs to another user")
        accepted = [a for a in accepted if results[a[0]].error is None]
        wanted = {ev.user.external_id for _i, ev, _c in accepted if isinstance(ev.user, UserRef)}
        create = [r for ext, r in new_refs.items() if ext in wanted]
        if create:
            _create_players(run, create)
            more, more_ext, _version = _lock_players(run, set(), {r.external_id for r in create}, features=False)
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
        if player.id in run.created and run.created[player.id] is None:
            run.created[player.id] = len(run.ctxs)
        run.ctxs.append(EventCtx(index=i, seq=len(run.ctxs), run=run, player=player, metric=run.snap.metrics[ev.metric], value=value,
                                 tz=tz or "", now=at, local_date=at.date(), attributes={}, event_attributes=attrs,
                                 idempotency_key=key, action=ev.action, difficulty=ev.difficulty,
                                 profile=ev.user if isinstance(ev.user, UserRef) else None))
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
            run.writes.add("users", {"id": p.id, "timezone": p.timezone, "last_seen_at": p.seen_at,
                                     "display_name": p.display_name, "email": p.email, "attributes": p.attributes})
    returned = writes_mod.flush(conn, run.dialect, run.writes)
    for f in FEATURES:
        f.written(run, returned)
    _sync_orm(events, players)
    if commit:
        session.commit()
    else:
        session.expire_all()  # ORM rows loaded earlier in this session may predate the write
    return results


def _user_id(ev: EventIn) -> int:
    return ev.user if isinstance(ev.user, int) else ev.user.id


def _apply(run: Run, ctx: EventCtx) -> None:
    player = ctx.player
    if ctx.profile is not None:
        _profile(player, ctx.profile)
    key = ctx.idempotency_key
    if key is not None:
        k = (player.id, ctx.metric.id, key)
        prior = run.batch_keys.get(k)
        stored = run.stored_keys.get(k)
        if prior is not None or stored is not None:
            ctx.event_id = prior.event_id if prior is not None else stored
            ctx.scratch["replay_of"] = prior
            totals = player.state.setdefault("totals", {})
            ctx.response = {"event_id": ctx.event_id, "metric": ctx.metric.key,
                            "metric_total": totals.get(ctx.metric.id, 0.0), "idempotent_replayed": True,
                            "achievements": [], "points": {}, "streak": None}
            ctx.tz = player.timezone
            ctx.local_date = cal.local_date(ctx.now, ctx.tz)
            ctx.attributes = dict(player.attributes)
            for f in FEATURES:
                f.replay(ctx)
            return
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
    run.writes.add("metric_events", {
        "id": ctx.event_id, "user_id": player.id, "metric_id": ctx.metric.id, "value": ctx.value,
        "occurred_at": ctx.now, "local_date": ctx.local_date, "timezone": tz, "idempotency_key": key,
        "attributes": ctx.event_attributes})
    run.writes.add("metric_totals", {"user_id": player.id, "metric_id": ctx.metric.id, "total": ctx.new_total,
                                     "updated_at": ctx.now})
    ctx.response = {"event_id": ctx.event_id, "metric": ctx.metric.key, "metric_total": ctx.new_total,
                    "idempotent_replayed": False}
    for f in FEATURES:
        f.apply(ctx)
    if key is not None:
        run.batch_keys[(player.id, ctx.metric.id, key)] = ctx


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


def process_event(metric_key: str, user, value: Any = 1, tz: Optional[str] = None,
                  attributes: Optional[dict] = None, idempotency_key: Optional[str] = None,
                  now: Optional[datetime] = None, options: Optional[dict] = None, commit: bool = True) -> dict:
    """One event: its response, or EventError (nothing recorded)."""
    options = options or {}
    result = process_batch([EventIn(metric_key, user, value, tz, attributes, idempotency_key,
                                    options.get("action"), options.get("difficulty"), now)],
                           now=now, commit=False)[0]
    if result.error is not None:
        db.session.rollback()
        raise result.error
    if commit:
        db.session.commit()
    return result.response


__all__ = ["EventError", "EventIn", "UserRef", "Feature", "Part", "Run", "EventCtx", "Player", "Result",
           "register", "process_batch", "process_event", "BOOL", "DATETIME", "JSON"]
