"""Streak rules on the local calendar, end to end through process_event."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from gamify.engine import calendar as cal
from gamify.engine import streaks as engine
from gamify.models import FreezeLedger, StreakPeriod
from gamify.services import streaks as streaks_svc
from gamify.services.events import process_event
from tests import factories as f


def local(tz, *args):
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


@pytest.fixture
def daily(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    return m


def test_sydney_player_acting_at_2355_local_keeps_the_streak(db, daily):
    u = f.player("syd", tz="Australia/Sydney")
    r1 = process_event("lessons", u, 1, now=local("Australia/Sydney", 2026, 3, 1, 9, 0))
    # 23:55 on the next local day is 12:55 UTC the same day: must count as 2 March in Sydney.
    r2 = process_event("lessons", u, 1, now=local("Australia/Sydney", 2026, 3, 2, 23, 55))
    assert r1["streak"]["length"] == 1
    assert r2["streak"]["length"] == 2 and r2["streak"]["extended"]
    assert r2["streak"]["period_start"] == "2026-03-02"
    # Expires at the end of the next local day: 2026-03-04 00:00 Sydney (AEDT, +11).
    assert r2["streak"]["expires_utc"] == "2026-03-03T13:00:00+00:00"


def test_utc_day_boundary_would_have_broken_it(db, daily):
    """Control: a player on UTC acting at the very same instants (28 Feb 22:00 and 2 Mar 12:55 UTC) skipped
    1 March, so their streak restarts: the Sydney player keeps theirs only because of their local days."""
    u = f.player("utc", tz="UTC")
    process_event("lessons", u, 1, now=local("Australia/Sydney", 2026, 3, 1, 9, 0))
    r2 = process_event("lessons", u, 1, now=local("Australia/Sydney", 2026, 3, 2, 23, 55))
    assert r2["streak"]["length"] == 1 and r2["streak"]["period_start"] == "2026-03-02"


@pytest.mark.parametrize(
    "tz,day",
    [
        ("America/New_York", date(2026, 3, 8)),  # spring forward: 23-hour day
        ("America/New_York", date(2026, 11, 1)),  # fall back: 25-hour day
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
    ],
)
def test_dst_days_are_one_local_day(db, daily, tz, day):
    u = f.player("dst", tz=tz)
    before = day - timedelta(days=1)
    process_event("lessons", u, 1, now=local(tz, before.year, before.month, before.day, 23, 30))
    # Late on the DST day itself (after the clock change) is still that day.
    r = process_event("lessons", u, 1, now=local(tz, day.year, day.month, day.day, 23, 30))
    assert r["streak"]["length"] == 2
    # Twice on the DST day (early and late) extends only once.
    r2 = process_event("lessons", u, 1, now=local(tz, day.year, day.month, day.day, 0, 30))
    assert r2["streak"]["length"] == 2 and not r2["streak"]["extended"]
    nxt = day + timedelta(days=1)
    expected_expiry = datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(tz)) + timedelta(days=1)
    assert r["streak"]["expires_utc"] == cal.local_midnight_utc(nxt + timedelta(days=1), tz).isoformat()
    assert datetime.fromisoformat(r["streak"]["expires_utc"]) == expected_expiry.astimezone(timezone.utc)


def test_local_day_length_on_dst_days():
    ny = "America/New_York"
    spring = cal.local_midnight_utc(date(2026, 3, 9), ny) - cal.local_midnight_utc(date(2026, 3, 8), ny)
    fall = cal.local_midnight_utc(date(2026, 11, 2), ny) - cal.local_midnight_utc(date(2026, 11, 1), ny)
    assert spring == timedelta(hours=23) and fall == timedelta(hours=25)


def test_weekly_streak_across_year_boundary(db):
    m = f.metric("lessons")
    f.streak({m: 1}, frequency="weekly")
    u = f.player("wk", tz="Europe/Berlin")
    # ISO week of Mon 2026-12-28 runs to Sun 2027-01-03; then the week of 2027-01-04.
    r1 = process_event("lessons", u, 1, now=local("Europe/Berlin", 2026, 12, 22, 12))
    r2 = process_event("lessons", u, 1, now=local("Europe/Berlin", 2026, 12, 29, 12))
    r3 = process_event("lessons", u, 1, now=local("Europe/Berlin", 2027, 1, 2, 12))  # same week as r2
    r4 = process_event("lessons", u, 1, now=local("Europe/Berlin", 2027, 1, 4, 12))
    assert [r["streak"]["length"] for r in (r1, r2, r3, r4)] == [1, 2, 2, 3]
    assert r2["streak"]["period_start"] == "2026-12-28" and r2["streak"]["period_end"] == "2027-01-03"
    # Skipping a whole week breaks it.
    r5 = process_event("lessons", u, 1, now=local("Europe/Berlin", 2027, 1, 20, 12))
    assert r5["streak"]["length"] == 1


def test_monthly_streak(db):
    m = f.metric("lessons")
    f.streak({m: 1}, frequency="monthly")
    u = f.player("mo", tz="UTC")
    lengths = [process_event("lessons", u, 1, now=f.utc(2026, mo, 15))["streak"]["length"] for mo in (1, 2, 3)]
    assert lengths == [1, 2, 3]
    assert process_event("lessons", u, 1, now=f.utc(2026, 5, 1))["streak"]["length"] == 1


def test_travel_london_to_los_angeles(db, daily):
    u = f.player("trav", tz="Europe/London")
    process_event("lessons", u, 1, now=local("Europe/London", 2026, 6, 1, 10))
    r = process_event("lessons", u, 1, now=local("Europe/London", 2026, 6, 2, 9))
    assert r["streak"]["length"] == 2
    # Flies west: 2 June 18:00 in LA is already 3 June 02:00 in London, but locally still 2 June.
    r = process_event("lessons", u, 1, tz="America/Los_Angeles", now=local("America/Los_Angeles", 2026, 6, 2, 18))
    assert r["streak"]["length"] == 2 and not r["streak"]["extended"]  # same local day 2 June
    assert u.timezone == "America/Los_Angeles"
    # Next LA day extends; the deadline follows LA midnight.
    r = process_event("lessons", u, 1, now=local("America/Los_Angeles", 2026, 6, 3, 20))
    assert r["streak"]["length"] == 3
    assert r["streak"]["expires_utc"] == local("America/Los_Angeles", 2026, 6, 5, 0).isoformat()


def test_travel_west_into_an_already_extended_day_never_breaks(db, daily):
    u = f.player("east", tz="Pacific/Kiritimati")  # UTC+14
    process_event("lessons", u, 1, now=local("Pacific/Kiritimati", 2026, 6, 2, 8))
    # Same instant-ish in Honolulu (UTC-10) is 1 June: earlier than the extended day.
    r = process_event("lessons", u, 1, tz="Pacific/Honolulu", now=local("Pacific/Kiritimati", 2026, 6, 2, 9))
    assert r["streak"]["length"] == 1 and not r["streak"]["extended"]


def test_freeze_consumed_on_missed_day_and_ledger_balance(db):
    m = f.metric("lessons")
    f.streak({m: 1}, freeze_initial=1, freeze_every=2, freeze_max=2)
    u = f.player("fz", tz="America/New_York")
    ny = "America/New_York"
    assert streaks_svc.freeze_balance(u.id) == 1
    process_event("lessons", u, 1, now=local(ny, 2026, 5, 1, 12))
    r = process_event("lessons", u, 1, now=local(ny, 2026, 5, 2, 12))  # 2 periods -> +1 freeze
    assert r["streak"]["freezes"] == 2
    # Miss 3 and 4 May: both frozen; 5 May continues the streak at 3.
    r = process_event("lessons", u, 1, now=local(ny, 2026, 5, 5, 12))
    assert r["streak"]["length"] == 3 and r["streak"]["frozen"]
    assert r["streak"]["freezes"] == 0
    assert streaks_svc.freeze_balance(u.id) == 0
    consumed = (
        db.session.execute(
            db.select(FreezeLedger).where(FreezeLedger.kind == "consumed").order_by(FreezeLedger.period_start)
        )
        .scalars()
        .all()
    )
    assert [c.period_start for c in consumed] == [date(2026, 5, 3), date(2026, 5, 4)]
    # Consumed at the local midnight that ended the missed day.
    assert consumed[0].created_at == local(ny, 2026, 5, 4, 0)
    outcomes = [p.outcome for p in streaks_svc.history(u.id)]
    assert outcomes == ["extended", "extended", "frozen", "frozen", "extended"]
    # No freezes left: missing 6 May breaks it.
    r = process_event("lessons", u, 1, now=local(ny, 2026, 5, 7, 12))
    assert r["streak"]["length"] == 1
    assert [p.outcome for p in streaks_svc.history(u.id)][-2:] == ["broken", "extended"]


def test_freeze_accumulation_respects_max(db):
    m = f.metric("lessons")
    f.streak({m: 1}, freeze_initial=0, freeze_every=1, freeze_max=2)
    u = f.player("cap")
    for d in range(1, 6):
        r = process_event("lessons", u, 1, now=f.utc(2026, 5, d, 12))
    assert r["streak"]["freezes"] == 2 and streaks_svc.freeze_balance(u.id) == 2


def test_all_mode_needs_every_requirement_in_the_period(db):
    lessons, minutes = f.metric("lessons"), f.metric("minutes")
    f.streak({lessons: 1, minutes: 10}, mode="all")
    u = f.player("all")
    assert process_event("lessons", u, 1, now=f.utc(2026, 5, 1, 9))["streak"]["length"] == 0
    assert process_event("minutes", u, 6, now=f.utc(2026, 5, 1, 10))["streak"]["length"] == 0
    r = process_event("minutes", u, 4, now=f.utc(2026, 5, 1, 11))
    assert r["streak"]["length"] == 1 and r["streak"]["extended"]


def test_reading_a_lapsed_streak_reports_zero(db, daily):
    u = f.player("lapse")
    process_event("lessons", u, 1, now=f.utc(2026, 5, 1, 12))
    s = streaks_svc.summary(u, now=f.utc(2026, 5, 5, 12))
    assert s["length"] == 0 and s["expires_utc"] is None
    assert db.session.execute(db.select(StreakPeriod).where(StreakPeriod.outcome == "broken")).scalar_one()


def test_pure_settle_is_idempotent():
    rules = engine.StreakRules(requirements={"x": 1})
    state = engine.StreakState(length=3, longest=3, last_extended=date(2026, 1, 1), last_covered=date(2026, 1, 1))
    first = engine.settle(rules, state, date(2026, 1, 5))
    again = engine.settle(rules, first.state, date(2026, 1, 5))
    assert first.broken and not again.periods
