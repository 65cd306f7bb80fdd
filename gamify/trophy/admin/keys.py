"""Trophy's admin application API keys (services/apikeys.py), and what gamify does not have: tenants and
environments (501).

    POST   /trophy/admin/v1/application-api-keys   [{"userId"}]: a key acting for that user only
    DELETE /trophy/admin/v1/application-api-keys?ids=   revoke them (refused from the next request on)

An application key is for one user's client (a mobile app): it works on the application API (/trophy/v1)
for requests about its own user and for reading the catalogue, never on /api/v1 or this admin API
(gamify/trophy/base.py checks every request). Its secret is shown once, at creation.
"""

from __future__ import annotations

from ... import params
from ...extensions import db
from ...models import ApiKey
from ...services import apikeys
from ..base import TrophyError, answer
from . import schemas as s
from .base import Issues, bp, created, ids_arg, items, listed, require_admin_key, row


@bp.post("/application-api-keys")
@require_admin_key
def create_application_keys():
    issues, done = Issues(), []
    for i, data in items(s.UserIdIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        try:
            user_id = params.text(data.user_id, "userId", 128, required=True, strip=False)
        except params.BadInput as e:
            issues.add(str(e), index=i)
            continue
        key, secret = apikeys.create(f"Application key for {user_id}"[:120], user_external_id=user_id)
        db.session.flush()
        done.append(s.AppKeyOut(id=str(key.id), user_id=user_id, key=secret, prefix=key.prefix))
    return created("created", done, issues)


@bp.delete("/application-api-keys")
@require_admin_key
def delete_application_keys():
    issues, done = Issues(), []
    for raw in ids_arg():
        key = row(ApiKey, raw)
        if key is None or key.user_external_id is None or key.revoked_at is not None:
            issues.add(f"application API key '{raw}' not found", id=raw)  # host-app keys are not listed here
        else:
            apikeys.revoke(key)
            done.append({"id": raw})
    return answer(listed("deleted", done, issues))


# ------------------------------------------------------------------------------------------ not supported

NO_TENANTS = (
    "gamify serves one product per installation: tenants and environments are not supported "
    "(run one gamify per tenant or environment, each with its own database)"
)


@bp.route("/tenants", methods=["GET", "POST", "PATCH", "DELETE"])
@bp.route("/tenants/<tenant_id>", methods=["GET"])
@bp.route("/environments", methods=["GET", "POST"])
@require_admin_key
def not_supported(tenant_id: str | None = None):
    raise TrophyError(501, NO_TENANTS)
