"""Energy pages: access rules, CSRF, the HTMX bar and action partials, gifts/friends/refill forms, admin CRUD."""

import re

import pytest
import time_machine

from gamify.models import (
    EnergyAction,
    EnergyBoost,
    EnergyGift,
    EnergyReview,
    EnergySettings,
    EnergyTransaction,
    MetricEvent,
    User,
)
from gamify.services import energy, friends, points
from tests import factories as f

NOW = f.utc(2026, 3, 2, 9, 5)  # mid-tick: the next tick is at 09:12

PLAYER_PAGES = ["/energy", "/energy/bar", "/actions", "/friends"]
ADMIN_PAGES = [
    "/admin/energy",
    "/admin/actions",
    "/admin/actions/new",
    "/admin/energy/boosts",
    "/admin/energy/boosts/new",
    "/admin/energy/flags",
]


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as t:
        yield t


def hx(client, path, data=None, page="/actions"):
    token = f.csrf_token(client, page)
    return client.post(path, data=data or {}, headers={"HX-Request": "true", "X-CSRFToken": token})


def post(client, path, data=None, page="/energy"):
    token = f.csrf_token(client, page)
    return client.post(path, data={**(data or {}), "csrf_token": token})


@pytest.fixture
def duel(db):
    """A duel action recording the "duels" metric, which also extends the streak, gives 10 xp and unlocks an
    achievement on the first one."""
    m = f.metric("duels", "Duels", "duels")
    f.streak({m: 1})
    f.trigger(f.system("xp"), "metric", 10, metric_id=m.id)
    f.achievement("first-duel", "metric", metric_id=m.id, threshold=1, name="First blood")
    a = EnergyAction(
        key="duel",
        name="Duel",
        base_cost=25,
        metric_key="duels",
        metric_value=1,
        difficulties={"easy": 0.8, "medium": 1.0, "hard": 1.3, "expert": 1.6},
        skill_reductions={"gun_fighting": 25},
    )
    db.session.add(a)
    db.session.commit()
    return a


@pytest.fixture
def player(client, db):
    u = f.web_player()
    f.login(client)
    return u


# ------------------------------------------------------------------------------------------ access


@pytest.mark.parametrize("path", PLAYER_PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_login(client, db, path):
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("path", PLAYER_PAGES)
def test_player_pages_render(client, player, duel, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_are_admin_only(client, player, path):
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES + ["/admin/actions/{action}", "/admin/energy/boosts/{boost}"])
def test_admin_pages_render_for_admins(client, db, duel, path):
    boost = EnergyBoost(
        key="rush", name="Rush", type="regen_speed", effect_value=50, duration_minutes=60, token_cost=5, rarity="rare"
    )
    db.session.add(boost)
    db.session.commit()
    path = path.format(action=duel.id, boost=boost.id)
    f.admin()
    f.login(client, "admin@example.com")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/actions/duel",
        "/energy/refill",
        "/energy/gifts",
        "/energy/boosts/rush",
        "/friends",
        "/admin/energy",
        "/admin/actions/new",
    ],
)
def test_posts_without_csrf_are_refused(client, player, duel, path):
    assert client.post(path, data={"tokens": 1}).status_code == 400


def test_players_get_403_on_admin_posts(client, player, duel):
    token = f.csrf_token(client, "/energy")
    assert client.post("/admin/energy", data={"csrf_token": token}).status_code == 403
    assert client.post(f"/admin/actions/{duel.id}/delete", data={"csrf_token": token}).status_code == 403


def test_nav_links(client, player):
    html = client.get("/energy").get_data(as_text=True)
    for href in ('href="/actions"', 'href="/energy"', 'href="/friends"'):
        assert href in html


# ------------------------------------------------------------------------------------------ bar


