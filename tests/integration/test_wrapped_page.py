"""The year in review page (issue 16 item 3): a player's own page per year, and its signed share link that
shows it read-only without login (hidden achievements masked, no e-mail), refused when altered, expired,
of another purpose, or once its player is in the control group. Expected values worked out by hand from
the events below (UTC player): 1 March 2025 (a Saturday) one lesson, 2 March two lessons in one event,
3 March (a Monday) three events of one lesson; 5 January 2026 one lesson."""

import re

import time_machine

from gamify import links
from gamify.services import leaderboards as boards
from gamify.services.events import process_event
from tests import factories as f

AT = f.utc(2026, 2, 1, 12)


def _world(db):
    m = f.metric("lessons", "Lessons", "lessons")
    f.streak({m: 1})
    xp = f.system("xp", name="XP", badge="⚡")
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson", badge="🎉")
    f.achievement("secret", "metric", metric_id=m.id, threshold=2, name="Secret scholar", badge="🕵️", hidden=True)
    db.session.commit()
    boards.create(
        {
            "key": "all",
            "name": "All-time lessons",
            "ranked_by": "metric",
            "metric_id": m.id,
            "system_id": None,
            "frequency": "perpetual",
            "start_date": None,
            "participant_limit": 10,
            "breakdown": [],
        }
    )
    db.session.commit()
    ann = f.web_player("ann@example.com", name="Ann")
    for moment, value in [
        (f.utc(2025, 3, 1, 12), 1),
        (f.utc(2025, 3, 2, 12), 2),
        (f.utc(2025, 3, 3, 9), 1),
        (f.utc(2025, 3, 3, 10), 1),
        (f.utc(2025, 3, 3, 11), 1),
        (f.utc(2026, 1, 5, 12), 1),
    ]:
        with time_machine.travel(moment, tick=False):
            process_event("lessons", ann, value, now=moment)
    db.session.commit()
    return ann


def _stat(html: str, name: str) -> str:
    m = re.search(rf'data-stat="{name}">(.*?)</dd>', html, re.S)
    return re.sub(r"<[^>]+>", "", m.group(1)).strip() if m else None


def _share_path(html: str) -> str:
    m = re.search(r'id="share-link" type="text" readonly value="https?://[^/"]+(/wrapped/shared/[^"]+)"', html)
    assert m, "no share link on the page"
    return m.group(1)


def test_the_players_year_in_review(client, db):
    _world(db)
    with time_machine.travel(AT, tick=False):
        f.login(client, "ann@example.com")
        html = client.get("/wrapped/2025").get_data(as_text=True)
        this_year = client.get("/wrapped").get_data(as_text=True)
        assert client.get("/wrapped/2027").status_code == 404
        assert client.get("/wrapped/1999").status_code == 404
    assert (_stat(html, "days"), _stat(html, "weeks"), _stat(html, "months")) == ("3", "2", "1")
    assert _stat(html, "streak") == "🔥 3 days"
    assert "<strong>6</strong> lessons" in html and "<strong>60</strong> XP earned" in html
    assert "from Saturday, Mar 1, 2025 to Monday, Mar 3, 2025" in html
    # Most active day: the 3rd (3 events); week: 3-9 March (3 events against 2); month: March.
    assert re.search(r'data-top="1">Monday, Mar 3, 2025</span>:\s*3 lessons', html)
    assert re.search(r'data-top="2">Monday, Mar 3, 2025 – Sunday, Mar 9, 2025</span>:\s*3 lessons', html)
    assert re.search(r'data-top="3">Saturday, Mar 1, 2025 – Monday, Mar 31, 2025</span>:\s*6 lessons', html)
    assert "First lesson" in html and "Secret scholar" in html  # her own page: her hidden one by name
    assert '<th scope="row">All-time lessons</th><td class="num">#1</td>' in html
    assert 'aria-current="page">2025</a>' in html
    # This year: one day so far; the year list links back to 2025.
    assert _stat(this_year, "days") == "1" and 'href="/wrapped/2025"' in this_year
    assert 'href="/wrapped" aria-current="page">Year in review</a>' in this_year  # the nav link


def test_the_share_link_shows_it_read_only_without_login(app, client, db):
    _world(db)
    with time_machine.travel(AT, tick=False):
        f.login(client, "ann@example.com")
        path = _share_path(client.get("/wrapped/2025").get_data(as_text=True))
    anonymous = app.test_client()
    with time_machine.travel(AT, tick=False):
        r = anonymous.get(path)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Ann's 2025 in review" in html and _stat(html, "days") == "3"
    assert "Secret scholar" not in html and "A hidden achievement" in html  # hidden stays hidden to others
    assert "ann@example.com" not in html and 'id="share-link"' not in html
    assert '<meta name="robots" content="noindex, nofollow">' in html
    # After 90 days it has expired; an altered one, or a token of another purpose, is refused.
    with time_machine.travel(f.utc(2026, 5, 3, 12), tick=False):  # 91 days on
        assert anonymous.get(path).status_code == 410
    with time_machine.travel(AT, tick=False):
        assert anonymous.get(path[:-3] + "abc").status_code == 400
        other = links.unsubscribe_token(1, "recap")
        assert anonymous.get(f"/wrapped/shared/{other}").status_code == 400


def test_a_link_names_one_player_and_one_year(app, client, db):
    ann = _world(db)
    bob = f.web_player("bob@example.com", name="Bob")
    with time_machine.travel(AT, tick=False):
        bob_link = f"/wrapped/shared/{links.wrapped_token(bob.id, 2025)}"
        html = app.test_client().get(bob_link).get_data(as_text=True)
        assert "Bob's 2025" in html and _stat(html, "days") == "0" and "First lesson" not in html
        # Logged in as Bob, /wrapped is always Bob's own.
        f.login(client, "bob@example.com")
        assert _stat(client.get("/wrapped/2025").get_data(as_text=True), "days") == "0"
        # A player moved to the control group, or erased: the link shows nothing any more.
        ann.control_group = True
        db.session.commit()
        r = app.test_client().get(f"/wrapped/shared/{links.wrapped_token(ann.id, 2025)}")
        assert r.status_code == 404 and "Ann" not in r.get_data(as_text=True)
        assert app.test_client().get(f"/wrapped/shared/{links.wrapped_token(424242, 2025)}").status_code == 404


def test_control_players_and_anonymous_visitors_get_no_own_page(client, db):
    ann = _world(db)
    assert client.get("/wrapped").status_code == 302  # to the login page
    ann.control_group = True
    db.session.commit()
    with time_machine.travel(AT, tick=False):
        f.login(client, "ann@example.com")
        html = client.get("/wrapped/2025").get_data(as_text=True)
    assert 'data-stat="days"' not in html and 'id="share-link"' not in html
