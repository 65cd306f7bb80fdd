"""Leaderboard API, player pages (HTMX tabs) and admin console."""

import re
from datetime import date, datetime, timezone

import pytest
from flask import render_template

from gamify.extensions import db as _db
from gamify.models import Leaderboard
from gamify.queue import get_redis
from gamify.services import leaderboards as svc
from gamify.services.events import process_event
from tests import factories as f


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def make_board(key="lessons", metric=None, frequency="perpetual", start=None, limit=10, breakdown=(), now=None):
    board = svc.create(
        {
            "key": key,
            "name": key.title(),
            "ranked_by": "metric",
            "metric_id": metric.id,
            "frequency": frequency,
            "start_date": start,
            "participant_limit": limit,
            "breakdown": list(breakdown),
        },
        now=now,
    )
    _db.session.commit()
    svc.rebuild(board)
    _db.session.commit()
    return board


@pytest.fixture
def scored(db):
    """Five API players on a perpetual board split by city: scores 9, 7, 7, 4, 1."""
    m = f.metric("lessons")
    board = make_board(metric=m, breakdown=["city"], limit=4)
    for i, score in enumerate([9, 7, 7, 4, 1]):
        u = f.player(f"u{i}", attributes={"city": "london" if i % 2 == 0 else "paris"})
        db.session.commit()
        process_event("lessons", u, score, now=utc(2026, 2, 1, 10, i))
    return board


@pytest.fixture
def api(app):
    secret = f.api_key()
    client = app.test_client()

    def get(path, **params):
        return client.get(path, query_string=params, headers={"X-API-Key": secret})

    return get


# ------------------------------------------------------------------------------------------ API


