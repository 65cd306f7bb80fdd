"""Languages and locale formats: which language a request or a job speaks (Flask-Babel), and the one
formatter of dates, times, numbers, percentages and durations people see (pages and e-mails alike; Babel's
CLDR data, so "Dec 2, 2026" / "2 dic 2026", "1,234" / "1.234").

The language of a request: the player's own choice (`users.locale`), else the best of the browser's
Accept-Language among LANGUAGES, else the default an admin set (messaging settings), else English.
The JSON APIs always speak English (their messages are for developers, and stable). A job speaks the
language of the player it writes to: `with force_locale(locale_of(user)): ...`.

Strings in Python are marked with `_` (now, in a request or under force_locale) or `_l` (lazy: module
level, e.g. form labels and label tables, translated when shown). `make i18n` extracts, updates and
compiles the catalogues (gamify/translations/).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Optional

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel import units as babel_units
from flask import has_request_context, request
from flask_babel import Babel, force_locale, get_locale, gettext, lazy_gettext, ngettext, refresh
from flask_login import current_user
from jinja2 import pass_context

from .engine import calendar as cal
from .extensions import db
from .models.webhooks import MessagingSettings

__all__ = ["force_locale", "gettext", "lazy_gettext", "ngettext"]

_ = gettext
_l = lazy_gettext

# The languages shipped (catalogues in gamify/translations/), each named in itself as pickers show them.
LANGUAGES = {"en": "English", "es": "Español"}
FALLBACK = "en"
# Paths answered by the JSON APIs: English whatever the caller's browser says.
API_PREFIXES = ("/api/", "/trophy/")

babel = Babel()


def valid(code: Optional[str]) -> Optional[str]:
    """`code` when it is a shipped language, else None."""
    return code if code in LANGUAGES else None


def default_locale() -> str:
    """The language an admin chose for players who chose none (and whose browser asks for none we have)."""
    code = db.session.execute(
        db.select(MessagingSettings.default_locale).order_by(MessagingSettings.id).limit(1)
    ).scalar_one_or_none()
    return valid(code) or FALLBACK


def locale_of(user) -> str:
    """The language to write to `user` in outside a request (e-mails, notifications)."""
    return valid(getattr(user, "locale", None)) or default_locale()


def select_locale() -> str:
    if not has_request_context():
        return default_locale()
    if request.path.startswith(API_PREFIXES):
        return FALLBACK
    if current_user and getattr(current_user, "is_authenticated", False):
        chosen = valid(getattr(current_user, "locale", None))
        if chosen:
            return chosen
    return request.accept_languages.best_match(LANGUAGES) or default_locale()


def current() -> str:
    """The language now in force ("en", "es")."""
    return str(get_locale() or FALLBACK)


def _per_render(fn):
    """The filter run at each render. Jinja folds a plain filter over a constant (`95|pct`) into the
    compiled template, in whatever language the first render had; a filter that takes the context is
    never folded."""

    @pass_context
    def filter_(_context, *args, **kwargs):
        return fn(*args, **kwargs)

    filter_.__name__ = fn.__name__
    return filter_


def init_app(app) -> None:
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the language on the app context's `g`, which can outlive a request (a test's
    # context, a CLI command's): every request chooses afresh.
    app.before_request(refresh)
    for name, fn in (
        ("localdt", localdt),
        ("localdate", localdate),
        ("reltime", reltime),
        ("num", num),
        ("pct", pct),
        ("duration", duration),
    ):
        app.add_template_filter(_per_render(fn), name)

    @app.context_processor
    def _language():
        return {
            "current_locale": current,
            "LANGUAGES": LANGUAGES,
            "unit_word": unit_word,
            "weekday_names": weekday_names,
        }


def unit_word(frequency: Optional[str], n: int) -> str:
    """The streak's period as a word agreeing with `n`: 'day' / 'days', 'día' / 'días'."""
    if frequency == "weekly":
        return ngettext("week", "weeks", n)
    if frequency == "monthly":
        return ngettext("month", "months", n)
    return ngettext("day", "days", n)


# ------------------------------------------------------------------------------------------ formatting


def user_tz() -> str:
    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False):
        return current_user.timezone or "UTC"
    return "UTC"


def to_local(moment, tz: Optional[str] = None) -> Optional[datetime]:
    """A UTC datetime (or its ISO text, as JSON-shaped service results hold it) in the zone `tz`
    (by default the signed-in player's)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(cal.zone(tz or user_tz()))
    except cal.InvalidTimezone:
        return moment.astimezone(timezone.utc)


def fmt_time(moment: datetime) -> str:
    """The locale's short clock time of a local datetime: '11:59 PM', '23:59'."""
    # CLDR puts a narrow no-break space before AM/PM; plain-text e-mail clients show it as mojibake.
    return babel_dates.format_time(moment, "short", tzinfo=moment.tzinfo, locale=current()).replace("\u202f", " ")


def fmt_date(d: date, with_year: Optional[bool] = None) -> str:
    """'Dec 2' / '2 dic'; with the year (by default when not this year): 'Dec 2, 2026' / '2 dic 2026'."""
    if with_year is None:
        with_year = d.year != datetime.now(timezone.utc).year
    return babel_dates.format_skeleton("yMMMd" if with_year else "MMMd", d, locale=current())


