"""The control group, as the sources describe it: a share of new players, assigned at first sight by a
stable hash of their id, gets no gamification (pages, e-mails) while their events still count; the API
says `control` so the host app can hide its own gamification."""

import hashlib

from gamify.models import MetricTotal, User
from gamify.services import reminders, users
from tests import factories as f


def bucket(external_id: str) -> int:  # independent of the code under test: sha256, first 8 hex digits
    return int(hashlib.sha256(external_id.encode()).hexdigest()[:8], 16) % 100


def test_assignment_by_ratio_stable_and_visible_in_the_api(app, client, db):
    f.metric("lessons")
    headers = {"X-API-Key": f.api_key()}
    admin = app.test_client()
    f.admin()
    f.login(admin, "admin@example.com")
    r = admin.post(
        "/admin/analytics/control", data={"control_ratio": "30", "csrf_token": f.csrf_token(admin, "/admin/analytics")}
    )
    assert r.status_code == 302 and reminders.get_settings().control_ratio == 30
    ids = [f"player-{i}" for i in range(40)]
    for uid in ids[:20]:  # first sight through events
        assert (
            client.post("/api/v1/metrics/lessons/event", json={"user": {"id": uid}}, headers=headers).status_code == 201
        )
    for uid in ids[20:]:  # and through identify
        assert client.post(f"/api/v1/users/{uid}", json={"name": uid}, headers=headers).status_code == 201
    expected = {uid: bucket(uid) < 30 for uid in ids}
    assert 0 < sum(expected.values()) < 40  # both groups exist in this sample
    for uid in ids:
        assert client.get(f"/api/v1/users/{uid}", headers=headers).json["control"] is expected[uid], uid
    for uid in ids[20:24]:  # event responses say it too
        body = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": uid}}, headers=headers).json
        assert body["control"] is expected[uid], uid
    # Stable: asking again (or a racing second creation) gives the same group.
    assert all(users.in_control_group(uid, 30) is expected[uid] for uid in ids)
    # Control players' events still count.
    control = next(uid for uid in ids[:20] if expected[uid])
    uid_row = db.session.execute(db.select(User).where(User.external_id == control)).scalar_one()
    assert db.session.execute(db.select(MetricTotal.total).where(MetricTotal.user_id == uid_row.id)).scalar() == 1


def test_control_players_see_no_gamification_and_get_no_mail(app, client, db):
    m = f.metric("lessons")
    f.streak({m: 1})
    user = f.web_player()
    user.control_group = True
    db.session.commit()
    f.login(client)
    for path in ("/dashboard", "/streak", "/achievements", "/points", "/energy", "/leaderboards"):
        html = client.get(path).get_data(as_text=True)
        assert "nothing to show on this page for your account" in html, path
        assert "streak-card" not in html and 'href="/achievements"' not in html, path
    assert client.get("/settings").status_code == 200  # their settings stay theirs
    send_ids = reminders._add_sends(
        [
            {
                "user_id": user.id,
                "type": "recap",
                "period_start": f.utc(2026, 1, 5).date(),
                "ref": "",
                "payload": {},
                "send_after": f.utc(2026, 1, 5),
                "expires_at": None,
            }
        ]
    )
    db.session.commit()
    from gamify.models.webhooks import EmailSend

    row = db.session.get(EmailSend, send_ids[user.id])
    try:
        reminders.compose(row)
        raise AssertionError("a control player's mail was composed")
    except reminders.Skip as skip:
        assert "control group" in skip.reason


def test_control_players_get_no_in_app_notifications(app, client, db):
    """Neither from the event pipeline (an achievement) nor from services outside it (energy full); the
    bell and the notifications page are gone for them. The other player gets both notices."""
    from gamify.models import Notification
    from gamify.services import outbox

    m = f.metric("lessons")
    f.achievement("first", "metric", metric_id=m.id, threshold=1)
    user = f.web_player()
    user.control_group = True
    other = f.player("other")
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    for who in (user.external_id, "other"):
        r = client.post("/api/v1/metrics/lessons/event", json={"user": {"id": who}}, headers=headers)
        assert r.status_code == 201 and r.json["achievements"], r.json
    for uid in (user.id, other.id):
        outbox.notify(uid, "energy_full", "Your energy is full")
    db.session.commit()
    got = db.session.execute(db.select(Notification.user_id, Notification.type).order_by(Notification.id)).all()
    assert sorted(got) == sorted([(other.id, "achievement"), (other.id, "energy_full")])
    f.login(client)
    assert "notif-slot" not in client.get("/settings").get_data(as_text=True)
    assert "nothing to show on this page" in client.get("/notifications").get_data(as_text=True)


def test_every_answer_about_a_control_player_says_so(app, client, db):
    """Each GET route about one player (in the OpenAPI document) answers `control: true` for a control
    player, and declares it."""
    m = f.metric("lessons")
    f.streak({m: 1})
    f.system("xp")
    user = f.player("ctl")
    user.control_group = True
    db.session.commit()
    headers = {"X-API-Key": f.api_key()}
    assert client.post("/api/v1/metrics/lessons/event", json={"user": {"id": "ctl"}}, headers=headers).json["control"]
    spec = client.get("/api/v1/openapi.json").json
    paths = [p for p, ops in spec["paths"].items() if "{external_id}" in p and "get" in ops and "{key}" not in p]
    assert len(paths) >= 5
    for path in paths:
        url = path.replace("{external_id}", "ctl").replace("{system_key}", "xp")
        r = client.get(url, headers=headers)
        assert r.status_code == 200 and r.json["control"] is True, (url, r.status_code, r.json)
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert {"$ref": "#/components/schemas/ControlFlag"} in schema.get("allOf", [schema]), path
