"""Analytics API: the admin's figures over JSON (values by hand), the typed client, key required."""

from datetime import timedelta

from gamify.client import Client
from gamify.extensions import db
from gamify.models import DailyCount, MetricTotal, PlayerActivityDay, PointsBalance
from gamify.models._common import utcnow
from gamify.services import analytics_retention
from tests import factories as f

A = "/api/v1/analytics"


def test_trends(app, client):
    m = f.metric("lessons", "Lessons")
    today = utcnow().date()
    db.session.add(DailyCount(day=today, kind="events", key=str(m.id), value=7))
    db.session.add(DailyCount(day=today - timedelta(days=1), kind="active", key="dau", value=3))
    db.session.commit()
    h = {"X-API-Key": f.api_key()}
    body = client.get(f"{A}/trends?days=7&grain=day", headers=h).get_json()
    assert body["days"] == 7 and body["last"] == today.isoformat() and len(body["charts"][0]["periods"]) == 7
    charts = {c["id"]: c for c in body["charts"]}
    assert charts["events"]["series"] == [{"name": "Lessons", "values": [0, 0, 0, 0, 0, 0, 7]}]
    assert charts["active"]["series"][0]["values"][-2:] == [3, 0]
    r = client.get(f"{A}/trends?days=8", headers=h)
    assert r.status_code == 400 and "days must be one of 7, 30, 90" in r.get_data(as_text=True)
    assert client.get(f"{A}/trends?grain=month", headers=h).status_code == 400
    assert client.get(f"{A}/trends").status_code == 401


def test_retention(app, client):
    today = utcnow().date()
    start = today - timedelta(days=10)
    # Gamified: 3 players from `start`, 2 back the next day; control: 2 players, 1 back.
    for i, (control, back) in enumerate(((False, True), (False, True), (False, False), (True, True), (True, False))):
        u = f.player(f"p{i}")
        u.control_group = control
        db.session.add(PlayerActivityDay(user_id=u.id, day=start))
        if back:
            db.session.add(PlayerActivityDay(user_id=u.id, day=start + timedelta(days=1)))
    analytics_retention.roll_up(start, today)
    db.session.commit()
    body = client.get(f"{A}/retention?weeks=4", headers={"X-API-Key": f.api_key()}).get_json()
    d1 = body["summary"][0]
    assert d1["day"] == 1
    assert d1["gamified"] == {"retained": 2, "players": 3, "rate": 2 / 3}
    assert d1["control"] == {"retained": 1, "players": 2, "rate": 0.5}
    assert round(d1["difference"]["value"], 4) == 0.1667 and d1["difference"]["low"] < 0 < d1["difference"]["high"]
    assert body["summary"][1]["gamified"]["players"] == 3  # day 7 is over (10 days ago)
    assert body["summary"][2]["gamified"]["players"] == 0 and body["summary"][2]["difference"] is None
    assert body["curves"]["gamified"][1] == 100 * 2 / 3
    assert len(body["cohorts"]) == 4 and body["cohorts"][-1]["week"] == (today - timedelta(today.weekday())).isoformat()
    cohort = next(c for c in body["cohorts"] if c["gamified"]["players"])
    assert cohort["control"]["players"] == 2


def test_achievements_and_balances_with_the_client(app):
    m = f.metric("lessons", "Lessons")
    f.achievement("ten", "metric", metric_id=m.id, threshold=10, name="Ten")
    xp = f.system("xp", levels=[("b", "B", 0), ("s", "S", 100)])
    for i, (lessons, balance) in enumerate(((3, 0), (8, 150), (0, 99))):
        u = f.player(f"p{i}")
        db.session.add(MetricTotal(user_id=u.id, metric_id=m.id, total=lessons))
        db.session.add(PointsBalance(user_id=u.id, system_id=xp.id, balance=balance))
    db.session.commit()
    api = Client.in_app(app, f.api_key())
    funnel = api.analytics_achievements().achievements[0]
    assert funnel.key == "ten" and funnel.players == 3
    assert funnel.bands == {"0-25": 1, "25-50": 1, "50-75": 0, "75-100": 1} and funnel.completed == 0
    out = api.analytics_balances("xp")
    assert out.edges == [0, 1, 10, 100, 1000, 10000]  # two thresholds only: powers of ten
    assert [(b.label, b.players) for b in api.analytics_balances("xp", [0, 100]).buckets] == [("0–99", 2), ("100+", 1)]
    assert api.analytics_trends(7, "week").grain == "week"
    assert api.analytics_retention(2).cohorts[-1].gamified.players == 0
