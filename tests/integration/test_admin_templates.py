"""Admin: editing notification templates (save, refusals on the field, nothing half-saved), the live
preview against a chosen player (HTMX POST with the CSRF header), "send me a test", scoped versions, and
the delivery numbers on the analytics page."""

import re
from datetime import date, datetime, timezone
from html import unescape

import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import EmailSend, NotificationDelivery, NotificationTemplate
from gamify.services import deliveries
from gamify.services import notification_templates as t
from tests import factories as f
from tests.mailfixtures import player, rq_inline, smtp_server, streak_until  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)
URL = "/admin/templates/streak_reminder/email"


def _admin(client):
    a = f.admin()
    f.login(client, a.email)
    return a, f.csrf_token(client, "/admin/")


def _fields(token, **over):
    src = t.default_source("streak_reminder", "email")
    data = {"csrf_token": token, "subject": src.subject, "text": src.text, "html": src.html, "active": "y"}
    data.update(over)
    return data


def _count() -> int:
    db.session.expire_all()
    return db.session.execute(db.select(db.func.count(NotificationTemplate.id))).scalar()


def test_the_editor_opens_with_the_shipped_template_and_saves_the_admins(app, client, db):
    _, token = _admin(client)
    page = client.get(URL).get_data(as_text=True)
    assert "The shipped template" in page and "streak.has_freeze" in unescape(page)
    assert "player.attributes.&lt;key&gt;" in page  # the variables' reference
    r = client.post(URL, data=_fields(token, subject="{{ name }}, {{ streak.length }} {{ streak.unit }}s!"))
    assert r.status_code == 302 and r.headers["Location"].endswith(URL)
    row = db.session.execute(db.select(NotificationTemplate)).scalar_one()
    assert (row.type, row.channel, row.scope_attribute, row.subject) == (
        "streak_reminder",
        "email",
        "",
        "{{ name }}, {{ streak.length }} {{ streak.unit }}s!",
    )
    assert row.updated_by.startswith("admin #")
    page = client.get(URL).get_data(as_text=True)
    assert "{{ name }}, {{ streak.length }}" in unescape(page)
    # Saving again edits the same row; "back to the shipped template" removes it.
    client.post(URL, data=_fields(token, subject="Again"))
    assert _count() == 1
    client.post(f"/admin/templates/{row.id}/delete", data={"csrf_token": token})
    assert _count() == 0


def _error(page: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    assert m, f"no error on {field}"
    return unescape(m.group(1))


def test_a_bad_template_is_a_400_on_its_field_and_nothing_is_saved(app, client, db):
    _, token = _admin(client)
    r = client.post(URL, data=_fields(token, html="<p>{% if streak.has_freeze %}yes</p>"))
    assert r.status_code == 400
    assert "line 1" in _error(r.get_data(as_text=True), "html")
    r = client.post(URL, data=_fields(token, text="{{ player.__class__ }}"))
    assert r.status_code == 400 and "not allowed" in _error(r.get_data(as_text=True), "text")
    r = client.post(URL, data=_fields(token, subject="{{ config }}"))
    assert r.status_code == 400 and "'config' is undefined" in _error(r.get_data(as_text=True), "subject")
    # The draft stays in the form for the admin to fix.
    assert "{{ config }}" in unescape(r.get_data(as_text=True))
    assert _count() == 0


def test_a_scoped_version_is_created_listed_and_needs_its_value(app, client, db):
    _, token = _admin(client)
    new = f"{URL}/new"
    r = client.post(new, data=_fields(token, scope_attribute="plan", scope_value=""))
    assert r.status_code == 400 and "value" in _error(r.get_data(as_text=True), "scope_value")
    r = client.post(new, data=_fields(token, scope_attribute="plan", scope_value="pro", subject="Pro {{ name }}"))
    row = db.session.execute(db.select(NotificationTemplate)).scalar_one()
    assert r.headers["Location"].endswith(f"/admin/templates/{row.id}")
    assert (row.scope_attribute, row.scope_value, row.active) == ("plan", "pro", True)
    listing = client.get("/admin/templates/").get_data(as_text=True)
    assert "<code>plan</code> = <code>pro</code>" in listing
    r = client.post(new, data=_fields(token, scope_attribute="plan", scope_value="pro"))
    assert r.status_code == 400 and "already" in _error(r.get_data(as_text=True), "scope_value")


def _at_risk_player():
    m = f.metric()
    f.streak({m: 1}, freeze_max=2)
    db.session.commit()
    u = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)
    u.display_name, u.attributes = "Ann Lee", {"plan": "pro"}
    db.session.commit()
    return u


