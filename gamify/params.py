"""Input at the edge, the one way routes read it: bounded whole numbers from query strings and forms,
text fields, and the limits every JSON body must meet.

`str.isdigit()` accepts '²' and '٣' (which int() then refuses) and nothing bounds 10**20 (which the
database then refuses): both ended as 500s. Here only ASCII digits count, and every number has a range.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from flask import abort, jsonify, request
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

MAX_PAGE = 100_000


class BadInput(ValueError):
    """Input refused at the edge: `field` names where (a JSON path such as `events[3].user.id`)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class BadNumber(BadInput):
    def __init__(self, field: str, lo: int, hi: int):
        super().__init__(field, f"{field} must be a whole number from {lo} to {hi}")


def whole(raw: Optional[str], lo: int, hi: int) -> Optional[int]:
    """The number `raw` spells in ASCII digits if it lies in [lo, hi], else None."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw or len(raw) > 12 or not (raw.isascii() and raw.isdigit()):
        return None
    n = int(raw)
    return n if lo <= n <= hi else None


def int_arg(args, name: str, default: int, lo: int, hi: int) -> int:
    """A query-string number for an API (strict): BadNumber(field) when present but not in range."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    n = whole(raw, lo, hi)
    if n is None:
        raise BadNumber(name, lo, hi)
    return n


def page_arg(args, name: str = "page") -> int:
    """A page number for an HTML page (lenient): anything unusable is page 1, beyond the last is clamped."""
    raw = args.get(name)
    n = whole(raw, 1, 10**12) if raw is not None else None
    return min(n, MAX_PAGE) if n is not None else 1


# ------------------------------------------------------------------------------------------ text and JSON

MAX_JSON_DEPTH = 12  # an event body is 3 deep; nothing real comes near this
MAX_JSON_NUMBER = 10**15  # beyond this a number is an error (and exact in a double up to 2**53 anyway)


def text_problem(s: str) -> Optional[str]:
    """Why `s` cannot be stored as text, or None. PostgreSQL refuses NUL in text and JSON, and a lone
    surrogate (which JSON's \\ud800 escape can produce) is not UTF-8 at all."""
    if "\x00" in s:
        return "must not contain a NUL character"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None


