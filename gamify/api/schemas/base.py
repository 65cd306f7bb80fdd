"""The API's schema machinery: parsing into models with the API's error shape, shared field types, the error body."""

from __future__ import annotations

import types
import typing
from datetime import date
from typing import Annotated, Any, Callable, Optional, TypeVar, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from ... import params
from ...engine import calendar as cal
from ...services.users import UserError, clean_email

M = TypeVar("M", bound=BaseModel)

# ------------------------------------------------------------------------------------------ machinery


class Missing:
    """Annotated metadata: the message when a required field is absent (default "<field> is required")."""

    def __init__(self, message: str):
        self.message = message


def checked(fn: Callable[[Any, str], Any]) -> BeforeValidator:
    """A validator running `fn(value, field_name)` (a params-style check returning the clean value or
    raising params.BadInput / UserError) before pydantic's own type check."""

    def run(value: Any, info: ValidationInfo) -> Any:
        try:
            return fn(value, info.field_name or "")
        except params.BadInput as e:
            raise _error(e) from None
        except UserError as e:  # the service's message names no path: it stays as written
            ctx = {"message": str(e), "field": e.field, "as_is": True}
            raise PydanticCustomError("bad_input", "{message}", ctx) from None

    return BeforeValidator(run)


def _error(e: params.BadInput) -> PydanticCustomError:
    return PydanticCustomError("bad_input", "{message}", {"message": str(e), "field": e.field})


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _field_info(model: type[BaseModel], loc: tuple):
    """The FieldInfo `loc` ends at (through nested models; list indexes skipped), or None."""
    info, current = None, model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        info = fields[part]
        current = _model_in(info.annotation)
    return info


def _model_in(annotation) -> Optional[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def bad_input(exc: ValidationError, model: type[BaseModel]) -> params.BadInput:
    """The first problem of a failed validation as BadInput, its field a JSON path ("user.id",
    "attributes.city", "events[3]")."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    where = _path(loc)
    if err["type"] == "bad_input":
        ctx = err.get("ctx") or {}
        message, field = ctx.get("message", err["msg"]), ctx.get("field") or where
        parent = _path(loc[:-1])
        if parent:  # the check named the field locally ("id"): name it fully ("user.id")
            field = f"{parent}.{field}"
            if isinstance(loc[-1], str) and not ctx.get("as_is"):
                message = message.replace(loc[-1], f"{parent}.{loc[-1]}", 1)
        return params.BadInput(field, message)
    if err["type"] == "missing":
        info = _field_info(model, loc)
        custom = next((m.message for m in (info.metadata if info else ()) if isinstance(m, Missing)), None)
        return params.BadInput(where, custom or f"{where} is required")
    return params.BadInput(where or "body", f"{where or 'body'}: {err['msg']}")


def parse(model: type[M], data: Any) -> M:
    """`data` (a JSON body or a query string as a dict) as `model`; params.BadInput on the first problem."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise bad_input(e, model) from None


def query(model: type[M], args) -> M:
    """A query string as `model`: the first value of each name, empty values meaning "not given"."""
    return parse(model, {k: v for k, v in args.items() if v != ""})


class In(BaseModel):
    """A request body or query string: strict types, unknown keys ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class Out(BaseModel):
    """A response body (documentation only: views build dicts). Blocks may grow new keys."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------------------------------ field types

# Constraints on the text inside an Optional (None passes untouched).
Name = Annotated[str, Field(max_length=120)]
Email = Annotated[str, Field(max_length=255, json_schema_extra={"format": "email"})]
ZoneName = Annotated[str, Field(max_length=64, description="IANA time zone.")]


def _external_id(value: Any, field: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return params.text(value, field, 128, required=True, strip=False)


ExternalId = Annotated[
    str,
    checked(_external_id),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "minLength": 1, "maxLength": 128}, {"type": "integer"}],
            "description": "The host product's id of the player (a number is taken as its digits).",
        }
    ),
]


def _attributes(value: Any, field: str) -> Optional[dict]:
    return params.attributes(value, field)


Attributes = Annotated[
    Optional[dict[str, Any]],
    checked(_attributes),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "maxProperties": params.MAX_ATTRIBUTES,
                    "propertyNames": {"minLength": 1, "maxLength": params.MAX_ATTRIBUTE_KEY},
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "string", "maxLength": params.MAX_ATTRIBUTE_TEXT},
                            {"type": "number", "minimum": -params.MAX_JSON_NUMBER, "maximum": params.MAX_JSON_NUMBER},
                            {"type": "boolean"},
                            {"type": "null"},
                        ]
                    },
                },
                {"type": "null"},
            ],
            "description": f"At most {params.MAX_ATTRIBUTES} entries: text, numbers, booleans or null.",
        }
    ),
]


def _string(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be a string")
    return value


def _text(max_len: int) -> Callable[[Any, str], Optional[str]]:
    def check(value: Any, field: str) -> Optional[str]:
        return params.text(_string(value, field), field, max_len)

    return check


def _plain_text(max_len: int) -> Callable[[Any, str], Optional[str]]:
    def check(value: Any, field: str) -> Optional[str]:
        return params.text(value, field, max_len)

    return check


def _action(value: Any, field: str) -> Any:
    if value is not None and not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be an action key")
    return value


def _email(value: Any, field: str) -> Optional[str]:
    return None if _string(value, field) is None else clean_email(value)


def _zone(value: Any, field: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise params.BadInput(field, f"{field} must be an IANA timezone name such as 'Europe/London'")
    try:
        cal.zone(value)
    except cal.InvalidTimezone as e:
        raise params.BadInput(field, str(e)) from e
    return value


def _number(value: Any, field: str) -> float:
    return params.number(value, field)


def _whole(value: Any, field: str) -> int:
    return params.whole_number(value, field)


Whole = Annotated[int, checked(_whole), Field(ge=-params.MAX_INT, le=params.MAX_INT)]


def _query_int(lo: int, hi: int, note: str = "") -> Annotated:
    """A whole number in a query string (ASCII digits, in [lo, hi]): today's int_arg, as a type."""

    def check(value: Any, field: str) -> int:
        n = params.whole(value, lo, hi) if isinstance(value, str) else None
        if n is None:
            raise params.BadInput(field, f"{params.BadNumber(field, lo, hi)}{note}")
        return n

    return Annotated[int, checked(check), Field(ge=lo, le=hi)]


HistoryArg = _query_int(0, 1000, " (periods)")
PageArg = _query_int(1, params.MAX_PAGE)
MAX_LIMIT = 100  # rankings per page
LimitArg = _query_int(1, MAX_LIMIT)
OffsetArg = _query_int(0, 1_000_000)
RadiusArg = _query_int(0, 25)


def _run_day(value: Any, field: str) -> Optional[date]:
    raw = value.strip() if isinstance(value, str) else ""
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise params.BadInput(field, f"{field} must be a date (YYYY-MM-DD): the first day of a past period") from None


RunArg = Annotated[Optional[date], checked(_run_day), Field(description="A past period by its first day (YYYY-MM-DD).")]
ZoneArg = Annotated[Optional[str], checked(_zone), Field(description="IANA time zone choosing the current period.")]


# ------------------------------------------------------------------------------------------ responses


class ErrorDetail(Out):
    message: str
    field: Optional[str] = Field(None, description="Where the problem is: a JSON path such as events[3].value.")


class ErrorOut(Out):
    """Every 4xx: what is wrong, and where (extra keys for some: required/available for energy)."""

    error: ErrorDetail
