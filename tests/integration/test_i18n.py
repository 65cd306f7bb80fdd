"""Languages: every string marked, every string translated (Spanish), the language chosen per request,
and pages and notifications in Spanish with Spanish dates and numbers (e-mails: test_i18n_mail.py)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from gamify.services import points as points_svc
from gamify.services import reminders
from gamify.services.events import process_event
from tests import factories as f
from tests import i18n_lint
from tests.integration.test_web_player import login_client, world

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "gamify" / "translations"
SHIPPED = ("es",)


def _extracted() -> set:
    """Every msgid marked in gamify/ and templates/, extracted now as `make i18n` does (babel.cfg)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    ids = set()
    for _file, _line, msg, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords, strip_comment_tags=True
    ):
        ids.add(msg[0] if isinstance(msg, (tuple, list)) else msg)
    return ids


def _catalogue(lang: str):
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        po = read_po(fh, locale=lang)
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        mo = read_mo(fh)
    return po, mo


def _strings(catalog) -> dict:
    out = {}
    for m in catalog:
        if m.id:
            key = m.id[0] if isinstance(m.id, (tuple, list)) else m.id
            out[key] = tuple(m.string) if isinstance(m.string, (tuple, list)) else m.string
    return out


def test_every_template_string_is_marked_for_translation():
    findings = [f for f in i18n_lint.check_all() if not f.template.startswith(i18n_lint.PENDING)]
    assert not findings, "\n".join(map(str, findings))


def test_the_template_checker_finds_unmarked_text_nodes_attributes_and_literals():
    env = i18n_lint.Environment(extensions=["jinja2.ext.i18n"])
    src = (
        '<p title="Hello there">{{ _("Marked") }} Plain words</p><tr{% if x %} class="me"{% endif %}>'
        "{{ navlink('/a', 'Year in review') }}{{ 3 }} · — 🔥 &amp; {% trans %}Fine here{% endtrans %}"
        "<script>var x = 'not prose';</script><code>GET /api</code> gamify"
    )
    found = sorted(x.text for x in i18n_lint.check_source(env, "t.html", src))
    assert found == ["Hello there", "Plain words", "Year in review"]
    assert [x.text for x in i18n_lint.check_source(env, "t.txt", "Hi {{ name }},\n{{ _('ok') }}")] == ["Hi"]


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_marked_string_has_a_translation_in_the_compiled_catalogue(lang):
    po, mo = _catalogue(lang)
    compiled = _strings(mo)
    missing = []
    for msgid in sorted(_extracted()):
        got = compiled.get(msgid)
        if not got or (isinstance(got, tuple) and not all(got)):
            missing.append(msgid)
    assert not missing, f"{len(missing)} strings without a {lang} translation (make i18n, then translate): {missing}"
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries in {lang}: {fuzzy}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_the_committed_mo_is_compiled_from_the_po(lang):
    po, mo = _catalogue(lang)
    wanted = {k: v for k, v in _strings(po).items() if v and not (isinstance(v, tuple) and not all(v))}
    assert _strings(mo) == wanted, "the .mo is older than the .po: run make i18n"


# ------------------------------------------------------------------------------------------ choosing


def _lang(html: str) -> str:
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


