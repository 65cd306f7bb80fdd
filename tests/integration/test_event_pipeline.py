"""The event's way through gamify/pipeline/core.py (what services/events.py exposes), called directly:
what each refusal says, what an event stores and answers, a repeated idempotency key, the player's time
zone and attributes, first sight of a player, the batch's order and the ORM rows the caller holds."""

from datetime import datetime, timedelta, timezone

import pytest

from gamify.models import MetricEvent, MetricTotal, PointsAward, PointsBalance, User
from gamify.services.events import MAX_BATCH, EventError, EventIn, UserRef, process_batch, process_event
from tests import factories as f

T = f.utc(2030, 6, 1, 12)  # far from the real clock: a `now` dropped on the way shows


def refusal(result):
    e = result.error
    return (e.field, str(e), e.status) if e is not None else None


@pytest.fixture
def lessons(db):
    return f.metric("lessons")


def test_each_refusal_names_the_field_and_the_fix_and_the_good_events_go_on(db, lessons):
    u = f.player()
    f.metric("debts", allow_negative=True)
    key_msg = "idempotency_key must be a string of 1 to 255 characters"
    cases = [
        (EventIn("lessons", u, "ten"), ("value", "value must be a number between -10^15 and 10^15", 400)),
        (EventIn("lessons", u, 1, tz=5), ("tz", "tz must be an IANA timezone name such as 'Europe/London'", 400)),
        (
            EventIn("lessons", u, 1, attributes=["x"]),
            ("attributes", "attributes must be an object of string keys", 400),
        ),
        (EventIn("lessons", u, 1, idempotency_key=""), ("idempotency_key", key_msg, 400)),
        (EventIn("lessons", u, 1, idempotency_key="k" * 256), ("idempotency_key", key_msg, 400)),
        (EventIn("lessons", u, 1, idempotency_key=7), ("idempotency_key", key_msg, 400)),
        (EventIn("lessons", u, 1, idempotency_key="a\x00b"), ("idempotency_key", key_msg, 400)),
        (EventIn("", u, 1), ("metric", "metric must be a metric key", 400)),
        (EventIn(5, u, 1), ("metric", "metric must be a metric key", 400)),
        (EventIn("nope", u, 1), ("metric", "unknown metric 'nope'", 404)),
        (
            EventIn("lessons", u, -1),
            ("value", "metric 'lessons' takes no negative values (an admin can allow them on the metric's page)", 400),
        ),
        (EventIn("lessons", u.id + 1000, 1), ("user", "unknown user", 404)),
        (EventIn("lessons", u, 1, idempotency_key="k" * 255), None),  # the longest key
        (EventIn("debts", u, -2), None),  # a metric that allows them
        (EventIn("lessons", u, 0), None),
    ]
    results = process_batch([ev for ev, _ in cases], now=T)
    assert [refusal(r) for r in results] == [want for _, want in cases]
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 3
    tz_error = process_batch([EventIn("lessons", u, 1, tz="Mars/Olympus")], now=T)[0].error
    assert tz_error.field == "tz" and "Mars/Olympus" in str(tz_error)


def test_a_batch_holds_at_most_max_batch_events(db, lessons):
    u = f.player()
    with pytest.raises(EventError) as ei:
        process_batch([EventIn("lessons", u, 1)] * (MAX_BATCH + 1), now=T)
    assert (ei.value.field, str(ei.value)) == ("events", f"at most {MAX_BATCH} events per batch")
    assert len(process_batch([EventIn("lessons", u, 1)] * MAX_BATCH, now=T)) == MAX_BATCH


def test_an_event_stores_what_it_says_and_answers_with_the_new_total(db, lessons):
    u = f.player(attributes={"plan": "free"})
    first = process_event("lessons", u, now=T)  # one by default
    r = process_event(
        "lessons", u.id, 2.5, tz="Asia/Tokyo", attributes={"plan": "pro", "n": 1}, idempotency_key="k", now=T
    )
    assert {k: first[k] for k in ("metric", "metric_total", "idempotent_replayed", "control")} == {
        "metric": "lessons",
        "metric_total": 1.0,
        "idempotent_replayed": False,
        "control": False,
    }
    assert (r["metric_total"], r["event_id"]) == (3.5, first["event_id"] + 1)
    ev = db.session.get(MetricEvent, r["event_id"])
    # 12:00 UTC is 21:00 in Tokyo: the same date; the player's zone follows them from now on
    assert (ev.user_id, ev.metric_id, ev.value, ev.occurred_at) == (u.id, lessons.id, 2.5, T)
    assert (ev.local_date, ev.timezone, ev.idempotency_key, ev.attributes) == (
        T.date(),
        "Asia/Tokyo",
        "k",
        {"plan": "pro", "n": 1},
    )
    total = db.session.get(MetricTotal, (u.id, lessons.id))
    assert (total.total, total.updated_at) == (3.5, T)
    db.session.expire_all()
    assert (db.session.get(User, u.id).timezone, db.session.get(User, u.id).last_seen_at) == ("Asia/Tokyo", T)


