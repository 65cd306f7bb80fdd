"""Closed-loop event load with Debian's `wrk` and bench/wrk/events.lua (C event loop, LuaJIT request
building): the ceiling (a wrong API key), single events, batches. Loopback only.

The generator's own CPU time comes from wait4() on the wrk process (user + system, all its threads),
so every result says how much of a core the generator used while the server was being measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "wrk" / "events.lua"
TIMEOUT_S = 30  # per request; slower answers count as wrk timeouts
# The generators run at a higher priority than the server when we may (root): on 2 shared cores a client
# that waits for the scheduler would send late and read late, which is not the server's doing. They use
# little CPU (see generator_cpu), so this takes almost nothing from the server.
GENERATOR_NICE = -5 if os.geteuid() == 0 else 0


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        subprocess.run(["bash", str(ROOT / "scripts" / "wrk.sh"), "ensure"], check=True)
        path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (scripts/wrk.sh ensure)")
    return path


class CpuSampler:
    """Whole-machine CPU busy share between start() and stop(), from /proc/stat (all cores)."""

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    def __enter__(self):
        self.t0, self.i0 = self._read()
        return self

    def __exit__(self, *exc):
        t1, i1 = self._read()
        total = t1 - self.t0
        self.busy_share = round(1 - (i1 - self.i0) / total, 3) if total > 0 else None
        return False


_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int, reaped: bool = True) -> float:
    """CPU seconds of a live process (user + system), plus its reaped children's when `reaped`; 0 if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
    return ticks / _TICKS


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree_cpu(pid: int) -> float:
    """A server process and all its descendants (gunicorn's workers; the worker supervisor's RQ workers,
    their schedulers and work horses): CPU seconds so far. Descendants that exited and were reaped are
    in their parent's cutime/cstime, so deltas stay whole."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += _proc_cpu(p)
        todo += _children(p)
    return total


def postgres_backends_cpu(dbname: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `dbname` (its process title names the database)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {dbname} ".encode() in title:
            out[int(entry)] = _proc_cpu(int(entry), reaped=False)
    return out


class ServerCpu:
    """CPU used by the server side during a phase, as a share of one core: gunicorn (master + workers),
    the RQ worker (+ its work horses) and, on PostgreSQL, the backends of the bench database (those that
    lived through the whole phase: pooled connections do)."""

    def __init__(self, pids: dict[str, int], pg_database: str | None = None):
        self.pids, self.pg_database = pids, pg_database

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.c0 = {k: tree_cpu(p) for k, p in self.pids.items()}
        self.pg0 = postgres_backends_cpu(self.pg_database) if self.pg_database else {}
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        self.result = {k: round((tree_cpu(p) - self.c0[k]) / wall, 3) for k, p in self.pids.items()}
        if self.pg_database:
            pg1 = postgres_backends_cpu(self.pg_database)
            self.result["postgres"] = round(sum(v - self.pg0[k] for k, v in pg1.items() if k in self.pg0) / wall, 3)
        return False


def run_measured(argv: list[str], timeout_s: float) -> tuple[str, str, int, dict]:
    """Run a child to completion; returns (stdout, stderr, exit code, cpu): its CPU seconds (user+system
    from wait4, i.e. exactly this process and its threads), wall seconds and the whole machine's busy share."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, CpuSampler() as machine:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdout=out,
            stderr=err,
            preexec_fn=(lambda: os.nice(GENERATOR_NICE)) if GENERATOR_NICE else None,
        )
        deadline = t0 + timeout_s
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    cpu = ru.ru_utime + ru.ru_stime
    return (
        stdout,
        stderr,
        proc.returncode,
        {
            "cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 2),
            "nice": GENERATOR_NICE,
            "share_of_one_core": round(cpu / wall, 3) if wall else None,
            "machine_busy_share": machine.busy_share,
        },
    )


def run(
    base_url: str,
    *,
    mode: str,
    api_key: str,
    metric: str,
    players: int,
    seconds: float,
    connections: int,
    nonce: str,
    action_fraction: float = 0.0,
    batch_size: int = 1,
    max_responses: int = 0,
    seed: int = 1,
) -> dict:
    """One wrk run. `connections` threads with one connection each. Bounded by `seconds` and, per
    connection, by `max_responses` (0: by time only). Returns counts, rates and latency (ms)."""
    u = urlparse(base_url)
    assert u.hostname in ("127.0.0.1", "localhost"), "load tests only target loopback"
    seconds = max(1, int(round(seconds)))
    argv = [
        wrk_binary(),
        "-t",
        str(connections),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        f"{TIMEOUT_S}s",
        "-s",
        str(SCRIPT),
        base_url,
        "--",
        mode,
        api_key,
        metric,
        str(players),
        str(action_fraction),
        nonce,
        str(max_responses),
        str(batch_size),
        str(seed),
    ]
    stdout, stderr, rc, cpu = run_measured(argv, timeout_s=seconds + TIMEOUT_S + 30)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if rc != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {rc}): {stderr.strip()[-500:]} {stdout.strip()[-500:]}")
    raw = json.loads(line[len("WRK_JSON ") :])
    received = raw["received"]
    capped = bool(max_responses) and received >= max_responses * connections
    # wrk's main thread sleeps the full duration even when every thread stopped at its cap: then the span
    # from the first request to the last response is the run's real length.
    elapsed = raw["span_s"] if capped and raw["span_s"] > 0 else raw["duration_us"] / 1e6
    lat = raw["latency_ms"]
    statuses = {str(k): v for k, v in sorted(raw["statuses"].items())}
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    out = {
        "generator": "wrk",
        "mode": mode,
        "connections": connections,
        "seconds": round(elapsed, 2),
        "requests": received,
        "per_second": round(received / elapsed, 1) if elapsed else None,
        "ok_per_second": round(ok / elapsed, 1) if elapsed else None,
        "statuses": statuses,
        "socket_errors": {k: v for k, v in raw["errors"].items() if k != "status" and v},
        "capped": capped,
        **(
            {
                "p50_ms": round(lat["p50"], 2),
                "p95_ms": round(lat["p95"], 2),
                "p99_ms": round(lat["p99"], 2),
                "max_ms": round(lat["max"], 2),
                "mean_ms": round(lat["mean"], 2),
            }
            if lat["n"]
            else {}
        ),
        "wrk_corrected_p99_ms": round(raw["wrk_corrected_latency_ms"]["p99"], 2),
        "generator_cpu": cpu,
    }
    if mode == "batch":
        out["batch_size"] = batch_size
        out["events_sent_ok"] = ok * batch_size
    return out
