"""Achievement funnels: players per progress band (by hand), completions, median time to complete."""

import csv
import io
from datetime import timedelta

from gamify.extensions import db
from gamify.models import AchievementCompletion, MetricTotal, User, UserStreak
from gamify.services import analytics_funnels
from tests import factories as f


def world():
    m = f.metric("lessons", "Lessons")
    ten = f.achievement("ten", "metric", metric_id=m.id, threshold=10, name="Ten lessons")
    week = f.achievement("week", "streak", streak_length=7, name="Week streak")
    f.achievement("off", "metric", metric_id=m.id, threshold=1, status="inactive")
    users = [f.player(f"p{i}") for i in range(6)]
    # Lessons 0 (no row), 2, 3, 6, 8, 12: 0–25 % below 2.5, 25–50 % below 5, 50–75 % below 7.5, then 75–100 %.
    for u, total in zip(users[1:], (2, 3, 6, 8, 12)):
        db.session.add(MetricTotal(user_id=u.id, metric_id=m.id, total=total))
    # p5 (12 lessons) holds "ten", 3 days after first seen; p4 holds it too (granted at 8 by hand), 5 days after.
    for u, days in ((users[5], 3), (users[4], 5)):
        db.session.add(
            AchievementCompletion(user_id=u.id, achievement_id=ten.id, completed_at=u.created_at + timedelta(days=days))
        )
    # Longest streaks 1, 4, 6 against 7 days: 14 % (0–25), 57 % (50–75), 86 % (75–100).
    for u, longest in zip(users[:3], (1, 4, 6)):
        db.session.add(UserStreak(user_id=u.id, length=0, longest=longest))
    admin = User(email="a@x", role="admin", timezone="UTC", attributes={})  # not a player: not counted
    db.session.add(admin)
    db.session.commit()
    return ten, week


def test_bands_completions_and_median(app):
    ten, week = world()
    by = {fn.achievement.key: fn for fn in analytics_funnels.funnels()}
    assert set(by) == {"ten", "week"}  # the inactive one is left out
    t = by["ten"]
    assert t.players == 6 and t.completed == 2
    assert t.buckets == [2, 1, 1, 0]  # 0 and 2 lessons; 3; 6; (8 and 12 hold it)
    assert t.median_days == 4.0  # median of 3 and 5 days
    assert t.stall == "25–50%"  # tie between 25–50 and 50–75: the first
    w = by["week"]
    assert w.buckets == [4, 0, 1, 1] and w.completed == 0 and w.median_days is None
    assert [round(x, 1) for x in w.shares()] == [66.7, 0.0, 16.7, 16.7, 0.0]


def test_page_and_csv(app, client):
    world()
    f.admin()
    f.login(client, "admin@example.com")
    html = client.get("/admin/analytics/funnels").get_data(as_text=True)
    assert "Ten lessons" in html and 'id="chart-funnels"' in html and "Show the numbers" in html
    rows = list(csv.reader(io.StringIO(client.get("/admin/analytics/funnels.csv").get_data(as_text=True))))
    assert rows[0] == [
        "achievement",
        "key",
        "players",
        "0–25%",
        "25–50%",
        "50–75%",
        "75–100%",
        "completed",
        "median_days",
    ]
    assert rows[1][1:] == ["ten", "6", "2", "1", "1", "0", "2", "4.0"]
