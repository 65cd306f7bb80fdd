"""Retention by signup cohort from player_activity_days, gamified against control, with Newcombe's interval
for the difference (values by hand and from Newcombe 1998)."""

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from gamify.extensions import db
from gamify.models import PlayerActivityDay, User
from gamify.services import analytics_retention as ret
from tests import factories as f


def test_wilson_interval_by_hand():
    # 81/263 (Newcombe 1998, single proportion example): 0.2553 to 0.3662.
    lo, hi = ret.wilson(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    # 0/10: p = 0, z² = 3.8415: centre = (z²/20) / (1 + z²/10) = 0.19207/1.38415 = 0.13876 = half, upper 0.2775.
    assert ret.wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))


def test_difference_interval_newcombe_example():
    # Newcombe (1998), Table II example (a): 56/70 − 48/80 = 0.2000, method 10: 0.0524 to 0.3339.
    d, lo, hi = ret.difference(56, 70, 48, 80)
    assert round(d, 4) == 0.2 and round(lo, 4) == 0.0524 and round(hi, 4) == 0.3339
    assert ret.difference(1, 2, 0, 0) is None


def _player(name, control, days):
    u = User(
        external_id=name, timezone="UTC", attributes={}, control_group=control, created_at=datetime.now(timezone.utc)
    )
    db.session.add(u)
    db.session.flush()
    for d in days:
        db.session.add(PlayerActivityDay(user_id=u.id, day=d))
    return u


def world():
    M = lambda d: date(2026, 3, d)  # noqa: E731
    # Today: Monday 30 March, so days up to Sunday 29 March are over.
    _player("a", False, [M(2), M(3), M(9), M(23)])  # first day Mon 2: active D1, D7, D21 (week 3)
    _player("b", False, [M(3), M(10)])  # first day Tue 3: D7 only
    _player("c", True, [M(2)])  # control, first day Mon 2: never back
    _player("d", False, [M(24), M(25)])  # cohort of 23 March: D1
    ret.roll_up(M(1), M(30))
    db.session.commit()


def test_day_n_retention_and_the_triangle(app):
    world()
    data = ret.retention(weeks=5, today=date(2026, 3, 30))
    s = {row["day"]: row for row in data["summary"]}
    g1, c1 = s[1]["gamified"], s[1]["control"]
    assert (g1.retained, g1.players) == (2, 3)  # a and d came back the next day, b did not
    assert (c1.retained, c1.players) == (0, 1)
    g7 = s[7]["gamified"]
    assert (g7.retained, g7.players) == (2, 2)  # d's day 7 (31 March) is not over yet
    assert s[30]["gamified"].players == 0
    # D1 difference: 2/3 − 0/1.
    d, lo, hi = s[1]["difference"]
    assert d == pytest.approx(2 / 3) and lo < 0 < hi  # one control player: no conclusion
    assert data["curves"]["Gamified"][0] == 100.0 and data["curves"]["Gamified"][7] == 100.0

    rows = {r["week"]: r["groups"] for r in data["cohorts"]}
    assert list(rows) == [date(2026, 3, 2) + timedelta(weeks=k) for k in range(5)]
    march2 = rows[date(2026, 3, 2)]["Gamified"]
    assert march2["players"] == 2
    cells = [(c.retained, c.players) if c else None for c in march2["weeks"]]
    # Week 3 (days 21..27) is over for a (to 29 March) but not for b (to 30 March).
    assert cells == [(2, 2), (2, 2), (0, 2), (1, 1), None]
    assert rows[date(2026, 3, 2)]["Control group"]["weeks"][1].retained == 0
    assert rows[date(2026, 3, 23)]["Gamified"]["weeks"][0] is None  # d: days 0..6 end on 30 March


def test_pages_and_csv(app, client):
    world()
    f.admin()
    f.login(client, "admin@example.com")
    r = client.get("/admin/analytics/retention")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Cohort triangle" in html and 'id="chart-retention_curve"' in html and "D30" in html
    r = client.get("/admin/analytics/retention/summary.csv")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:3] == ["day", "gamified_retained", "gamified_players"] and [x[0] for x in rows[1:]] == [
        "D1",
        "D7",
        "D30",
    ]
    assert client.get("/admin/analytics/retention/cohorts.csv").status_code == 200
    assert client.get("/admin/analytics/retention/curve.csv").get_data(as_text=True).startswith("day_after_signup,")
    assert client.get("/admin/analytics/retention/nope.csv").status_code == 404