def test_the_events_attributes_win_over_the_players_for_the_rules(db, lessons):
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=lessons.id, attribute_filters={"plan": "pro"})
    u = f.player(attributes={"plan": "free", "city": "Oslo"})
    assert process_event("lessons", u, 1, attributes={"plan": "pro"}, now=T)["points"]["xp"]["added"] == 10
    assert process_event("lessons", u, 1, now=T)["points"]["xp"]["added"] == 0


def test_the_local_date_follows_the_events_zone(db, lessons):
    u = f.player()
    late = f.utc(2030, 6, 1, 20)  # 05:00 on 2 June in Tokyo
    r = process_event("lessons", u, 1, tz="Asia/Tokyo", now=late)
    assert db.session.get(MetricEvent, r["event_id"]).local_date.isoformat() == "2030-06-02"
    r = process_event("lessons", u, 1, now=late)  # no zone given: the player's (Tokyo now)
    assert db.session.get(MetricEvent, r["event_id"]).local_date.isoformat() == "2030-06-02"


def test_a_repeated_key_answers_with_the_first_event_and_the_total_now(db, lessons):
    u = f.player(tz="Asia/Tokyo")
    first, again = process_batch(
        [EventIn("lessons", u, 3, idempotency_key="k"), EventIn("lessons", u, 3, idempotency_key="k")], now=T
    )
    later = process_event("lessons", u, 3, idempotency_key="k", now=T + timedelta(hours=1))
    other_metric = f.metric("minutes", "Minutes", "minutes")
    fresh = process_event("minutes", u, 3, idempotency_key="k", now=T)  # the key is per metric
    replayed = {
        "event_id": first.response["event_id"],
        "metric": "lessons",
        "metric_total": 3.0,
        "idempotent_replayed": True,
        "control": False,
        "achievements": [],
        "points": {},
        "streak": None,
    }
    for r in (again.response, later):
        assert {k: r[k] for k in replayed} == replayed
    assert fresh["idempotent_replayed"] is False and other_metric.key == "minutes"
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 2


def test_last_seen_is_the_batchs_latest_event_time(db, lessons):
    u, v = f.player("u"), f.player("v")
    earlier = T - timedelta(days=3)
    process_batch(
        [
            EventIn("lessons", u, 1, now=T),
            EventIn("lessons", u, 1, now=earlier),  # sent late, in the same batch
            EventIn("lessons", v, 1, now=earlier),
            EventIn("lessons", v, 1, now=T),
        ]
    )
    assert (u.last_seen_at, v.last_seen_at) == (T, T)  # the caller's rows, told without a reload
    db.session.expire_all()
    assert [db.session.get(User, x.id).last_seen_at for x in (u, v)] == [T, T]


def test_a_new_player_is_created_at_the_events_time_with_what_its_first_event_says(db, lessons):
    f.player("taken")
    taken = db.session.execute(db.select(User).where(User.external_id == "taken")).scalar_one()
    taken.email = "ann@example.com"
    db.session.commit()
    results = process_batch(
        [
            EventIn("lessons", UserRef("new", name="Bea", email=" Bea@Example.com ", attributes={"tier": "gold"}), 1),
            EventIn("lessons", UserRef("thief", email="ANN@example.com"), 1),
        ],
        now=T,
    )
    assert refusal(results[1]) == ("user.email", "that email belongs to another user", 400)
    new = db.session.execute(db.select(User).where(User.external_id == "new")).scalar_one()
    assert (new.display_name, new.email, new.attributes, new.created_at) == (
        "Bea",
        "bea@example.com",
        {"tier": "gold"},
        T,
    )
    assert db.session.execute(db.select(User).where(User.external_id == "thief")).scalar_one_or_none() is None
    process_event("lessons", UserRef("solo"), 1, now=T)  # one event alone: the same
    assert db.session.execute(db.select(User.created_at).where(User.external_id == "solo")).scalar() == T


def test_events_of_one_batch_are_stamped_a_microsecond_apart_in_the_order_given(db, lessons):
    a, b = f.player("a"), f.player("b")
    results = process_batch([EventIn("lessons", b, 1), EventIn("lessons", a, 1)], now=T)
    times = [db.session.get(MetricEvent, r.response["event_id"]).occurred_at for r in results]
    assert times == [T, T + timedelta(microseconds=1)]


def test_without_commit_the_callers_orm_rows_see_the_write(db, lessons):
    xp = f.system("xp")
    f.trigger(xp, "metric", 10, metric_id=lessons.id)
    u = f.player()
    process_event("lessons", u, 1, now=T)
    row = db.session.get(PointsBalance, (u.id, xp.id))
    assert row.balance == 10
    process_batch([EventIn("lessons", u, 1, tz="Europe/Oslo")], now=T, commit=False)
    assert row.balance == 20 and u.timezone == "Europe/Oslo"  # no reload needed
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count(PointsAward.id))).scalar() == 1  # nothing was committed