def test_the_live_preview_renders_the_draft_for_the_chosen_player(app, client, db):
    u = _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        _, token = _admin(client)
        hx = {"HX-Request": "true", "X-CSRFToken": token}
        data = _fields(
            token,
            subject="{{ name }}: {{ streak.length }}-{{ streak.unit }}, {{ player.attributes.plan }}",
            preview_as=u.email,
        )
        r = client.post(f"{URL}/preview", data=data, headers=hx)
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        assert "<html" not in html  # the partial only
        assert '<span class="preview-subject">Ann Lee: 5-day, pro</span>' in html
        assert "Your 5-day streak ends at midnight" in unescape(html)  # the e-mail, in the sandboxed iframe
        assert re.search(r"<iframe[^>]* sandbox ", html)
        # Without a player: the sample one; an unknown one is named as the problem.
        r = client.post(f"{URL}/preview", data=_fields(token), headers=hx)
        assert "a sample player" in r.get_data(as_text=True) and "12-day streak" in unescape(r.get_data(as_text=True))
        r = client.post(f"{URL}/preview", data=_fields(token, preview_as="nobody@example.com"), headers=hx)
        assert "Preview as player:" in r.get_data(as_text=True)
        # A broken draft shows what is wrong and where.
        r = client.post(f"{URL}/preview", data=_fields(token, text="{% for %}"), headers=hx)
        assert "<strong>Text:</strong>" in r.get_data(as_text=True)
        # An HTMX POST without the CSRF token is refused.
        no_csrf = {k: v for k, v in _fields(token).items() if k != "csrf_token"}
        assert client.post(f"{URL}/preview", data=no_csrf, headers={"HX-Request": "true"}).status_code == 400
        assert _count() == 0  # previews save nothing


