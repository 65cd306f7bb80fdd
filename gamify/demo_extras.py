"""Demo configuration for energy and leaderboards, kept apart from the core demo in demo.py."""

from __future__ import annotations

from datetime import timedelta

from .extensions import db
from .models import EnergyAction, EnergyBoost, Metric, PointsSystem, User
from .models._common import utcnow
from .services import leaderboards


def configure() -> None:
    """Energy actions and the boosts shop (energy settings keep their documented defaults)."""
    db.session.add_all(
        [
            EnergyAction(
                key="lesson",
                name="Take a lesson",
                description="A 5-minute lesson.",
                base_cost=10,
                metric_key="lessons_completed",
                metric_value=1,
                position=1,
                difficulties={"easy": 0.8, "medium": 1.0, "hard": 1.3, "expert": 1.6},
                skill_reductions={"grammar": 25},
            ),
            EnergyAction(
                key="practice",
                name="Speaking practice",
                description="Ten minutes with the tutor bot.",
                base_cost=15,
                metric_key="minutes_practised",
                metric_value=10,
                position=2,
                skill_reductions={"pronunciation": 20},
            ),
            EnergyAction(
                key="review",
                name="Quick review",
                description="Flashcards; free, so no excuses.",
                base_cost=0,
                metric_key="minutes_practised",
                metric_value=2,
                position=3,
            ),
        ]
    )
    db.session.add_all(
        [
            EnergyBoost(
                key="espresso",
                name="Espresso",
                description="Regenerate 50% faster for 2 hours.",
                type="regen_speed",
                effect_value=50,
                duration_minutes=120,
                token_cost=5,
                rarity="common",
            ),
            EnergyBoost(
                key="big_battery",
                name="Big battery",
                description="+30 max energy for a day.",
                type="max_energy_increase",
                effect_value=30,
                duration_minutes=1440,
                token_cost=12,
                rarity="rare",
            ),
            EnergyBoost(
                key="efficiency",
                name="Efficiency",
                description="Actions cost 25% less for 3 hours.",
                type="consumption_reduction",
                effect_value=25,
                duration_minutes=180,
                token_cost=15,
                rarity="epic",
            ),
            EnergyBoost(
                key="full_tank",
                name="Full tank",
                description="Fill your energy now.",
                type="instant_refill",
                effect_value=0,
                duration_minutes=None,
                token_cost=20,
                rarity="legendary",
            ),
        ]
    )
    db.session.commit()


def configure_leaderboards() -> None:
    """Leaderboards with a city/tier breakdown; created after history they fill themselves from SQL."""

    lessons = db.session.execute(db.select(Metric).where(Metric.key == "lessons_completed")).scalar_one()
    xp = db.session.execute(db.select(PointsSystem).where(PointsSystem.key == "xp")).scalar_one()
    leaderboards.create(
        {
            "key": "weekly_lessons",
            "name": "Lessons this week",
            "ranked_by": "metric",
            "metric_id": lessons.id,
            "frequency": "weekly",
            "participant_limit": 50,
            "start_date": (utcnow() - timedelta(days=120)).date(),
            "breakdown": ["city"],
        }
    )
    leaderboards.create(
        {
            "key": "xp_all_time",
            "name": "All-time XP",
            "ranked_by": "points",
            "system_id": xp.id,
            "frequency": "perpetual",
            "participant_limit": 100,
            "breakdown": ["city", "tier"],
        }
    )
    leaderboards.create(
        {
            "key": "streaks",
            "name": "Longest current streaks",
            "ranked_by": "streak",
            "frequency": "perpetual",
            "participant_limit": 50,
            "breakdown": [],
        }
    )
    db.session.commit()


def after_history(api, demo_user: User) -> None:
    """Today, as a host app would do it: friends, two gifts waiting for the demo player and some energy
    use, sent through the typed API client (`api`, gamify.client.Client)."""
    others = list(
        db.session.execute(
            db.select(User.external_id).where(User.role == "player", User.id != demo_user.id).order_by(User.id).limit(6)
        ).scalars()
    )
    db.session.commit()  # the client's requests write in their own transactions
    me = demo_user.external_id
    for i, other in enumerate(others):
        api.request_friend(me, other)
        if i < 4:
            api.accept_friend(other, me)
    api.send_gift(others[0], me, amount=15, message="Keep going! 💪")
    api.send_gift(others[1], me, amount=10)
    for key in ("lesson", "review", "practice"):
        api.perform_action(key, me, "medium" if key == "lesson" else None)
