"""Leaderboards: SQL is the record, Redis sorted sets serve live rankings.

Redis key layout (board keys are [a-z0-9_-], periods "all" or an ISO date, segments "global" or
"attr:value"; every key of a board carries the hash tag {key}, so on a Redis Cluster they share one slot
and the Lua upsert, rebuilds and period closes run on one node; see gamify/redis_roles.py):

    lb:{key}:{period}:{segment}     ZSET  member = tie-break-encoded player (engine.encode_member),
                                          score = the exact primary score
    lbm:{key}:{period}:{segment}    HASH  user id -> "{version}|{member}" (finds a player's member; the
                                          version orders writes, so a late write never undoes a newer one)
    lbmeta:{key}                    STRING  present <=> Redis holds a complete copy of the board's open
                                          periods; missing (FLUSHALL, restart) => rebuilt from SQL on read
    lbc:{key}:{period}              STRING  the period was finalised: writes to it are dropped (they are
                                          in the SQL archive already)

(Here {key} is literal: the braces are part of the name, e.g. lb:{weekly}:2026-01-05:global.)

Writes (gamify/pipeline/leaderboards.py): inside the event transaction the pipeline updates
`leaderboard_scores` (holding FOR SHARE on the board rows, which finalisation and rebuild lock FOR
UPDATE); the Redis write runs after the commit (after_commit.defer) as one pipeline of a Lua upsert
script (`apply_writes`, here). If Redis is unreachable the event still succeeds: a warning is logged
and the board is marked dirty, so it is rebuilt from SQL on the next read.

Rank history (`leaderboard_rank_changes` + `leaderboard.rank_changed` outbox events): the acting
player's own changes are written with the event; those of the players it overtook by the rank fan-out
after the commit (services/rank_fanout.py, from `leaderboard_score_log`).

The package holds the rest, by concern: `boards` (look-ups and periods), `store` (the Redis copy: keys,
the Lua upsert, writes, rebuild), `ranking` (reads: pages, positions, a player's ranks), `finalise`
(closing periods into archived runs), `history` (past runs page by page, a player's rank history by day),
`config` (validation, create/update/delete, recompute from the ledgers), `cli`. Everything callers use
is imported here: `from gamify.services import leaderboards`.
"""

# The package's interface (and, underscored, what the event pipeline and tests reach into).
from ...engine import leaderboards as engine  # noqa: F401
from ...models._common import utcnow  # noqa: F401
from .boards import (  # noqa: F401
    GLOBAL,
    LeaderboardError,
    active_boards,
    all_boards,
    archived_run,
    by_id,
    by_key,
    current_period,
    get_run,
    has_run,
    has_started,
    is_open,
    open_period_filter,
    period_info,
    runs,
)
from .cli import cli  # noqa: F401
from .config import create, delete_board, recompute, update_board, validate_config  # noqa: F401
from .finalise import finalise_due  # noqa: F401
from .history import rank_history, runs_before  # noqa: F401
from .ranking import _slice, my_ranks, participants, position, rankings  # noqa: F401
from .scores import streak_lost, streak_restored  # noqa: F401
from .store import (  # noqa: F401
    CLOSED_TTL,
    _f,
    _mark_dirty,
    _num,
    _queue_markers,
    _Write,
    apply_writes,
    closed_key,
    drop_redis,
    ensure_redis,
    hkey,
    meta_key,
    queue_writes,
    rebuild,
    redis_step,
    zkey,
)
