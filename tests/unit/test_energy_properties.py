"""Property tests (hypothesis) on lazy energy regeneration: never above max, monotonic in time,
split reads equal one read, and equal to a tick-by-tick reference."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from gamify.engine import energy as e
from tests.hypo import examples
from tests.unit.test_energy_engine import T0, brute, env, state

boost = st.tuples(
    st.sampled_from(["regen_speed", "max_energy_increase"]),
    st.integers(1, 100),
    st.integers(0, 6 * 3600),
    st.one_of(st.none(), st.integers(60, 5 * 3600)),
)


@st.composite
def scenario(draw):
    premium = draw(st.booleans())
    skills = {"meditation": draw(st.integers(0, 100)), "endurance": draw(st.integers(0, 100))}
    start = T0 + timedelta(seconds=draw(st.integers(0, 3600)))
    boosts = [
        (kind, value, start + timedelta(seconds=s), None if d is None else start + timedelta(seconds=s + d))
        for kind, value, s, d in draw(st.lists(boost, max_size=3))
    ]
    en = env(premium=premium, skills=skills, boosts=boosts)
    st0 = state(
        draw(st.integers(0, en.base_max)),
        fatigue=draw(st.integers(0, 100)),
        at=start,
        remainder=draw(st.integers(0, 999)),
    )
    cuts = sorted(draw(st.lists(st.integers(0, 48 * 3600), min_size=1, max_size=6)))
    return en, st0, [start + timedelta(seconds=c) for c in cuts]


@settings(max_examples=examples(300), deadline=None)
@given(scenario())
def test_regeneration_properties(sc):
    en, st0, times = sc
    end = times[-1]
    one = e.advance(st0, en, end)
    assert one == brute(st0, en, end)  # exact, no drift
    split, previous, since = st0, st0.current, st0.last_regen_at
    for t in times:
        split = e.advance(split, en, t)
        assert split.current >= previous  # monotonic: waiting never loses energy
        # Never above the max in force at the tick that added it (energy above a max that has since
        # shrunk, e.g. after a max-energy boost expired, is kept but does not grow).
        ticks = range(e.tick_index(since, en.tick_us) + 1, e.tick_index(t, en.tick_us) + 1)
        highest = max((en.max_at(e.tick_time(k, en.tick_us)) for k in ticks), default=0)
        assert split.current <= max(highest, previous)
        previous, since = split.current, t
    assert split == one  # split reads equal one read
