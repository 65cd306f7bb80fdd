"""A small HTTP load generator (separate process from the server): keep-alive connections in
threads, fixed request count, latency percentiles. Loopback only."""

from __future__ import annotations

import http.client
import json
import random
import statistics
import sys
import threading
import time
from urllib.parse import urlparse


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def run(base_url: str, requests_: list[tuple[str, str, dict, bytes | None]], concurrency: int) -> dict:
    """requests_: (method, path, headers, body). Returns throughput and latency stats (ms)."""
    u = urlparse(base_url)
    assert u.hostname in ("127.0.0.1", "localhost"), "load tests only target loopback"
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    it = iter(requests_)

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                item = next(it, None)
            if item is None:
                break
            method, path, headers, body = item
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
                status = 599
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(dt)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "statuses": statuses,
    }


def event_requests(
    n: int, players: int, api_key: str, metric: str, seed: int = 1, action_fraction: float = 0.0, action: str = "lesson"
) -> list:
    """`action_fraction` of the events are sent as energy actions ({"action": ..., "difficulty": ...}):
    they spend the action's energy cost through the energy hook in the event's transaction."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = {
            "user": {"id": f"bench-{rng.randrange(players):05d}"},
            "value": rng.choice((1, 1, 2)),
            "idempotency_key": f"b{seed}-{i}",
        }
        if action_fraction and rng.random() < action_fraction:
            body.update(value=1, action=action, difficulty=rng.choice(("easy", "medium", "medium", "hard")))
        out.append(
            (
                "POST",
                f"/api/v1/metrics/{metric}/event",
                {"X-API-Key": api_key, "Content-Type": "application/json"},
                json.dumps(body).encode(),
            )
        )
    return out


if __name__ == "__main__":  # python bench/load.py '<json spec>' -> prints JSON stats
    spec = json.loads(sys.argv[1])
    if spec["kind"] == "events":
        reqs = event_requests(
            spec["n"],
            spec["players"],
            spec["api_key"],
            spec["metric"],
            spec.get("seed", 1),
            spec.get("action_fraction", 0.0),
            spec.get("action", "lesson"),
        )
    else:
        reqs = [("GET", p, spec.get("headers", {}), None) for p in spec["paths"]]
    print(json.dumps(run(spec["base_url"], reqs, spec["concurrency"])))
