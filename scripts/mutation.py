"""Mutation testing (`make mutation`): how many planted bugs the tests catch.

mutmut 3 (pinned in requirements.txt) rewrites every function of the mutated modules into many
small variants ("mutants": `<` for `<=`, `+ 1` for `+ 2`, a dropped argument...) and runs, for each,
the tests that reach that function; a mutant is *killed* when a test fails. Two groups, each with
its own mutmut configuration, working copy and cache under `.mutation/<group>/` (so a second run
only re-tests what changed):

- `engine`: `gamify/engine/` against the unit tests (pure functions, fast). Target 85 %.
- `event-path`: the event path's points, energy and ranking code against the integration tests
  that drive it through the database and Redis. Target 70 %.

Score = (killed + timed out) / (all mutants - those judged equivalent). Mutants no test reaches
count as survivors. Equivalent mutants (they cannot change behaviour) are listed with one line
each in `tests/mutation_equivalent.txt` and not tested again (`--recheck-equivalent` tests them).
The report goes to `docs/mutation.md`; the exit status is 1 when a group is below its target.

What a run costs is mostly the tests each mutant waits for (tests/mutation_slots.py): a killed
mutant stops at its first failing test, so the test that caught the function's other mutants runs
first (`.mutation/<group>/kills.txt`); a surviving one runs every test that reaches its function.

    .venv/bin/python scripts/mutation.py [--group engine|event-path] [--jobs N] [--fresh]
                                         [--only 'gamify.pipeline.energy.*'] [--survivors] [--report]
                                         [--recheck-equivalent]

While working on one module's tests, `--only PATTERN` (mutmut names, `*` wildcards; repeatable)
re-tests just those mutants and `--survivors` just the last run's survivors; the report then still
counts every mutant of the group with its latest result.
"""

from __future__ import annotations

import argparse
import filecmp
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("VENV", ROOT / ".venv")) / "bin"
WORK = ROOT / ".mutation"
REPORT = ROOT / "docs" / "mutation.md"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.txt"

GROUPS = {
    "engine": {
        "target": 85.0,
        "only_mutate": ["gamify/engine/*"],
        "tests": ["tests/unit"],
    },
    "event-path": {
        "target": 70.0,
        "only_mutate": [
            # The event's way (validate, lock, load, compute, write: what services/events.py
            # exposes), its points and energy steps, points changed outside events (admin,
            # refills, triggers), and the live ranking (ranks, ties, rank changes).
            "gamify/pipeline/core.py",
            "gamify/pipeline/points.py",
            "gamify/pipeline/energy.py",
            "gamify/services/points.py",
            "gamify/services/leaderboards/ranking.py",
        ],
        "tests": [
            "tests/integration/test_event_pipeline.py",
            "tests/integration/test_points.py",
            "tests/integration/test_points_ledger.py",
            "tests/integration/test_energy_pipeline.py",
            "tests/integration/test_energy_service.py",
            "tests/integration/test_energy_api.py",
            "tests/integration/test_leaderboards_ranking.py",
            "tests/integration/test_leaderboards_service.py",
            "tests/integration/test_api.py",
            # The events series (pipeline/core.py's _count), from the rest of the metrics tests.
            "tests/integration/test_ops_metrics.py::test_events_by_metric_and_outcome_and_batch_sizes",
            "tests/integration/test_ops_metrics.py::test_a_refused_transaction_counts_no_created_event",
        ],
        # Slow tests of those files that exercise other code (gifts, Redis outages, archiving, sign-up
        # races): every surviving mutant they reach would wait for them.
        "deselect": [
            "tests/integration/test_energy_service.py::test_gift_moves_energy_on_accept",
            "tests/integration/test_energy_service.py::test_gift_credit_is_capped_and_refused_when_full",
            "tests/integration/test_energy_service.py::test_gift_refusals",
            "tests/integration/test_energy_service.py::test_daily_gift_limits_follow_the_local_day",
            "tests/integration/test_energy_service.py::test_daily_received_limit",
            "tests/integration/test_energy_service.py::test_expire_gifts_is_idempotent_and_refunds_only_when_set",
            "tests/integration/test_leaderboards_service.py::test_redis_down_event_succeeds_and_rankings_catch_up",
            "tests/integration/test_leaderboards_service.py::test_archive_and_reset_lose_nothing_under_concurrent_writers",
            "tests/integration/test_api.py::test_parallel_identify_and_signup_race_without_errors",
        ],
    },
}

