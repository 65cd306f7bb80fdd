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


# ----------------------------------------------------------------------------- issue 21: edges the above left open


def test_sort_key_orders_higher_score_then_earlier_achiever_then_lower_id():
    t = utc(2026, 1, 1, 9)
    rows = [(5, t, 2), (9, t + timedelta(hours=1), 4), (5, t - timedelta(seconds=1), 8), (5, t, 1)]
    ordered = sorted(rows, key=lambda r: lb.sort_key(*r))
    # 9 first; the three 5s: the earliest (08:59:59) first, then the two at 09:00 by user id 1, 2
    assert ordered == [rows[1], rows[2], rows[3], rows[0]]


def test_member_encoding_is_the_inverted_microsecond_timestamp_and_user_id():
    # The epoch itself is timestamp 0: MAX_TS - 0 = 9999999999999999; user 1 -> 999999999999 - 1
    assert lb.encode_member(1, utc(1970, 1, 1)) == "9999999999999999:999999999998"
    # One day and 3 µs after the epoch: 86_400_000_003 µs -> 10**16 - 1 - 86400000003
    member = lb.encode_member(42, utc(1970, 1, 2, 0, 0, 0, 3))
    assert member == "9999913599999996:999999999957"
    assert lb.decode_member(member) == 42
    # 2026-01-01T00:00:00Z is 1_767_225_600 s after the epoch
    assert lb.encode_member(0, utc(2026, 1, 1)) == f"{10**16 - 1 - 1_767_225_600 * 10**6:016d}:999999999999"
    # Before the epoch clamps to 0 (the member stays 16 digits)
    assert lb.encode_member(5, utc(1969, 12, 31)) == "9999999999999999:999999999994"


def test_segment_values_of_booleans_and_numbers():
    assert lb.segment_value(False) == "false"
    assert lb.segment_value(True) == "true"
    assert lb.segment_value(2.5) == "2.5"
    assert lb.segment_value({"a": 1}) is None and lb.segment_value(None) is None
    assert lb.segment_value("   ") is None
    assert lb.segments_for({"vip": False}, ["vip"]) == ["global", "vip:false"]


def test_parse_segment_refuses_non_text_and_keeps_colons_in_the_value():
    assert lb.parse_segment(None, ["city"]) is None
    assert lb.parse_segment(42, ["city"]) is None
    assert lb.parse_segment("   ", ["city"]) is None
    # only the first colon separates the attribute: the value may contain colons
    assert lb.parse_segment("team:a:b", ["team"]) == "team:a:b"


def test_segment_labels():
    assert lb.segment_label("global") == "Global"
    assert lb.segment_label("global", mine=True) == "Global"
    assert lb.segment_label("home_city:london") == "Home city: london"
    assert lb.segment_label("home_city:london", mine=True) == "My home city"
    assert lb.segment_label("team:a:b") == "Team: a:b"


def test_period_keys():
    assert lb.period_key(None) == "all"
    assert lb.period_key(date(2026, 3, 9)) == "2026-03-09"


def test_daily_periods():
    assert lb.period_start("daily", None, date(2026, 3, 9)) == date(2026, 3, 9)
    assert lb.next_period_start("daily", None, date(2026, 12, 31)) == date(2027, 1, 1)
    assert lb.period_end("daily", None, date(2026, 3, 9)) == date(2026, 3, 9)  # one day: inclusive end = start


def test_monthly_periods_without_anchor_are_calendar_months():
    assert lb.period_start("monthly", None, date(2026, 5, 17)) == date(2026, 5, 1)
    assert lb.period_start("monthly", None, date(2026, 5, 1)) == date(2026, 5, 1)
    assert lb.next_period_start("monthly", None, date(2026, 1, 1)) == date(2026, 2, 1)
    assert lb.period_end("monthly", None, date(2026, 2, 1)) == date(2026, 2, 28)


def test_monthly_periods_roll_over_the_year():
    anchor = date(2025, 3, 15)
    # December 15 -> January 15 of the next year; a day before the anchor day in January belongs to December
    assert lb.next_period_start("monthly", anchor, date(2025, 12, 15)) == date(2026, 1, 15)
    assert lb.period_start("monthly", anchor, date(2026, 1, 14)) == date(2025, 12, 15)
    assert lb.next_period_start("monthly", anchor, date(2025, 11, 15)) == date(2025, 12, 15)


def test_unknown_frequencies_are_refused_with_their_name():
    with pytest.raises(ValueError, match="unknown frequency 'hourly'"):
        lb.period_start("hourly", None, date(2026, 1, 1))
    with pytest.raises(ValueError, match="no next period for 'perpetual'"):
        lb.next_period_start("perpetual", None, date(2026, 1, 1))


def test_monthly_period_ends_follow_the_anchor_day():
    anchor = date(2026, 1, 15)  # periods 15th .. 14th
    # ends at midnight of 15 February: in UTC-12 that is 12:00 UTC; in Tokyo (UTC+9) 15:00 UTC on the 14th
    assert lb.finalises_at("monthly", anchor, date(2026, 1, 15)) == utc(2026, 2, 15, 12, 0)
    assert lb.local_end_utc("monthly", anchor, date(2026, 1, 15), "Asia/Tokyo") == utc(2026, 2, 14, 15, 0)


def test_a_weekly_board_starting_later_opens_on_its_own_weekday():
    anchor = date(2030, 1, 2)  # a Wednesday; the period is anchored there, not on the ISO Monday (31 Dec)
    assert lb.first_open_period("weekly", anchor, utc(2026, 1, 12, 12, 0)) == anchor
    assert lb.first_open_period("perpetual", None, utc(2026, 1, 12, 12, 0)) is None


def test_late_monthly_event_rolls_into_the_anchored_open_period():
    anchor = date(2026, 1, 15)
    # period 15 Jan .. 14 Feb was just finalised; the open one starts 15 Feb: an event of 1 Feb rolls forward
    assert lb.place("monthly", anchor, date(2026, 2, 15), date(2026, 2, 1)) == (True, date(2026, 2, 15))
    # the period before that (15 Dec is before the anchor) and older ones do not count
    assert lb.place("monthly", anchor, date(2026, 3, 15), date(2026, 2, 1)) == (False, None)