def test_bar_partial_contract(client, player, db):
    energy.spend(player, 12, now=NOW, fatigue=False)
    db.session.commit()
    r = client.get("/energy/bar")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert 'id="energy-bar"' in html and 'hx-get="/energy/bar"' in html
    # No polling: one refresh when the next +1 is due (09:05 -> 09:12, from the server), the slow fallback
    assert 'hx-trigger="refresh-due"' in html and 'hx-swap="outerHTML"' in html and "every " not in html
    assert 'data-refresh-in="420"' in html  # seconds, not a time: the browser's clock may be off
    assert 'data-refresh-every="120"' in html
    assert "138" in html and "/ 150" in html
    assert "next +1 in <time" in html and ">07:00</time>" in html  # 09:05 -> 09:12
    assert "full in 2 hr 19 min" in html  # CLDR English short units; 12 ticks: 09:12 ... 11:24
    assert "Fatigue 0.0/100" in html and "+5.0 per hour" in html


def test_dashboard_includes_the_bar(client, player):
    html = client.get("/dashboard").get_data(as_text=True)
    assert 'id="energy-bar"' in html


def test_status_is_the_dashboard_contract(db):
    u = f.player()
    st = energy.status(u, NOW)
    for key in (
        "current",
        "max",
        "next_tick_at",
        "time_to_full",
        "fatigue",
        "regen_per_hour",
        "percent",
        "next_gain_text",
        "full",
        "low",
        "resting",
    ):
        assert key in st


# ------------------------------------------------------------------------------------------ actions


def test_actions_page_shows_costs_per_difficulty(client, player, duel, db):
    energy.set_skills(player, {"gun_fighting": 80})
    db.session.commit()
    html = client.get("/actions").get_data(as_text=True)
    for cost in (16, 20, 26, 32):  # 25 x 0.8 / 1 / 1.3 / 1.6, minus 20%, rounded up
        assert f"This will cost {cost} energy" in html
    assert 'hx-post="/actions/duel"' in html and 'id="action-result"' in html


