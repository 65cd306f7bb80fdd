"""Trophy's admin API, points systems with levels, boosts and triggers, through the SDK's admin client over
real HTTP. Values expected are those of Trophy's definition and gamify's rules (docs/trophy-compat.md)."""

from datetime import date, timedelta

import pytest
from trophy import (
    CreatePointsBoostRequestItem,
    CreatePointsLevelRequestItem,
    CreatePointsSystemRequestItem,
    CreatePointsTriggerRequestItem,
    PatchPointsBoostsRequestItem,
    PatchPointsLevelsRequestItem,
    PatchPointsTriggersRequestItem,
    UpdatePointsSystemRequestItem,
)
from trophy.core.api_error import ApiError

from gamify.extensions import db as _db
from gamify.models import PointsBoost, PointsSystem, PointsTrigger
from gamify.models._common import utcnow
from tests import factories as f

from .conftest import wire


@pytest.fixture
def words(db):
    m = f.metric("words", name="Words", unit="words")
    metric_id = str(m.id)
    db.session.commit()
    return metric_id


def test_a_system_created_with_its_levels_boosts_and_triggers_awards_points(sdk, admin_conforms, words):
    today = utcnow().date()
    raw = sdk.admin.points.systems.with_raw_response.create(
        request=[
            CreatePointsSystemRequestItem(
                name="XP",
                key="xp",
                description="Experience",  # not stored: a warning
                max_points=1000,
                levels=[
                    CreatePointsLevelRequestItem(name="Bronze", key="bronze", points=0),
                    CreatePointsLevelRequestItem(name="Silver", key="silver", points=50),
                    CreatePointsLevelRequestItem(name="Dup", key="silver", points=70),  # key taken: an issue
                ],
                boosts=[
                    CreatePointsBoostRequestItem(
                        name="Double XP", start=today.isoformat(), end=None, multiplier=2, rounding="down"
                    )
                ],
                triggers=[
                    CreatePointsTriggerRequestItem(
                        type="metric", points=10, metric_id=words, metric_threshold=1, status="active"
                    ),
                    CreatePointsTriggerRequestItem(type="metric", points=0, metric_id=words, metric_threshold=1),
                ],
            ),
            CreatePointsSystemRequestItem(name="Again", key="xp"),
        ]
    )
    assert raw._response.status_code == 201
    body = admin_conforms(wire(raw), "post", "/points", 201)
    (xp,) = raw.data.created
    assert (xp.key, xp.name, xp.max_points, xp.status, xp.description, xp.badge) == (
        "xp",
        "XP",
        1000,
        "active",
        "",
        None,
    )
    assert [(lv.key, lv.points) for lv in xp.levels] == [("bronze", 0), ("silver", 50)]
    assert [(b.name, b.multiplier, b.start, b.end, b.status, b.rounding) for b in xp.boosts] == [
        ("Double XP", 2.0, today.isoformat(), None, "active", "down")
    ]
    assert [(t.type, t.points, t.metric_id, t.metric_threshold, t.status) for t in xp.triggers] == [
        ("metric", 10, words, 1, "active")
    ]
    issues = {(i["index"], i["severity"], i["message"]) for i in body["issues"]}
    assert issues == {
        (0, "error", "levels[2]: Another level of this system uses this key."),
        (0, "error", "triggers[1]: A trigger worth 0 points does nothing."),
        (
            0,
            "warning",
            "description is not stored: gamify points systems and levels have emoji badges and no descriptions",
        ),
        (1, "error", "Another points system already uses this key."),
    }

    # The configuration works: 3 words x 10 points, doubled = 60, on level Silver (50).
    sent = sdk.metrics.event("words", user={"id": "ann"}, value=3)
    assert sent.points["xp"].added == 60 and sent.points["xp"].level.key == "silver"

    assert [x.key for x in sdk.admin.points.systems.list()] == ["xp"]
    assert sdk.admin.points.systems.get(xp.id).max_points == 1000
    up = sdk.admin.points.systems.update(
        request=[UpdatePointsSystemRequestItem(id=xp.id, name="Experience", max_points=None)]
    )
    assert [(x.name, x.max_points) for x in up.updated] == [("Experience", None)]