def test_a_refused_single_event_raises_and_leaves_nothing(db, lessons):
    u = f.player()
    with pytest.raises(EventError) as ei:
        process_event("lessons", u, -1, now=T)
    assert ei.value.field == "value"
    assert db.session.execute(db.select(db.func.count(MetricEvent.id))).scalar() == 0


def _stored_times(db, results):
    return [db.session.get(MetricEvent, r.response["event_id"]).occurred_at for r in results if r.error is None]


def test_a_stated_time_is_refused_when_ahead_of_the_clock_by_more_than_a_minute_or_without_an_offset(db, lessons):
    """occurred_at (importing a product's history): up to 60 s ahead is the caller's clock running fast and is
    taken as now; further ahead, without a UTC offset, or on an action is refused, naming the field. The times
    in the messages are in UTC, to the second, with a Z (T is 12:00:00Z)."""
    u = f.player()
    plus2 = timezone(timedelta(hours=2))
    future = (
        "occurred_at 2030-06-01T12:01:01Z is in the future (the server's time is 2030-06-01T12:00:00Z): "
        "only past events can be imported"
    )
    cases = [
        (EventIn("lessons", u, 1, occurred_at=T + timedelta(seconds=61)), ("occurred_at", future, 400)),
        (
            # 16:00 at +02:00 is 14:00 UTC: two hours ahead, written in UTC
            EventIn("lessons", u, 1, occurred_at=datetime(2030, 6, 1, 16, 0, 0, 900000, tzinfo=plus2)),
            ("occurred_at", future.replace("12:01:01Z", "14:00:00Z"), 400),
        ),
        (
            EventIn("lessons", u, 1, occurred_at=datetime(2030, 6, 1, 11)),  # no offset
            ("occurred_at", "occurred_at must be a moment with its UTC offset", 400),
        ),
        (
            EventIn("lessons", u, 1, occurred_at="2030-06-01T11:00:00Z"),  # not a datetime
            ("occurred_at", "occurred_at must be a moment with its UTC offset", 400),
        ),
        (
            EventIn("lessons", u, 1, action="", occurred_at=T - timedelta(hours=1)),
            ("occurred_at", "an action spends energy now: send it without occurred_at", 400),
        ),
        (EventIn("lessons", u, 1, occurred_at=T - timedelta(hours=1)), None),
        (EventIn("lessons", u, 1, occurred_at=T + timedelta(seconds=60)), None),  # the skew's edge: taken as now
    ]
    results = process_batch([ev for ev, _ in cases], now=T)
    assert [refusal(r) for r in results] == [want for _, want in cases]
    # the accepted ones: the stated past time, and now (stamped at its place in the batch, i = 6)
    assert _stored_times(db, results) == [T - timedelta(hours=1), T + timedelta(microseconds=6)]


def test_a_stated_time_before_the_players_latest_event_is_refused_with_409(db, lessons):
    """Events are computed forward in time: a stated time before the player's latest recorded event (from the
    database, or earlier in the same batch) is a 409 naming that event's time; the same instant is accepted."""
    u, other = f.player("u"), f.player("other")
    process_event("lessons", u, 1, now=T - timedelta(hours=1))  # latest recorded: 11:00:00Z
    process_event("lessons", other, 1, now=T)  # another player's later event does not count
    order = (
        "occurred_at 2030-06-01T10:00:00Z is before this player's latest recorded event (2030-06-01T11:00:00Z): "
        "import each player's events oldest first, before their new activity"
    )
    results = process_batch(
        [
            EventIn("lessons", u, 1, occurred_at=T - timedelta(hours=2)),
            EventIn("lessons", u, 1, occurred_at=T - timedelta(hours=1)),  # the same instant
            EventIn("lessons", u, 1, occurred_at=T - timedelta(minutes=30)),
            EventIn("lessons", u, 1, occurred_at=T - timedelta(minutes=45)),  # before the batch's 11:30
            EventIn("lessons", other, 1, occurred_at=T - timedelta(hours=3)),
        ],
        now=T,
    )
    assert [refusal(r) for r in results] == [
        ("occurred_at", order, 409),
        None,
        None,
        ("occurred_at", order.replace("10:00:00Z", "11:15:00Z").replace("11:00:00Z", "11:30:00Z"), 409),
        ("occurred_at", order.replace("10:00:00Z", "09:00:00Z").replace("11:00:00Z", "12:00:00Z"), 409),
    ]
    assert results[0].error.extra == {"latest_recorded": "2030-06-01T11:00:00Z"}
    assert results[3].error.extra == {"latest_recorded": "2030-06-01T11:30:00Z"}
    assert results[0].error.as_json()["error"]["latest_recorded"] == "2030-06-01T11:00:00Z"
    assert _stored_times(db, results) == [T - timedelta(hours=1), T - timedelta(minutes=30)]
