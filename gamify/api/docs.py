"""The API reference at /api/docs: a server-rendered page of the generated OpenAPI document (our
template and CSS, no scripts: it works under the app's strict CSP)."""

from flask import Blueprint, current_app, render_template

from . import openapi

bp = Blueprint("api_docs", __name__)


@bp.get("/api/docs")
def page():
    doc = openapi.spec(current_app)
    return render_template("api/docs.html", ref=openapi.reference(doc), spec_url=openapi.API_PREFIX + "/openapi.json")
