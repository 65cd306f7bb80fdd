"""Achievements: thresholds, streak lengths, composites, filters, rarity and silent backfill."""

from datetime import timedelta

import pytest

from gamify.models import Achievement, AchievementCompletion, DomainEvent, Notification
from gamify.services import achievements as svc
from gamify.services.events import process_event
from tests import factories as f


def completions(db, achievement):
    return (
        db.session.execute(
            db.select(AchievementCompletion)
            .where(AchievementCompletion.achievement_id == achievement.id)
            .order_by(AchievementCompletion.id)
        )
        .scalars()
        .all()
    )


def test_metric_threshold_unlocks_once_with_event_id_and_rarity(db):
    m = f.metric("lessons")
    ten = f.achievement("ten", "metric", metric_id=m.id, threshold=10)
    u, other = f.player("a"), f.player("b")
    r = process_event("lessons", u, 9, now=f.utc(2026, 1, 1))
    assert r["achievements"] == []
    r = process_event("lessons", u, 1, now=f.utc(2026, 1, 2))
    assert [a["key"] for a in r["achievements"]] == ["ten"]
    assert process_event("lessons", u, 5, now=f.utc(2026, 1, 3))["achievements"] == []
    (c,) = completions(db, ten)
    assert c.trigger_event_id == r["event_id"] and not c.backdated
    db.session.refresh(ten)
    assert ten.completion_count == 1 and ten.rarity_pct == pytest.approx(50.0)
    process_event("lessons", other, 10, now=f.utc(2026, 1, 3))
    db.session.refresh(ten)
    assert ten.rarity_pct == pytest.approx(100.0)


def test_inactive_locked_and_archived_are_not_earned(db):
    m = f.metric("lessons")
    for status in ("inactive", "locked", "archived"):
        f.achievement(f"a_{status}", "metric", status=status, metric_id=m.id, threshold=1)
    r = process_event("lessons", f.player(), 5)
    assert r["achievements"] == []


