"""The admin guard: `admin_blueprint` makes a blueprint whose every route is for admins only, `bp` is the
console's own blueprint (its pages are spread over the feature modules of this package)."""

from flask import Blueprint, abort
from flask_login import current_user, login_required


@login_required
def _require_admin():
    if not current_user.is_admin:
        abort(403)


def admin_blueprint(name: str, import_name: str) -> Blueprint:
    """The one way to make admin pages: a blueprint whose every route is for admins only (anonymous
    visitors go to the login page, players get 403)."""
    blueprint = Blueprint(name, import_name)
    blueprint.before_request(_require_admin)
    return blueprint


bp = admin_blueprint("admin", "gamify.admin")


def admin_tag() -> str:
    """Who did it, for audit reasons written into ledgers."""
    return f"admin #{current_user.id}"
