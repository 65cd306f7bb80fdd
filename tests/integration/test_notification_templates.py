"""Notification templates: the sandbox, the template a player gets (attribute scope, switched off), and
what a saved template changes in the e-mail that goes out."""

from datetime import date, datetime, timezone

import pytest
import time_machine

from gamify import jobs
from gamify.extensions import db
from gamify.models import EmailSend, NotificationTemplate
from gamify.services import notification_templates as t
from gamify.services.config_rules import ConfigError
from tests import factories as f
from tests.mailfixtures import player, rq_inline, smtp_server, streak_until  # noqa: F401

EVENING = datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc)  # 20:30 in London (GMT)


def _src(subject="Hi {{ name }}", text="Hello {{ name }}", html="<p>{{ name }}</p>", kind="streak_reminder"):
    return t.Source(kind, "email", subject, text, html)


def _refused(field: str, **fields) -> str:
    with pytest.raises(ConfigError) as e:
        t.check(_src(**fields))
    assert e.value.field == field, (e.value.field, str(e.value))
    return str(e.value)


@pytest.mark.parametrize(
    "bad",
    [
        "{{ player.__class__ }}",
        "{{ name.__class__.__mro__ }}",
        "{{ range.__globals__ }}",
        "{{ player.attributes.__init__.__globals__ }}",
        "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_the_sandbox_refuses_internals(app, db, bad):
    message = _refused("text", text=bad)
    assert "not allowed" in message or "unsafe" in message


def test_no_config_no_includes_no_changing_values_no_huge_output(app, db):
    assert "config" in _refused("subject", subject="{{ config.SECRET_KEY }}")
    assert "'request' is undefined" in _refused("subject", subject="{{ request }}")
    assert "include" in _refused("html", html='{% include "email/_layout.html" %}')
    assert "not allowed" in _refused("text", text="{{ player.attributes.clear() }}")
    assert "not allowed" in _refused("text", text="{{ 'x' * 100000 }}")
    assert "not allowed" in _refused("text", text="{{ 9 ** 999 }}")


def test_a_variable_the_type_does_not_have_names_the_field(app, db):
    assert "'achievement' is undefined" in _refused("html", html="{{ achievement.name }}")
    assert "line 2" in _refused("text", text="ok\n{% if %}")
    t.check(_src(kind="achievement", html="{{ achievement.name }}"))  # an achievement mail has it


def test_html_escapes_values_and_text_does_not(app, db):
    ctx = t.sample_contexts("streak_reminder")[0] | {"name": "<b>Al</b> & co"}
    r = t.render_source(_src(), ctx)
    assert r.html == "<p>&lt;b&gt;Al&lt;/b&gt; &amp; co</p>" and r.text == "Hello <b>Al</b> & co"


def test_at_send_time_a_refused_access_still_fails(app, db):
    """A row written around `save` (say, by hand in SQL) renders nothing of the internals either."""
    f.metric()
    db.session.add(NotificationTemplate(type="recap", channel="push", subject="{{ player.__class__ }}", text="x"))
    u = f.player("ann")
    db.session.commit()
    with pytest.raises(ConfigError) as e:
        t.render_notification("recap", "push", u, t.context(u, {"week": {}}))
    assert e.value.field == "subject"


def _save(kind="streak_reminder", channel="email", attr="", value="", active=True, subject="S"):
    return t.save(
        kind,
        channel,
        subject=f"{subject} {{{{ name }}}}",
        text="T",
        html="<p>H</p>",
        scope_attribute=attr,
        scope_value=value,
        active=active,
    )


def test_a_scoped_template_goes_to_players_with_that_attribute_value(app, db):
    pro = f.player("pro", attributes={"plan": "pro"})
    free = f.player("free", attributes={"plan": "free"})
    none = f.player("none")
    scoped = _save(attr="plan", value="pro", subject="Pro")
    db.session.commit()
    assert t.pick("streak_reminder", "email", pro).id == scoped.id
    assert t.pick("streak_reminder", "email", free).id is None  # the shipped default
    assert t.pick("streak_reminder", "email", none).id is None
    assert t.pick("streak_reminder", "push", pro).id is None  # scoped to e-mail only
    ctx = t.sample_contexts("streak_reminder")[0] | {"name": "Pat"}
    assert t.render_notification("streak_reminder", "email", pro, ctx).subject == "Pro Pat"

    everyone = _save(subject="All")
    db.session.commit()
    assert t.pick("streak_reminder", "email", free).id == everyone.id
    assert t.pick("streak_reminder", "email", pro).id == scoped.id

    scoped.active = False  # a scoped template switched off is skipped
    db.session.commit()
    assert t.pick("streak_reminder", "email", pro).id == everyone.id

    scoped.active, everyone.active = True, False  # only pro players get this type now
    db.session.commit()
    assert t.pick("streak_reminder", "email", pro).id == scoped.id
    with pytest.raises(t.NoTemplate):
        t.pick("streak_reminder", "email", free)


def test_boolean_and_number_attributes_match_by_their_text(app, db):
    beta = f.player("beta", attributes={"beta": True, "tier": 2})
    a = _save(attr="beta", value="true", subject="Beta")
    db.session.commit()
    assert t.pick("streak_reminder", "email", beta).id == a.id
    b = _save(kind="recap", attr="tier", value="2", subject="Tier")
    db.session.commit()
    assert t.pick("recap", "email", beta).id == b.id


def test_save_refuses_two_templates_for_one_scope_and_writes_nothing_refused(app, db):
    _save(attr="plan", value="pro")
    db.session.commit()
    with pytest.raises(ConfigError) as e:
        _save(attr="plan", value="pro")
    assert e.value.field == "scope_value"
    with pytest.raises(ConfigError) as e:
        _save(attr="plan", value="")
    assert e.value.field == "scope_value"
    with pytest.raises(ConfigError):
        t.save("streak_reminder", "email", subject="{{ nope }}", text="", html="")
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(NotificationTemplate.id))).scalar() == 1


