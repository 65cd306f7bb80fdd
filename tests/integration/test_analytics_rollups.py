"""Analytics rollups: every series equals a direct count over the source tables on random (seeded) data,
and recomputing a range gives the same rows."""

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import text

from gamify import jobs
from gamify.extensions import db
from gamify.models import DailyCount, PlayerActivityDay, RollupDay
from gamify.services import analytics_rollups as ru
from tests import analytics_data
from tests.factories import utc

FIRST = analytics_data.FIRST


def _rows():
    counts = sorted((r.day, r.kind, r.key, r.value) for r in db.session.execute(db.select(DailyCount)).scalars())
    active = sorted((r.user_id, r.day) for r in db.session.execute(db.select(PlayerActivityDay)).scalars())
    return counts, active


def _series(kind):
    out = Counter()
    for r in db.session.execute(db.select(DailyCount).where(DailyCount.kind == kind)).scalars():
        out[(r.day, r.key)] = r.value
    return out


def _day(v):
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _utc_day(v):
    # SQLite hands back the stored UTC text, PostgreSQL an aware datetime: both name the UTC day.
    if isinstance(v, str):
        return date.fromisoformat(v[:10])
    return v.astimezone(utc(2000, 1, 1).tzinfo).date()


@pytest.mark.parametrize("seed", [1, 7])
def test_rollups_match_direct_sql(app, seed):
    data = analytics_data.build(seed)
    last = FIRST + timedelta(days=data["days"] - 1)
    ru.recompute(FIRST, last)
    db.session.commit()

    q = lambda sql: db.session.execute(text(sql)).all()  # noqa: E731
    expected = Counter()
    for d, m, n in q("SELECT local_date, metric_id, COUNT(*) FROM metric_events GROUP BY local_date, metric_id"):
        expected[(_day(d), str(m))] = n
    assert _series("events") == expected and sum(expected.values()) > 100

    expected = {(u, _day(d)) for u, d in q("SELECT DISTINCT user_id, local_date FROM metric_events")}
    assert {(u, d) for u, d in _rows()[1]} == expected

    # DAU/WAU/MAU: distinct players with an event in the 1, 7 and 30 local days ending each day.
    pairs = q("SELECT DISTINCT user_id, local_date FROM metric_events")
    expected = Counter()
    for i in range(data["days"]):
        day = FIRST + timedelta(days=i)
        for key, width in (("dau", 1), ("wau", 7), ("mau", 30)):
            expected[(day, key)] = len({u for u, d in pairs if day - timedelta(days=width) < _day(d) <= day})
    assert _series("active") == +expected

    expected = Counter()
    for d, o, ln in q("SELECT period_start, outcome, length FROM streak_periods"):
        key = {"extended": "extended", "frozen": "frozen", "broken": "lost"}.get(o)
        if key:
            expected[(_day(d), key)] += 1
        if o == "extended" and ln == 1:
            expected[(_day(d), "started")] += 1
    assert _series("streak") == expected

    expected = Counter()
    for at, a in q("SELECT completed_at, achievement_id FROM achievement_completions"):
        assert FIRST <= _utc_day(at) <= last
        expected[(_utc_day(at), str(a))] += 1
    assert _series("achievement") == +expected

    expected = Counter()
    for d, s, total in q(
        "SELECT local_date, system_id, SUM(amount) FROM points_awards WHERE amount > 0 GROUP BY local_date, system_id"
    ):
        expected[(_day(d), str(s))] = total
    assert _series("points") == expected

    names = {"consumption": "spent", "token_refill": "refilled", "gift_sent": "gifted"}
    expected = Counter()
    for at, t, amount in q("SELECT created_at, type, amount FROM energy_transactions"):
        if t in names and FIRST <= _utc_day(at) <= last:
            expected[(_utc_day(at), names[t])] += abs(amount)
    assert _series("energy") == +expected

    expected = Counter()
    for sent, clicked, ch in q("SELECT sent_at, clicked_at, channel FROM notification_deliveries"):
        if FIRST <= _utc_day(sent) <= last:
            expected[(_utc_day(sent), f"{ch}:sent")] += 1
        if clicked is not None and _utc_day(clicked) <= last:
            expected[(_utc_day(clicked), f"{ch}:clicked")] += 1
    assert _series("notification") == +expected

    # Levels at the end of each day: each player's summed awards up to it against the thresholds (10, 60).
    xp = data["systems"][0]
    lv = {x.threshold: x.id for x in xp.levels}
    expected = Counter()
    for i in range(data["days"]):
        day = FIRST + timedelta(days=i)
        for (total,) in q(
            f"SELECT SUM(amount) FROM points_awards WHERE system_id = {xp.id} "
            f"AND local_date <= '{day.isoformat()}' GROUP BY user_id"
        ):
            level = lv[60] if total >= 60 else lv[10] if total >= 10 else 0
            expected[(day, f"{xp.id}:{level}")] += 1
    got = Counter({k: v for k, v in _series("level").items() if k[1].startswith(f"{xp.id}:")})
    assert got == +expected and len(got) > 20


def test_rerunning_a_range_gives_the_same_rows(app):
    analytics_data.build(3, players=12, days=10)
    ru.recompute(FIRST, FIRST + timedelta(days=9))
    db.session.commit()
    before = _rows()
    ru.recompute(FIRST + timedelta(days=2), FIRST + timedelta(days=6))  # a middle part again
    db.session.commit()
    assert _rows() == before
    # A range in the middle also refreshes the active counts of the days after it.
    db.session.execute(db.delete(DailyCount).where(DailyCount.kind == "active", DailyCount.day == FIRST + timedelta(9)))
    ru.recompute(FIRST + timedelta(days=3), FIRST + timedelta(days=3))
    db.session.commit()
    assert _rows() == before
    ru.recompute(FIRST, FIRST + timedelta(days=9))
    db.session.commit()
    assert _rows() == before


def test_job_fills_missing_days_then_only_recent_ones(app):
    analytics_data.build(5, players=8, days=6)
    now = utc(2026, 3, 8, 12)  # data covers 1-6 March
    assert ru.missing_days(now.date()) == [FIRST + timedelta(days=i) for i in range(8)]
    out = ru.roll_up(now)
    db.session.commit()
    assert out["days"] == 8
    assert ru.missing_days(now.date()) == []
    assert ru.roll_up(now)["days"] == 2  # yesterday and today
    assert db.session.execute(db.select(db.func.count()).select_from(RollupDay)).scalar() == 8


def test_job_is_scheduled_hourly_and_runs(app):
    s = jobs.scheduled("analytics-rollups")
    assert s.cron == "41 * * * *"
    analytics_data.build(2, players=3, days=2)
    db.session.commit()
    assert jobs.roll_up_analytics()["days"] >= 2
    assert db.session.execute(db.select(db.func.count()).select_from(RollupDay)).scalar() >= 2


def test_backfill_command(app):
    analytics_data.build(4, players=4, days=3)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["analytics-backfill", "--from", "2026-03-01", "--to", "2026-03-03"])
    assert result.exit_code == 0, result.output
    assert "2026-03-01 .. 2026-03-03" in result.output
    assert sorted(db.session.execute(db.select(RollupDay.day)).scalars()) == [
        date(2026, 3, 1),
        date(2026, 3, 2),
        date(2026, 3, 3),
    ]