def test_action_post_via_htmx_returns_the_result_partial(client, player, duel, db):
    r = hx(client, "/actions/duel", {"difficulty": "hard"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert "−33 energy" in html and "<strong>117</strong> / 150" in html
    assert 'id="energy-bar"' in html and 'hx-swap-oob="true"' in html
    assert "Streak: <strong>1</strong>" in html
    assert "+10 xp" in html
    assert 'class="toast achievement"' in html and "First blood" in html
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 1


def test_action_without_enough_energy_shows_the_empty_state(client, player, duel, db):
    energy.adjust(player, -140, "test")
    db.session.commit()
    r = hx(client, "/actions/duel", {"difficulty": "medium"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'class="empty"' in html and "Not enough energy" in html
    assert "needs <strong>25</strong>" in html and "have <strong>10</strong>" in html
    assert "You'll have enough in <strong>2 hr 55 min</strong>" in html  # 15 points: 09:12 + 14 ticks = 12:00
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 0
    assert (
        db.session.execute(
            db.select(db.func.count(EnergyTransaction.id)).where(EnergyTransaction.type == "consumption")
        ).scalar()
        == 0
    )


def test_action_post_without_htmx_redirects_with_a_flash(client, player, duel):
    r = post(client, "/actions/duel", {"difficulty": "easy"}, page="/actions")
    assert r.status_code == 302
    assert "20 energy spent" in client.get("/actions").get_data(as_text=True)


# ------------------------------------------------------------------------------------------ energy page


def test_refill_form_debits_tokens(client, player, db):
    gems = f.system("gems", name="Gems")
    points.award(player, gems, 10, "admin", limits=False)
    energy.adjust(player, -100, "test")
    db.session.commit()
    assert "You have <strong>10</strong> tokens" in client.get("/energy").get_data(as_text=True)
    r = post(client, "/energy/refill", {"tokens": 2})
    assert r.status_code == 302
    html = client.get("/energy").get_data(as_text=True)
    assert "+20 energy for 2 tokens." in html and "You have <strong>8</strong> tokens" in html
    r = post(client, "/energy/refill", {"tokens": 0})
    assert r.status_code == 400


def test_history_is_paginated_by_20(client, player, db):
    for _ in range(25):
        energy.spend(player, 1, now=NOW)
    db.session.commit()
    page1 = client.get("/energy").get_data(as_text=True)
    assert page1.count("<td>Spent</td>") == 20 and "Page 1 of 2" in page1
    page2 = client.get("/energy?page=2").get_data(as_text=True)
    assert page2.count("<td>Spent</td>") == 5


class As:
    """A second browser. Requests share the test's app context (and so flask.g, where Flask-Login caches the
    user and Flask-WTF the CSRF token): forget both before each request so every client is itself."""

    def __init__(self, app):
        self.client = app.test_client()

    def __getattr__(self, name):
        from flask import g

        g.pop("_login_user", None)
        g.pop("csrf_token", None)
        return getattr(self.client, name)


def test_friends_and_gifts_through_the_pages(app, db):
    ann, bob = As(app), As(app)
    f.web_player("ann@example.com", name="Ann")
    b = f.web_player("bob@example.com", name="Bob")
    f.login(ann, "ann@example.com")
    f.login(bob, "bob@example.com")
    assert post(ann, "/friends", {"who": "BOB"}, page="/friends").status_code == 302  # by name, any case
    assert post(ann, "/friends", {"who": "nobody"}, page="/friends").status_code == 404
    html = bob.get("/friends").get_data(as_text=True)
    assert "Ann" in html
    fid = re.search(r"/friends/(\d+)/accept", html).group(1)
    assert post(bob, f"/friends/{fid}/accept", page="/friends").status_code == 302
    assert "Bob" in ann.get("/friends").get_data(as_text=True)

    r = post(ann, "/energy/gifts", {"recipient": b.id, "amount": 15, "message": "go!"})
    assert r.status_code == 302
    assert "Sent 15 energy to Bob." in ann.get("/energy").get_data(as_text=True)
    energy.adjust(db.session.get(User, b.id), -50, "test")
    db.session.commit()
    html = bob.get("/energy").get_data(as_text=True)
    assert "sent you <strong>15</strong> energy" in html and "go!" in html
    gid = re.search(r"/energy/gifts/(\d+)/accept", html).group(1)
    assert post(bob, f"/energy/gifts/{gid}/accept").status_code == 302
    assert "+15 energy from your friend." in bob.get("/energy").get_data(as_text=True)
    assert db.session.get(EnergyGift, int(gid)).status == "accepted"
    # Over the limit: a clear message, nothing sent.
    r = post(ann, "/energy/gifts", {"recipient": b.id, "amount": 51})
    assert r.status_code == 400 and "between 1 and 50" in r.get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(EnergyGift.id))).scalar() == 1


def test_declining_a_gift_on_the_page_returns_it_to_the_sender(app, db):
    ann, bob = As(app), As(app)
    a = f.web_player("ann@example.com", name="Ann")
    b = f.web_player("bob@example.com", name="Bob")
    friends.accept(b, friends.request(a, "Bob")[0].id)
    db.session.commit()
    f.login(ann, "ann@example.com")
    f.login(bob, "bob@example.com")
    assert post(ann, "/energy/gifts", {"recipient": b.id, "amount": 15}).status_code == 302
    assert energy.status(db.session.get(User, a.id))["current"] == 135
    gid = re.search(r"/energy/gifts/(\d+)/decline", bob.get("/energy").get_data(as_text=True)).group(1)
    assert post(ann, f"/energy/gifts/{gid}/decline").status_code == 302  # not hers to decline
    assert "Gift not found." in ann.get("/energy").get_data(as_text=True)
    assert post(bob, f"/energy/gifts/{gid}/decline").status_code == 302
    assert "the 15 energy went back to Ann" in bob.get("/energy").get_data(as_text=True)
    assert db.session.get(EnergyGift, int(gid)).status == "declined"
    assert energy.status(db.session.get(User, a.id))["current"] == 150
    assert f"/energy/gifts/{gid}/" not in bob.get("/energy").get_data(as_text=True)


def test_gift_to_a_non_friend_is_refused_by_the_form(client, player, db):
    other = f.web_player("x@example.com", name="Xavier")
    r = post(client, "/energy/gifts", {"recipient": other.id, "amount": 5})
    assert r.status_code == 400  # not in the friends choice list
    assert db.session.execute(db.select(db.func.count(EnergyGift.id))).scalar() == 0


def test_boost_shop(client, player, db):
    gems = f.system("gems", name="Gems")
    points.award(player, gems, 10, "admin", limits=False)
    db.session.add(
        EnergyBoost(
            key="rush",
            name="Rush",
            type="regen_speed",
            effect_value=50,
            duration_minutes=60,
            token_cost=4,
            rarity="rare",
        )
    )
    db.session.commit()
    assert "Buy for 4 tokens" in client.get("/energy").get_data(as_text=True)
    assert post(client, "/energy/boosts/rush").status_code == 302
    html = client.get("/energy").get_data(as_text=True)
    assert "Rush applied until" in html and "You have <strong>6</strong> tokens" in html
    post(client, "/energy/boosts/rush")
    assert "already active" in client.get("/energy").get_data(as_text=True)


# ------------------------------------------------------------------------------------------ admin


@pytest.fixture
def admin(client, db):
    f.admin()
    f.login(client, "admin@example.com")


def test_admin_edits_settings(client, admin, db):
    token = f.csrf_token(client, "/admin/energy")
    form = {
        k: v
        for k, v in {c.key: getattr(energy.get_settings(), c.key) for c in EnergySettings.__table__.columns}.items()
        if k not in ("id", "updated_at") and v is not None
    }
    form.update({"free_max": 120, "tick_minutes": 10, "csrf_token": token})
    form.pop("refund_expired_gifts")
    r = client.post("/admin/energy", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    db.session.expire_all()
    s = energy.get_settings()
    assert (s.free_max, s.tick_minutes, s.refund_expired_gifts) == (120, 10, False)
    form.update({"gift_min": 10, "gift_max": 5})
    assert client.post("/admin/energy", data=form).status_code == 400


def test_admin_creates_an_action_and_a_boost(client, admin, db):
    f.metric("duels", "Duels")
    db.session.commit()
    token = f.csrf_token(client, "/admin/actions/new")
    r = client.post(
        "/admin/actions/new",
        data={
            "csrf_token": token,
            "key": "duel",
            "name": "Duel",
            "base_cost": 25,
            "difficulties": "easy=0.8, hard=1.3",
            "skill_reductions": "gun_fighting=25",
            "metric_key": "duels",
            "metric_value": 1,
            "position": 0,
            "active": "y",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    a = db.session.execute(db.select(EnergyAction)).scalar_one()
    assert a.difficulties == {"easy": 0.8, "hard": 1.3} and a.skill_reductions == {"gun_fighting": 25}
    bad = client.post(
        "/admin/actions/new",
        data={
            "csrf_token": token,
            "key": "duel",
            "name": "Again",
            "base_cost": 5,
            "difficulties": "easy",
            "metric_key": "duels",
            "metric_value": 1,
        },
    )
    assert bad.status_code == 400
    r = client.post(
        "/admin/energy/boosts/new",
        data={
            "csrf_token": token,
            "key": "rush",
            "name": "Rush",
            "type": "regen_speed",
            "effect_value": 50,
            "duration_minutes": "",
            "token_cost": 5,
            "rarity": "epic",
            "active": "y",
        },
    )
    assert r.status_code == 302
    b = db.session.execute(db.select(EnergyBoost)).scalar_one()
    assert b.duration_minutes is None and b.rarity == "epic"
    assert client.post(f"/admin/actions/{a.id}/delete", data={"csrf_token": token}).status_code == 302
    assert db.session.execute(db.select(db.func.count(EnergyAction.id))).scalar() == 0


def test_admin_sees_and_resolves_flagged_players(client, admin, db):
    u = f.player("cheater")
    db.session.add(EnergyReview(user_id=u.id, reason="spent 300 energy in the last hour", spent=300, allowed=155))
    db.session.commit()
    html = client.get("/admin/energy/flags").get_data(as_text=True)
    assert "spent 300 energy" in html and "cheater" in html
    rid = db.session.execute(db.select(EnergyReview.id)).scalar_one()
    token = f.csrf_token(client, "/admin/energy/flags")
    r = client.post(f"/admin/energy/flags/{rid}/resolve", data={"csrf_token": token, "note": "ok"})
    assert r.status_code == 302
    assert db.session.get(EnergyReview, rid).resolved_at is not None
    r = client.post(
        "/admin/energy/flags", data={"csrf_token": token, "player": "cheater", "amount": -50, "reason": "refund abuse"}
    )
    assert r.status_code == 302
    assert energy.status(db.session.get(User, u.id))["current"] == 100
