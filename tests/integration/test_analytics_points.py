"""Points analytics: balance histogram over chosen buckets (by hand), the page and its CSV."""

import csv
import io

from gamify.extensions import db
from gamify.models import PointsBalance
from gamify.services import analytics_points as ap
from tests import factories as f


def world():
    xp = f.system("xp", levels=[("b", "Bronze", 0), ("s", "Silver", 100), ("g", "Gold", 500)], name="XP")
    users = [f.player(f"p{i}") for i in range(7)]
    # Balances: none (0), 0, 5, 99, 100, 499, 2,000.
    for u, b in zip(users[1:], (0, 5, 99, 100, 499, 2000)):
        db.session.add(PointsBalance(user_id=u.id, system_id=xp.id, balance=b))
    db.session.commit()
    return xp


def test_parse_edges():
    assert ap.parse_edges(" 100, 0,100 ,10") == [0, 10, 100]
    assert ap.parse_edges("-5, 3") == [-5, 3]
    assert ap.parse_edges("a,1") is None and ap.parse_edges("") is None and ap.parse_edges(",") is None
    assert len(ap.parse_edges(",".join(str(i) for i in range(50)))) == ap.MAX_EDGES


def test_histogram_by_hand(app):
    xp = world()
    assert ap.default_edges(xp) == [0, 100, 500]  # the level thresholds
    assert ap.histogram(xp, [0, 100, 500]) == [("0–99", 4), ("100–499", 2), ("500+", 1)]
    assert ap.histogram(xp, [1, 10, 1000]) == [("below 1", 2), ("1–9", 1), ("10–999", 3), ("1k+", 1)]
    assert ap.label(1500, 3000) == "1.5k–3k" and ap.label(1_000_000, None) == "1M+"
    assert ap.histogram(xp, [0, 1]) == [("0", 2), ("1+", 5)]


def test_page_and_csv(app, client):
    world()
    f.admin()
    f.login(client, "admin@example.com")
    html = client.get("/admin/analytics/points?edges=0,100,500").get_data(as_text=True)
    assert 'id="chart-balances"' in html and "100–499" in html
    assert 'id="chart-xp_per_active"' in html and 'id="chart-levels_xp"' in html
    r = client.get("/admin/analytics/points/xp.csv?edges=0,1")
    assert list(csv.reader(io.StringIO(r.get_data(as_text=True)))) == [["balance", "players"], ["0", "2"], ["1+", "5"]]
    assert client.get("/admin/analytics/points/nope.csv").status_code == 404
