"""The typed client (gamify/client.py, issue 15 item 5): its operation table agrees with the served OpenAPI
document both ways (every operation, method, path, body and answer model), and it drives a real server
over HTTP end to end, errors included."""

from datetime import date

import pytest

from gamify.client import OPERATIONS, PREFIX, Client, GamifyError
from gamify.models import EnergyAction
from gamify.services import leaderboards as boards
from tests import factories as f

NOT_IN_CLIENT = {"openapi_json"}  # the document itself


def _ref_name(schema: dict) -> str:
    if "allOf" in schema:  # answers about a player: the model plus the control flag
        names = [_ref_name(s) for s in schema["allOf"] if s.get("$ref") != "#/components/schemas/ControlFlag"]
        assert len(names) == 1, schema
        return names[0]
    return schema["$ref"].rsplit("/", 1)[-1]


def test_the_client_and_the_document_agree(client):
    spec = client.get(f"{PREFIX}/openapi.json").get_json()
    served = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            served[op["operationId"]] = (method.upper(), path.removeprefix(PREFIX), op)
    assert set(served) - NOT_IN_CLIENT == set(OPERATIONS), "client table and document differ"
    for op_id, op in OPERATIONS.items():
        method, path, declared = served[op_id]
        assert (op.method, op.path) == (method, path), op_id
        body = declared.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        assert (op.body.__name__ if op.body else None) == (_ref_name(body) if body else None), op_id
        answers = {
            _ref_name(r["content"]["application/json"]["schema"])
            for code, r in declared["responses"].items()
            if code.startswith("2")
        }
        assert answers == {op.out.__name__}, op_id


@pytest.fixture
def world(db):
    m = f.metric("lessons")
    f.streak({m: 1})
    xp = f.system("xp", levels=(("novice", "Novice", 0), ("adept", "Adept", 20)))
    f.trigger(xp, "metric", 10, metric_id=m.id)
    f.achievement("first", "metric", metric_id=m.id, threshold=1, name="First lesson")
    f.achievement("beta", "api", name="Beta tester")
    f.metric("duels")
    db.session.add(EnergyAction(key="duel", name="Duel", base_cost=25, metric_key="duels", metric_value=1))
    db.session.commit()
    boards.create(
        {
            "key": "top",
            "name": "Top",
            "ranked_by": "metric",
            "metric_id": m.id,
            "system_id": None,
            "frequency": "weekly",
            "start_date": date(2026, 1, 5),
            "participant_limit": 10,
            "breakdown": [],
        }
    )
    db.session.commit()
    return f.api_key()


def test_a_host_app_over_http(live_server, world):
    api = Client.http(live_server, world)
    ann = api.identify("ann", name="Ann", tz="Europe/Paris", attributes={"city": "paris"})
    assert (ann.id, ann.name, ann.control) == ("ann", "Ann", False)

    first = api.send_event("lessons", "ann", value=2, idempotency_key="l-1")
    assert first.metric_total == 2 and [a.key for a in first.achievements] == ["first"]
    assert first.points["xp"]["total"] == 20  # 10 per lesson, hand count
    again = api.send_event("lessons", "ann", value=2, idempotency_key="l-1")
    assert again.idempotent_replayed is True and again.metric_total == 2  # nothing recorded twice

    batch = api.send_batch([{"metric": "lessons", "user": {"id": "bob"}}, {"metric": "nope", "user_id": "bob"}])
    assert [r.status for r in batch.results] == [201, 404]

    assert api.streak("ann").length == 1
    assert api.points("ann", "xp").total == 20 and api.points("ann", "xp").level["key"] == "adept"
    progress = {a.key: a for a in api.achievement_progress("ann").achievements}
    assert progress["first"].percent == 100 and progress["beta"].status == "incomplete"
    done = api.complete_achievement("beta", "ann")
    assert done.completed is True and [a.key for a in done.achievements] == ["beta"]
    assert api.leaderboard_position("top", "ann").rank == 1
    assert [e.user_id for e in api.leaderboard("top").rankings] == ["ann", "bob"]

    assert api.perform_action("duel", "ann").energy.spent == 25
    assert api.energy("ann").current == 125

    api.request_friend("ann", "bob")
    assert api.accept_friend("bob", "ann").status == "accepted"
    gift = api.send_gift("ann", "bob", amount=5).gift
    with pytest.raises(GamifyError) as e:
        api.accept_gift("bob", gift.id)
    assert e.value.status == 409 and "full" in e.value.message  # bob's energy is full: kept for later
    api.perform_action("duel", "bob")  # 150 -> 125
    accepted = api.accept_gift("bob", gift.id)
    assert accepted.credited == 5 and accepted.energy.current == 130
    assert [g.id for g in api.gifts("bob", box="received").gifts] == [gift.id]

    many = api.identify_many([{"id": "cat", "name": "Cat"}, {"id": "dan", "email": "not an address"}])
    assert [r.status for r in many.results] == [201, 400] and many.results[1].error.field == "email"
    erased = api.erase_user("cat")
    assert erased.deleted is True and erased.rows["users"] == 1
    with pytest.raises(GamifyError) as e:
        api.user("cat")
    assert e.value.status == 404

    with pytest.raises(GamifyError) as e:
        api.user("nobody")
    assert (e.value.status, e.value.field) == (404, "user_id")
    with pytest.raises(GamifyError) as e:
        api.send_event("lessons", "ann", value="many")
    assert e.value.status == 400 and e.value.field == "value"
    with pytest.raises(GamifyError) as e:
        Client.http(live_server, "gk_wrong").user("ann")
    assert e.value.status == 401
