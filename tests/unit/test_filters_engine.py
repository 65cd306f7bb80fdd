"""Attribute filters (pure engine): a filter narrows an achievement, trigger, boost or leaderboard to
players whose attributes match; a scalar means equality, a list/tuple/set means "one of", every key
must match, and values compare as strings too (attributes arrive as JSON, filters from forms)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gamify.engine.filters import matches
from tests.hypo import examples


@pytest.mark.parametrize("filters", [None, {}])
@pytest.mark.parametrize("attributes", [None, {}, {"plan": "free"}])
def test_no_filter_matches_everyone(filters, attributes):
    """A null filter means global (trophy-blog: `user_attribute_filters -- JSON; null means global`)."""
    assert matches(filters, attributes) is True


def test_scalar_filter_is_equality():
    assert matches({"plan": "premium"}, {"plan": "premium"}) is True
    assert matches({"plan": "premium"}, {"plan": "free"}) is False


def test_scalar_filter_compares_as_strings_both_ways():
    # An attribute stored as 7 matches a filter typed as "7", and the other way round.
    assert matches({"grade": "7"}, {"grade": 7}) is True
    assert matches({"grade": 7}, {"grade": "7"}) is True
    assert matches({"grade": "7"}, {"grade": 8}) is False


def test_missing_attribute_fails_a_filter():
    assert matches({"plan": "premium"}, {"city": "Oslo"}) is False
    assert matches({"plan": "premium"}, {}) is False


def test_null_attributes_count_as_none_set():
    """Attributes None are no attributes: any real filter fails, nothing crashes."""
    assert matches({"plan": "premium"}, None) is False
    assert matches({"plan": ["free", "premium"]}, None) is False


@pytest.mark.parametrize("kind", [list, tuple, set])
def test_collection_filter_means_one_of(kind):
    wanted = kind(["physics", "chemistry"])
    assert matches({"subject": wanted}, {"subject": "physics"}) is True
    assert matches({"subject": wanted}, {"subject": "chemistry"}) is True
    assert matches({"subject": wanted}, {"subject": "history"}) is False
    assert matches({"subject": wanted}, {}) is False


def test_collection_filter_compares_as_strings_both_ways():
    assert matches({"grade": ["7", "8"]}, {"grade": 8}) is True
    assert matches({"grade": [7, 8]}, {"grade": "7"}) is True
    assert matches({"grade": [7, 8]}, {"grade": "9"}) is False


def test_every_key_must_match():
    filters = {"plan": "premium", "city": ["Oslo", "Bergen"]}
    assert matches(filters, {"plan": "premium", "city": "Oslo"}) is True
    # One key off, whichever comes first, fails the whole filter.
    assert matches(filters, {"plan": "free", "city": "Oslo"}) is False
    assert matches(filters, {"plan": "premium", "city": "Paris"}) is False
    assert matches({"city": ["Oslo"], "plan": "premium"}, {"plan": "premium", "city": "Paris"}) is False
    assert matches({"city": "Oslo", "plan": "premium"}, {"plan": "free", "city": "Oslo"}) is False


_values = st.one_of(st.sampled_from(["a", "b", "c"]), st.integers(0, 3))


@settings(max_examples=examples(200), deadline=None)
@given(
    filters=st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), st.one_of(_values, st.lists(_values, max_size=3))),
    attributes=st.dictionaries(st.sampled_from(["k1", "k2", "k3"]), _values),
)
def test_matches_agrees_with_a_string_reference(filters, attributes):
    """Reference: compare everything as strings (values here never contain None)."""

    def ok(key, wanted):
        if key not in attributes:
            return False
        options = wanted if isinstance(wanted, list) else [wanted]
        return str(attributes[key]) in {str(w) for w in options}

    assert matches(filters, attributes) == all(ok(k, w) for k, w in filters.items())
