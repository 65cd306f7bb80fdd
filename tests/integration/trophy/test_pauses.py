"""Streak pauses as Trophy's SDK sees them (issue 16 item 3): `usedPause` in the streak history, the
current and upcoming `pauses`, an expiry past the paused days, and an event on a paused day that does not
extend the streak. Expected values worked out by hand from the `world` configuration (a daily streak,
one initial freeze)."""

from datetime import datetime, timedelta, timezone

from trophy import UpsertedUser

from gamify.models import StreakPause
from gamify.services import streak_pauses
from gamify.services.events import process_event
from gamify.services.users import identify
from tests.integration.trophy.conftest import wire


def test_paused_days_in_the_streak_history_and_the_pauses_listed(sdk, world, db, conforms):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    day = lambda n: (now - timedelta(days=n)).date()  # noqa: E731
    user, _ = identify("u-1", tz="UTC")
    for days_ago in (4, 3):
        process_event("words", user, 1, now=now - timedelta(days=days_ago))
    # Two days before today were paused (set back then: written directly, the service refuses past days).
    db.session.add(StreakPause(user_id=user.id, start_on=day(2), end_on=day(1)))
    current = streak_pauses.create(user, day(0), day(-2))
    upcoming = streak_pauses.create(user, day(-5), day(-6))
    ids = (current.public_id, upcoming.public_id)
    db.session.commit()  # nothing of the session is read after this: the live server writes (SQLite)

    raw = sdk.users.with_raw_response.streak("u-1", history_periods=5)
    conforms(wire(raw), "get", "/users/{id}/streak")
    st = raw.data
    assert (st.length, st.started, st.freezes) == (2, day(4).isoformat(), 1)  # no freeze used
    # Today to day+2 are paused: day+3 is the first day that needs activity, the last one to act.
    assert st.expires == day(-3).isoformat()
    assert [(h.period_start, h.length, h.used_freeze, h.used_pause) for h in st.streak_history] == [
        (day(4).isoformat(), 1, False, False),
        (day(3).isoformat(), 2, False, False),
        (day(2).isoformat(), 2, False, True),
        (day(1).isoformat(), 2, False, True),
        (day(0).isoformat(), 2, False, True),  # the current period, paused now
    ]
    assert [(p.id, p.start, p.end) for p in st.pauses] == [
        (ids[0], day(0).isoformat(), day(-2).isoformat()),
        (ids[1], day(-5).isoformat(), day(-6).isoformat()),
    ]

    # An event on a paused day counts for the metric, not for the streak.
    ev = sdk.metrics.event("words", user=UpsertedUser(id="u-1"), value=5)
    assert (ev.total, ev.current_streak.length, ev.current_streak.extended) == (7, 2, False)
    assert ev.current_streak.expires == day(-3).isoformat()


def test_no_pauses_for_another_user(sdk, world, db):
    now = datetime.now(timezone.utc)
    ann, _ = identify("ann", tz="UTC")
    identify("bob", tz="UTC")
    streak_pauses.create(ann, now.date(), now.date() + timedelta(days=1))
    db.session.commit()
    assert len(sdk.users.streak("ann").pauses) == 1
    bob = sdk.users.streak("bob", history_periods=1)
    assert bob.pauses == [] and [h.used_pause for h in bob.streak_history] == [False]
