"""Leaderboard records over the JSON API (issue 15): a board's past runs (cursor pages, newest first),
one past run with its rankings, and a player's rank history per segment and local day. Responses are
checked against the generated OpenAPI document."""

from datetime import date

import pytest
import time_machine

from gamify.services import leaderboards as svc
from gamify.services import rank_fanout
from tests import factories as f
from tests.apispec import Spec

RUNS = "/api/v1/leaderboards/{key}/runs"
RUN = "/api/v1/leaderboards/{key}/runs/{run}"
HISTORY = "/api/v1/leaderboards/{key}/users/{external_id}/history"


def _board(key, metric, frequency="daily", start=None):
    svc.create(
        {
            "key": key,
            "name": key.title(),
            "ranked_by": "metric",
            "metric_id": metric.id,
            "system_id": None,
            "frequency": frequency,
            "start_date": start,
            "participant_limit": 5,
            "breakdown": ["city"],
        }
    )


@pytest.fixture
def headers(db, client):
    with time_machine.travel(f.utc(2026, 2, 28, 12), tick=False):
        m = f.metric("lessons")
        _board("daily", m, start=date(2026, 3, 1))
        _board("total", m, frequency="perpetual")
        db.session.commit()
        h = {"X-API-Key": f.api_key()}
        for uid, city, tz in (("a", "london", "America/New_York"), ("b", "london", "UTC"), ("c", "paris", "UTC")):
            body = {"tz": tz, "attributes": {"city": city}}
            assert client.post(f"/api/v1/users/{uid}", json=body, headers=h).status_code == 201
    return h


def _lesson(client, headers, user, value, at):
    with time_machine.travel(at, tick=False):
        r = client.post("/api/v1/metrics/lessons/event", json={"user_id": user, "value": value}, headers=headers)
        assert r.status_code == 201, r.json
        rank_fanout.run_all()  # the others' rank changes, as the worker writes them after the commit


@pytest.fixture
def played(client, headers, db):
    """Three days of play on the daily board (all UTC days but a's, who lives in New York), finalised on
    the 6th: the 1st a 3, c 2, b 1; the 2nd b 5, a 1; the 3rd c 1 (nobody from London)."""
    _lesson(client, headers, "a", 3, f.utc(2026, 3, 1, 14))
    _lesson(client, headers, "c", 2, f.utc(2026, 3, 1, 15))
    _lesson(client, headers, "b", 1, f.utc(2026, 3, 1, 16))
    _lesson(client, headers, "b", 5, f.utc(2026, 3, 2, 14))
    _lesson(client, headers, "a", 1, f.utc(2026, 3, 2, 15))
    _lesson(client, headers, "c", 1, f.utc(2026, 3, 3, 14))
    with time_machine.travel(f.utc(2026, 3, 6, 9), tick=False):
        assert [r["period_start"] for r in svc.finalise_due()] == ["2026-03-01", "2026-03-02", "2026-03-03"]
        db.session.commit()
    return headers


@pytest.fixture
def now():
    with time_machine.travel(f.utc(2026, 3, 6, 10), tick=False):
        yield


def _entries(rankings):
    return [(e["rank"], e["user_id"], e["score"]) for e in rankings]


# ------------------------------------------------------------------------------------------ runs


def test_runs_are_listed_newest_first_a_page_at_a_time(client, played, now):
    spec = Spec(client)
    r = client.get("/api/v1/leaderboards/daily/runs?limit=2", headers=played)
    body = spec.check(r, RUNS, "get")
    assert (body["leaderboard"], body["segment"], body["has_more"]) == ("daily", "global", True)
    assert [x["run"] for x in body["runs"]] == ["2026-03-03", "2026-03-02"]
    second = body["runs"][1]
    assert second["participants"] == 2 and _entries(second["top"]) == [(1, "b", 5), (2, "a", 1)]
    assert second["period"]["start"] == second["period"]["end"] == "2026-03-02"
    assert second["period"]["status"] == "final" and second["period"]["finalised_at"] == "2026-03-06T09:00:00+00:00"
    r = client.get(
        "/api/v1/leaderboards/daily/runs", query_string={"limit": 2, "cursor": body["next_cursor"]}, headers=played
    )
    body = spec.check(r, RUNS, "get")
    assert [x["run"] for x in body["runs"]] == ["2026-03-01"] and body["has_more"] is False
    assert body["next_cursor"] is None
    assert _entries(body["runs"][0]["top"]) == [(1, "a", 3), (2, "c", 2), (3, "b", 1)]


