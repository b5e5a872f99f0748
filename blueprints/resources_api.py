"""HTTP API for models, datastores, endpoints and deployments (function-key auth)."""

from __future__ import annotations

import json

import azure.functions as func

from blueprints.http_util import api_base, handles_errors, json_body, json_response
from shared import config
from shared.auth import doors
from shared.errors import NotFoundError, ValidationError
from shared.jobs import paths
from shared.resources import datastores, deployments, endpoints, models
from shared.storage.clients import default_storage

bp = func.Blueprint()


@bp.route(route="models", methods=["GET"])
@handles_errors
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"value": models.list_models(default_storage())})


@bp.route(route="models/{name}/versions", methods=["GET"])
@handles_errors
def list_model_versions(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    return json_response({"value": models.list_models(storage, req.route_params["name"])})


@bp.route(route="models/{name}/versions/{version}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def model_version(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name, version = req.route_params["name"], req.route_params["version"]
    if req.method == "GET":
        return json_response(models.get(storage, name, version))
    if req.method == "DELETE":
        models.get(storage, name, version)
        models.delete(storage, name, version,
                      deployments.users_of_model(storage, name, version))
        return func.HttpResponse(status_code=204)
    data, description, tags = _model_payload(req)
    doc = models.register(storage, name, version, data, description=description, tags=tags)
    return json_response(doc, status=201)


def _model_payload(req: func.HttpRequest) -> tuple[bytes, str, dict[str, str] | None]:
    """The ONNX bytes: the request body itself, or {"path": ...} naming a blob to register."""
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = json_body(req)
        location = paths.resolve(default_storage(), body.get("path"), paths.URI_FILE, "model")
        blob = default_storage().blobs.get_blob_client(location.container, location.path)
        if not blob.exists():
            raise ValidationError("model.path", f"no blob at {location.uri}")
        if blob.get_blob_properties().size > config.MAX_MODEL_BLOB_BYTES:
            raise ValidationError("model.path", "is larger than 2 GB, the ONNX protobuf limit")
        return blob.download_blob().readall(), body.get("description") or "", body.get("tags")
    data = req.get_body() or b""
    if len(data) > config.MAX_MODEL_UPLOAD_BYTES:
        raise ValidationError("model", f"uploads are limited to {config.MAX_MODEL_UPLOAD_BYTES}"
                              " bytes; upload larger models to a datastore and send {\"path\"}")
    tags = req.params.get("tags")
    try:
        parsed_tags = json.loads(tags) if tags else None
    except ValueError:
        raise ValidationError("tags", "must be a JSON object of strings") from None
    return data, req.params.get("description", ""), parsed_tags


@bp.route(route="datastores", methods=["GET"])
@handles_errors
def list_datastores(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"value": datastores.list_datastores(default_storage())})


@bp.route(route="datastores/{name}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def datastore(req: func.HttpRequest) -> func.HttpResponse:
    storage, name = default_storage(), req.route_params["name"]
    if req.method == "GET":
        return json_response(datastores.get(storage, name))
    if req.method == "DELETE":
        datastores.delete(storage, name)
        return func.HttpResponse(status_code=204)
    return json_response(datastores.create_or_update(storage, name, json_body(req)))


@bp.route(route="endpoints", methods=["GET"])
@handles_errors
def list_endpoints(req: func.HttpRequest) -> func.HttpResponse:
    return json_response({"value": endpoints.list_endpoints(default_storage())})


@bp.route(route="endpoints/{endpoint}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def endpoint(req: func.HttpRequest) -> func.HttpResponse:
    storage, name = default_storage(), req.route_params["endpoint"]
    if req.method == "GET":
        return json_response(_with_uri(req, endpoints.get(storage, name)))
    if req.method == "DELETE":
        removed = endpoints.delete(storage, name)
        return json_response({"deleted": name, "deleted_deployments": removed})
    existed = _exists(storage, name)
    doc = endpoints.create_or_update(storage, name, json_body(req, required=False))
    return json_response(_with_uri(req, doc), status=200 if existed else 201)


@bp.route(route="endpoints/{endpoint}/deployments", methods=["GET"])
@handles_errors
def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    return json_response(
        {"value": deployments.list_deployments(storage, req.route_params["endpoint"])})


@bp.route(route="endpoints/{endpoint}/deployments/{deployment}",
          methods=["GET", "PUT", "DELETE"])
@handles_errors
def deployment(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    ep, name = req.route_params["endpoint"], req.route_params["deployment"]
    if req.method == "GET":
        return json_response(deployments.get(storage, ep, name))
    if req.method == "DELETE":
        deployments.delete(storage, ep, name)
        return func.HttpResponse(status_code=204)
    existed = deployments.find(storage, ep, name) is not None
    doc = deployments.create_or_update(storage, ep, name, json_body(req))
    return json_response(doc, status=200 if existed else 201)


def _with_uri(req: func.HttpRequest, doc: dict) -> dict:
    return {**doc, "scoring_uri": f"{api_base(req, 'endpoints')}/{doors.scoring_route(doc)}"}


def _exists(storage, name: str) -> bool:
    """Whether the endpoint is there already (201 for a new one, 200 for an update)."""
    try:
        endpoints.get(storage, name)
    except NotFoundError:
        return False
    return True