# Everything the selected tests read from the checkout (tests/unit/test_deploy_files.py reads deploy/,
# tests/unit/test_mutation_slots.py this script).
ALSO_COPY = ["tests", "templates", "static", "migrations", "deploy", "scripts", "app.py", "gunicorn.conf.py"]


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def sync(group: str) -> Path:
    """The group's working copy: the repository's tracked and new files, copied where they changed
    (mutmut's cache in mutants/ stays), with the group's [tool.mutmut] section."""
    dest = WORK / group
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = {f for f in files if not f.startswith(("bench/results", "docs/screenshots"))}
    for rel in sorted(wanted):
        src, dst = ROOT / rel, dest / rel
        if not src.is_file():
            continue
        if dst.exists() and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    for top in ("gamify", "tests"):  # files deleted upstream
        for p in (dest / top).rglob("*.py") if (dest / top).exists() else []:
            if str(p.relative_to(dest)) not in wanted:
                p.unlink()
    cfg = GROUPS[group]
    deselect = [f"--deselect={t}" for t in cfg.get("deselect", [])]
    pyproject = (ROOT / "pyproject.toml").read_text()
    section = (
        "[tool.mutmut]\n"
        'source_paths = ["gamify/"]\n'
        f"only_mutate = {_toml_list(cfg['only_mutate'])}\n"
        f"also_copy = {_toml_list(ALSO_COPY + ['pyproject.toml'])}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(cfg['tests'])}\n"
        f"pytest_add_cli_args = {_toml_list(['-q', '-p', 'no:cacheprovider', '-x', *deselect])}\n"
        # mutmut's wall-clock limit is (the tests' measured time + the constant) x the multiplier (the CPU
        # limit twice that): the default constant of 1 s would time out a mutant whose one short test
        # waited for a busy machine, and count it as caught; the default multiplier of 15 let each mutant
        # that loops forever in the energy simulation hold a worker for 3.5 minutes.
        "timeout_constant = 4.0\n"
        "timeout_multiplier = 4.0\n"
    )
    pyproject = re.sub(r"\[tool\.mutmut\]\n(?:[^\[].*\n?)*", section, pyproject)
    (dest / "pyproject.toml").write_text(pyproject)
    return dest


class Slots:
    """Where the forked test sessions run (tests/mutation_slots.py): one SQLite file and one Redis server
    per mutant tested at once, plus one for mutmut's own runs, handed to the tests in
    GAMIFY_MUTATION_SLOTS. The servers are stopped, and the files removed, at the end."""

    def __init__(self, where: Path, count: int):
        self.dir = where / "slots"
        shutil.rmtree(self.dir, ignore_errors=True)  # a schema from an older run must not be reused
        self.dir.mkdir(parents=True)
        self.slots = []
        for i in range(count):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            self.slots.append(
                {
                    "db": str(self.dir / f"{i}.db"),
                    "lock": str(self.dir / f"{i}.lock"),
                    "port": port,
                    "dir": str(self.dir),
                }
            )

    def env(self) -> dict:
        return {"GAMIFY_MUTATION_SLOTS": json.dumps(self.slots)}

    def stop(self) -> None:
        import redis  # noqa: PLC0415 - the venv's, only needed here

        for slot in self.slots:  # the tests start them, detached (a test may stop and restart one)
            try:
                redis.Redis(port=slot["port"], socket_connect_timeout=1).shutdown(nosave=True)
            except redis.ConnectionError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def results(where: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(VENV_BIN / "mutmut"), "results", "--all", "true"], cwd=where, capture_output=True, text=True
    ).stdout
    found = {}
    for line in out.splitlines():
        if ": " in line:
            name, status = line.strip().rsplit(": ", 1)
            found[name] = status
    return found


def module_of(mutant: str) -> str:
    """gamify.engine.energy.xǁBoostSpanǁactive_at__mutmut_3 -> gamify/engine/energy.py"""
    head = re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]
    return head.replace(".", "/") + ".py"


