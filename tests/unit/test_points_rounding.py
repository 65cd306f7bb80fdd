"""Points arithmetic at its edges: rounding at exact halves, mixed rounding modes (pure engine)."""

import pytest

from gamify.engine import points as engine


@pytest.mark.parametrize(
    "base, multipliers, rounding, expected",
    [
        # Exact halves: "nearest" rounds half up (2.5 -> 3, 3.5 -> 4), never to even (2.5 -> 2).
        (5, [0.5], "nearest", 3),
        (7, [0.5], "nearest", 4),
        (5, [0.5], "floor", 2),
        (5, [0.5], "ceil", 3),
        # Just under a half stays down with "nearest".
        (5, [0.49], "nearest", 2),
    ],
)
def test_rounding_at_exact_halves(base, multipliers, rounding, expected):
    assert engine.boosted(base, multipliers, rounding)[0] == expected


def test_mixed_rounding_modes_take_the_friendliest():
    """Boosts naming different modes: ceil beats nearest beats floor (5 x 0.5 = 2.5)."""
    assert engine.strictest_rounding(["floor", "ceil", "nearest"]) == "ceil"
    assert engine.strictest_rounding(["floor", "nearest"]) == "nearest"
    assert engine.strictest_rounding(["floor"]) == "floor"
    assert engine.boosted(5, [0.5], engine.strictest_rounding(["floor", "ceil"]))[0] == 3


def test_penalties_are_never_boosted():
    assert engine.boosted(-5, [2.0], "ceil") == (-5, 1.0)
