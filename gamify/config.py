"""Configuration from environment variables, with embedded defaults for a laptop."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _bool(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.lower() in ("1", "true", "yes", "on")


def _db_url(url: str) -> str:
    if url.startswith("postgres://"):  # Heroku-style URLs
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def from_env() -> dict:
    INSTANCE.mkdir(exist_ok=True)
    db_url = _db_url(os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE / 'gamify.db'}"))
    replica_url = os.environ.get("DATABASE_REPLICA_URL")
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-insecure-change-me"),
        "SQLALCHEMY_DATABASE_URI": db_url,
        # PostgreSQL at scale (gamify/database.py): a streaming replica for the lag-tolerant read-only
        # pages (unset: the primary), pools per process, statement timeouts, PgBouncer (transaction mode).
        "DATABASE_REPLICA_URL": _db_url(replica_url) if replica_url else None,
        "DATABASE_POOL_SIZE": int(os.environ.get("DATABASE_POOL_SIZE", "2")),
        "DATABASE_MAX_OVERFLOW": int(os.environ.get("DATABASE_MAX_OVERFLOW", "2")),
        "DATABASE_POOL_TIMEOUT": float(os.environ.get("DATABASE_POOL_TIMEOUT", "10")),
        "DATABASE_POOL_RECYCLE": int(os.environ.get("DATABASE_POOL_RECYCLE", "1800")),
        "DATABASE_CONNECT_TIMEOUT": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
        "DATABASE_STATEMENT_TIMEOUT_MS": int(os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", "15000")),
        "DATABASE_JOB_STATEMENT_TIMEOUT_MS": int(os.environ.get("DATABASE_JOB_STATEMENT_TIMEOUT_MS", "0")),
        "DATABASE_PGBOUNCER": _bool("DATABASE_PGBOUNCER", False),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"),
        # Redis by role (each falls back to REDIS_URL; see README "Redis by role"): the live rankings
        # (may be a Redis Cluster: REDIS_RANKINGS_CLUSTER=1 or a redis+cluster:// URL), the rate-limit
        # counters (Flask-Limiter's storage URI: redis+cluster://host:port,... for a cluster) and the RQ
        # queues (one Redis: RQ needs MULTI/EXEC across its keys).
        "REDIS_RANKINGS_URL": os.environ.get("REDIS_RANKINGS_URL") or None,
        "REDIS_RANKINGS_CLUSTER": _bool("REDIS_RANKINGS_CLUSTER", False),
        "REDIS_RATELIMIT_URL": os.environ.get("REDIS_RATELIMIT_URL") or None,
        "REDIS_QUEUE_URL": os.environ.get("REDIS_QUEUE_URL") or None,
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "8025")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "gamify <noreply@gamify.local>"),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", "http://127.0.0.1:5000"),
        # Backfills touching more users than this run in an RQ job instead of the request.
        "BACKFILL_INLINE_LIMIT": int(os.environ.get("BACKFILL_INLINE_LIMIT", "500")),
        # Connections idle for a while are pinged before use (gamify._ping_when_idle), not every checkout.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "RATE_LIMIT_LOGIN": os.environ.get("RATE_LIMIT_LOGIN", "10 per minute"),
        "RATE_LIMIT_EVENTS": os.environ.get("RATE_LIMIT_EVENTS", "300 per second"),
        # Refused API keys per client address (guessing keys), on every API route.
        "RATE_LIMIT_AUTH_FAILURES": os.environ.get("RATE_LIMIT_AUTH_FAILURES", "20 per minute"),
        "RATE_LIMIT_LOGIN_ACCOUNT": os.environ.get("RATE_LIMIT_LOGIN_ACCOUNT", "10 per 15 minutes"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        # Webhooks to loopback/private addresses (also an admin setting); off: no request forgery.
        "WEBHOOKS_ALLOW_PRIVATE": _bool("WEBHOOKS_ALLOW_PRIVATE", False),
        # Behind this many reverse proxies, the client address is taken from X-Forwarded-For (werkzeug's
        # ProxyFix); 0 trusts nobody's header: the socket's peer is the client.
        "PROXY_FIX_X_FOR": int(os.environ.get("PROXY_FIX_X_FOR", "0")),
        # Log lines: "text" (a terminal) or "json" (one object per line, for a log shipper); see ops/logs.py.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text").lower(),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").upper(),
        # GET /metrics answers only with "Authorization: Bearer <this>"; unset: /metrics is a 404.
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or None,
        # Web Push (README "Push notifications"): the VAPID key pair from the environment, else made once
        # into VAPID_KEY_FILE (never in the repository); the subject is a mailto: or https: contact.
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY") or None,
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY") or None,
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT") or None,
        "VAPID_KEY_FILE": os.environ.get("VAPID_KEY_FILE", str(INSTANCE / "vapid_private.pem")),
        "WEBPUSH_ENABLED": _bool("WEBPUSH_ENABLED", True),
        # Push endpoints on loopback/private addresses (tests, a push service on the same network).
        "WEBPUSH_ALLOW_PRIVATE": _bool("WEBPUSH_ALLOW_PRIVATE", False),
        # Local hours without push notifications ("22-8"; "" for none): a push is held until they end.
        "PUSH_QUIET_HOURS": os.environ.get("PUSH_QUIET_HOURS", "22-8"),
        # Mobile push for host apps (services/mobile_push.py): each sender is off until configured.
        "EXPO_PUSH_ENABLED": _bool("EXPO_PUSH_ENABLED", False),
        "EXPO_PUSH_URL": os.environ.get("EXPO_PUSH_URL", "https://exp.host/--/api/v2/push/send"),
        "EXPO_ACCESS_TOKEN": os.environ.get("EXPO_ACCESS_TOKEN") or None,
        "FCM_SERVICE_ACCOUNT_FILE": os.environ.get("FCM_SERVICE_ACCOUNT_FILE") or None,
        "FCM_PROJECT_ID": os.environ.get("FCM_PROJECT_ID") or None,
        "FCM_URL": os.environ.get("FCM_URL", "https://fcm.googleapis.com"),
        "FCM_TOKEN_URL": os.environ.get("FCM_TOKEN_URL") or None,  # default: the service account's token_uri
    }
