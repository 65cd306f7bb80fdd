"""The pipeline's vocabulary: events in (EventIn, UserRef), results out (Result, EventError), the
Feature interface every feature implements, and the Run a batch is computed in (players, loaded state,
collected writes). core.py drives a Run; the feature modules implement Feature."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Optional, Union

from sqlalchemy import text

from .. import after_commit
from ..models import User
from ..services.snapshot import MetricDef, Snapshot
from . import writes as writes_mod
from .sql import Dialect

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
    now: Optional[datetime] = None  # when it happened (default: when the batch arrived); trusted
    # A past moment the caller states (importing a product's history): checked, unlike `now` — not in
    # the future, and not before the player's latest recorded event (409), under the player's lock.
    occurred_at: Optional[datetime] = None


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
    control: bool = False  # the control group: the host app hides its gamification (the API says so)
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
    stated: bool = False  # `now` is the caller's occurred_at: checked against the player's latest event
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

    def select(self, parts: list) -> dict:
        """One SELECT of the parts' JSON aggregates; `parts`: [(feature or None for the core, Part)].
        Returns {feature: {part name: rows}}."""
        d = self.dialect
        # Keyed by everything the text is built from: a part that changes its columns gets a new statement.
        key = (d.name,) + tuple((p.name, p.sql, tuple(p.columns)) for _f, p in parts)
        stmt = _select_sql.get(key)
        if stmt is None:
            stmt = _select_sql[key] = text(
                "SELECT " + ", ".join(f"{d.json_rows(p.columns, p.sql)} AS {p.name}" for _f, p in parts)
            )
        params: dict = {}
        for _f, p in parts:
            params.update(p.params)
        row = self.conn.execute(stmt, params).one()
        out: dict = {}
        for (f, p), raw in zip(parts, row):
            out.setdefault(f, {})[p.name] = d.parse_rows(raw, p.columns)
        return out

    def players_created_after(self, ctx: EventCtx) -> int:
        """Players this batch created whose first event comes after `ctx` (sent one by one, they would
        not exist yet when ctx is recorded)."""
        return sum(1 for seq in self.created.values() if seq is None or seq > ctx.seq)

    def emit(self, type_: str, user_id: Optional[int], payload: dict, event_id: Optional[int], now: datetime):
        """A domain event (webhooks, e-mails read the outbox) written with the batch; the dispatcher is
        asked for once the batch commits."""
        if not self.writes.rows.get("domain_events"):
            after_commit.request("outbox")
        self.writes.add(
            "domain_events",
            {"type": type_, "user_id": user_id, "payload": payload, "source_event_id": event_id, "created_at": now},
        )

    def notify(
        self,
        user_id: int,
        type_: str,
        title: str,
        body: str,
        link: str,
        now: datetime,
        message: str = "",
        params: Optional[dict] = None,
    ):
        """`message` and `params`: the notice's key in gamify.notices (worded in the reader's language)."""
        self.writes.add(
            "notifications",
            {
                "user_id": user_id,
                "type": type_,
                "title": title,
                "body": body or "",
                "link": link or "",
                "message": message,
                "params": params,
                "created_at": now,
            },
        )


_select_sql: dict[tuple, Any] = {}


@dataclass
class Result:
    """One event's outcome: `response` (the API body) or `error`."""

    response: Optional[dict] = None
    error: Optional[EventError] = None

    @property
    def status(self) -> int:
        if self.error is not None:
            return self.error.status
        return 202 if self.response.get("idempotent_replayed") else 201

    def as_json(self) -> dict:
        return {"status": self.status, **(self.error.as_json() if self.error else self.response)}
