"""Admin console: access rules on every page, CSRF, and the behaviour behind the forms."""

import re
from datetime import timedelta

import pytest

from gamify.models import (
    Achievement,
    AchievementCompletion,
    BackfillRun,
    FreezeLedger,
    Metric,
    PointsAward,
    PointsBalance,
    PointsBoost,
    PointsLevel,
    PointsSystem,
    PointsTrigger,
    StreakConfig,
    StreakRequirement,
    User,
)
from gamify.models._common import utcnow
from gamify.services.events import process_event
from tests import factories as f

HX = {"HX-Request": "true"}


def world(db):
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1}, freeze_max=3)
    xp = f.system("xp", levels=[("bronze", "Bronze", 0), ("silver", "Silver", 100)], name="XP")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.boost(xp, 2.0, name="Double")
    ach = f.achievement("first", "metric", metric_id=m.id, threshold=1)
    db.session.commit()
    player = f.web_player()
    process_event("lessons", player, 3, now=utcnow() - timedelta(days=1))
    process_event("lessons", player, 1)
    return {"metric": m, "xp": xp, "achievement": ach, "player": player}


def admin_pages(w) -> list[str]:
    sid, aid, pid = w["xp"].id, w["achievement"].id, w["player"].id
    level = w["xp"].levels[0].id
    trig = f.db.session.execute(f.db.select(PointsTrigger)).scalars().first().id
    boost = f.db.session.execute(f.db.select(PointsBoost)).scalars().first().id
    return [
        "/admin/",
        "/admin/metrics",
        "/admin/metrics/new",
        f"/admin/metrics/{w['metric'].id}/edit",
        "/admin/streak",
        "/admin/achievements",
        "/admin/achievements?status=active",
        "/admin/achievements/new",
        f"/admin/achievements/{aid}",
        "/admin/points",
        "/admin/points/new",
        f"/admin/points/{sid}",
        f"/admin/points/{sid}?tab=triggers",
        f"/admin/points/{sid}?tab=boosts",
        f"/admin/points/{sid}/levels/new",
        f"/admin/points/{sid}/levels/{level}",
        f"/admin/points/{sid}/triggers/new",
        f"/admin/points/{sid}/triggers/{trig}",
        f"/admin/points/{sid}/boosts/new",
        f"/admin/points/{sid}/boosts/{boost}",
        "/admin/players",
        "/admin/players?q=pat",
        f"/admin/players/{pid}",
        *[f"/admin/players/{pid}?tab={t}" for t in ("points", "streak", "freezes", "achievements")],
        "/admin/analytics",
        "/admin/api-keys",
    ]


def as_admin(client):
    f.admin()
    f.login(client, "admin@example.com")
    return f.csrf_token(client, "/admin/")


def test_every_admin_page_for_admin_player_and_anonymous(app, client, db):
    w = world(db)
    pages = admin_pages(w)
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path
    f.login(client)  # the player
    for path in pages:
        assert client.get(path).status_code == 403, path
    html = client.get("/admin/metrics").get_data(as_text=True)
    assert "administrators only" in html
    client.post("/logout", data={"csrf_token": f.csrf_token(client, "/dashboard")})
    as_admin(client)
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:1500])
        assert 'aria-label="Admin sections"' in resp.get_data(as_text=True)


def test_admin_posts_need_csrf(client, db):
    w = world(db)
    as_admin(client)
    sid, aid, pid = w["xp"].id, w["achievement"].id, w["player"].id
    for path in [
        "/admin/metrics/new",
        "/admin/streak",
        "/admin/streak/requirements",
        "/admin/achievements/new",
        f"/admin/achievements/{aid}/activate",
        f"/admin/achievements/{aid}/status",
        "/admin/points/new",
        f"/admin/points/{sid}/levels/new",
        f"/admin/players/{pid}/adjust",
        f"/admin/players/{pid}/freezes",
        "/admin/api-keys",
    ]:
        assert client.post(path, data={"name": "x", "key": "x"}).status_code == 400, path