def text(value: Any, field: str, max_len: int, required: bool = False, strip: bool = True) -> Optional[str]:
    """A text field: a non-empty string of at most `max_len` characters that can be stored (stripped
    unless `strip` is False: ids are taken exactly). None when absent and not required; BadInput otherwise."""
    if value is None:
        if required:
            raise BadInput(field, f"{field} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise BadInput(field, f"{field} must be a non-empty string of at most {max_len} characters")
    problem = text_problem(value)
    if problem:
        raise BadInput(field, f"{field} {problem}")
    return value.strip() if strip else value


MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_TEXT = 500


def attributes(value: Any, field: str) -> Optional[dict]:
    """Event or player attributes: an object of at most 50 entries, keys of 1-64 characters, values text
    (at most 500 characters), numbers, booleans or null. They are stored with every event and player,
    and leaderboard segments are built from them: nothing unbounded gets in."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadInput(field, f"{field} must be an object of string keys")
    if len(value) > MAX_ATTRIBUTES:
        raise BadInput(field, f"{field} may hold at most {MAX_ATTRIBUTES} entries")
    for k, v in value.items():
        if not isinstance(k, str) or not 0 < len(k) <= MAX_ATTRIBUTE_KEY or text_problem(k):
            raise BadInput(field, f"keys of {field} must be text of 1 to {MAX_ATTRIBUTE_KEY} characters")
        if isinstance(v, str):
            if len(v) > MAX_ATTRIBUTE_TEXT or text_problem(v):
                raise BadInput(f"{field}.{k}", f"{field}.{k} must be text of at most {MAX_ATTRIBUTE_TEXT} characters")
        elif not (v is None or isinstance(v, (bool, int, float))):
            raise BadInput(f"{field}.{k}", f"{field}.{k} must be a string, number, boolean or null")
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and not -MAX_JSON_NUMBER <= v <= MAX_JSON_NUMBER:
            raise BadInput(f"{field}.{k}", f"{field}.{k} must be a number between -10^15 and 10^15")
    return value


def check_json(value: Any, path: str = "body") -> None:
    """Every JSON body passes here before a route reads it: nesting depth, storable strings (keys too),
    numbers within ±MAX_JSON_NUMBER. Iterative, so no input can exhaust the stack."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        v, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadInput(where, f"{where} is nested too deeply (at most {MAX_JSON_DEPTH} levels)")
        if isinstance(v, str):
            problem = text_problem(v)
            if problem:
                raise BadInput(where, f"{where} {problem}")
        elif isinstance(v, bool) or v is None:
            continue
        elif isinstance(v, (int, float)):
            if not (-MAX_JSON_NUMBER <= v <= MAX_JSON_NUMBER):  # NaN fails this too
                raise BadInput(where, f"{where} must be a number between -10^15 and 10^15")
        elif isinstance(v, dict):
            for k, child in v.items():
                problem = text_problem(k)
                if problem:
                    raise BadInput(where, f"keys of {where} {problem}")
                stack.append((child, f"{where}.{k}" if where != "body" else k, depth + 1))
        elif isinstance(v, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(v))


def number(value: Any, field: str) -> float:
    """A JSON number within ±MAX_JSON_NUMBER (not a boolean, not NaN): BadInput(field) otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not -MAX_JSON_NUMBER <= value <= MAX_JSON_NUMBER  # NaN and ±inf fail too
    ):
        raise BadInput(field, f"{field} must be a number between -10^15 and 10^15")
    return value


def whole_number(value: Any, field: str, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """A JSON whole number (not a boolean) in [lo, hi], by default a database INTEGER (±MAX_INT)."""
    lo = -MAX_INT if lo is None else lo
    hi = MAX_INT if hi is None else hi
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadInput(field, f"{field} must be a whole number from {lo} to {hi}")
    return value


EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=timezone.utc)  # older stated times are typos, not history


def moment(value: Any, field: str) -> datetime:
    """An ISO 8601 moment with its UTC offset ("2026-01-05T08:00:00Z", "...+01:00"), in UTC. A time without
    an offset is refused, never guessed (whose local time would it be?)."""
    if not isinstance(value, str) or not 10 < len(value) <= 40:
        raise BadInput(field, f"{field} must be an ISO 8601 date and time with its offset, e.g. 2026-01-05T08:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(
            field, f"{field} must be an ISO 8601 date and time with its offset, e.g. 2026-01-05T08:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise BadInput(field, f"{field} has no UTC offset: add Z or one such as +01:00 ('{value}' is ambiguous)")
    parsed = parsed.astimezone(timezone.utc)
    if parsed < EARLIEST_MOMENT:
        raise BadInput(field, f"{field} must not be before {EARLIEST_MOMENT.date().isoformat()}")
    return parsed


def first_bad_field(items) -> Optional[tuple[str, str]]:
    """(field, reason) for the first query-string or form value (or name) that cannot be stored."""
    for name, value in items:
        problem = text_problem(name) or text_problem(value)
        if problem:
            return name, problem
    return None


# ------------------------------------------------------------------------------------------ the app's edge

MAX_INT = 2**31 - 1  # a database INTEGER: ids in URLs, whole numbers in forms and bodies
MAX_ROUTE_ID = MAX_INT  # ids in URLs: beyond a database integer there is nothing to find


class BoundedIntConverter(IntegerConverter):
    """`<int:id>` in every route: at most MAX_ROUTE_ID, so /admin/players/99999999999 is a 404 (not an
    integer overflow in the database)."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(
            url_map, fixed_digits=fixed_digits, min=min, max=MAX_ROUTE_ID if max is None else max, signed=signed
        )


class TextConverter(UnicodeConverter):
    """`<name>` in every route: a segment holding text the database cannot store (a NUL from %00)
    matches nothing, a 404 like any other unknown name."""

    def to_python(self, value: str) -> str:
        if text_problem(value):
            raise ValidationError()
        return value


def init_app(app) -> None:
    """The edge for every route. Call before blueprints are registered (the converter applies to rules
    added afterwards)."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = TextConverter
    # Bodies beyond this are refused with 413 before anything reads them; a full batch of 1,000 events
    # with attributes is well under it.
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # Flask's default is None: no limit
        app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024

    @app.before_request
    def _storable_text():
        """No query-string or form value with a NUL (or other text the database cannot store) reaches
        a view: one check for every form, the unauthenticated login and signup included."""
        bad = first_bad_field(request.args.items(multi=True))
        if bad is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            bad = first_bad_field(request.form.items(multi=True))
        if bad is not None:
            field, problem = bad
            if request.path.startswith("/api/"):
                return jsonify({"error": {"message": f"{field} {problem}", "field": field}}), 400
            abort(400, description=f"The field '{field}' {problem}.")