def test_streak_achievement_from_event(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    f.achievement("three_days", "streak", streak_length=3)
    u = f.player()
    keys = [
        [a["key"] for a in process_event("lessons", u, 1, now=f.utc(2026, 1, d, 12))["achievements"]] for d in (1, 2, 3)
    ]
    assert keys == [[], [], ["three_days"]]


def test_composite_unlocks_when_prerequisites_are_held(db):
    m = f.metric("lessons")
    one = f.achievement("one", "metric", metric_id=m.id, threshold=1)
    five = f.achievement("five", "metric", metric_id=m.id, threshold=5)
    vip = f.achievement("vip", "api")
    combo = f.achievement("combo", "composite", prerequisite_ids=[five.id, vip.id])
    f.achievement("combo2", "composite", prerequisite_ids=[combo.id, one.id])  # chains
    u = f.player()
    assert [a["key"] for a in process_event("lessons", u, 5)["achievements"]] == ["one", "five"]
    created, unlocked = svc.award_via_api(u, vip)
    assert created and [a.key for a in unlocked] == ["vip", "combo", "combo2"]
    assert svc.award_via_api(u, vip) == (False, [])


def test_attribute_filter_counts_only_matching_events(db):
    m = f.metric("lessons")
    spanish = f.achievement("spanish5", "metric", metric_id=m.id, threshold=5, attribute_filters={"language": "es"})
    premium = f.achievement("premium1", "metric", metric_id=m.id, threshold=1, attribute_filters={"tier": "premium"})
    u = f.player("u", attributes={"tier": "free"})
    process_event("lessons", u, 4, attributes={"language": "fr"})
    r = process_event("lessons", u, 4, attributes={"language": "es"})
    assert r["achievements"] == []
    r = process_event("lessons", u, 1, attributes={"language": "es"})
    assert [a["key"] for a in r["achievements"]] == ["spanish5"]
    assert not completions(db, premium)
    assert svc.progress_for(u)[spanish.id] == 5


def test_backfill_is_silent_idempotent_and_tiers_ascend(db):
    m = f.metric("lessons")
    users = [f.player(f"p{i}") for i in range(4)]
    for i, u in enumerate(users):
        process_event("lessons", u, 10 * i, now=f.utc(2026, 1, 1))
    db.session.commit()
    t30 = f.achievement("t30", "metric", status="inactive", metric_id=m.id, threshold=30)
    t10 = f.achievement("t10", "metric", status="inactive", metric_id=m.id, threshold=10)
    events_before = db.session.execute(db.select(db.func.count(DomainEvent.id))).scalar()
    notes_before = db.session.execute(db.select(db.func.count(Notification.id))).scalar()
    assert svc.activate([t30, t10]) == 3 + 1
    rows = db.session.execute(db.select(AchievementCompletion).order_by(AchievementCompletion.id)).scalars().all()
    assert [r.achievement_id for r in rows] == [t10.id] * 3 + [t30.id]  # lower tier first
    assert all(r.backdated for r in rows)
    assert db.session.execute(db.select(db.func.count(DomainEvent.id))).scalar() == events_before
    assert db.session.execute(db.select(db.func.count(Notification.id))).scalar() == notes_before
    # Re-run: nothing new.
    assert svc.activate([t30, t10]) == 0
    assert svc.backfill(t10) == 0
    db.session.refresh(t10)
    assert t10.completion_count == 3 and t10.rarity_pct == pytest.approx(75.0)


def test_backfilled_completion_carries_the_time_the_threshold_was_crossed(db):
    """The 10th lesson was on 3 January; more lessons followed until the 20th. The achievement activated
    later is completed as of 3 January (the running total's crossing), not the last event's time."""
    m = f.metric("lessons")
    u = f.player("ann")
    for day, n in ((1, 4), (2, 4), (3, 3), (10, 5), (20, 2)):  # running: 4, 8, 11 (crossed), 16, 18
        process_event("lessons", u, n, now=f.utc(2026, 1, day, 9))
    db.session.commit()
    ten = f.achievement("ten", "metric", status="inactive", metric_id=m.id, threshold=10)
    assert svc.activate([ten]) == 1
    (c,) = completions(db, ten)
    assert c.backdated and c.completed_at == f.utc(2026, 1, 3, 9)


def test_streak_achievement_backfilled_from_history_after_the_streak_broke(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    u = f.player()
    for d in (1, 2, 3, 4, 5):
        process_event("lessons", u, 1, now=f.utc(2026, 1, d, 12))
    r = process_event("lessons", u, 1, now=f.utc(2026, 1, 9, 12))  # broke; current length 1
    assert r["streak"]["length"] == 1
    five = f.achievement("five_days", "streak", status="inactive", streak_length=5)
    six = f.achievement("six_days", "streak", status="inactive", streak_length=6)
    assert svc.activate([five, six]) == 1
    (c,) = completions(db, five)
    assert c.backdated and c.completed_at == f.utc(2026, 1, 5, 12)


def test_filtered_metric_backfill_replays_events(db):
    m = f.metric("lessons")
    u1, u2 = f.player("x", attributes={"city": "london"}), f.player("y", attributes={"city": "paris"})
    u3 = f.player("z", attributes={"city": "london"})
    process_event("lessons", u1, 3, now=f.utc(2026, 1, 1))
    process_event("lessons", u2, 3, now=f.utc(2026, 1, 1))
    process_event("lessons", u3, 1, now=f.utc(2026, 1, 1))
    a = f.achievement(
        "london3", "metric", status="inactive", metric_id=m.id, threshold=3, attribute_filters={"city": "london"}
    )
    assert svc.activate([a]) == 1
    assert completions(db, a)[0].user_id == u1.id
    assert svc.progress_for(u1)[a.id] == 3
    # Live events keep counting from the backfilled progress.
    assert svc.progress_for(u3)[a.id] == 1
    r = process_event("lessons", u3, 2, now=f.utc(2026, 1, 2))
    assert svc.progress_for(u3)[a.id] == 3 and [x["key"] for x in r["achievements"]] == ["london3"]


def test_composite_backfill_after_prerequisite_activation(db):
    m = f.metric("lessons")
    u = f.player()
    process_event("lessons", u, 5)
    one = f.achievement("one", "metric", status="inactive", metric_id=m.id, threshold=1)
    five = f.achievement("five", "metric", status="inactive", metric_id=m.id, threshold=5)
    combo = f.achievement("combo", "composite", status="active", prerequisite_ids=[one.id, five.id])
    svc.activate([one, five])
    assert [c.user_id for c in completions(db, combo)] == [u.id]


def test_api_award_rejects_non_api_achievements(db):
    m = f.metric("lessons")
    a = f.achievement("m", "metric", metric_id=m.id, threshold=1)
    with pytest.raises(svc.AchievementError):
        svc.award_via_api(f.player(), a)