def test_push_preview_shows_a_title_and_a_body(app, client, db):
    _, token = _admin(client)
    src = t.default_source("achievement", "push")
    data = {"csrf_token": token, "subject": src.subject, "text": src.text}
    r = client.post("/admin/templates/achievement/push/preview", data=data, headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert '<p class="push-title">🎓 Achievement unlocked</p>' in html
    assert '<p class="push-body">First lesson: Complete your first lesson.</p>' in html and "<iframe" not in html


def test_send_me_a_test_goes_to_the_admins_address_and_to_no_player(app, client, db, rq_inline, smtp_server):
    u = _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        admin, token = _admin(client)
        r = client.post(
            f"{URL}/test",
            data=_fields(token, preview_as=u.external_id),
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert r.status_code == 200 and admin.email in r.headers["HX-Trigger"]
        (msg,) = smtp_server.messages
        assert msg.rcpt_tos == [admin.email] and msg.subject == "[Test] Your 5-day streak ends at midnight"
        assert "Hi Ann Lee" in msg.text and "/l/" not in msg.text  # a plain link: nobody is logged in by a test
        assert "http://127.0.0.1:5000/streak" in msg.text
        assert db.session.execute(db.select(EmailSend)).first() is None
        assert db.session.execute(db.select(NotificationDelivery)).first() is None
        # A broken draft is not sent.
        r = client.post(f"{URL}/test", data=_fields(token, subject="{{ x }}"), headers={"HX-Request": "true"})
        assert r.status_code == 422 and len(smtp_server.messages) == 1


def test_the_analytics_page_shows_the_delivery_numbers(app, client, db, rq_inline, smtp_server):
    u = _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
        deliveries.record("push-x", type="streak_reminder", channel="push", user_id=u.id, status="fell_back")
        db.session.commit()
        _admin(client)
        page = client.get("/admin/analytics").get_data(as_text=True)
    assert 'id="chart-deliveries-sent"' in page and 'id="chart-reminder-effect"' not in page  # period not over
    row = re.search(r"<tr><td>Streak reminder</td><td>E-mail</td>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'class="num">(?:<strong>)?([^<]*)', row) == ["1", "0", "0", "0", "0.0%"]
    row = re.search(r"<tr><td>Streak reminder</td><td>Push</td>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'class="num">(?:<strong>)?([^<]*)', row) == ["0", "0", "1", "0", "—"]
    # Sent per day: 14 days to 10 March, labelled by day of the month, the reminder on the last one.
    assert "Sent per day (UTC, Feb 25 – Mar 10)" in page  # the admin's language's dates (English)
    chart = re.search(r'<svg class="chart" id="chart-deliveries-daily".*?</svg>', page, re.S).group(0)
    labels = re.findall(r'text-anchor="middle">([^<]*)</text>', chart)
    assert labels[1::2] == [str(d) for d in (25, 26, 27, 28, *range(1, 11))] and labels[-2] == "1"


def test_the_preview_says_when_the_chosen_player_would_not_get_this_version(app, client, db):
    u = _at_risk_player()  # plan = pro
    with time_machine.travel(EVENING, tick=False):
        _, token = _admin(client)
        hx = {"HX-Request": "true", "X-CSRFToken": token}
        r = client.post(f"{URL}/preview", data=_fields(token, preview_as=u.email), headers=hx)
        assert "flash-info" not in r.get_data(as_text=True)  # at risk, the template everyone gets
        t.save("streak_reminder", "email", subject="Pro", text="", html="", scope_attribute="plan", scope_value="pro")
        db.session.commit()
        r = client.post(f"{URL}/preview", data=_fields(token, preview_as=u.email), headers=hx)
        assert "Ann Lee gets the version for plan = pro instead." in r.get_data(as_text=True)
        draft = _fields(token, preview_as=u.email, scope_attribute="plan", scope_value="free")
        r = client.post(f"{URL}/preview?scoped=1", data=draft, headers=hx)
        assert "Ann Lee does not have plan = free: they would not get this version." in r.get_data(as_text=True)
    with time_machine.travel(datetime(2026, 3, 9, 20, 30, tzinfo=timezone.utc), tick=False):  # kept going that day
        token = f.csrf_token(client, "/admin/")
        r = client.post(
            f"{URL}/preview",
            data=_fields(token, preview_as=u.email),
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert "their streak is not at risk this period" in r.get_data(as_text=True)


def test_each_language_has_its_own_version_and_preview(app, client, db):
    """?lang=es edits the Spanish version: it opens with the shipped Spanish copy, saves a row in Spanish
    beside the English one, and previews in Spanish (words and numbers) even for an English player,
    saying that player gets the English version."""
    u = _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        _, token = _admin(client)
        page = unescape(client.get(f"{URL}?lang=es").get_data(as_text=True))
        assert "Mantén tu racha" in page and "Español" in page
        assert client.get(f"{URL}?lang=xx").status_code == 404
        es = t.default_source("streak_reminder", "email", "es")
        data = {"csrf_token": token, "subject": "Hola {{ name }}", "text": es.text, "html": es.html, "active": "y"}
        r = client.post(f"{URL}?lang=es", data=data)
        assert r.status_code == 302 and r.headers["Location"].endswith(f"{URL}?lang=es")
        client.post(URL, data=_fields(token, subject="Hello {{ name }}"))
        rows = db.session.execute(db.select(NotificationTemplate).order_by(NotificationTemplate.id)).scalars().all()
        assert [(r.locale, r.subject) for r in rows] == [("es", "Hola {{ name }}"), ("en", "Hello {{ name }}")]
        hx = {"HX-Request": "true", "X-CSRFToken": token}
        r = client.post(f"{URL}/preview?lang=es", data={**data, "preview_as": u.email}, headers=hx)
        html = unescape(r.get_data(as_text=True))
        assert "Hola Ann Lee" in html and "Tiempo restante: 3 horas" in html  # 20:30 London -> midnight
        assert "Ann Lee reads English: they get the English version, not this one." in html


def test_a_test_of_the_spanish_version_comes_in_spanish_frame_and_all(app, client, db, rq_inline, smtp_server):
    u = _at_risk_player()
    with time_machine.travel(EVENING, tick=False):
        _, token = _admin(client)
        es = t.default_source("streak_reminder", "email", "es")
        data = {"csrf_token": token, "subject": es.subject, "text": es.text, "html": es.html, "preview_as": u.email}
        r = client.post(f"{URL}/test?lang=es", data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
        assert r.status_code == 200
        (msg,) = smtp_server.messages
        assert msg.subject == "[Test] Tu racha de 5 días termina a medianoche"
        assert "Recibes este correo porque" in msg.text and "(prueba)" in msg.text
        assert '<html lang="es">' in msg.html
