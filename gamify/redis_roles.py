"""Redis by role: which Redis holds the live rankings, the rate-limit counters and the RQ queues, and
the rankings client, which may be a Redis Cluster. Nothing here knows a key layout (the leaderboard
store does); this module only routes commands to the right server.

Roles (settings, each falling back to REDIS_URL): REDIS_RANKINGS_URL, REDIS_RATELIMIT_URL (handed to
Flask-Limiter by gamify.security), REDIS_QUEUE_URL (gamify.queue: RQ, the dispatch flag). Rankings are a
copy of SQL, so they can live on a cluster (REDIS_RANKINGS_CLUSTER=1, or a `redis+cluster://` URL);
queues stay on one Redis (RQ's MULTI/EXEC spans many keys).
"""

from __future__ import annotations

from typing import Optional

import redis
from flask import current_app
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException

from .queue import get_redis  # the one cache of plain clients

ROLES = {"rankings": "REDIS_RANKINGS_URL", "ratelimit": "REDIS_RATELIMIT_URL", "queue": "REDIS_QUEUE_URL"}
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
# Short timeouts, so a Redis outage fails fast instead of hanging a request.
CLIENT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}

_clusters: dict[str, RedisCluster] = {}


def role_url(role: str) -> str:
    cfg = current_app.config
    return cfg.get(ROLES[role]) or cfg["REDIS_URL"]


def rankings_is_cluster() -> bool:
    return bool(current_app.config.get("REDIS_RANKINGS_CLUSTER")) or role_url("rankings").startswith(CLUSTER_SCHEMES)


def rankings_redis():
    """The rankings client: a plain pooled Redis (shared with the queue role when the URLs match, so an
    event's after-commit work stays one round trip), or a RedisCluster."""
    url = role_url("rankings")
    if not rankings_is_cluster():
        return get_redis(url)
    return cluster_client(url)


def role_client(role: str):
    """A client for the role's Redis, plain or cluster as its URL says (the rankings role: rankings_redis)."""
    if role == "rankings":
        return rankings_redis()
    url = role_url(role)
    return cluster_client(url) if url.startswith(CLUSTER_SCHEMES) else get_redis(url)


def cluster_client(url: str) -> RedisCluster:
    """One RedisCluster per URL (redis+cluster:// or redis://: the seed node)."""
    url = url.replace("+cluster", "", 1)
    client = _clusters.get(url)
    if client is None:
        try:
            client = RedisCluster.from_url(url, **CLIENT_OPTIONS)
        except RedisClusterException as e:  # raised while discovering the nodes: callers expect RedisError
            raise RedisConnectionError(f"Redis Cluster at {url}: {e}") from e
        _clusters[url] = client
    return client


def is_cluster(client) -> bool:
    return isinstance(client, RedisCluster)


def pipeline(client=None):
    """A non-transactional pipeline on the rankings Redis that accepts the Lua upsert on a cluster too."""
    client = client if client is not None else rankings_redis()
    return _NodeGroupedPipeline(client) if is_cluster(client) else client.pipeline(transaction=False)


def transaction(key: str, client=None):
    """A MULTI/EXEC pipeline for keys that share `key`'s hash slot: on a cluster, sent straight to the
    node that owns the slot (every key queued must carry the same hash tag)."""
    client = client if client is not None else rankings_redis()
    if is_cluster(client):
        return client.get_node_from_key(key).redis_connection.pipeline(transaction=True)
    return client.pipeline(transaction=True)


def scan(pattern: str, key: Optional[str] = None, client=None) -> list[bytes]:
    """Keys matching `pattern`. On a cluster SCAN is per node: with `key` (a key whose hash tag all the
    matches share), only the node owning that slot is scanned; without it, every primary."""
    client = client if client is not None else rankings_redis()
    if not is_cluster(client):
        return list(client.scan_iter(match=pattern, count=1000))
    nodes = [client.get_node_from_key(key)] if key is not None else client.get_primaries()
    return [k for n in nodes for k in n.redis_connection.scan_iter(match=pattern, count=1000)]


def _first_key(args) -> str:
    name = str(args[0]).upper()
    return args[3] if name in ("EVALSHA", "EVAL") else args[1]


class _NodeGroupedPipeline(redis.client.Pipeline):
    """redis-py's cluster pipeline refuses EVALSHA, so on a cluster the commands queued here are grouped
    by the node owning their key and sent as one plain pipeline per node (scripts loaded on each);
    replies come back in the order the commands were queued. Not atomic, like any cluster pipeline: a
    slot moving mid-flight answers MOVED for its commands, which callers treat as a failed write (the
    board is marked dirty and rebuilt from SQL)."""

    def __init__(self, cluster: RedisCluster):
        pool = cluster.get_default_node().redis_connection.connection_pool
        super().__init__(pool, {}, transaction=False, shard_hint=None)
        self.cluster = cluster

    def execute(self, raise_on_error: bool = True) -> list:
        stack, scripts = list(self.command_stack), set(self.scripts)
        self.reset()
        groups: dict[str, tuple] = {}
        for i, (args, options) in enumerate(stack):
            node = self.cluster.get_node_from_key(_first_key(args))
            groups.setdefault(node.name, (node, []))[1].append((i, args, options))
        replies: list = [None] * len(stack)
        for node, commands in groups.values():
            pipe = node.redis_connection.pipeline(transaction=False)
            pipe.scripts = set(scripts)
            for _, args, options in commands:
                pipe.execute_command(*args, **options)
            for (i, _, _), reply in zip(commands, pipe.execute(raise_on_error=False)):
                replies[i] = reply
        if raise_on_error:
            failed = next((r for r in replies if isinstance(r, Exception)), None)
            if failed is not None:
                raise failed
        return replies