def test_push_has_a_title_and_a_body_only(app, db):
    u = f.player("ann")
    db.session.commit()
    r = t.render_notification("achievement", "push", u, t.sample_contexts("achievement")[0])
    assert r.subject == "🎓 Achievement unlocked"
    assert r.text == "First lesson: Complete your first lesson." and r.html == ""


def test_a_saved_template_is_what_the_player_receives_and_its_scope_is_read_at_send_time(
    app, db, rq_inline, smtp_server
):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)
    t.save(
        "streak_reminder",
        "email",
        subject="{{ name }}: {{ streak.length }} {{ streak.unit }}s, {{ streak.time_left }} left",
        text="{% if streak.has_freeze %}covered{% else %}no freeze{% endif %} {{ link }}",
        html="<p>{{ player.attributes.plan }}</p>{{ button('Go') }}",
        scope_attribute="plan",
        scope_value="pro",
    )
    db.session.commit()
    u.attributes = {"plan": "pro"}  # after the reminder was planned: the template is picked when it is sent
    db.session.commit()
    smtp_server.messages.clear()
    with time_machine.travel(EVENING, tick=False):
        assert jobs.streak_reminders() == 1
    (msg,) = smtp_server.messages
    assert msg.subject == "ann: 5 days, 3 hours left"  # 20:30 -> midnight
    (link,) = msg.links("/l/streak/")
    assert msg.text.splitlines()[0] == f"no freeze {link}" and "/unsubscribe/" in msg.text  # the frame's footer
    assert "<p>pro</p>" in msg.html and ">Go</a>" in msg.html


def test_a_template_switched_off_skips_the_mail_and_a_broken_one_fails_it(app, db, rq_inline, smtp_server):
    m = f.metric()
    f.streak({m: 1})
    db.session.commit()
    u = streak_until(player("ann", "Europe/London"), date(2026, 3, 9), 5)
    smtp_server.messages.clear()
    off = _save(active=False)
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        jobs.streak_reminders()
    row = db.session.execute(db.select(EmailSend)).scalar_one()
    assert (row.status, smtp_server.messages) == ("skipped", [])
    assert "switched off" in row.last_error

    off.active, off.subject = True, "{{ streak.length + 'x' }}"  # past `check`, as a hand-made row could be
    row.status = "pending"
    db.session.commit()
    with time_machine.travel(EVENING, tick=False):
        jobs.deliver_email(row.id)
    db.session.expire_all()
    row = db.session.get(EmailSend, row.id)
    assert row.status == "failed" and row.last_error.startswith("the subject template could not be rendered")
    assert smtp_server.messages == [] and u.id
