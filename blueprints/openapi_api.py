"""The API's own description: GET /api/openapi.json and a readable page at GET /api/docs.

Both are anonymous: they hold no data and no secret, and tools fetch them without a key.
"""

from __future__ import annotations

import json

import azure.functions as func

from shared.resources import api_reference, openapi

bp = func.Blueprint()


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(openapi.document()), mimetype="application/json")


@bp.route(route="docs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def api_docs(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(api_reference.render(openapi.document()), mimetype="text/html")
