"""The players of a batch: locked in id order (with the configuration counter and the features' own
locks, in one statement), created on first sight without races, and their host-app profile."""

from __future__ import annotations

from typing import Optional

from ..extensions import db
from ..models import ROLE_PLAYER, User
from ..services import achievements as achievements_svc
from ..services import users as users_svc
from ..services.upsert import dialect_insert
from .base import FEATURES, EventError, Feature, Part, Player, Run, UserRef
from .sql import BOOL, INT, JSON, TEXT, Dialect

_PLAYER_COLUMNS = [
    ("id", "u.id", INT),
    ("external_id", "u.external_id", TEXT),
    ("display_name", "u.display_name", TEXT),
    ("email", "u.email", TEXT),
    ("timezone", "u.timezone", TEXT),
    ("attributes", "u.attributes", JSON),
    ("role", "u.role", TEXT),
    ("control_group", "u.control_group", BOOL),
]


def _lock_parts(d: Dialect, ids: set[int], exts: set[str]) -> list[Part]:
    """The players, locked in id order (FOR NO KEY UPDATE: it excludes another event of the same player
    but not the key-share locks of rows inserted elsewhere that reference them), and the configuration
    counter."""
    lock = " FOR NO KEY UPDATE OF u" if d.pg else ""
    cols = ", ".join(expr for _n, expr, _k in _PLAYER_COLUMNS)
    return [
        Part(
            "players",
            [(n, f"u.{n}", k) for n, _e, k in _PLAYER_COLUMNS],
            f"(SELECT {cols} FROM users u WHERE {d.in_list('u.id', 'lock_ids')} OR "
            f"{d.in_list('u.external_id', 'lock_exts')} ORDER BY u.id{lock}) AS u",
            {"lock_ids": d.list_param(sorted(ids)), "lock_exts": d.list_param(sorted(exts))},
        ),
        Part("config_version", [("version", "c.version", INT)], "config_version c WHERE c.id = 1"),
    ] + (
        [
            Part(
                "plans",
                [("mode", "g.mode", TEXT)],
                # For the rest of this transaction: the pipeline's statements take their rows as JSON
                # parameters, so their best plan does not depend on the values; a cached generic plan
                # saves planning them on every event (SET LOCAL, as a function the statement can call).
                "(SELECT set_config('plan_cache_mode', 'force_generic_plan', true) AS mode) AS g",
            )
        ]
        if d.pg
        else []
    )


def lock(
    run: Run, ids: set[int], exts: set[str], features: bool = True
) -> tuple[dict[int, Player], dict[str, int], int]:
    """One statement: lock the players, read the configuration counter, and take the features' own
    locks (leaderboards: the board rows FOR SHARE)."""
    d = run.dialect
    parts: list[tuple[Optional[Feature], Part]] = [(None, p) for p in _lock_parts(d, ids, exts)]
    if features:
        for f in FEATURES:
            parts += [(f, p) for p in f.lock(run)]
    rows = run.select(parts)
    players, by_ext = {}, {}
    for r in rows[None]["players"]:
        players[r["id"]] = Player(
            r["id"],
            r["external_id"],
            r["display_name"] or "",
            r["email"],
            r["timezone"] or "UTC",
            dict(r["attributes"] or {}),
            r["role"],
            control=bool(r["control_group"]),
        )
        if r["external_id"] is not None:
            by_ext[r["external_id"]] = r["id"]
    version = rows[None]["config_version"]
    if features:
        for f in FEATURES:
            f.locked(run, rows.get(f, {}))
    return players, by_ext, int(version[0]["version"]) if version else 0


def create(run: Run, refs: list[UserRef]) -> None:
    """Players seen for the first time: created in external-id order (so two batches creating the same
    ones queue instead of deadlocking), with everything a new player gets (signup points, streak row)."""

    ratio = users_svc.control_ratio() if refs else 0
    for ref in sorted(refs, key=lambda r: r.external_id):
        email = ref.email.lower() if ref.email else None  # checked free by the caller
        stmt = (
            dialect_insert(User)
            .values(
                external_id=ref.external_id,
                role=ROLE_PLAYER,
                timezone="UTC",
                attributes=dict(ref.attributes or {}),
                display_name=ref.name or ref.external_id,
                email=email,
                created_at=run.now,
                control_group=users_svc.in_control_group(ref.external_id, ratio),
            )
            .on_conflict_do_nothing(index_elements=["external_id"])
            .returning(User.id)
        )
        new_id = db.session.execute(stmt).scalar()
        if new_id is not None:
            run.created[new_id] = None
            achievements_svc.players_changed()
            users_svc.on_created(db.session.get(User, new_id))
    db.session.flush()


def profile(player: Player, ref: UserRef) -> None:
    """identify(): the host product's name, email and attributes for the player (email checked first, so
    a refused event changes nothing)."""
    email = clean_email(ref.email) if ref.email is not None else None
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


def clean_email(address: str) -> str:
    """services.users.clean_email, refusing with an EventError."""
    try:
        return users_svc.clean_email(address)
    except users_svc.UserError as e:
        raise EventError("user.email", str(e)) from e


def taken_emails(refs) -> set[str]:
    emails = {r.email.lower() for r in refs if r.email}
    if not emails:
        return set()
    return set(db.session.execute(db.select(User.email).where(User.email.in_(sorted(emails)))).scalars())
