"""Attribute filters shared by achievements, points triggers, boosts and leaderboards."""


def matches(filters: dict | None, attributes: dict | None) -> bool:
    """Every filter key must match: a scalar means equality, a list means "one of"."""
    if not filters:
        return True
    attributes = attributes or {}
    for key, wanted in filters.items():
        have = attributes.get(key)
        if isinstance(wanted, (list, tuple, set)):
            if have not in wanted and str(have) not in {str(w) for w in wanted}:
                return False
        elif have != wanted and str(have) != str(wanted):
            return False
    return True


def value_of(text: str):
    """The value a filter written as text stands for: "true"/"false" are the booleans players' attributes
    hold; anything else stays text (numbers match by their text: see matches)."""
    low = text.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    return text
