"""Streak pauses on the pages (issue 16 item 3): the player's calendar marks paused days (closed ones and
the coming ones) and says when the streak is paused; an admin pauses a player and deletes a pause on the
player's admin page (CSRF, field errors, another player's pause refused, players forbidden)."""

import re

import time_machine

from gamify.models import StreakPause
from gamify.services import streak_pauses, users
from gamify.services.events import process_event
from tests import factories as f

NOW = f.utc(2026, 2, 20, 12)  # a Friday


def _world(db):
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1}, freeze_initial=1, freeze_max=3)
    db.session.commit()
    player = f.web_player()
    for day in (1, 2, 3):
        process_event("lessons", player, 1, now=f.utc(2026, 2, day, 12))
    db.session.commit()
    return player


def _state(html: str, day: str):
    m = re.search(rf'data-date="{day}" data-state="(\w+)"', html)
    return m.group(1) if m else None


def test_the_calendar_marks_paused_days_and_the_coming_pause(client, db):
    player = _world(db)
    # 4-6 Feb were paused (set back then), 7 Feb missed: the freeze covers it, 8 Feb breaks the streak.
    db.session.add(StreakPause(user_id=player.id, start_on=f.utc(2026, 2, 4).date(), end_on=f.utc(2026, 2, 6).date()))
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        streak_pauses.create(player, f.utc(2026, 2, 22).date(), f.utc(2026, 2, 24).date(), reason="ski trip")
        db.session.commit()
        f.login(client)
        html = client.get("/streak").get_data(as_text=True)
    assert [_state(html, f"2026-02-0{d}") for d in range(3, 9)] == [
        "extended",
        "paused",
        "paused",
        "paused",
        "frozen",
        "broken",
    ]
    assert [_state(html, f"2026-02-{d}") for d in (21, 22, 24, 25)] == ["future", "paused", "paused", "future"]
    assert 'aria-label="Wednesday, Feb 4, 2026: Streak paused"' in html
    assert "3 paused" in html and "Paused from Feb 22 to Feb 24 — ski trip" in html
    assert '<span class="badge paused">Paused</span>' in html  # recent periods


def test_a_player_without_pauses_sees_no_pause_notice(client, db):
    _world(db)
    with time_machine.travel(NOW, tick=False):
        f.login(client)
        html = client.get("/streak").get_data(as_text=True)
    assert "Streak paused" not in html.replace("Paused</li>", "")  # the legend only
    assert _state(html, "2026-02-22") == "future"


# ------------------------------------------------------------------------------------------ admin


def _admin(client):
    f.admin()
    f.login(client, "admin@example.com")
    return f.csrf_token(client, "/admin/")


def _pauses(db, user_id):
    q = db.select(StreakPause.start_on, StreakPause.end_on, StreakPause.reason).where(StreakPause.user_id == user_id)
    return [(a.isoformat(), b.isoformat(), r) for a, b, r in db.session.execute(q).all()]


def test_an_admin_pauses_a_player_and_deletes_the_pause(client, db):
    player = _world(db)
    with time_machine.travel(NOW, tick=False):
        token = _admin(client)
        r = client.post(
            f"/admin/players/{player.id}/pauses",
            data={"pse-start": "2026-02-20", "pse-end": "2026-02-23", "pse-reason": "flu", "csrf_token": token},
            follow_redirects=True,
        )
        assert r.status_code == 200 and "Streak paused from 2026-02-20 to 2026-02-23." in r.get_data(as_text=True)
        assert _pauses(db, player.id) == [("2026-02-20", "2026-02-23", "flu")]
        pause = db.session.execute(db.select(StreakPause)).scalar_one()
        assert pause.created_by.startswith("admin #")
        html = client.get(f"/admin/players/{player.id}").get_data(as_text=True)
        assert "flu" in html and f"/pauses/{pause.public_id}/delete" in html
        r = client.post(f"/admin/players/{player.id}/pauses/{pause.public_id}/delete", data={"csrf_token": token})
        assert r.status_code == 302
    assert _pauses(db, player.id) == []


def test_admin_pause_form_errors_name_the_field(client, db):
    player = _world(db)
    with time_machine.travel(NOW, tick=False):
        token = _admin(client)
        for data, field, message in [
            (
                {"pse-start": "2026-02-19", "pse-end": "2026-02-21"},
                "start",
                "start must not be before the player&#39;s today",
            ),
            ({"pse-start": "2026-02-22", "pse-end": "2026-02-21"}, "end", "end must be on or after start"),
            ({"pse-start": "", "pse-end": "2026-02-21"}, "start", "Enter the first paused day."),
            ({"pse-start": "2026-02-22", "pse-end": "not a day"}, "end", "Not a valid date value."),
        ]:
            r = client.post(f"/admin/players/{player.id}/pauses", data={**data, "csrf_token": token})
            html = r.get_data(as_text=True)
            assert r.status_code == 400 and message in html, (data, html[-3000:])
            assert re.search(
                rf'id="pse-{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="pse-{field}"', html
            )
        # no CSRF token: refused, nothing stored
        r = client.post(f"/admin/players/{player.id}/pauses", data={"pse-start": "2026-02-22", "pse-end": "2026-02-23"})
        assert r.status_code == 400
    assert _pauses(db, player.id) == []


def test_another_players_pause_cannot_be_deleted_through_this_player(client, db):
    player = _world(db)
    other = f.web_player("other@example.com")
    with time_machine.travel(NOW, tick=False):
        pause = streak_pauses.create(other, NOW.date(), NOW.date())
        pid = pause.public_id
        db.session.commit()
        token = _admin(client)
        r = client.post(f"/admin/players/{player.id}/pauses/{pid}/delete", data={"csrf_token": token})
        assert r.status_code == 404
        assert (
            client.post(f"/admin/players/{player.id}/pauses/nope/delete", data={"csrf_token": token}).status_code == 404
        )
    assert len(_pauses(db, other.id)) == 1


def test_players_cannot_pause_streaks(client, db):
    player = _world(db)
    with time_machine.travel(NOW, tick=False):
        f.login(client)
        token = f.csrf_token(client, "/dashboard")
        r = client.post(
            f"/admin/players/{player.id}/pauses",
            data={"pse-start": "2026-02-20", "pse-end": "2026-02-23", "csrf_token": token},
        )
        assert r.status_code == 403
    assert _pauses(db, player.id) == []


def test_the_admin_player_page_shows_the_products_fields(client, db):
    player = _world(db)
    with time_machine.travel(NOW, tick=False):
        users.identify(
            player.external_id, sign_up_date="2025-12-24", subscribe_to_emails=False, device_tokens=["a", "b"]
        )
        db.session.commit()
        _admin(client)
        html = client.get(f"/admin/players/{player.id}").get_data(as_text=True)
    assert "signed up in the product Dec 24, 2025" in html
    assert "(the product unsubscribed them)" in html and "2 push tokens" in html