def test_api_rankings_with_pagination(scored, api):
    body = api("/api/v1/leaderboards/lessons", limit=2).get_json()
    assert [(r["rank"], r["user_id"], r["name"], r["score"]) for r in body["rankings"]] == [
        (1, "u0", "u0", 9),
        (2, "u1", "u1", 7),
    ]
    assert body["total"] == 4 and body["participants"] == 5 and body["period"]["key"] == "all"
    page2 = api("/api/v1/leaderboards/lessons", limit=2, offset=2).get_json()
    assert [(r["rank"], r["user_id"]) for r in page2["rankings"]] == [(2, "u2"), (4, "u3")]
    assert api("/api/v1/leaderboards/lessons", limit=2, offset=4).get_json()["rankings"] == []  # past the top 4
    city = api("/api/v1/leaderboards/lessons", segment="city:London").get_json()
    assert city["segment"] == "city:london"
    assert [(r["rank"], r["user_id"]) for r in city["rankings"]] == [(1, "u0"), (2, "u2"), (3, "u4")]
    listing = api("/api/v1/leaderboards").get_json()["leaderboards"]
    assert [b["key"] for b in listing] == ["lessons"] and listing[0]["breakdown"] == ["city"]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"segment": "planet:mars"}, "segment"),
        ({"segment": "city:"}, "segment"),
        ({"run": "2026-13-01"}, "run"),
        ({"run": "yesterday"}, "run"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_api_bad_params_are_400_naming_the_field(scored, api, params, field):
    resp = api("/api/v1/leaderboards/lessons", **params)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field


def test_api_unknown_board_and_runs(scored, api):
    resp = api("/api/v1/leaderboards/nope")
    assert resp.status_code == 404 and resp.get_json()["error"]["field"] == "key"
    resp = api("/api/v1/leaderboards/lessons", run="2026-01-05")  # perpetual: no runs
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == "run"
    resp = api("/api/v1/leaderboards/lessons/users/ghost")
    assert resp.status_code == 404 and resp.get_json()["error"]["field"] == "user_id"
    assert api("/api/v1/leaderboards/lessons/users/u0", radius="x").status_code == 400


def test_api_requires_a_key(scored, app):
    assert app.test_client().get("/api/v1/leaderboards/lessons").status_code == 401


def test_api_user_rank_and_around_me(scored, api):
    body = api("/api/v1/leaderboards/lessons/users/u3", radius=1).get_json()
    assert body["rank"] == 4 and body["score"] == 4 and body["participants"] == 5
    assert [(r["rank"], r["user_id"]) for r in body["around"]] == [(2, "u2"), (4, "u3"), (5, "u4")]
    top = api("/api/v1/leaderboards/lessons/users/u0").get_json()
    assert [r["user_id"] for r in top["around"]] == ["u0", "u1", "u2"]
    f.player("newbie")
    _db.session.commit()
    unranked = api("/api/v1/leaderboards/lessons/users/newbie").get_json()
    assert unranked["rank"] is None and unranked["around"] == []


def test_api_past_runs_from_the_archive(db, api):
    m = f.metric("lessons")
    make_board("weekly", metric=m, frequency="weekly", start=date(2026, 1, 5), limit=2, now=utc(2026, 1, 5))
    for i, score in enumerate([3, 8, 5]):
        u = f.player(f"w{i}")
        db.session.commit()
        process_event("lessons", u, score, now=utc(2026, 1, 7, 9, i))
    svc.finalise_due(utc(2026, 1, 12, 12))
    db.session.commit()
    body = api("/api/v1/leaderboards/weekly", run="2026-01-05").get_json()
    assert body["period"] == {
        "key": "2026-01-05",
        "start": "2026-01-05",
        "end": "2026-01-11",
        "status": "final",
        "finalised_at": body["period"]["finalised_at"],
    }
    assert [(r["rank"], r["user_id"], r["score"]) for r in body["rankings"]] == [(1, "w1", 8), (2, "w2", 5)]
    assert body["participants"] == 3
    me = api("/api/v1/leaderboards/weekly/users/w0", run="2026-01-05").get_json()
    assert me["rank"] == 3 and me["score"] == 3  # outside the archived top 2, from the SQL record
    assert api("/api/v1/leaderboards/weekly", run="2026-01-06").status_code == 404  # not a period start
    assert api("/api/v1/leaderboards/weekly", run="2025-12-29").status_code == 404  # before the board
    assert api("/api/v1/leaderboards/weekly", run="2099-01-05").status_code == 404  # not started anywhere


# ------------------------------------------------------------------------------------------ player pages


def _web_board(db, limit=10):
    m = f.metric("lessons")
    board = make_board(metric=m, breakdown=["city"], limit=limit)
    me = f.web_player(attributes={"city": "London"})
    for i, score in enumerate([20, 15, 12, 10, 8, 6, 2]):
        u = f.player(f"o{i}", attributes={"city": "london" if i < 3 else "paris"})
        db.session.commit()
        process_event("lessons", u, score)
    process_event("lessons", me, 7)
    return board, me


def test_player_page_shows_tabs_top_n_and_my_row(client, db):
    _web_board(db, limit=3)
    f.login(client)
    resp = client.get("/leaderboards")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'hx-get="/leaderboards/lessons/panel?segment=city:london"' in html
    assert "My city" in html and "Global" in html
    rows = re.findall(r'<tr( class="me" aria-current="true")? data-user="(\d+)"', html)
    assert len(rows) == 3 + 5  # top 3, then me with two neighbours either side
    assert [bool(m) for m, _ in rows].count(True) == 1
    assert "#6" in html and "(you)" in html


def test_htmx_segment_tab_returns_the_partial(client, db):
    _web_board(db)
    f.login(client)
    resp = client.get("/leaderboards/lessons/panel?segment=city:london", headers={"HX-Request": "true"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "<html" not in html and 'data-segment="city:london"' in html
    assert html.count("data-user=") == 4  # three Londoners and me
    assert re.search(r'class="me" aria-current="true" data-user="\d+">\s*<td class="rank">#4</td>', html)
    # the full page answers HTMX requests with the same partial
    partial = client.get("/leaderboards?board=lessons", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and 'id="lb-title"' in partial


def test_pages_need_login_and_unknown_board_is_404(client, db):
    _web_board(db)
    assert client.get("/leaderboards").status_code == 302
    f.login(client)
    assert client.get("/leaderboards?board=nope").status_code == 404


def test_past_run_page_and_list(client, db):
    m = f.metric("lessons")
    make_board("daily", metric=m, frequency="daily", start=date(2026, 1, 5), now=utc(2026, 1, 5))
    me = f.web_player()
    process_event("lessons", me, 3, now=utc(2026, 1, 5, 10))
    svc.finalise_due(utc(2026, 1, 6, 12))
    db.session.commit()
    f.login(client)
    html = client.get("/leaderboards?board=daily").get_data(as_text=True)
    assert 'href="/leaderboards/daily/runs/2026-01-05?segment=global"' in html
    run = client.get("/leaderboards/daily/runs/2026-01-05")
    assert run.status_code == 200 and 'class="me"' in run.get_data(as_text=True)
    assert client.get("/leaderboards/daily/runs/2026-02-01").status_code == 404


def test_my_ranks_partial_for_the_dashboard(app, db):
    board, me = _web_board(db)
    ranks = svc.my_ranks(me)
    assert [(r["key"], r["segment"], r["rank"], r["score"]) for r in ranks] == [
        ("lessons", "global", 6, 7),
        ("lessons", "city:london", 4, 7),
    ]
    with app.test_request_context("/dashboard"):
        html = render_template("leaderboards/_my_ranks.html", ranks=ranks)
    assert "#6" in html and "My city" in html and "/leaderboards?board=lessons" in html
    with app.test_request_context("/dashboard"):
        assert "Not on a leaderboard yet" in render_template("leaderboards/_my_ranks.html", ranks=[])


# ------------------------------------------------------------------------------------------ admin


def test_admin_pages_refuse_players_and_anonymous(client, db):
    f.web_player()
    assert client.get("/admin/leaderboards/").status_code == 302
    f.login(client)
    for path in ("/admin/leaderboards/", "/admin/leaderboards/new"):
        assert client.get(path).status_code == 403
    token = f.csrf_token(client, "/dashboard")
    for path in ("/admin/leaderboards/rebuild", "/admin/leaderboards/finalise"):
        assert client.post(path, data={"csrf_token": token}).status_code == 403


def test_admin_crud_counts_and_rebuild(client, db):
    m = f.metric("lessons")
    u = f.player("u1", attributes={"city": "rome"})
    db.session.commit()
    process_event("lessons", u, 4)  # before the board exists: picked up from history
    f.admin()
    f.login(client, "admin@example.com")
    form = {
        "key": "lessons",
        "name": "Most lessons",
        "ranked_by": "metric",
        "metric_id": str(m.id),
        "system_id": "",
        "frequency": "weekly",
        "start_date": "2026-01-05",
        "participant_limit": "5",
        "breakdown": "city, tier",
        "active": "y",
    }
    assert client.post("/admin/leaderboards/new", data=form).status_code == 400  # no CSRF token
    token = f.csrf_token(client, "/admin/leaderboards/new")
    resp = client.post("/admin/leaderboards/new", data={**form, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    board = svc.by_key("lessons")
    assert board.breakdown == ["city", "tier"] and board.frequency == "weekly"
    # validation: metric boards need a metric, keys are unique
    bad = client.post("/admin/leaderboards/new", data={**form, "csrf_token": token, "key": "other", "metric_id": ""})
    assert bad.status_code == 200 and "choose the metric" in bad.get_data(as_text=True)
    dup = client.post("/admin/leaderboards/new", data={**form, "csrf_token": token})
    assert "already exists" in dup.get_data(as_text=True)
    # switch to perpetual: open period recomputed from history
    edit = {**form, "csrf_token": token, "frequency": "perpetual", "name": "All-time lessons"}
    assert client.post(f"/admin/leaderboards/{board.id}/edit", data=edit).status_code == 302
    page = client.get("/admin/leaderboards/").get_data(as_text=True)
    assert "All-time lessons" in page and re.search(r'class="participants">1<', page)
    get_redis().flushall()
    assert client.post("/admin/leaderboards/rebuild", data={"csrf_token": token}).status_code == 302
    assert get_redis().exists(svc.meta_key("lessons"))
    assert client.post(f"/admin/leaderboards/{board.id}/delete", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.query(Leaderboard).count() == 0
    assert not list(get_redis().scan_iter(match="lb*:lessons*"))
