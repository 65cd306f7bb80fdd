"""gunicorn's settings for gamify (`gunicorn -c gunicorn.conf.py app:app`; deploy/gamify-web.service).

Every value can be set from the environment (deploy/gamify.env.example lists them). Metrics: with
PROMETHEUS_MULTIPROC_DIR set, each worker keeps its series in that directory and GET /metrics on any
worker sums them (gamify/ops/telemetry.py); `child_exit` tells prometheus-client when a worker is gone.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: the event path is short and database-bound; each worker holds one request at a time.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # a request stuck this long is killed (and logged)
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (plus jitter), bounding slow leaks.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Behind a reverse proxy on the same host: trust its X-Forwarded-* (PROXY_FIX_X_FOR sets what the app trusts).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# gunicorn's control socket (in $HOME by default) would be shared by every gunicorn of one user; the
# systemd unit restarts and reloads through signals instead.
control_socket_disable = True

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The request id the app returned (X-Request-ID) ties an access line to the app's own log lines.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s "%(a)s"'


def on_starting(server):
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # noqa: PLC0415 - only in multiprocess mode

        multiprocess.mark_process_dead(worker.pid)