def test_runs_of_a_segment_and_a_cursor_of_another_list(client, played, now):
    spec = Spec(client)
    r = client.get("/api/v1/leaderboards/daily/runs?segment=city:london&limit=1", headers=played)
    body = spec.check(r, RUNS, "get")
    assert body["segment"] == "city:london" and [x["run"] for x in body["runs"]] == ["2026-03-02"]  # none on the 3rd
    london_cursor = body["next_cursor"]
    r = client.get("/api/v1/leaderboards/daily/runs", query_string={"cursor": london_cursor}, headers=played)
    assert r.status_code == 400 and r.json["error"]["field"] == "cursor"  # the global list's is another
    spec.check(r, RUNS, "get")
    r = client.get("/api/v1/leaderboards/daily/runs?segment=planet:mars", headers=played)
    assert r.status_code == 400 and r.json["error"]["field"] == "segment"
    body = client.get("/api/v1/leaderboards/total/runs", headers=played).json
    assert body["runs"] == [] and body["has_more"] is False  # a perpetual board never finishes


def test_runs_refuse_unknown_boards_bad_limits_and_missing_keys(client, played, now):
    spec = Spec(client)
    r = client.get("/api/v1/leaderboards/nope/runs", headers=played)
    assert r.status_code == 404 and r.json["error"]["field"] == "key"
    spec.check(r, RUNS, "get")
    r = client.get("/api/v1/leaderboards/daily/runs?limit=0", headers=played)
    assert r.status_code == 400 and r.json["error"]["field"] == "limit"
    r = client.get("/api/v1/leaderboards/daily/runs")
    assert r.status_code == 401
    spec.check(r, RUNS, "get")


def test_one_run_with_its_rankings(client, played, now):
    spec = Spec(client)
    body = spec.check(client.get("/api/v1/leaderboards/daily/runs/2026-03-01", headers=played), RUN, "get")
    assert (body["run"], body["segment"], body["participants"], body["total"]) == ("2026-03-01", "global", 3, 3)
    assert body["leaderboard"]["key"] == "daily" and body["limit"] == 5 and body["offset"] == 0
    assert _entries(body["rankings"]) == [(1, "a", 3), (2, "c", 2), (3, "b", 1)]
    r = client.get("/api/v1/leaderboards/daily/runs/2026-03-01?limit=1&offset=1", headers=played)
    assert _entries(r.json["rankings"]) == [(2, "c", 2)] and r.json["total"] == 3
    r = client.get("/api/v1/leaderboards/daily/runs/2026-03-02?segment=city:london", headers=played)
    assert _entries(r.json["rankings"]) == [(1, "b", 5), (2, "a", 1)]
    # the 3rd is final, London had nobody: an empty run, not a 404
    r = client.get("/api/v1/leaderboards/daily/runs/2026-03-03?segment=city:london", headers=played)
    body = spec.check(r, RUN, "get")
    assert body["rankings"] == [] and body["participants"] == 0


@pytest.mark.parametrize(
    "url, status, field",
    [
        ("/api/v1/leaderboards/daily/runs/2026-03-06", 404, "run"),  # today's: not finished
        ("/api/v1/leaderboards/daily/runs/2026-04-01", 404, "run"),  # not begun
        ("/api/v1/leaderboards/daily/runs/2026-02-27", 404, "run"),  # before the board
        ("/api/v1/leaderboards/daily/runs/2026-13-01", 400, "run"),
        ("/api/v1/leaderboards/daily/runs/yesterday", 400, "run"),
        ("/api/v1/leaderboards/total/runs/2026-03-01", 400, "run"),  # perpetual
        ("/api/v1/leaderboards/nope/runs/2026-03-01", 404, "key"),
        ("/api/v1/leaderboards/daily/runs/2026-03-01?segment=tier:gold", 400, "segment"),
        ("/api/v1/leaderboards/daily/runs/2026-03-01?offset=-1", 400, "offset"),
    ],
)
def test_one_run_refuses_what_is_not_a_past_run(client, played, now, url, status, field):
    r = client.get(url, headers=played)
    assert r.status_code == status and r.json["error"]["field"] == field, r.json
    Spec(client).check(r, RUN, "get")