def test_an_anonymous_visitor_gets_their_browsers_language_else_the_admins_default(client, db):
    html = client.get("/login", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert _lang(html) == "es" and "Hola de nuevo" in html and "Iniciar sesión" in html
    html = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert _lang(html) == "en" and "Welcome back" in html
    reminders.update_settings(default_locale="es")
    db.session.commit()
    html = client.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert _lang(html) == "es" and "Hola de nuevo" in html
    html = client.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert _lang(html) == "en", "a language the browser asks for beats the admin's default"


def test_the_players_choice_beats_the_browser_and_the_apis_stay_english(client, db):
    user = f.web_player()
    login_client(client)
    html = client.get("/settings", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _lang(html) == "es" and "Ajustes" in html
    user.locale = "en"
    db.session.commit()
    html = client.get("/settings", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert _lang(html) == "en" and "Settings" in html
    user.locale = "es"
    db.session.commit()
    resp = client.get("/api/v1/nothing-here", headers={"Accept-Language": "es"})
    assert resp.status_code == 404 and resp.get_json()["error"]["message"] == "Not found."


def test_the_settings_page_saves_the_language_and_answers_in_it(client, db):
    user = f.web_player()
    token = login_client(client)
    form = {"display_name": "Pat", "timezone": "UTC", "locale": "es", "csrf_token": token}
    resp = client.post("/settings", data=form, follow_redirects=True)
    db.session.refresh(user)
    html = resp.get_data(as_text=True)
    assert user.locale == "es" and "Ajustes guardados." in html and '<option selected value="es">' in html
    resp = client.post("/settings", data={**form, "locale": ""}, follow_redirects=True)
    db.session.refresh(user)
    assert user.locale is None and "Settings saved." in resp.get_data(as_text=True)
    resp = client.post("/settings", data={**form, "locale": "xx"})
    db.session.refresh(user)
    assert resp.status_code == 400 and user.locale is None


# ------------------------------------------------------------------------------------------ Spanish pages


def test_a_spanish_player_sees_spanish_pages_dates_numbers_and_notifications(client, db):
    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc), tick=False):
        user, _m, xp = world(db, tz="Europe/Madrid")
        process_event("lessons", user, 1)  # "First lesson" and 10 XP
        points_svc.award(user, xp, 1224, "admin", reason="bonus")  # 1,234 XP: Gold (500)
        db.session.commit()
    with time_machine.travel(datetime(2027, 1, 5, 9, 0, tzinfo=timezone.utc), tick=False):
        user.locale = "es"
        db.session.commit()
        login_client(client)
        dash = client.get("/dashboard").get_data(as_text=True)
        assert _lang(dash) == "es" and "Hola, Pat" in dash and "Logros recientes" in dash
        assert 'data-points-total="1234">1.234<' in dash  # Spanish grouping
        achievements = client.get("/achievements").get_data(as_text=True)
        assert "Conseguido el 2 dic 2026" in achievements  # earlier year: with the year, Spanish month
        points = client.get("/points?system=xp").get_data(as_text=True)
        assert "2 dic 2026, 13:00" in points  # the award, at noon UTC = 13:00 in Madrid, 24-hour clock
        notes = client.get("/notifications").get_data(as_text=True)
        assert "Logro desbloqueado: First lesson" in notes
        assert "XP: ¡has llegado a Gold!" in notes
        assert "hace 33 d" in notes  # 2 Dec 12:00 -> 5 Jan 09:00: 33 days 21 h, in days, CLDR's short Spanish
        user.locale = "en"
        db.session.commit()
        notes = client.get("/notifications").get_data(as_text=True)
        assert "Achievement unlocked: First lesson" in notes and "XP: you reached Gold!" in notes


def test_numbers_in_a_notification_follow_the_readers_language(client, db):
    from gamify import notices
    from gamify.services import outbox

    user = f.web_player()
    params = {"current": 1250, "max": 1500}
    outbox.notify(user.id, "energy_full", *notices.words("energy_full", **params), message="energy_full", params=params)
    user.locale = "es"
    db.session.commit()
    login_client(client)
    html = client.get("/notifications").get_data(as_text=True)
    assert "Tu energía está llena" in html and "1.250/1.500: ¡es hora de usarla!" in html


def test_the_checker_wants_a_copy_of_every_notification_default_per_language(tmp_path):
    (tmp_path / "notifications" / "recap").mkdir(parents=True)
    (tmp_path / "notifications" / "es" / "recap").mkdir(parents=True)
    for name in ("email_subject.txt", "email_text.txt"):
        (tmp_path / "notifications" / "recap" / name).write_text("Your week {{ name }}")
    (tmp_path / "notifications" / "es" / "recap" / "email_subject.txt").write_text("Tu semana")
    found = [str(x) for x in i18n_lint.check_all(tmp_path)]  # the sandboxed texts themselves are not marked
    assert found == ["templates/notifications/es/recap/email_text.txt: missing: the copy of recap/email_text.txt"]


def test_an_admin_sets_the_default_language_on_the_notification_settings_page(client, db):
    """The form (CSRF) stores messaging_settings.default_locale; negotiation falls back to it when the
    browser asks for no language the app has; a language without a catalogue is refused (400)."""
    f.admin()
    f.login(client, "admin@example.com")
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert 'name="default_locale"' in page and "Español" in page
    data = {
        "email_enabled": "y",
        "reminder_hour": "20",
        "weekly_reminder_weekday": "4",
        "weekly_reminder_hour": "9",
        "monthly_reminder_days_before": "3",
        "reactivation_threshold": "7",
        "reactivation_hour": "10",
        "reactivation_days": "3,7",
        "recap_weekday": "0",
        "recap_hour": "9",
        "default_locale": "es",
    }
    assert client.post("/admin/notifications", data=data).status_code == 400  # no CSRF token
    data["csrf_token"] = f.csrf_token(client, "/admin/notifications")
    assert client.post("/admin/notifications", data=dict(data, default_locale="fr")).status_code == 400
    assert client.post("/admin/notifications", data=data).status_code == 302
    db.session.expire_all()
    assert reminders.get_settings().default_locale == "es"
    client.get("/logout")
    anon = client.application.test_client()
    html = anon.get("/login", headers={"Accept-Language": "de-DE,de;q=0.9"}).get_data(as_text=True)
    assert _lang(html) == "es" and "Hola de nuevo" in html
    html = anon.get("/login", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert _lang(html) == "en"


def test_an_admin_who_reads_spanish_gets_the_admin_pages_and_messages_in_spanish(client, db):
    """Folders of templates/admin/ out of i18n_lint.PENDING are marked and translated (the template editor
    first): its pages, labels and flash messages follow the admin's language."""
    admin = f.admin()
    admin.locale = "es"
    db.session.commit()
    f.login(client, admin.email)
    html = client.get("/admin/templates/").get_data(as_text=True)
    assert _lang(html) == "es" and "Plantillas de notificaciones" in html and "Añadir una versión segmentada" in html
    html = client.get("/admin/templates/streak_reminder/email").get_data(as_text=True)
    assert "Vista previa como el jugador" in html and "Enviarme una prueba" in html
    token = f.csrf_token(client, "/admin/templates/")
    data = {"csrf_token": token, "subject": "Hi", "text": "x", "html": "<p>x</p>", "active": "y"}
    r = client.post("/admin/templates/streak_reminder/email", data=data, follow_redirects=True)
    assert "Plantilla Recordatorio de racha (correo) guardada." in r.get_data(as_text=True)


ADMIN_PAGES = {
    "/admin/": "Empieza aquí",
    "/admin/analytics": "¿Ayuda la gamificación?",
    "/admin/metrics": "Nueva métrica",
    "/admin/achievements": "Crear un logro",
    "/admin/points": "Nuevo sistema",
    "/admin/streak": "Requisitos por periodo",
    "/admin/players": "Buscar jugadores",
    "/admin/api-keys": "Crear una clave",
    "/admin/notifications": "Ajustes de notificaciones",
    "/admin/jobs": "Tareas en segundo plano",
    "/admin/webhooks/": "Añadir un endpoint",
    "/admin/leaderboards/": "Nueva clasificación",
    "/admin/energy": "Gratis: energía máxima",
    "/admin/actions": "Nueva acción",
    "/admin/templates/": "Plantillas de notificaciones",
    # The analytics pages over time: a chart title from Python, a page heading, a template sentence.
    "/admin/analytics/trends": "Eventos por métrica",
    "/admin/analytics/retention": "Curva de retención",
    "/admin/analytics/funnels": "Analítica: embudos de logros",
    "/admin/analytics/points": "Aún no hay sistemas de puntos",
}


def test_every_admin_page_speaks_the_admins_language(client, db):
    admin = f.admin()
    admin.locale = "es"
    db.session.commit()
    f.login(client, admin.email)
    for path, words in ADMIN_PAGES.items():
        r = client.get(path)
        html = r.get_data(as_text=True)
        assert r.status_code == 200 and _lang(html) == "es" and words in html, path


def test_analytics_pages_in_spanish_and_their_csv_in_english(client, db):
    """The analytics pages over time speak the admin's language (series names, dates, numbers, bands);
    their CSV downloads keep English columns and names whatever the admin reads (machine-readable)."""
    import csv
    import io

    from gamify.models import PointsBalance

    xp = f.system("xp", levels=[("b", "Bronze", 0), ("s", "Silver", 100)], name="XP")
    for i, balance in enumerate((5, 2500)):
        db.session.add(PointsBalance(user_id=f.player(f"p{i}").id, system_id=xp.id, balance=balance))
    admin = f.admin()
    admin.locale = "es"
    db.session.commit()
    f.login(client, admin.email)
    with time_machine.travel(datetime(2026, 3, 10, 12, tzinfo=timezone.utc), tick=False):
        html = client.get("/admin/analytics/trends?days=7&grain=day").get_data(as_text=True)
        # Series, period heading and dates in Spanish: 4 to 10 March 2026 ('4 mar', not '4 Mar').
        assert "Iniciada" in html and "Recargada con fichas" in html and "Mostrar las cifras" in html
        assert "4 mar 2026" in html and ">Día<" in html and "Últimos 30 días" in html
        rows = list(
            csv.reader(io.StringIO(client.get("/admin/analytics/trends/streaks.csv?days=7").get_data(as_text=True)))
        )
        assert rows[0] == ["day", "Started", "Extended", "Frozen", "Lost"] and rows[1][0] == "2026-03-04"

        html = client.get("/admin/analytics/retention").get_data(as_text=True)
        assert "Gamificados" in html and "Grupo de control" in html and "Intervalo del 95\xa0%" in html
        curve = client.get("/admin/analytics/retention/curve.csv").get_data(as_text=True)
        assert curve.startswith("day_after_signup,Gamified,Control group\n")

        html = client.get("/admin/analytics/points?edges=10,100").get_data(as_text=True)
        assert "menos de 10" in html and "XP: saldos" in html  # balance 5 lies below the first edge
        body = client.get("/admin/analytics/points/xp.csv?edges=10,100").get_data(as_text=True)
        assert body.splitlines()[:2] == ["balance,players", "below 10,1"]

        f.achievement("week", "streak", name="Week streak", streak_length=7)
        db.session.commit()
        html = client.get("/admin/analytics/funnels").get_data(as_text=True)
        assert "0–25\xa0%" in html and "Completado" in html  # '0–25 %': the Spanish percent format
        assert (
            client.get("/admin/analytics/funnels.csv")
            .get_data(as_text=True)
            .startswith("achievement,key,players,0–25%,25–50%,50–75%,75–100%,completed,median_days\n")
        )