def test_admin_posts_are_forbidden_for_players(client, db):
    w = world(db)
    f.login(client)
    token = f.csrf_token(client, "/dashboard")
    resp = client.post(
        f"/admin/players/{w['player'].id}/adjust",
        data={"adj-system_id": w["xp"].id, "adj-amount": 1000, "adj-reason": "x", "csrf_token": token},
    )
    assert resp.status_code == 403
    assert db.session.execute(db.select(PointsAward).where(PointsAward.trigger_type == "admin")).first() is None


def test_metric_crud_with_validation(client, db):
    token = as_admin(client)
    resp = client.post("/admin/metrics/new", data={"key": "Bad Key", "name": "", "csrf_token": token})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Use lowercase letters" in html and "This field is required" in html
    assert (
        client.post(
            "/admin/metrics/new", data={"key": "minutes", "name": "Minutes", "unit": "min", "csrf_token": token}
        ).status_code
        == 302
    )
    m = db.session.execute(db.select(Metric).where(Metric.key == "minutes")).scalar_one()
    dup = client.post("/admin/metrics/new", data={"key": "minutes", "name": "Again", "csrf_token": token})
    assert dup.status_code == 400 and "already uses this key" in dup.get_data(as_text=True)
    assert (
        client.post(
            f"/admin/metrics/{m.id}/edit",
            data={"key": "minutes", "name": "Minutes practised", "unit": "minutes", "csrf_token": token},
        ).status_code
        == 302
    )
    db.session.refresh(m)
    assert m.name == "Minutes practised"
    assert client.post(f"/admin/metrics/{m.id}/delete", data={"csrf_token": token}).status_code == 302
    assert db.session.get(Metric, m.id) is None


def test_metric_in_use_cannot_be_deleted(client, db):
    w = world(db)
    token = as_admin(client)
    client.post(f"/admin/metrics/{w['metric'].id}/delete", data={"csrf_token": token})
    assert db.session.get(Metric, w["metric"].id) is not None
    html = client.get(f"/admin/metrics/{w['metric'].id}/edit").get_data(as_text=True)
    assert "cannot be deleted" in html


def test_streak_config_and_requirements(client, db):
    m = f.metric("lessons")
    f.metric("minutes", "Minutes", "minutes")
    db.session.commit()
    token = as_admin(client)
    resp = client.post(
        "/admin/streak",
        data={
            "enabled": "y",
            "frequency": "weekly",
            "mode": "all",
            "freeze_initial": 5,
            "freeze_every": 3,
            "freeze_max": 2,
            "csrf_token": token,
        },
    )
    assert resp.status_code == 400 and "Cannot be more than the maximum" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/streak",
        data={
            "enabled": "y",
            "frequency": "weekly",
            "mode": "all",
            "freeze_initial": 1,
            "freeze_every": 3,
            "freeze_max": 2,
            "csrf_token": token,
        },
    )
    assert resp.status_code == 302
    cfg = db.session.execute(db.select(StreakConfig)).scalar_one()
    assert (cfg.frequency, cfg.mode, cfg.freeze_initial, cfg.freeze_every, cfg.freeze_max) == ("weekly", "all", 1, 3, 2)
    assert (
        client.post(
            "/admin/streak/requirements", data={"req-metric_id": m.id, "req-threshold": "2.5", "csrf_token": token}
        ).status_code
        == 302
    )
    dup = client.post(
        "/admin/streak/requirements", data={"req-metric_id": m.id, "req-threshold": "1", "csrf_token": token}
    )
    assert dup.status_code == 400 and "already a requirement" in dup.get_data(as_text=True)
    req = db.session.execute(db.select(StreakRequirement)).scalar_one()
    assert req.threshold == 2.5
    client.post(f"/admin/streak/requirements/{req.id}", data={"threshold": "4", "csrf_token": token})
    db.session.refresh(req)
    assert req.threshold == 4
    client.post(f"/admin/streak/requirements/{req.id}/delete", data={"csrf_token": token})
    assert db.session.execute(db.select(StreakRequirement)).first() is None


def _form(token, **kw):
    data = {
        "name": "Ten lessons",
        "key": "ten",
        "description": "Finish ten lessons",
        "badge": "🔟",
        "trigger": "metric",
        "metric_id": "",
        "threshold": "",
        "streak_length": "",
        "attribute_filters": "",
        "csrf_token": token,
    }
    data.update(kw)
    return data