def equivalent() -> dict[str, str]:
    if not EQUIVALENT.exists():
        return {}
    found = {}
    for line in EQUIVALENT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, why = line.partition(" ")
            found[name] = why.strip(" #-")
    return found


KILLED = {"killed", "timeout"}


# A run stopped part-way leaves mutants "not checked": left out of the score, and the report says how many.
NOT_COUNTED = {"skipped", "not checked"}


def score(statuses: dict[str, str], equiv: dict[str, str]) -> tuple[int, int, float]:
    counted = {n: s for n, s in statuses.items() if n not in equiv and s not in NOT_COUNTED}
    killed = sum(1 for s in counted.values() if s in KILLED)
    return killed, len(counted), 100.0 * killed / len(counted) if counted else 100.0


def run_group(
    group: str,
    jobs: int,
    fresh: bool,
    only: list[str] | None = None,
    survivors: bool = False,
    recheck: bool = False,
) -> dict:
    where = sync(group)
    if fresh:
        shutil.rmtree(where / "mutants", ignore_errors=True)
    from_scratch = not (where / "mutants").exists()
    kills = where / "kills.txt"  # tests/mutation_slots.py: which test caught which mutant, to try it first
    if from_scratch:
        kills.unlink(missing_ok=True)
    names = list(only or [])
    if survivors:
        equiv = equivalent()
        last = results(where) if (where / "mutants").exists() else {}
        picked = [n for n, s in last.items() if s not in KILLED and s not in NOT_COUNTED and n not in equiv]
        if names:  # both: the survivors among the named mutants
            picked = [n for n in picked if any(fnmatch.fnmatch(n, pat) for pat in names)]
        if not picked:
            print(f"== mutation: {group}: no survivors to re-test ==", flush=True)
            return summarise(group, where, 0.0)
        names = picked
    started = time.monotonic()
    print(f"== mutation: {group} (in {where.relative_to(ROOT)}) ==", flush=True)
    slots = Slots(where, jobs + 1)
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "HYPOTHESIS_PROFILE")}
    # Mutants judged equivalent are not tested again (no test can catch one: each cost a full run of its
    # function's tests); --recheck-equivalent tests them too, to find a judgement a code change made stale.
    skip_equivalent = {} if recheck else {"GAMIFY_MUTATION_SKIP_EQUIVALENT": "\n".join(equivalent())}
    try:
        proc = subprocess.run(
            [str(VENV_BIN / "mutmut"), "run", "--max-children", str(jobs), *names],
            cwd=where,
            env={"GAMIFY_MUTATION_KILLS": str(kills), **skip_equivalent, **env, **slots.env()},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        slots.stop()
    took = time.monotonic() - started
    (where / "mutmut.log").write_text(proc.stdout)  # mutmut's own output, for a failed run
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:])
        raise SystemExit(f"mutmut failed for {group} (exit {proc.returncode})")
    record_time(where, took, "scratch" if from_scratch else ("part" if names else "cached"))
    return summarise(group, where, took)


def record_time(where: Path, took: float, kind: str) -> None:
    """How long the group's runs took (times.json): the last one, and the last from an empty cache
    (every mutant tested: what `make mutation` costs on a fresh checkout)."""
    path = where / "times.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    entry = {"seconds": round(took), "kind": kind, "at": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    times["last"] = entry
    if kind == "scratch":
        times["scratch"] = entry
    path.write_text(json.dumps(times, indent=1))


def times_of(group: str) -> dict:
    path = WORK / group / "times.json"
    return json.loads(path.read_text()) if path.exists() else {}


def summarise(group: str, where: Path, took: float) -> dict:
    statuses = results(where)
    if not statuses:
        raise SystemExit(f"mutmut has no results for {group}")
    equiv = {n: w for n, w in equivalent().items() if n in statuses}
    per_module: dict[str, Counter] = defaultdict(Counter)
    for name, status in statuses.items():
        per_module[module_of(name)]["equivalent" if name in equiv else status] += 1
    killed, counted, pct = score(statuses, equiv)
    survivors = sorted(n for n, s in statuses.items() if s not in KILLED and n not in equiv and s not in NOT_COUNTED)
    return {
        "group": group,
        "target": GROUPS[group]["target"],
        "killed": killed,
        "counted": counted,
        "score": pct,
        "per_module": per_module,
        "survivors": survivors,
        "untested": sum(1 for s in statuses.values() if s == "not checked"),
        "total": len(statuses),
        "equivalent": equiv,
        "seconds": took,
        "times": times_of(group),
    }


