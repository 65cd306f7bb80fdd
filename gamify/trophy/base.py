"""The Trophy-compatible API's plumbing: its blueprint, API-key check, error answers and input parsing.

Trophy's errors are `{"error": "<message>"}` (its ErrorBody), not /api/v1's `{"error": {"field", "message"}}`.
Status codes follow its published definition: 401 for a missing or refused key, 404 for an unknown
user/metric/achievement/points system/leaderboard, 400 for a body that cannot be read (not JSON, a
required field missing, a field of the wrong JSON type) where the operation declares 400, and 422 for
values that are well-formed but refused (a time zone that is no IANA name, an email in use, a query
parameter out of range) and for everything an operation without a declared 400 refuses.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps
from typing import Any, Optional, TypeVar

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from .. import params
from ..api import authenticated_key
from ..extensions import csrf, db
from ..pipeline.base import EventError
from ..services.achievements import AchievementError
from ..services.users import UserError

bp = Blueprint("trophy", __name__)  # the application API, /trophy/v1
admin_bp = Blueprint("trophy_admin", __name__)  # the admin API, /trophy/admin/v1 (gamify/trophy/admin/)
csrf.exempt(bp)
csrf.exempt(admin_bp)

M = TypeVar("M", bound=BaseModel)


class TrophyError(Exception):
    """An answer other than 2xx, in Trophy's shape."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def not_found(what: str, key: str) -> TrophyError:
    return TrophyError(404, f"{what} '{key}' not found")


def _answer(status: int, message: str):
    return jsonify({"error": message}), status


def _trophy_error(e: TrophyError):
    db.session.rollback()
    return _answer(e.status, e.message)


def _event_error(e: EventError):
    db.session.rollback()
    # The pipeline's 400s are values it refuses (a negative value, a bad time zone): Trophy's 422.
    return _answer(404 if e.status == 404 else 422, str(e))


def _user_error(e: UserError):
    db.session.rollback()
    return _answer(422, str(e))


def _achievement_error(e: AchievementError):
    db.session.rollback()
    return _answer(422, str(e))


def _bad_input(e: params.BadInput):
    db.session.rollback()
    return _answer(422, str(e))


def _http_error(e: HTTPException):
    return _answer(e.code or 500, e.description or e.name)


for _blueprint in (bp, admin_bp):  # both APIs answer in Trophy's error shape
    _blueprint.register_error_handler(TrophyError, _trophy_error)
    _blueprint.register_error_handler(EventError, _event_error)
    _blueprint.register_error_handler(UserError, _user_error)
    _blueprint.register_error_handler(AchievementError, _achievement_error)
    _blueprint.register_error_handler(params.BadInput, _bad_input)
    _blueprint.register_error_handler(HTTPException, _http_error)


def require_key(fn):
    """The same API keys as /api/v1 (Trophy's SDKs send theirs as X-API-KEY). An application key (made
    through the admin API for one user) acts for that user only: see _acts_for."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        key = authenticated_key()
        if key is None:
            raise TrophyError(401, "missing or invalid API key (send it in the X-API-KEY header)")
        scope = key.user_external_id
        if scope is not None and not _acts_for(scope):
            raise TrophyError(403, f"this application API key acts for user '{scope}' only")
        return fn(*args, **kwargs)

    return wrapper


def require_admin_key(fn):
    """The admin API takes the host app's keys, never an application key (Trophy's admin API and its
    application API take the same X-API-KEY; its application keys are for one user's client)."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        key = authenticated_key()
        if key is None:
            raise TrophyError(401, "missing or invalid API key (send it in the X-API-KEY header)")
        if key.user_external_id is not None:
            raise TrophyError(403, "an application API key cannot use the admin API")
        return fn(*args, **kwargs)

    return wrapper


