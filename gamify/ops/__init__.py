"""Operations: what an operator watches and probes. `health` (/healthz, /readyz), `telemetry`
(Prometheus series, /metrics), `logs` (request ids, JSON lines); routes here are
exempt from rate limits (security.apply_limits skips them), need no login and take no POSTs (no CSRF).
Nothing here may be needed for the app to serve players: a probe or scrape that fails changes nothing."""

from flask import Blueprint

bp = Blueprint("ops", __name__)
