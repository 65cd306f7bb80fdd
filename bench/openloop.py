"""Open-loop event load at a fixed offered rate (asyncio, raw HTTP/1.1 on loopback).

Request i is scheduled at t0 + i / rate whatever happened to earlier requests, and its latency is
measured from that intended time, not from when it was actually sent: a server that stalls is charged for
every request that should have gone out meanwhile (no coordinated omission). Every request gets its own
task; connections are kept alive when the server allows it (gunicorn's sync workers close them, so most
requests open one), and nothing waits for a free connection. Bounded in count (rate x seconds) and in time
(requests still unanswered `drain` seconds after the last intended start count as timeouts, with the
time waited so far as their latency).

    python bench/openloop.py '<json spec>'   # prints one JSON line

The body of each event is built as bench/wrk/events.lua builds it: a random player bench-NNNNN, a unique
idempotency key, `action_fraction` of the events sent as the energy action "lesson" with a difficulty.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from urllib.parse import urlparse

DIFFICULTIES = ("easy", "medium", "medium", "hard")


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def build_requests(spec: dict) -> list[bytes]:
    rng = random.Random(spec.get("seed", 1))
    u = urlparse(spec["base_url"])
    path = f"/api/v1/metrics/{spec['metric']}/event"
    out = []
    for i in range(spec["n"]):
        body = {
            "user": {"id": f"bench-{rng.randrange(spec['players']):05d}"},
            "value": rng.choice((1, 1, 2)),
            "idempotency_key": f"{spec['nonce']}-{i}",
        }
        if rng.random() < spec.get("action_fraction", 0.0):
            body.update(value=1, action="lesson", difficulty=rng.choice(DIFFICULTIES))
        data = json.dumps(body, separators=(",", ":")).encode()
        out.append(
            f"POST {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nX-API-Key: {spec['api_key']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
    return out


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep_alive) of one response; the body is read and dropped."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before the response")
    parts = status_line.split(None, 2)
    version, status = parts[0], int(parts[1])
    length, keep = 0, version == b"HTTP/1.1"
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value == b"keep-alive" or (keep and value != b"close")
        elif name == b"transfer-encoding" and b"chunked" in value:
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def run(spec: dict) -> dict:
    u = urlparse(spec["base_url"])
    assert u.hostname in ("127.0.0.1", "localhost"), "load tests only target loopback"
    rate, n = float(spec["rate"]), int(spec["n"])
    drain = float(spec.get("drain", 30))
    reqs = build_requests(spec)
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    send_lags: list[float] = []
    statuses: dict[str, int] = {}
    state = {"in_flight": 0, "max_in_flight": 0, "connections_opened": 0, "last_done": 0.0}

    async def one(i: int, intended: float) -> None:
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        send_lags.append(loop.time() - intended)
        conn = idle.pop() if idle else None
        status = 599
        try:
            if conn is None:
                conn = await asyncio.open_connection(u.hostname, u.port)
                state["connections_opened"] += 1
            reader, writer = conn
            writer.write(reqs[i])
            status, keep = await read_response(reader)
            if keep:
                idle.append(conn)
            else:
                writer.close()
            conn = None
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            status = 599
        finally:
            if conn is not None:
                conn[1].close()
            state["in_flight"] -= 1
        now = loop.time()
        latencies.append(now - intended)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        state["last_done"] = now

    tasks = []
    t0 = loop.time() + 0.1
    for i in range(n):
        intended = t0 + i / rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one(i, intended)))
    last_intended = t0 + (n - 1) / rate
    pending = [t for t in tasks if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=max(0.0, last_intended + drain - loop.time()))
    unfinished = [t for t in tasks if not t.done()]
    end = loop.time()
    for t in unfinished:
        t.cancel()
    # Requests still open: timed out, charged the time waited so far (a lower bound of their latency).
    starts = {id(t): t0 + i / rate for i, t in enumerate(tasks)}
    for t in unfinished:
        latencies.append(end - starts[id(t)])
        statuses["timeout"] = statuses.get("timeout", 0) + 1
    if unfinished:
        await asyncio.gather(*unfinished, return_exceptions=True)
    for _r, w in idle:
        w.close()
    lat = sorted(latencies)
    lags = sorted(send_lags)
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    span = (state["last_done"] or end) - t0
    ms = lambda v: None if v is None else round(v * 1000, 2)  # noqa: E731
    return {
        "generator": "asyncio open loop",
        "offered_per_second": round(rate, 2),
        "requests": n,
        "scheduled_seconds": round(n / rate, 2),
        "achieved_per_second": round(ok / span, 2) if span > 0 else None,
        "statuses": dict(sorted(statuses.items())),
        "timeouts": len(unfinished),
        "p50_ms": ms(percentile(lat, 50)),
        "p95_ms": ms(percentile(lat, 95)),
        "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None),
        "mean_ms": ms(sum(lat) / len(lat) if lat else None),
        # How late the generator itself sent requests (event-loop lag): small means the schedule was kept.
        "send_lag_p99_ms": ms(percentile(lags, 99)),
        "send_lag_max_ms": ms(lags[-1] if lags else None),
        "max_in_flight": state["max_in_flight"],
        "connections_opened": state["connections_opened"],
    }


def main() -> None:
    spec = json.loads(sys.argv[1])
    t0 = time.perf_counter()
    result = asyncio.run(run(spec))
    result["process_seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
