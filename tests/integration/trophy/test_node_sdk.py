"""Trophy's official Node SDK (`@trophyso/node`, pinned in tests/node/package-lock.json) against the live
server: tests/node/trophy_sdk.mjs makes the event, streak and leaderboard calls with the SDK's own response
checks on. Skipped, saying so, only where Node is not installed; the SDK is installed with `npm ci` when
tests/node/node_modules is missing (the npm registry must then be reachable)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parents[2] / "node"


@pytest.fixture(scope="session")
def node_sdk():
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js (node and npm) is not installed: the @trophyso/node check needs Node 18 or later")
    if not (NODE_DIR / "node_modules" / "@trophyso" / "node").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"npm ci in {NODE_DIR} failed:\n{done.stdout}\n{done.stderr}"
    return node


def test_the_node_sdk_records_events_and_reads_streaks_and_leaderboards(node_sdk, live_server, api_key, world):
    env = {**os.environ, "GAMIFY_URL": live_server, "GAMIFY_API_KEY": api_key}
    run = subprocess.run(
        [node_sdk, "trophy_sdk.mjs"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, f"the Node SDK script failed:\n{run.stdout}\n{run.stderr}"
    got = json.loads(run.stdout.strip().splitlines()[-1])
    # ann's 10 words (replayed once: nothing added), bob's 25. XP (conftest.world): 10 per word and 5 for
    # the first-words achievement, all doubled by the boost: (100 + 5) x 2.
    assert got["event"] == {"total": 10, "replayed": True, "replayTotal": 10, "streak": 1}
    assert got["points"] == 210
    assert got["streak"] == {"length": 1, "frequency": "daily", "history": 3}
    assert got["streaks"] == [["ann", 1], ["bob", 1]]
    assert got["boards"] == ["words-all"]
    assert got["rankings"] == [["bob", 1, 25], ["ann", 2, 10]]
    assert got["mine"] == {"rank": 2, "value": 10}
