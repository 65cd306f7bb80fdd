"""Demo configuration for the energy and leaderboard features (kept apart from the core demo)."""


def configure() -> None:
    """Leaderboards, energy actions, boosts: filled in as those features land."""


def after_history(rng) -> None:
    """Gifts, friendships and energy use on top of the generated history."""
