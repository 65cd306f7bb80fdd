"""Form helpers shared by the admin pages: attribute filters as "key=value" lines, optional numbers,
keys, and the WTForms pieces used by several modules."""

from __future__ import annotations

import re

from flask import flash
from wtforms import TextAreaField
from wtforms.validators import NumberRange, Regexp, ValidationError
from wtforms.validators import Optional as OptionalV

from ..engine import filters
from ..fields import Amount, Whole
from ..i18n import _, _l
from ..services import config_rules

# config_rules.KEY_MESSAGE, in the admin's language (the services and APIs keep the English).
key_validator = Regexp(
    config_rules.KEY_PATTERN,
    message=_l("Use lowercase letters, digits, '_', '-' or '.', starting with a letter or digit."),
)


def show_refusal(form, err: config_rules.ConfigError) -> None:
    """A service's refusal on the form field it names (a flash message when no field matches)."""
    target = getattr(form, err.field, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = list(target.errors) + [str(err)]
    else:
        flash(str(err), "error")


def parse_filters(text: str | None) -> dict:
    """'country=DE' lines -> {'country': 'DE'}; 'plan=pro|team' -> {'plan': ['pro', 'team']} (one of).

    Raises ValueError naming the offending line."""
    out: dict = {}
    for n, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise ValueError(_("line %(n)s: expected key=value, got %(line)s", n=n, line=repr(line)))
        key, value = (part.strip() for part in line.split("=", 1))
        if not key:
            raise ValueError(_("line %(n)s: the key before '=' is empty", n=n))
        if not value:
            raise ValueError(_("line %(n)s: no value for '%(key)s'", n=n, key=key))
        if key in out:
            raise ValueError(_("line %(n)s: '%(key)s' appears twice; use %(key)s=a|b for 'one of'", n=n, key=key))
        if "|" in value:
            options = [filters.value_of(v.strip()) for v in value.split("|") if v.strip()]
            out[key] = options if len(options) > 1 else options[0]
        else:
            out[key] = filters.value_of(value)
    return out


def format_filters(filters: dict | None) -> str:
    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    lines = []
    for k, v in (filters or {}).items():
        if isinstance(v, (list, tuple, set)):
            lines.append(f"{k}={'|'.join(fmt(x) for x in v)}")
        else:
            lines.append(f"{k}={fmt(v)}")
    return "\n".join(lines)


def describe_filters(filters: dict | None) -> str:
    if not filters:
        return ""
    parts = []
    for k, v in filters.items():
        parts.append(f"{k} ∈ {{{', '.join(map(str, v))}}}" if isinstance(v, (list, tuple)) else f"{k} = {v}")
    return ", ".join(parts)


class FiltersField(TextAreaField):
    """A textarea of key=value lines whose `.parsed` is the filter dict (validated)."""

    def __init__(self, label=None, validators=None, **kw):
        label = label if label is not None else _l("Attribute filters")
        kw.setdefault(
            "description",
            _l(
                "Optional. One key=value per line; all must match. Use a|b for "
                "\"one of\". Matches the player's attributes and the event's."
            ),
        )
        kw.setdefault("render_kw", {"rows": 3, "placeholder": "country=DE\nplan=pro|team"})
        super().__init__(label, validators or [], **kw)
        self.parsed: dict = {}

    def pre_validate(self, form):
        try:
            self.parsed = parse_filters(self.data)
        except ValueError as e:
            raise ValidationError(str(e)) from e


def optional_int(label, minimum=None, maximum=None, **kw) -> Whole:

    v = [OptionalV()]
    if minimum is not None or maximum is not None:
        v.append(NumberRange(min=minimum, max=maximum))
    return Whole(label, validators=v, **kw)


def optional_number(label, minimum=None, **kw) -> Amount:

    v = [OptionalV()]
    if minimum is not None:
        v.append(NumberRange(min=minimum))
    return Amount(label, validators=v, places=None, **kw)


def require(field, message: str = "") -> bool:
    """For fields that are only required for some choices of another field."""
    if field.data is None or field.data == "" or field.data == []:
        field.errors = list(field.errors) + [message or _("This field is required.")]
        return False
    return True


def clean_key(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "_", (text or "").strip().lower()).strip("_")[:64]