def test_create_achievement_via_form_validates_per_trigger(client, db):
    w = world(db)
    token = as_admin(client)
    resp = client.post("/admin/achievements/new", data=_form(token))
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Choose the metric to count" in html and "Enter the total to reach" in html
    resp = client.post("/admin/achievements/new", data=_form(token, trigger="streak"))
    assert "Enter the streak length" in resp.get_data(as_text=True)
    resp = client.post("/admin/achievements/new", data=_form(token, trigger="composite"))
    assert "Pick at least one prerequisite" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/achievements/new",
        data=_form(token, metric_id=w["metric"].id, threshold="10", attribute_filters="country DE"),
    )
    assert resp.status_code == 400 and "expected key=value" in resp.get_data(as_text=True)
    resp = client.post(
        "/admin/achievements/new",
        data=_form(
            token, metric_id=w["metric"].id, threshold="10", attribute_filters="country=DE\nplan=pro|team\nbeta=true"
        ),
    )
    assert resp.status_code == 302
    a = db.session.execute(db.select(Achievement).where(Achievement.key == "ten")).scalar_one()
    assert (a.trigger, a.metric_id, a.threshold, a.status) == ("metric", w["metric"].id, 10.0, "inactive")
    assert a.attribute_filters == {"country": "DE", "plan": ["pro", "team"], "beta": True}
    html = client.get(f"/admin/achievements/{a.id}").get_data(as_text=True)
    assert "country=DE\nplan=pro|team\nbeta=true" in html and "saved as a draft" in html
    assert a.hidden is False and "Hidden until earned" in html
    resp = client.post(
        f"/admin/achievements/{a.id}",
        data=_form(token, metric_id=w["metric"].id, threshold="10", hidden="y"),
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Achievement, a.id).hidden is True


def test_activating_backfills_inline(client, db):
    w = world(db)  # the player has 4 lessons
    f.web_player("two@example.com")
    token = as_admin(client)
    resp = client.post(
        "/admin/achievements/new",
        data=_form(token, name="Three", key="three", metric_id=w["metric"].id, threshold="3", activate="1"),
    )
    assert resp.status_code == 302
    a = db.session.execute(db.select(Achievement).where(Achievement.key == "three")).scalar_one()
    assert a.status == "active"
    comps = (
        db.session.execute(db.select(AchievementCompletion).where(AchievementCompletion.achievement_id == a.id))
        .scalars()
        .all()
    )
    assert [c.user_id for c in comps] == [w["player"].id] and comps[0].backdated
    run = db.session.execute(db.select(BackfillRun)).scalar_one()
    assert (run.status, run.mode, run.added, run.total) == ("done", "inline", 1, 1)
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "1 player already qualified" in html and 'data-backfill-added="1"' in html
    db.session.refresh(a)
    assert a.completion_count == 1 and a.rarity_pct == pytest.approx(50.0)


def test_large_activation_runs_as_a_job_with_polled_progress(app, client, db, monkeypatch):
    w = world(db)
    for i in range(3):
        u = f.player(f"p{i}")
        process_event("lessons", u, 5)
    db.session.commit()
    ach = f.achievement("five", "metric", status="inactive", metric_id=w["metric"].id, threshold=5)
    db.session.commit()
    token = as_admin(client)
    monkeypatch.setitem(app.config, "BACKFILL_INLINE_LIMIT", 1)
    monkeypatch.setitem(app.config, "RQ_ASYNC", False)  # the job runs right away, as a worker would
    resp = client.post(f"/admin/achievements/{ach.id}/activate", data={"csrf_token": token})
    assert resp.status_code == 302
    run = db.session.execute(db.select(BackfillRun)).scalar_one()
    assert (run.mode, run.status, run.total, run.processed, run.added) == ("job", "done", 3, 3, 3)
    assert run.job_id and run.started_at and run.finished_at
    part = client.get(f"/admin/backfills/{run.id}", headers=HX)
    body = part.get_data(as_text=True)
    assert part.status_code == 200 and "hx-trigger" not in body and 'data-backfill-added="3"' in body
    assert (
        db.session.execute(
            db.select(db.func.count(AchievementCompletion.id)).where(AchievementCompletion.achievement_id == ach.id)
        ).scalar()
        == 3
    )


