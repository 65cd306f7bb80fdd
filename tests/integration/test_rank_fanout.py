"""The rank fan-out under concurrent events: many players' events commit in parallel, each logging its
score changes; the worker, once it catches up, must record exactly the rank changes a brute-force
re-ranking gives when the logged changes are replayed in log order (ties, top-N cut, climbing and
falling included)."""

import random
import threading

from gamify.extensions import db as _db
from gamify.models import LeaderboardRankChange, LeaderboardScore, LeaderboardScoreLog, MetricEvent, User
from gamify.services import leaderboards as svc
from gamify.services import rank_fanout
from gamify.services.events import process_event
from tests import factories as f

LIMIT = 3


def _ranks(scores: dict) -> dict:
    return {u: 1 + sum(1 for w in scores.values() if w > s) for u, s in scores.items()}


def _brute_force(log_rows) -> set:
    """Replay the logged changes in order; every other player's competition rank change inside the top N."""
    groups: dict = {}
    expected = set()
    for r in log_rows:
        scores = groups.setdefault((r.leaderboard_id, r.period, r.segment), {})
        assert scores.get(r.user_id) == r.old_score, "the log chains each player's scores"
        before = _ranks(scores)
        if r.new_score is None:
            scores.pop(r.user_id)
        else:
            scores[r.user_id] = r.new_score
        after = _ranks(scores)
        for u in set(before) | set(after):
            if u == r.user_id:
                continue
            b, a = before.get(u), after.get(u)
            if b != a and ((b is not None and b <= LIMIT) or (a is not None and a <= LIMIT)):
                expected.add((r.leaderboard_id, r.period, r.segment, u, b, a, r.source_event_id))
    return expected, groups


def test_concurrent_events_then_the_worker_matches_a_brute_force_replay(app, db, monkeypatch):
    m = f.metric("lessons", allow_negative=True)
    board = svc.create(
        {
            "key": "lessons",
            "name": "Lessons",
            "ranked_by": "metric",
            "metric_id": m.id,
            "frequency": "perpetual",
            "participant_limit": LIMIT,
            "breakdown": ["city"],
        }
    )
    db.session.commit()
    svc.rebuild(board)
    db.session.commit()
    players = [f.player(f"p{i}", attributes={"city": "ab"[i % 2]}) for i in range(10)]
    db.session.commit()
    ids = [p.id for p in players]
    db.session.commit()  # end our transaction: on SQLite it would hold the write lock
    errors, start = [], threading.Barrier(4)

    def sender(seed):
        rng = random.Random(seed)
        with app.app_context():
            try:
                start.wait()
                for _ in range(15):
                    user = _db.session.get(User, rng.choice(ids))
                    process_event("lessons", user, rng.choice((1, 1, 2, 3, -1, -2)))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(repr(e))
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=sender, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    db.session.expire_all()
    log_rows = db.session.query(LeaderboardScoreLog).order_by(LeaderboardScoreLog.id).all()
    assert len(log_rows) >= 60  # every event logged its global and city changes
    expected, final = _brute_force(log_rows)

    # The worker catches up, a few log rows a batch: each batch sees players it does not replay, whose
    # scores come from the table (the top of each ranking), and players that moved after the batch.
    monkeypatch.setattr(rank_fanout, "BATCH", 7)
    rank_fanout.run_all()
    db.session.expire_all()
    assert db.session.query(LeaderboardScoreLog).count() == 0
    movers = dict(db.session.query(MetricEvent.id, MetricEvent.user_id))
    got = {
        (r.leaderboard_id, r.period, r.segment, r.user_id, r.previous_rank, r.new_rank, r.source_event_id)
        for r in db.session.query(LeaderboardRankChange)
        if r.user_id != movers[r.source_event_id]
    }
    assert got == expected
    assert any(x[4] is not None and x[5] is not None and x[5] > x[4] for x in expected)  # someone was overtaken
    # the log replayed ends where the scores are
    scores = {(s.leaderboard_id, s.period, s.segment): {} for s in db.session.query(LeaderboardScore)}
    for s in db.session.query(LeaderboardScore):
        scores[(s.leaderboard_id, s.period, s.segment)][s.user_id] = s.score
    assert {k: v for k, v in final.items() if v} == scores