def _acts_for(scope: str) -> bool:
    """Does the request concern the application key's own user only? Every user it names (in the path,
    as the body's `user.id` or `id`, in `userIds`) must be that user; a request naming none may only read
    (the catalogue: achievements, points systems, leaderboards)."""
    named: list[str] = []
    if request.view_args and "external_id" in request.view_args:
        named.append(request.view_args["external_id"])
    raw = request.get_json(silent=True) if request.method in ("POST", "PUT", "PATCH") else None
    if isinstance(raw, dict):
        user = raw.get("user")
        if isinstance(user, dict) and "id" in user:
            named.append(str(user["id"]))
        if request.endpoint == "trophy.create_user" and "id" in raw:
            named.append(str(raw["id"]))
    for value in request.args.getlist("userIds"):
        named.extend(part.strip() for part in value.split(",") if part.strip())
    if not named:
        return request.method == "GET"
    return all(name == scope for name in named)


# ------------------------------------------------------------------------------------------ input


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# pydantic error types that mean "the JSON has the wrong shape" (Trophy's 400) rather than "a value is refused"
_SHAPE_ERRORS = {"missing", "model_type", "model_attributes_type", "dict_type", "list_type"}


def _message(err: dict) -> tuple[bool, str]:
    """(is a shape problem, the message) for one pydantic error."""
    where = _where(tuple(err["loc"])) or "body"
    kind = err["type"]
    if kind == "missing":
        return True, f"{where} is required"
    if kind in _SHAPE_ERRORS or kind.endswith("_type"):
        expected = {
            "string_type": "a string",
            "bool_type": "true or false",
            "int_type": "an integer",
            "float_type": "a number",
            "dict_type": "an object",
            "model_type": "an object",
            "model_attributes_type": "an object",
            "list_type": "an array",
        }.get(kind, err["msg"].lower())
        return True, f"{where} must be {expected}"
    ctx = err.get("ctx") or {}
    message = str(ctx.get("message") or f"{where}: {err['msg']}")
    loc = tuple(err["loc"])
    if ctx.get("field") and loc and isinstance(loc[-1], str) and ctx["field"] != loc[-1]:
        message = message.replace(ctx["field"], loc[-1], 1)  # the check's Python name: say it as sent (camelCase)
    if ctx.get("message") and len(loc) > 1 and isinstance(loc[-1], str):  # a check names "id": say "user.id"
        message = message.replace(loc[-1], f"{_where(loc[:-1])}.{loc[-1]}", 1)
    return False, message


def body(model: type[M], shape_status: int = 400) -> M:
    """The JSON body as `model`. A body that is not a JSON object, or lacks a required field or has one
    of the wrong type, answers `shape_status` (400, or 422 where the operation declares no 400); a
    refused value answers 422."""
    raw = request.get_json(silent=True)
    if raw is None and request.data:
        raise TrophyError(shape_status, "request body is not valid JSON")
    if not isinstance(raw, dict):
        raise TrophyError(shape_status, "request body must be a JSON object")
    try:
        params.check_json(raw)
    except params.BadInput as e:
        raise TrophyError(422, str(e)) from e
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        shape, message = _message(e.errors(include_url=False)[0])
        raise TrophyError(shape_status if shape else 422, message) from None


def query(model: type[M]) -> M:
    """The query string as `model` (empty values mean "not given"); any problem answers 422."""
    data: dict[str, Any] = {}
    for name in request.args:
        values = [v for v in request.args.getlist(name) if v != ""]
        if values:
            data[name] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        shape, message = _message(err)
        raise TrophyError(422, message) from None


# ------------------------------------------------------------------------------------------ output


def ts(moment: Optional[datetime]) -> Optional[str]:
    """A UTC moment as Trophy writes them: 2021-01-01T00:00:00Z."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds") + "Z"


def dump(model: BaseModel) -> dict:
    """A response model as JSON: camelCase names, only the fields that were set (Trophy omits the fields
    that do not apply, e.g. `streakLength` on a metric achievement, and sends null for the ones that are
    known to be empty)."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def answer(data: Any, status: int = 200):
    """A model, or a list of models, as the response."""
    if isinstance(data, list):
        return jsonify([dump(m) if isinstance(m, BaseModel) else m for m in data]), status
    return jsonify(dump(data) if isinstance(data, BaseModel) else data), status
