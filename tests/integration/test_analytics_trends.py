"""Analytics trends: series from the rollups by day and by week (values by hand), the admin page with its
charts and tables, the CSV of each chart, admins only."""

import csv
import io
from datetime import date, timedelta

from gamify import i18n
from gamify.admin import analytics_svg
from gamify.extensions import db
from gamify.models import DailyCount
from gamify.models._common import utcnow
from gamify.services import analytics_series as series
from tests import factories as f


def put(day, kind, key, value):
    db.session.add(DailyCount(day=day, kind=kind, key=key, value=value))


def named(chart, name):
    return dict(chart.series)[name]


def test_weeks_sum_counts_average_dau_and_take_the_last_distinct_counts(app):
    m = f.metric("lessons", "Lessons")
    # 30 days ending Sunday 29 March: Sat 28 Feb .. Sun 29 Mar, weeks from Mon 23 Feb (2 days of it inside).
    put(date(2026, 2, 28), "active", "dau", 4)
    put(date(2026, 3, 1), "active", "dau", 6)
    put(date(2026, 2, 28), "active", "wau", 7)
    put(date(2026, 3, 1), "active", "wau", 9)
    put(date(2026, 3, 1), "active", "mau", 20)
    put(date(2026, 3, 2), "events", str(m.id), 3)
    put(date(2026, 3, 5), "events", str(m.id), 4)
    put(date(2026, 3, 29), "events", str(m.id), 1)
    put(date(2026, 2, 27), "events", str(m.id), 100)  # the day before the window: left out
    db.session.commit()

    w, charts = series.trends(30, "week", today=date(2026, 3, 29))
    assert w.periods == [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 23)]
    by = {c.id: c for c in charts}
    assert named(by["events"], "Lessons") == [0, 7, 0, 0, 1]
    assert named(by["active"], "DAU") == [5.0, 0, 0, 0, 0]  # (4 + 6) / 2 days in the window
    assert named(by["active"], "WAU") == [9, 0, 0, 0, 0]  # the value on Sunday 1 March
    assert named(by["active"], "MAU") == [20, 0, 0, 0, 0]
    assert named(by["stickiness"], "DAU/MAU") == [25.0, 0, 0, 0, 0]  # 5 / 20

    w, charts = series.trends(7, "day", today=date(2026, 3, 8))
    assert w.periods[0] == date(2026, 3, 2) and len(w.periods) == 7
    events = {c.id: c for c in charts}["events"]
    assert named(events, "Lessons") == [3, 0, 0, 4, 0, 0, 0]
    # By day, WAU/MAU are each day's own value.
    w, charts = series.trends(7, "day", today=date(2026, 3, 1))
    active = {c.id: c for c in charts}["active"]
    assert named(active, "WAU")[-2:] == [7, 9] and named(active, "MAU")[-1] == 20


def test_streaks_points_per_active_player_and_notifications(app):
    xp = f.system("xp", name="XP", badge="")
    day = date(2026, 3, 8)
    for key, v in (("started", 2), ("extended", 5), ("frozen", 1), ("lost", 3)):
        put(day, "streak", key, v)
    put(day, "points", str(xp.id), 90)
    put(day, "active", "dau", 4)
    put(day, "notification", "email:sent", 10)
    put(day, "notification", "email:clicked", 3)
    db.session.commit()
    by = {c.id: c for c in series.trends(7, "day", today=day)[1]}
    assert [v[-1] for _, v in by["streaks"].series] == [2, 5, 1, 3]
    assert named(by["points"], "XP")[-1] == 90
    assert named(by["xp_per_active"], "XP")[-1] == 22.5  # 90 points / 4 active players
    assert named(by["notifications"], "email sent")[-1] == 10
    assert named(by["notifications"], "email clicked")[-1] == 3


def test_page_and_csv(app, client):
    m = f.metric("lessons", "Lessons")
    f.system("xp", levels=[("bronze", "Bronze", 0)])
    today = utcnow().date()
    put(today - timedelta(days=1), "events", str(m.id), 12)
    put(today, "events", str(m.id), 5)
    db.session.commit()
    f.admin()
    f.login(client, "admin@example.com")
    page = client.get("/admin/analytics/trends?days=7&grain=day")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in (
        "events",
        "active",
        "stickiness",
        "streaks",
        "achievements",
        "points",
        "energy",
        "notifications",
        "levels_xp",
    ):
        assert f'id="chart-{chart}"' in html
        assert f"/admin/analytics/trends/{chart}.csv?days=7" in html
    assert "<polyline" in html and "Show the numbers" in html
    assert client.get("/admin/analytics/trends?days=oops&grain=month").status_code == 200  # defaults

    r = client.get("/admin/analytics/trends/events.csv?days=7&grain=day")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == ["day", "Lessons"] and len(rows) == 8
    assert rows[-2:] == [[(today - timedelta(days=1)).isoformat(), "12"], [today.isoformat(), "5"]]
    assert client.get("/admin/analytics/trends/nope.csv").status_code == 404


def test_admins_only(app, client):
    f.web_player()
    f.login(client)
    assert client.get("/admin/analytics/trends").status_code == 403
    assert client.get("/admin/analytics/trends/events.csv").status_code == 403


def test_fast_number_format_equals_i18n_num(app):
    with app.test_request_context("/"):
        fmt = analytics_svg.formatter()
        for v in (0, 5, 999, 1234, 1234567, 2.5, 12.25, 3.0, 100000.75):
            assert fmt(v) == i18n.num(v), v
        assert fmt(None) == "—"
