"""Trophy's admin attributes (services/attributes.py).

    GET|POST|PATCH|DELETE  /trophy/admin/v1/attributes
    GET                    /trophy/admin/v1/attributes/{id}

gamify takes any attribute a product sends: there is nothing to set up before using one. An attribute's
id is its key (filters and breakdowns of the other admin operations name attributes by it); the list is
the attributes declared here and those the configuration uses. Trophy's `user`/`event` type is kept as
declared; gamify matches every filter against the player's attributes overlaid with the event's.
"""

from __future__ import annotations

from ...services import attributes
from ..base import answer, not_found
from . import schemas as s
from .base import Issues, attempt, bp, created, ids_arg, items, listed, paging, require_admin_key


def attribute_out(a: attributes.Attribute) -> s.AttributeOut:
    return s.AttributeOut(id=a.key, name=a.name, key=a.key, type=a.kind)


@bp.get("/attributes")
@require_admin_key
def list_attributes():
    limit, skip = paging()
    return answer([attribute_out(a) for a in attributes.all_attributes()[skip : skip + limit]])


@bp.get("/attributes/<key>")
@require_admin_key
def get_attribute(key: str):
    a = attributes.get(key)
    if a is None:
        raise not_found("attribute", key)
    return answer(attribute_out(a))


@bp.post("/attributes")
@require_admin_key
def create_attributes():
    issues, done = Issues(), []
    for i, data in items(s.AttributeCreateIn):
        if isinstance(data, str):
            issues.add(data, index=i)
            continue
        a = attempt(issues, lambda d=data: attributes.declare(d.key, d.name, d.type), index=i)
        if a is not None:
            done.append(attribute_out(a))
    return created("created", done, issues)


@bp.patch("/attributes")
@require_admin_key
def update_attributes():
    issues, done = Issues(), []
    for i, data in items(s.AttributeUpdateIn):
        if isinstance(data, str):
            issues.add(data, index=i)
        elif data.name is None:
            a = attributes.get(data.id)
            if a is None:
                issues.add(f"attribute '{data.id}' not found", id=data.id)
            else:
                done.append(attribute_out(a))
        else:
            a = attempt(issues, lambda d=data: attributes.rename(d.id, d.name), id=data.id)
            if a is not None:
                done.append(attribute_out(a))
    return answer(listed("updated", done, issues))


@bp.delete("/attributes")
@require_admin_key
def delete_attributes():
    issues, done = Issues(), []
    for key in ids_arg():
        if attempt(issues, lambda k=key: attributes.delete(k) or True, id=key):
            done.append({"id": key})
    return answer(listed("deleted", done, issues))
