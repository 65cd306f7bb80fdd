"""The sandbox templates run in (Jinja's ImmutableSandboxedEnvironment: no "_" attributes, no mutating
methods, no loader; the globals `range` and `button`, Jinja's filters and `num`; bounded `*` and `**`) and the
render of one source in it, strict (saving: an unknown variable names the field) or forgiving (sending: it reads
as empty).
"""

from __future__ import annotations

import functools
import re

from jinja2 import StrictUndefined as _Strict
from jinja2 import TemplateError, Undefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from ... import i18n
from ..config_rules import ConfigError
from .base import FIELDS, OUTPUT_LIMIT, Rendered, Source

MAX_REPEAT = 10_000  # longest string or list `*` may build
MAX_POWER = 64


class _SendUndefined(Undefined):
    """At send time a missing value reads as empty (a player without the attribute the template names),
    but what the sandbox refused never renders silently."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return ""


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError(f"a power above {MAX_POWER} is not allowed")
        elif operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"repeating a value beyond {MAX_REPEAT} items is not allowed")
        return super().call_binop(context, operator, left, right)


@pass_context
def _button(ctx, label) -> Markup:
    """{{ button("Keep my streak") }}: the e-mail's call to action on `link` (HTML only)."""
    link = ctx.get("link")
    if not isinstance(link, str) or not link:
        return Markup("")
    return Markup(
        '<p style="margin:28px 0;"><a href="{link}" style="background:#6b4eff;color:#ffffff;text-decoration:none;'
        'padding:12px 20px;border-radius:6px;display:inline-block;font-weight:bold;">{label}</a></p>\n'
        '<p style="font-size:12px;color:#6b6f80;">{note}</p>'
    ).format(link=link, label=str(label), note=i18n.gettext("This button logs you in once, within 48 hours."))


def _sandbox(html: bool, strict: bool) -> _Sandbox:
    env = _Sandbox(autoescape=html, undefined=_Strict if strict else _SendUndefined, keep_trailing_newline=False)
    env.globals = {"range": env.globals["range"]}
    # Numbers as the reader writes them (the language in force when rendering: the player's).
    env.filters["num"] = i18n.num
    if html:
        env.globals["button"] = _button
    return env


_ENVS = {(html, strict): _sandbox(html, strict) for html in (False, True) for strict in (False, True)}


@functools.lru_cache(maxsize=512)
def _compiled(source: str, html: bool, strict: bool):
    return _ENVS[(html, strict)].from_string(source)


def _render_field(field: str, source: str, ctx: dict, strict: bool) -> str:
    out = _compiled(source, field == "html", strict).render(ctx)
    if len(out) > OUTPUT_LIMIT:
        raise SecurityError(f"the result is longer than {OUTPUT_LIMIT} characters")
    if field == "subject":  # one header line, whatever the template's line breaks
        out = re.sub(r"\s+", " ", out).strip()
    return out


def _explain(e: Exception) -> str:
    if isinstance(e, SecurityError):
        return f"not allowed in a template: {e}"
    if isinstance(e, TemplateError) and getattr(e, "lineno", None):
        return f"line {e.lineno}: {e.message}"
    if isinstance(e, TemplateError):
        return str(e.message or e)
    if isinstance(e, TypeError) and "no loader" in str(e):
        return "templates cannot include, import or extend other templates"
    return f"{type(e).__name__}: {e}"


def _render(src: Source, ctx: dict, strict: bool) -> Rendered:
    fields = FIELDS[src.channel]
    out = {}
    for field in fields:
        try:
            out[field] = _render_field(field, getattr(src, field), ctx, strict)
        except Exception as e:  # noqa: BLE001 - whatever a template does wrong is the admin's to fix
            raise ConfigError(field, _explain(e)) from e
    return Rendered(out["subject"], out["text"], out.get("html", ""), src.id)