def test_one_run_needs_a_key(client, played, now):
    r = client.get("/api/v1/leaderboards/daily/runs/2026-03-01", headers={"X-API-Key": "gk_nope"})
    assert r.status_code == 401
    Spec(client).check(r, RUN, "get")


# ------------------------------------------------------------------------------------------ rank history


def test_rank_history_per_segment_and_local_day(client, headers, now):
    spec = Spec(client)
    # on the perpetual board (a in New York: 2 March 02:00 UTC is still the 1st there)
    _lesson(client, headers, "a", 2, f.utc(2026, 3, 1, 14))  # a enters: 1st (global, london)
    _lesson(client, headers, "b", 3, f.utc(2026, 3, 1, 15))  # b 3 > a 2: a 2nd in both
    _lesson(client, headers, "a", 2, f.utc(2026, 3, 2, 2))  # a 4: 1st again (the 1st in New York)
    _lesson(client, headers, "c", 10, f.utc(2026, 3, 2, 15))  # c (paris) 10: a 2nd globally only
    r = client.get("/api/v1/leaderboards/total/users/a/history?from=2026-02-28&to=2026-03-06", headers=headers)
    body = spec.check(r, HISTORY, "get")
    assert (body["leaderboard"], body["user_id"], body["tz"]) == ("total", "a", "America/New_York")
    assert (body["from"], body["to"]) == ("2026-02-28", "2026-03-06")
    day1 = {"date": "2026-03-01", "period": "all", "rank": 1, "best_rank": 1, "changes": 3}
    assert body["segments"] == [
        {
            "segment": "global",
            "days": [day1, {"date": "2026-03-02", "period": "all", "rank": 2, "best_rank": 2, "changes": 1}],
        },
        {"segment": "city:london", "days": [day1]},
    ]
    r = client.get("/api/v1/leaderboards/total/users/a/history?segment=city:london&from=2026-03-02", headers=headers)
    assert r.json["segments"] == [] and r.json["to"] == "2026-03-31"
    # by default the last 30 days, today (the 6th in New York) included; b's own history is b's
    body = client.get("/api/v1/leaderboards/total/users/b/history", headers=headers).json
    assert (body["from"], body["to"]) == ("2026-02-05", "2026-03-06")
    assert [(d["date"], d["rank"], d["changes"]) for d in body["segments"][0]["days"]] == [
        ("2026-03-01", 1, 1),  # entered 1st; then a passed b in the night, on the 2nd in UTC
        ("2026-03-02", 3, 2),
    ]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"from": "2026-03-06", "to": "2026-03-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "to"),
        ({"from": "03/01/2026"}, "from"),
        ({"segment": "planet:mars"}, "segment"),
    ],
)
def test_rank_history_refuses_bad_ranges_and_segments(client, headers, now, args, field):
    r = client.get("/api/v1/leaderboards/total/users/a/history", query_string=args, headers=headers)
    assert r.status_code == 400 and r.json["error"]["field"] == field, r.json
    Spec(client).check(r, HISTORY, "get")


def test_rank_history_refuses_unknowns_and_missing_keys(client, headers, now):
    spec = Spec(client)
    for url, field in (
        ("/api/v1/leaderboards/total/users/ghost/history", "user_id"),
        ("/api/v1/leaderboards/nope/users/a/history", "key"),
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 404 and r.json["error"]["field"] == field
        spec.check(r, HISTORY, "get")
    r = client.get("/api/v1/leaderboards/total/users/a/history")
    assert r.status_code == 401
    spec.check(r, HISTORY, "get")