def fmt_day(d: date, with_year: bool = False) -> str:
    """With the weekday in full: 'Wednesday, Dec 2' / 'miércoles, 2 dic' (', 2026' / ' 2026' with the year)."""
    loc = Locale.parse(current())
    pattern = loc.datetime_skeletons["yMMMEd" if with_year else "MMMEd"].pattern  # 'EEE, MMM d, y'
    return babel_dates.format_date(d, re.sub(r"E+", "EEEE", pattern), locale=loc)


def weekday(d: date) -> str:
    """The weekday's full name: 'Sunday' / 'domingo'."""
    return babel_dates.format_date(d, "EEEE", locale=current())


def weekday_name(index: int, width: str = "wide") -> str:
    """Weekday by number (0 = Monday): 'Monday' / 'lunes'; width 'abbreviated' gives 'Mon' / 'lun'."""
    return babel_dates.get_day_names(width, locale=current())[index]


def weekday_names(width: str = "wide") -> list[str]:
    """Monday first: ['Monday', ...] / ['lunes', ...]; width 'narrow' gives ['M', 'T', ...] / ['L', 'M', ...]."""
    names = babel_dates.get_day_names(width, locale=current())
    return [names[i] for i in range(7)]


def month_title(d: date, short: bool = False) -> str:
    """'December 2026' / 'diciembre de 2026'; short: 'Dec 2026' / 'dic 2026'."""
    return babel_dates.format_skeleton("yMMM" if short else "yMMMM", d, locale=current())


def localdt(moment, tz: Optional[str] = None) -> str:
    local = to_local(moment, tz)
    if local is None:
        return "—"
    return f"{fmt_date(local.date())}, {fmt_time(local)}"


def localdate(moment, tz: Optional[str] = None) -> str:
    """A date (or a UTC datetime in the zone `tz`, or either's ISO text) as fmt_date prints it."""
    if moment is None:
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment) if "T" in moment else date.fromisoformat(moment)
    if isinstance(moment, datetime):
        moment = to_local(moment, tz).date()
    return fmt_date(moment)


def duration(seconds, parts: int = 2) -> str:
    """A length of time in the largest units, at most `parts` of them: '2 hr 5 min' / '2 h 5 min',
    '3 days' / '3 d'; rounded up to the minute ('0 min' only for nothing at all)."""
    # Rounded up to the minute: "1 min" left, never "0 min" while something is still to wait for.
    secs = max(0, math.ceil((seconds.total_seconds() if isinstance(seconds, timedelta) else seconds) / 60) * 60)
    out = []
    for unit, size in (("duration-day", 86400), ("duration-hour", 3600), ("duration-minute", 60)):
        n, secs = divmod(secs, size)
        if n and len(out) < parts:
            out.append(babel_units.format_unit(n, unit, length="short", locale=current()))
        elif out:
            break  # '1 day 5 min' would skip the hours: stop at the first gap after a unit
    if not out:
        out.append(babel_units.format_unit(0, "duration-minute", length="short", locale=current()))
    return " ".join(out)


def quantity(n: int, unit: str) -> str:
    """A whole number of a time unit in words: (4, "hour") -> '4 hours' / '4 horas' (CLDR's long form)."""
    return babel_units.format_unit(n, f"duration-{unit}", length="long", locale=current())


def reltime(moment: Optional[datetime], now: Optional[datetime] = None) -> str:
    """'in 2 hr 5 min' / 'dentro de 2 h 5 min', '3 days ago' / 'hace 3 d', 'just now' / 'ahora mismo'."""
    if moment is None:
        return _("never")
    now = now or datetime.now(timezone.utc)
    secs = (now - moment).total_seconds()
    if abs(secs) < 60:
        return _("just now")
    # Days alone once it is that far: '3 days ago', not '3 days 4 hr ago'.
    span = duration(abs(secs), parts=1 if abs(secs) >= 86400 else 2)
    return _("in %(duration)s", duration=span) if secs < 0 else _("%(duration)s ago", duration=span)


def num(value, digits: int = 1, fixed: bool = False) -> str:
    """1234.0 -> '1,234' / '1.234'; 2.5 -> '2.5' / '2,5'; None -> '0'. With `fixed`, always `digits`
    decimals: 5 -> '5.0' / '5,0'."""
    if value is None:
        value = 0
    if fixed and digits:
        return babel_numbers.format_decimal(value, "#,##0." + "0" * digits, locale=current())
    if isinstance(value, float) and not value.is_integer():
        return babel_numbers.format_decimal(round(value, digits), locale=current())
    return babel_numbers.format_decimal(int(value), locale=current())


def pct(value, digits: int = 0) -> str:
    """A percentage given out of 100: 42 -> '42%' / '42 %'; below 1 (but above 0) with no digits: '<1%'."""
    v = float(value or 0)
    if 0 < v < 1 and digits == 0:
        return "<" + babel_numbers.format_percent(0.01, locale=current())
    pattern = Locale.parse(current()).percent_formats[None].pattern  # '#,##0%' / '#,##0\xa0%'
    if digits:
        pattern = pattern.replace("#,##0", "#,##0." + "0" * digits, 1)
    return babel_numbers.format_percent(v / 100, pattern, locale=current())
