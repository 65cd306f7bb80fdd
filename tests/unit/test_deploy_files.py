"""deploy/ stays in step with the code: every environment variable gamify, gunicorn.conf.py or the
worker reads is in the environment template, and the systemd units start what exists."""

import re
from pathlib import Path

from gamify.queue import QUEUES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

# os.environ.get("X" / os.environ["X"] / _bool("X", …) (config.py's boolean reader)
_READ = re.compile(r"""(?:environ\.get\(|environ\[|_bool\()\s*["']([A-Z][A-Z0-9_]+)["']""")


def _variables_read() -> set[str]:
    sources = [*(ROOT / "gamify").rglob("*.py"), ROOT / "gunicorn.conf.py"]
    return {name for path in sources for name in _READ.findall(path.read_text())}


def test_the_environment_template_lists_every_variable_the_code_reads():
    template = (DEPLOY / "gamify.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", template, re.M))
    read = _variables_read()
    assert {"DATABASE_URL", "SECRET_KEY", "METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY"} <= read
    assert read - listed == set(), "add these to deploy/gamify.env.example"


def test_the_units_start_what_exists():
    units = {p.name: p.read_text() for p in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {
        "gamify-web.service",
        "gamify-worker@.service",
        "gamify-scheduler.service",
        "gamify-migrate.service",
    }
    for name, text in units.items():
        assert "EnvironmentFile=/etc/gamify/gamify.env" in text, name
    assert "gunicorn -c /opt/gamify/gunicorn.conf.py app:app" in units["gamify-web.service"]
    assert (ROOT / "gunicorn.conf.py").exists() and (ROOT / "app.py").exists()
    assert "-m gamify.worker --no-cron --queues" in units["gamify-worker@.service"]
    assert "-m gamify.worker --cron-only" in units["gamify-scheduler.service"]
    # The instances the deploy README enables are queues the worker accepts.
    readme = (DEPLOY / "README.md").read_text()
    instances = set(re.findall(r"gamify-worker@([a-z-]+)", readme))
    assert instances and instances <= set(QUEUES), instances
