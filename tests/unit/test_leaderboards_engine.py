"""Pure leaderboard arithmetic: competition ranks, tie-break members, rank shifts, segments, periods."""

from datetime import date, datetime, timedelta, timezone

import pytest

from gamify.engine import leaderboards as lb


def utc(*a):
    return datetime(*a, tzinfo=timezone.utc)


def test_competition_ranking_shares_ranks():
    assert lb.competition_ranks([9, 7, 7, 3]) == [1, 2, 2, 4]
    assert lb.competition_ranks([5, 5, 5]) == [1, 1, 1]
    assert lb.competition_ranks([]) == []
    # a slice starting at display position 3 whose first score has 2 strictly better players
    assert lb.ranks_from(3, 3, [7, 7, 3]) == [3, 3, 5]
    # a page starting inside a tie: 9, [7, 7], 4 -> the page (7, 4) at position 3 ranks (2, 4)
    assert lb.ranks_from(2, 3, [7, 4]) == [2, 4]


def test_member_encoding_orders_earlier_achiever_first_and_round_trips():
    early = lb.encode_member(42, utc(2026, 1, 1, 9, 0, 0, 1))
    late = lb.encode_member(7, utc(2026, 1, 1, 9, 0, 0, 2))
    same_time_low_id = lb.encode_member(3, utc(2026, 1, 1, 9, 0, 0, 2))
    # ZREVRANGE lists equal scores in descending member order
    assert sorted([late, early, same_time_low_id], reverse=True) == [early, same_time_low_id, late]
    assert lb.decode_member(early) == 42 and lb.decode_member(late.encode()) == 7


def test_band_bounds_are_the_scores_of_the_players_a_move_passes():
    assert lb.band_bounds(6, 9) == (6, 9, "up")
    assert lb.band_bounds(9, 5) == (5, 9, "down")
    assert lb.band_bounds(9, None) == (float("-inf"), 9, "down")
    assert lb.band_bounds(None, 3) == (float("-inf"), 3, "up")
    assert lb.band_bounds(3, 3) is None


def test_segments_are_derived_from_attributes_and_normalised():
    assert lb.segments_for({"city": "London ", "tier": "Gold", "x": 1}, ["city", "tier", "team"]) == [
        "global",
        "city:london",
        "tier:gold",
    ]
    assert lb.segments_for({"vip": True, "level": 3.0}, ["vip", "level"]) == ["global", "vip:true", "level:3"]
    assert lb.parse_segment("city:London", ["city"]) == "city:london"
    assert lb.parse_segment("GLOBAL", ["city"]) == "global"
    assert lb.parse_segment("planet:earth", ["city"]) is None
    assert lb.parse_segment("city:", ["city"]) is None
    assert lb.segment_label("city:london", mine=True) == "My city"


def test_weekly_periods_are_anchored_on_the_start_date():
    anchor = date(2026, 1, 7)  # a Wednesday
    assert lb.period_start("weekly", anchor, date(2026, 1, 6)) is None  # before the board starts
    assert lb.period_start("weekly", anchor, date(2026, 1, 13)) == date(2026, 1, 7)
    assert lb.period_start("weekly", anchor, date(2026, 1, 14)) == date(2026, 1, 14)
    assert lb.period_end("weekly", anchor, date(2026, 1, 14)) == date(2026, 1, 20)
    assert lb.period_start("weekly", None, date(2026, 1, 14)) == date(2026, 1, 12)  # ISO Monday


def test_monthly_periods_clamp_to_short_months():
    anchor = date(2026, 1, 31)
    assert lb.period_start("monthly", anchor, date(2026, 2, 27)) == date(2026, 1, 31)
    assert lb.period_start("monthly", anchor, date(2026, 2, 28)) == date(2026, 2, 28)
    assert lb.next_period_start("monthly", anchor, date(2026, 2, 28)) == date(2026, 3, 31)
    assert lb.period_end("monthly", anchor, date(2026, 1, 31)) == date(2026, 2, 27)
    assert lb.period_start("monthly", date(2026, 1, 1), date(2026, 5, 17)) == date(2026, 5, 1)


def test_finalisation_waits_for_utc_minus_12():
    start = date(2026, 1, 5)  # Monday .. Sunday 11 January
    assert lb.finalises_at("weekly", start, start) == utc(2026, 1, 12, 12, 0)
    # Kiritimati (UTC+14) reaches 12 January at 10:00 UTC on the 11th; Pago Pago (UTC-11) at 11:00 UTC on the 12th
    assert lb.local_end_utc("weekly", start, start, "Pacific/Kiritimati") == utc(2026, 1, 11, 10, 0)
    assert lb.local_end_utc("weekly", start, start, "Pacific/Pago_Pago") == utc(2026, 1, 12, 11, 0)


def test_placement_rolls_late_events_into_the_open_period():
    anchor = date(2026, 1, 5)
    assert lb.place("weekly", anchor, date(2026, 1, 12), date(2026, 1, 9)) == (True, date(2026, 1, 12))
    assert lb.place("weekly", anchor, date(2026, 1, 5), date(2026, 1, 9)) == (True, date(2026, 1, 5))
    assert lb.place("weekly", anchor, date(2026, 1, 5), date(2026, 1, 1)) == (False, None)
    assert lb.place("perpetual", None, None, date(2026, 1, 1)) == (True, None)
    # only the period just finalised rolls forward; older history does not count any more
    assert lb.place("weekly", date(2025, 12, 1), date(2026, 1, 12), date(2026, 1, 2)) == (False, None)


@pytest.mark.parametrize(
    "now,expected",
    [
        (utc(2026, 1, 12, 11, 59), date(2026, 1, 5)),  # still Sunday 11th somewhere (UTC-12)
        (utc(2026, 1, 12, 12, 0), date(2026, 1, 12)),
    ],
)
def test_first_open_period_follows_the_last_time_zone(now, expected):
    assert lb.first_open_period("weekly", date(2025, 12, 1), now) == expected
    assert lb.first_open_period("daily", date(2030, 1, 1), now) == date(2030, 1, 1)  # starts later
    assert lb.earliest_local_date(now) == (now - timedelta(hours=12)).date()
