"""E-mails in the player's language (issue 20 item 2): the notification templates per language (shipped
copies in templates/notifications/es/, admins' versions per language), the frame around them, and the
words, dates and numbers in them formatted in the recipient's language and time zone, not the
request's. Expected texts are written by hand from the Spanish templates and CLDR's formats."""

from datetime import date, datetime, timezone

import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import UserStreak
from gamify.services import notification_templates as t
from tests import factories as f
from tests.mailfixtures import player, rq_inline, smtp_server, streak_until  # noqa: F401

# 20:30 UTC on Tuesday 10 March 2026: 21:30 in Madrid (CET) and 20:30 in London (GMT).
EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)


def _players(locales: dict) -> dict:
    """Players with a 5-day daily streak ending yesterday (at risk tonight), then lengthened by hand
    to 1234 so the number shows its grouping (1.234 / 1,234)."""
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    out = {}
    for name, (tz, locale) in locales.items():
        u = streak_until(player(name, tz), date(2026, 3, 9), 5)
        u.locale = locale
        db.session.get(UserStreak, u.id).length = 1234
        out[name] = u
    db.session.commit()
    return out


def _sent(smtp_server) -> dict:
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
    return {m.to: m for m in smtp_server.messages}


def test_a_spanish_players_reminder_is_spanish_with_spanish_numbers_dates_and_times(app, db, rq_inline, smtp_server):
    _players({"ana": ("Europe/Madrid", "es"), "ann": ("Europe/London", "en")})
    smtp_server.messages.clear()
    by = _sent(smtp_server)
    es, en = by["ana@example.com"], by["ann@example.com"]

    # Spanish: '1.234', 'días', 'a medianoche'; 21:30 in Madrid -> 2 h 30 min left, whole hours: '2 horas';
    # the period's last day in Madrid, Tuesday 10 March: 'martes, 10 mar'.
    assert es.subject == "Tu racha de 1.234 días termina a medianoche"
    assert "Hola, ana:" in es.text
    assert "Tu racha de 1.234 días termina a medianoche. Unos minutos bastan" in es.text
    assert "Tiempo restante: 2 horas (hasta el final del martes, 10 mar)." in es.text
    assert "Recibes este correo porque" in es.text and "Darme de baja de: recordatorios de racha:" in es.text
    assert '<html lang="es">' in es.html and ">Mantener mi racha</a>" in es.html
    assert "Este botón inicia tu sesión una vez" in es.html
    assert "Keep" not in es.subject + es.text + es.html and "Your" not in es.text

    # English, in London (20:30 -> 3 h 30 min left): as before, with English formats.
    assert en.subject == "Your 1,234-day streak ends at midnight"
    assert "Your 1,234-day streak ends at midnight. A few minutes" in en.text
    assert "Time left: 3 hours (until the end of Tuesday, Mar 10)." in en.text
    assert "You get this e-mail because streak reminders e-mails are on" in en.text
    assert '<html lang="en">' in en.html and ">Keep my streak</a>" in en.html
    assert "Hola" not in en.text and "racha" not in en.text


def test_a_spanish_admin_version_goes_to_spanish_players_only(app, db, rq_inline, smtp_server):
    _players({"ana": ("Europe/Madrid", "es"), "ann": ("Europe/London", "en")})
    t.save(
        "streak_reminder",
        "email",
        subject="¡{{ name }}, {{ streak.length|num }} {{ streak.units }}!",
        text="Quedan {{ streak.time_left }}.",
        html="<p>{{ streak.ends }}</p>",
        locale="es",
    )
    db.session.commit()
    smtp_server.messages.clear()
    by = _sent(smtp_server)
    assert by["ana@example.com"].subject == "¡ana, 1.234 días!"
    assert by["ana@example.com"].text.startswith("Quedan 2 horas.")
    assert "<p>a medianoche</p>" in by["ana@example.com"].html
    assert by["ann@example.com"].subject == "Your 1,234-day streak ends at midnight"  # the shipped English one


def test_an_english_admin_version_does_not_reach_spanish_players(app, db, rq_inline, smtp_server):
    _players({"ana": ("Europe/Madrid", "es"), "ann": ("Europe/London", "en")})
    t.save("streak_reminder", "email", subject="Custom {{ name }}", text="x", html="<p>x</p>")
    db.session.commit()
    smtp_server.messages.clear()
    by = _sent(smtp_server)
    assert by["ann@example.com"].subject == "Custom ann"
    assert by["ana@example.com"].subject == "Tu racha de 1.234 días termina a medianoche"  # Spanish default


def test_a_language_without_its_own_copy_gets_the_english_default(app, db):
    es = t.default_source("streak_reminder", "email", "es")
    assert es.subject.startswith("{% if streak.has_freeze %}Mantén") and es.locale == "es"
    assert (
        t.default_source("streak_reminder", "email", "fr").subject
        == t.default_source("streak_reminder", "email").subject
    )