def test_queued_backfill_partial_polls_and_shows_progress(client, db):
    w = world(db)
    token = as_admin(client)
    run = BackfillRun(
        achievement_id=w["achievement"].id, status="running", mode="job", total=200, processed=50, started_at=utcnow()
    )
    db.session.add(run)
    db.session.commit()
    body = client.get(f"/admin/backfills/{run.id}", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in body and 'aria-valuenow="25"' in body and "50 of 200" in body
    assert client.get(f"/admin/backfills/{run.id}").status_code == 302  # plain visit -> the achievement page
    # While it runs, a second activation does not start another one.
    client.post(f"/admin/achievements/{w['achievement'].id}/activate", data={"csrf_token": token})
    assert db.session.execute(db.select(db.func.count(BackfillRun.id))).scalar() == 1


def test_queue_down_leaves_the_achievement_unchanged(app, client, db, monkeypatch, redis_server):
    w = world(db)
    ach = f.achievement("later", "metric", status="inactive", metric_id=w["metric"].id, threshold=1)
    db.session.commit()
    token = as_admin(client)
    monkeypatch.setitem(app.config, "BACKFILL_INLINE_LIMIT", 0)
    import gamify.queue as q

    def boom(*a, **kw):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(q, "enqueue", boom)
    resp = client.post(f"/admin/achievements/{ach.id}/activate", data={"csrf_token": token}, follow_redirects=True)
    assert "job queue is not reachable" in resp.get_data(as_text=True)
    db.session.refresh(ach)
    assert ach.status == "inactive"
    assert db.session.execute(db.select(BackfillRun)).scalar_one().status == "failed"


def test_status_changes_and_delete_rules(client, db):
    w = world(db)
    token = as_admin(client)
    a = w["achievement"]
    client.post(f"/admin/achievements/{a.id}/status", data={"status": "locked", "csrf_token": token})
    db.session.refresh(a)
    assert a.status == "locked"
    client.post(f"/admin/achievements/{a.id}/status", data={"status": "active", "csrf_token": token})
    db.session.refresh(a)
    assert a.status == "locked"  # activation only through Activate
    resp = client.post(f"/admin/achievements/{a.id}/delete", data={"csrf_token": token}, follow_redirects=True)
    assert "cannot be deleted" in resp.get_data(as_text=True)  # the player holds it
    draft = f.achievement("draft", "api", status="inactive")
    db.session.commit()
    client.post(f"/admin/achievements/{draft.id}/delete", data={"csrf_token": token})
    assert db.session.get(Achievement, draft.id) is None


def test_composite_prerequisites_and_cycles(client, db):
    w = world(db)
    token = as_admin(client)
    api = f.achievement("vip", "api", name="VIP")
    db.session.commit()
    first = w["achievement"]
    resp = client.post(
        "/admin/achievements/new",
        data=_form(
            token,
            name="Combo",
            key="combo",
            trigger="composite",
            prerequisite_ids=[str(first.id), str(api.id)],
            activate="1",
        ),
    )
    assert resp.status_code == 302
    combo = db.session.execute(db.select(Achievement).where(Achievement.key == "combo")).scalar_one()
    assert sorted(combo.prerequisite_ids) == sorted([first.id, api.id]) and combo.status == "active"
    # first cannot require combo (combo requires first).
    resp = client.post(
        f"/admin/achievements/{first.id}",
        data=_form(token, name="First", key="first", trigger="composite", prerequisite_ids=[str(combo.id)]),
    )
    assert resp.status_code == 400 and "cycle" in resp.get_data(as_text=True)


def test_points_system_levels_triggers_boosts(client, db):
    m = f.metric("lessons")
    db.session.commit()
    player = f.web_player()
    token = as_admin(client)
    resp = client.post(
        "/admin/points/new",
        data={"name": "Gems", "key": "gems", "badge": "💎", "daily_cap": "", "max_balance": "", "csrf_token": token},
    )
    assert resp.status_code == 302
    gems = db.session.execute(db.select(PointsSystem).where(PointsSystem.key == "gems")).scalar_one()
    assert gems.daily_cap is None and gems.max_balance is None
    from gamify.services import points as points_svc

    points_svc.award(player, gems, 150, "admin", boosts=False, limits=False)
    db.session.commit()
    assert (
        client.post(
            f"/admin/points/{gems.id}/levels/new",
            data={"name": "Rich", "key": "rich", "threshold": 100, "badge": "💰", "csrf_token": token},
        ).status_code
        == 302
    )
    bal = db.session.get(PointsBalance, (player.id, gems.id))
    db.session.refresh(bal)
    lv = db.session.execute(db.select(PointsLevel)).scalar_one()
    assert bal.level_id == lv.id  # existing balances moved onto the new level
    dup = client.post(
        f"/admin/points/{gems.id}/levels/new", data={"name": "X", "key": "rich", "threshold": 100, "csrf_token": token}
    )
    assert dup.status_code == 400 and "Another level" in dup.get_data(as_text=True)
    bad = client.post(
        f"/admin/points/{gems.id}/triggers/new",
        data={"type": "metric", "points": 5, "metric_id": "", "per_units": 1, "csrf_token": token},
    )
    assert bad.status_code == 400 and "Choose the metric" in bad.get_data(as_text=True)
    assert (
        client.post(
            f"/admin/points/{gems.id}/triggers/new",
            data={
                "type": "metric",
                "points": 5,
                "metric_id": m.id,
                "per_units": "2",
                "active": "y",
                "attribute_filters": "plan=pro",
                "csrf_token": token,
            },
        ).status_code
        == 302
    )
    t = db.session.execute(db.select(PointsTrigger)).scalar_one()
    assert (t.type, t.points, t.metric_id, t.per_units, t.active, t.attribute_filters) == (
        "metric",
        5,
        m.id,
        2.0,
        True,
        {"plan": "pro"},
    )
    r = client.post(
        f"/admin/points/{gems.id}/triggers/new",
        data={"type": "streak_day", "points": 2, "times_length": "y", "active": "y", "csrf_token": token},
    )
    assert r.status_code == 302
    day = db.session.execute(db.select(PointsTrigger).where(PointsTrigger.type == "streak_day")).scalar_one()
    assert (day.points, day.times_length) == (2, True)
    assert "on every day of a streak, times its length" in client.get(f"/admin/points/{gems.id}?tab=triggers").get_data(
        as_text=True
    )
    client.post(f"/admin/points/{gems.id}/triggers/{t.id}/toggle", data={"csrf_token": token})
    db.session.refresh(t)
    assert t.active is False
    resp = client.post(
        f"/admin/points/{gems.id}/boosts/new",
        data={
            "name": "Weekend",
            "multiplier": "2",
            "rounding": "floor",
            "starts_at": "2026-05-01T00:00",
            "ends_at": "2026-04-01T00:00",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 400 and "Must be after the start" in resp.get_data(as_text=True)
    assert (
        client.post(
            f"/admin/points/{gems.id}/boosts/new",
            data={
                "name": "Weekend",
                "multiplier": "2",
                "rounding": "nearest",
                "starts_at": "2026-05-01T00:00",
                "ends_at": "2026-05-03T00:00",
                "csrf_token": token,
            },
        ).status_code
        == 302
    )
    b = db.session.execute(db.select(PointsBoost)).scalar_one()
    assert b.starts_at == f.utc(2026, 5, 1) and b.multiplier == 2.0 and b.rounding == "nearest"
    # The ledger holds gems: the system cannot be deleted.
    client.post(f"/admin/points/{gems.id}/delete", data={"csrf_token": token})
    assert db.session.get(PointsSystem, gems.id) is not None


def test_player_lookup_search_and_ledger_tabs(client, db):
    w = world(db)
    f.web_player("zed@example.com", name="Zed")
    as_admin(client)
    html = client.get("/admin/players?q=ZED").get_data(as_text=True)
    assert "zed@example.com" in html and "player@example.com" not in html
    part = client.get("/admin/players?q=web-", headers={**HX, "HX-Target": "player-results"}).get_data(as_text=True)
    assert part.lstrip().startswith('<div id="player-results"') and "Zed" in part
    pid = w["player"].id
    assert "Lessons" in client.get(f"/admin/players/{pid}").get_data(as_text=True)
    tab = client.get(f"/admin/players/{pid}?tab=points", headers={**HX, "HX-Target": "ledger"}).get_data(as_text=True)
    assert tab.lstrip().startswith('<div id="ledger"') and "metric" in tab
    assert "extended" in client.get(f"/admin/players/{pid}?tab=streak").get_data(as_text=True)
    assert "first" in client.get(f"/admin/players/{pid}?tab=achievements").get_data(as_text=True).lower()


def test_manual_adjust_writes_an_audited_award(client, db):
    w = world(db)
    token = as_admin(client)
    admin = db.session.execute(db.select(User).where(User.email == "admin@example.com")).scalar_one()
    pid, sid = w["player"].id, w["xp"].id
    before = db.session.get(PointsBalance, (pid, sid)).balance
    resp = client.post(
        f"/admin/players/{pid}/adjust",
        data={"adj-system_id": sid, "adj-amount": 25, "adj-reason": "Support ticket 42", "csrf_token": token},
    )
    assert resp.status_code == 302
    award = db.session.execute(db.select(PointsAward).where(PointsAward.trigger_type == "admin")).scalar_one()
    assert award.amount == 25 and award.base_amount == 25 and award.boost_multiplier == 1.0  # boost ignored
    assert award.reason == f"Support ticket 42 (by admin #{admin.id})"
    bal = db.session.get(PointsBalance, (pid, sid))
    db.session.refresh(bal)
    assert bal.balance == before + 25
    resp = client.post(
        f"/admin/players/{pid}/adjust",
        data={"adj-system_id": sid, "adj-amount": -100000, "adj-reason": "oops", "csrf_token": token},
    )
    assert resp.status_code == 400 and "would make it negative" in resp.get_data(as_text=True)
    resp = client.post(
        f"/admin/players/{pid}/adjust",
        data={"adj-system_id": sid, "adj-amount": 5, "adj-reason": "", "csrf_token": token},
    )
    assert resp.status_code == 400 and "This field is required" in resp.get_data(as_text=True)
    assert (
        db.session.execute(db.select(db.func.count(PointsAward.id)).where(PointsAward.trigger_type == "admin")).scalar()
        == 1
    )


def test_freeze_grant_respects_the_maximum(client, db):
    w = world(db)  # freeze_max=3
    token = as_admin(client)
    pid = w["player"].id
    resp = client.post(
        f"/admin/players/{pid}/freezes",
        data={"frz-amount": 5, "frz-reason": "apology", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Granted 3 of 5" in resp.get_data(as_text=True)
    rows = db.session.execute(db.select(FreezeLedger).where(FreezeLedger.user_id == pid)).scalars().all()
    assert len(rows) == 3 and all(r.reason.startswith("admin #") and "apology" in r.reason for r in rows)


def test_analytics_charts(client, db):
    world(db)
    ctl = f.player("ctl")
    ctl.control_group = True
    f.player("idle")
    db.session.commit()
    process_event("lessons", ctl, 1)
    as_admin(client)
    html = client.get("/admin/analytics").get_data(as_text=True)
    assert "Energy levels" in html
    for chart in ("chart-retention", "chart-levels-xp", "chart-points-xp", "chart-achievements"):
        assert f'id="{chart}"' in html, chart
    assert html.count('role="img"') >= 4 and "<title" in html
    assert "50.0%" in html  # gamified: 1 of 2 active; control: 1 of 1
    assert "100.0%" in html


def test_streak_losses_by_weekday_chart(client, db):
    world(db)
    u = f.player("loser")
    process_event("lessons", u, 1, now=f.utc(2026, 1, 5, 12))  # Monday
    process_event("lessons", u, 1, now=f.utc(2026, 1, 8, 12))  # Tue 6th broke
    db.session.commit()
    as_admin(client)
    html = client.get("/admin/analytics").get_data(as_text=True)
    assert 'id="chart-losses"' in html and "Tue: 1." in html


def test_api_keys_page_creates_and_revokes(client, db):
    token = as_admin(client)
    resp = client.post("/admin/api-keys", data={"name": "backend", "csrf_token": token})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and re.search(r'id="new-secret">gk_', html)
    from gamify.models import ApiKey

    key = db.session.execute(db.select(ApiKey)).scalar_one()
    client.post(f"/admin/api-keys/{key.id}/revoke", data={"csrf_token": token})
    db.session.refresh(key)
    assert key.revoked_at is not None