def test_levels_boosts_and_triggers_of_a_system(sdk, admin_conforms, admin_http, words, db):
    system = f.system("gems", name="Gems")
    system_id = str(system.id)
    db.session.commit()
    levels = sdk.admin.points.levels
    made = levels.create(
        system_id,
        request=[
            CreatePointsLevelRequestItem(name="Rich", key="rich", points=100),
            CreatePointsLevelRequestItem(name="Poor", key="poor", points=10),
        ],
    ).created
    assert [x.key for x in levels.list(system_id)] == ["poor", "rich"]  # by points
    admin_conforms([x.dict(by_alias=True) for x in levels.list(system_id)], "get", "/points/{systemId}/levels")
    rich = made[0].id
    assert levels.get(system_id, rich).points == 100
    up = levels.update(
        system_id,
        request=[PatchPointsLevelsRequestItem(id=rich, points=10), PatchPointsLevelsRequestItem(id=rich, points=200)],
    )
    assert up.issues[0].message == "Another level starts at this balance." and up.updated[0].points == 200
    assert [d.id for d in levels.delete(system_id, ids=[rich, "999"]).deleted] == [rich]

    boosts = sdk.admin.points.boosts
    start = date(2026, 3, 1)
    b = boosts.create(
        system_id,
        request=[
            CreatePointsBoostRequestItem(
                name="Spring",
                start=start.isoformat(),
                end=(start + timedelta(days=2)).isoformat(),
                multiplier=1.5,
                rounding="nearest",
                user_attributes=[{"attributeId": "plan", "attributeValue": "pro"}],
            ),
            CreatePointsBoostRequestItem(name="Mine", start=start.isoformat(), multiplier=2, user_id="ann"),
            CreatePointsBoostRequestItem(name="Huge", start=start.isoformat(), multiplier=500),
        ],
    )
    (spring,) = b.created
    assert (spring.start, spring.end, spring.rounding) == ("2026-03-01", "2026-03-03", "nearest")
    assert [(a.attribute_id, a.attribute_value) for a in spring.user_attributes] == [("plan", "pro")]
    assert [i.index for i in b.issues] == [1, 2] and "not to one user" in b.issues[0].message
    stored = _db.session.get(PointsBoost, int(spring.id))
    assert (stored.starts_at, stored.ends_at) == (f.utc(2026, 3, 1), f.utc(2026, 3, 4))  # the 3rd included
    assert stored.rounding == "nearest" and stored.attribute_filters == {"plan": "pro"}
    _db.session.rollback()
    renamed = boosts.update(system_id, request=[PatchPointsBoostsRequestItem(id=spring.id, name="Spring sale")])
    assert renamed.updated[0].name == "Spring sale" and renamed.updated[0].end == "2026-03-03"
    assert boosts.get(system_id, spring.id).status == "finished"

    triggers = sdk.admin.points.triggers
    t = triggers.create(
        system_id,
        request=[
            CreatePointsTriggerRequestItem(type="time", points=5, time_unit="days", time_interval=1),
            CreatePointsTriggerRequestItem(type="time", points=5, time_unit="hours", time_interval=6),
            CreatePointsTriggerRequestItem(type="user_creation", points=50, status="active"),
            CreatePointsTriggerRequestItem(type="streak", points=20, streak_length=7),
            CreatePointsTriggerRequestItem(type="metric", points=1, metric_id="999", metric_threshold=1),
            CreatePointsTriggerRequestItem(type="streak", points=20),
            CreatePointsTriggerRequestItem(type="user_creation", points=5, block_if_out_of_points=True),
        ],
    )
    assert [(x.type, x.time_unit, x.time_interval, x.streak_length, x.status) for x in t.created] == [
        ("time", "days", 1, None, "inactive"),
        ("time", "hours", 6, None, "inactive"),
        ("user_creation", None, None, None, "active"),
        ("streak", None, None, 7, "inactive"),
    ]
    assert [i.message for i in t.issues] == [
        "metric '999' not found",
        "Enter the streak length.",
        "gamify has no blocking of events that would take points below 0",
    ]
    kinds = dict(_db.session.execute(_db.select(PointsTrigger.id, PointsTrigger.type)).all())
    assert sorted(kinds.values()) == ["local_midnight", "signup", "streak", "time_interval"]
    _db.session.rollback()
    daily = t.created[0].id
    on = triggers.update(system_id, request=[PatchPointsTriggersRequestItem(id=daily, status="active", points=8)])
    assert (on.updated[0].status, on.updated[0].points, on.updated[0].time_unit) == ("active", 8, "days")
    assert [x.id for x in triggers.list(system_id, limit=2, skip=1)] == [t.created[1].id, t.created[2].id]
    assert [d.id for d in triggers.delete(system_id, ids=[daily]).deleted] == [daily]

    # Sub-resources of another system, or of none, are not found.
    assert admin_http("GET", f"/points/{system_id}/triggers/{t.created[1].id}").status_code == 200
    assert admin_http("GET", f"/points/999/triggers/{t.created[1].id}").status_code == 404
    assert admin_http("GET", "/points/999/levels").json() == {"error": "points system '999' not found"}


def test_a_trigger_that_awarded_points_is_switched_off_not_deleted(sdk, words, db):
    xp = f.system("xp")
    trig = f.trigger(xp, "metric", 10, metric_id=int(words), per_units=2.5)
    ids = (str(xp.id), str(trig.id))
    db.session.commit()
    sdk.metrics.event("words", user={"id": "ann"}, value=5)  # 5 / 2.5 x 10 = 20 points
    renamed = sdk.admin.points.triggers.update(ids[0], request=[PatchPointsTriggersRequestItem(id=ids[1], points=12)])
    assert renamed.updated[0].points == 12
    kept = _db.session.get(PointsTrigger, int(ids[1]))
    assert kept.per_units == 2.5  # a patch of the points leaves the fractional "per N units" as it was
    _db.session.rollback()
    gone = sdk.admin.points.triggers.delete(ids[0], ids=[ids[1]])
    assert gone.deleted == [] and gone.issues[0].severity == "warning"
    assert sdk.admin.points.triggers.get(ids[0], ids[1]).status == "inactive"
    # A system whose ledger holds awards stays.
    refused = sdk.admin.points.systems.delete(ids=[ids[0]])
    assert refused.deleted == [] and "awards in its ledger" in refused.issues[0].message
    assert _db.session.get(PointsSystem, int(ids[0])) is not None
    _db.session.rollback()
    with pytest.raises(ApiError) as err:
        sdk.admin.points.systems.get("999")
    assert err.value.status_code == 404