def write_report(runs: list[dict]) -> None:
    lines = [
        "# Mutation testing",
        "",
        "Written by `make mutation` (scripts/mutation.py, mutmut). Score = (killed + timed out) / (mutants - "
        "equivalent); mutants no test reaches count as survivors. Equivalent mutants are listed with a reason in "
        "`tests/mutation_equivalent.txt`.",
        "",
    ]
    for r in runs:
        mark = "meets" if r["score"] >= r["target"] else "BELOW"
        if r["untested"]:
            mark += " so far"
        took = []
        for kind, label in (("scratch", "every mutant tested (empty cache)"), ("last", "last run")):
            t = r["times"].get(kind)
            if t and (kind == "scratch" or t["kind"] != "scratch"):
                took.append(f"{label}: {t['seconds'] / 60:.1f} min ({t['at']} UTC, {t['kind']})")
        lines += [
            f"## {r['group']}: {r['score']:.1f} % ({r['killed']} of {r['counted']}; target {r['target']:.0f} %, "
            f"{mark})",
            "",
            "Time on this machine: " + ("; ".join(took) or "not recorded") + ".",
            "",
            *(
                [
                    f"**Partial**: {r['untested']} of {r['total']} mutants not tested yet (the last run was "
                    "stopped); the score counts the tested ones. `make mutation` goes on from there.",
                    "",
                ]
                if r["untested"]
                else []
            ),
            "| module | killed | timeout | survived | no tests | equivalent | not tested yet | score |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for mod in sorted(r["per_module"]):
            c = r["per_module"][mod]
            counted = sum(c.values()) - c["equivalent"] - c["skipped"] - c["not checked"]
            pct = 100.0 * (c["killed"] + c["timeout"]) / counted if counted else 100.0
            lines.append(
                f"| `{mod}` | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']} | "
                f"{c['equivalent']} | {c['not checked']} | {pct:.1f} % |"
            )
        where = f".mutation/{r['group']}"
        lines += ["", f"Surviving mutants ({len(r['survivors'])}; `mutmut show <name>` in `{where}`):", ""]
        lines += [f"- `{n}`" for n in r["survivors"]] or ["- none"]
        lines.append("")
    REPORT.write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--group", choices=sorted(GROUPS), action="append", help="default: every group")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    ap.add_argument("--fresh", action="store_true", help="forget the cache and test every mutant again")
    ap.add_argument("--only", action="append", metavar="PATTERN", help="re-test only these mutants (fnmatch)")
    ap.add_argument("--survivors", action="store_true", help="re-test only the last run's survivors")
    ap.add_argument("--report", action="store_true", help="only write the report from the cached results")
    ap.add_argument(
        "--recheck-equivalent",
        action="store_true",
        help="also test the mutants tests/mutation_equivalent.txt judges equivalent (skipped by default)",
    )
    args = ap.parse_args()
    groups = [] if args.report else (args.group or list(GROUPS))
    runs = [run_group(g, args.jobs, args.fresh, args.only, args.survivors, args.recheck_equivalent) for g in groups]
    done = {r["group"] for r in runs}
    # The report keeps every group: those not run this time from their cached results.
    others = [summarise(g, WORK / g, 0.0) for g in GROUPS if g not in done and (WORK / g / "mutants").exists()]
    runs = sorted(runs + others, key=lambda r: list(GROUPS).index(r["group"]))
    write_report(runs)
    ok = True
    for r in runs:
        met = r["score"] >= r["target"]
        ok &= met
        print(
            f"{r['group']}: {r['score']:.1f} % killed ({r['killed']}/{r['counted']}), target {r['target']:.0f} % "
            f"{'met' if met else 'NOT met'}; {len(r['survivors'])} survivors; {r['seconds'] / 60:.1f} min"
            + (f"; PARTIAL: {r['untested']} mutants not tested yet" if r["untested"] else "")
        )
    print(f"report: {REPORT.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
