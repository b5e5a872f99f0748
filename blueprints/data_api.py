"""HTTP API for data assets (`az ml data`): versions naming where data is (function-key
auth, as the other resources)."""

from __future__ import annotations

import azure.functions as func

from blueprints.http_util import (
    handles_errors,
    json_body,
    json_response,
    page_request,
    paged_response,
    with_warnings,
)
from shared import names
from shared.resources import data_assets
from shared.storage.clients import default_storage

bp = func.Blueprint()


@bp.route(route="data", methods=["GET"])
@handles_errors
def list_data(req: func.HttpRequest) -> func.HttpResponse:
    return paged_response(req, data_assets.list_page(default_storage(), page_request(req)))


@bp.route(route="data/{name}/versions", methods=["GET"])
@handles_errors
def list_data_versions(req: func.HttpRequest) -> func.HttpResponse:
    name = names.asset_name(req.route_params["name"])
    return paged_response(req, data_assets.list_page(default_storage(), page_request(req), name))


@bp.route(route="data/{name}/versions/{version}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def data_version(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = names.asset_name(req.route_params["name"])
    version = names.version(req.route_params["version"])
    if req.method == "GET":
        return json_response(data_assets.get(storage, name, version))
    if req.method == "DELETE":
        data_assets.delete(storage, name, version)
        return func.HttpResponse(status_code=204)
    parsed = data_assets.create(storage, name, version, json_body(req))
    return json_response(with_warnings(parsed.value, parsed.warnings), status=201)
