"""HTTP API for models, code, datastores, endpoints and deployments (function-key auth;
what makes the service run user code also needs a deployer: shared/auth/deployers.py).

Bodies are validated by shared/resources/schemas; lists are paged (`$top`, `$skiptoken`).
"""

from __future__ import annotations

import azure.functions as func

from blueprints.http_util import (
    api_base,
    handles_errors,
    json_body,
    json_response,
    page_request,
    paged_response,
    precondition,
    with_warnings,
)
from shared import config, names
from shared.auth import deployers, doors
from shared.errors import NotFoundError, PayloadTooLargeError, ValidationError
from shared.jobs import paths
from shared.resources import codes, datastores, deployments, endpoints, models
from shared.resources.schemas import parse
from shared.resources.schemas.limits import load_json
from shared.resources.schemas.resources import ModelBody, ModelMetadata
from shared.storage.clients import default_storage

bp = func.Blueprint()


@bp.route(route="models", methods=["GET"])
@handles_errors
def list_models(req: func.HttpRequest) -> func.HttpResponse:
    return paged_response(req, models.list_page(default_storage(), page_request(req)))


@bp.route(route="models/{name}/versions", methods=["GET"])
@handles_errors
def list_model_versions(req: func.HttpRequest) -> func.HttpResponse:
    name = names.asset_name(req.route_params["name"])
    return paged_response(req, models.list_page(default_storage(), page_request(req), name))


@bp.route(route="models/{name}/versions/{version}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def model_version(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = names.asset_name(req.route_params["name"])
    version = names.version(req.route_params["version"])
    if req.method == "GET":
        return json_response(models.get(storage, name, version))
    if req.method == "DELETE":
        models.get(storage, name, version)
        models.delete(storage, name, version,
                      deployments.users_of_model(storage, name, version))
        return func.HttpResponse(status_code=204)
    data, metadata, warnings = _model_payload(req, name, version)
    folder = (req.headers.get("content-type") or "").split(";")[0].strip().lower() == \
        "application/zip"
    doc = models.register(storage, name, version, data, description=metadata.description or "",
                          tags=metadata.tags, file_name=metadata.file_name,
                          model_type=metadata.type or "custom_model", folder=folder)
    return json_response(with_warnings(doc, warnings), status=201)


def _model_payload(req: func.HttpRequest, name: str, version: str
                   ) -> tuple[bytes, ModelMetadata, list[str]]:
    """The ONNX bytes or a folder's zip (`content-type: application/zip`): the request body
    itself, or {"path": ...} naming an ONNX blob to register."""
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "application/json":
        parsed = parse(ModelBody, json_body(req))
        body = parsed.value
        if body.name not in (None, name) or str(body.version or version) != version:
            raise ValidationError("name" if body.name not in (None, name) else "version",
                                  "does not match the URL")
        location = paths.resolve(default_storage(), body.path, paths.URI_FILE, "model",
                                 other_accounts=False)
        blob = default_storage().blobs.get_blob_client(location.container, location.path)
        if not blob.exists():
            raise ValidationError("model.path", f"no blob at {location.uri}")
        if blob.get_blob_properties().size > config.MAX_MODEL_BLOB_BYTES:
            raise ValidationError("model.path", "is larger than 2 GB, the ONNX protobuf limit")
        return blob.download_blob().readall(), body, parsed.warnings
    data = req.get_body() or b""
    if len(data) > config.MAX_MODEL_UPLOAD_BYTES:
        raise ValidationError("model", f"uploads are limited to {config.MAX_MODEL_UPLOAD_BYTES}"
                              " bytes; upload larger models to a datastore and send {\"path\"}")
    query = {key: req.params.get(key) for key in ("description", "file_name", "type")}
    if req.params.get("tags"):
        query["tags"] = load_json(req.params["tags"].encode())
    parsed = parse(ModelMetadata, {k: v for k, v in query.items() if v is not None})
    return data, parsed.value, parsed.warnings


@bp.route(route="codes/{name}/versions", methods=["GET"])
@handles_errors
def list_code_versions(req: func.HttpRequest) -> func.HttpResponse:
    name = names.asset_name(req.route_params["name"])
    return paged_response(req, codes.list_page(default_storage(), page_request(req), name))


@bp.route(route="codes/{name}/versions/{version}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def code_version(req: func.HttpRequest) -> func.HttpResponse:
    """A code version: PUT a zip of the folder (deployers only), GET its record, DELETE."""
    storage = default_storage()
    name = names.asset_name(req.route_params["name"])
    version = names.version(req.route_params["version"])
    if req.method == "GET":
        return json_response(codes.get(storage, name, version))
    deployers.require_deployer(req.headers, req.params,
                               "uploading code" if req.method == "PUT" else "deleting code")
    if req.method == "DELETE":
        codes.delete(storage, name, version,
                     deployments.users_of_code(storage, f"azureml:{name}:{version}"))
        return func.HttpResponse(status_code=204)
    data = req.get_body() or b""
    if len(data) > config.MAX_CODE_UPLOAD_BYTES:
        raise PayloadTooLargeError(f"code uploads are limited to {config.MAX_CODE_UPLOAD_BYTES}"
                                   " bytes (zipped); keep data and models out of the code folder")
    doc, created = codes.upload(storage, name, version, data)
    return json_response(doc, status=201 if created else 200)


@bp.route(route="codes/{name}/versions/{version}/content", methods=["GET"])
@handles_errors
def code_content(req: func.HttpRequest) -> func.HttpResponse:
    """The code version's folder as the zip it was uploaded as."""
    storage = default_storage()
    doc = codes.get(storage, names.asset_name(req.route_params["name"]),
                    names.version(req.route_params["version"]))
    return func.HttpResponse(codes.read_bytes(storage, doc["sha256"]), mimetype="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="'
                                      f'{doc["name"]}-{doc["version"]}.zip"'})


@bp.route(route="datastores", methods=["GET"])
@handles_errors
def list_datastores(req: func.HttpRequest) -> func.HttpResponse:
    return paged_response(req, datastores.list_page(default_storage(), page_request(req)))


@bp.route(route="datastores/{name}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def datastore(req: func.HttpRequest) -> func.HttpResponse:
    storage, name = default_storage(), names.asset_name(req.route_params["name"])
    if req.method == "GET":
        return json_response(datastores.show(storage, name))
    if req.method == "DELETE":
        datastores.delete(storage, name)
        return func.HttpResponse(status_code=204)
    parsed = datastores.create_or_update(storage, name, json_body(req))
    return json_response(with_warnings(parsed.value, parsed.warnings))


@bp.route(route="endpoints", methods=["GET"])
@handles_errors
def list_endpoints(req: func.HttpRequest) -> func.HttpResponse:
    page = endpoints.list_page(default_storage(), page_request(req))
    return paged_response(req, page, lambda doc: _with_uri(req, doc))


@bp.route(route="endpoints/{endpoint}", methods=["GET", "PUT", "DELETE"])
@handles_errors
def endpoint(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = names.endpoint_or_deployment_name(req.route_params["endpoint"])
    if req.method == "GET":
        doc, etag = endpoints.get_versioned(storage, name)
        return json_response(_with_uri(req, doc), headers={"ETag": etag})
    if req.method == "DELETE":
        removed = endpoints.delete(storage, name)
        return json_response({"deleted": name, "deleted_deployments": removed})
    existed = _exists(storage, name)
    parsed, etag = endpoints.create_or_update(storage, name, json_body(req, required=False),
                                              precondition(req))
    return json_response(with_warnings(_with_uri(req, parsed.value), parsed.warnings),
                         status=200 if existed else 201, headers={"ETag": etag})


@bp.route(route="endpoints/{endpoint}/deployments", methods=["GET"])
@handles_errors
def list_deployments(req: func.HttpRequest) -> func.HttpResponse:
    name = names.endpoint_or_deployment_name(req.route_params["endpoint"], "endpoint")
    return paged_response(req, deployments.list_page(default_storage(), name, page_request(req)))


@bp.route(route="endpoints/{endpoint}/deployments/{deployment}",
          methods=["GET", "PUT", "DELETE"])
@handles_errors
def deployment(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    ep = names.endpoint_or_deployment_name(req.route_params["endpoint"], "endpoint")
    name = names.endpoint_or_deployment_name(req.route_params["deployment"])
    if req.method == "GET":
        doc, etag = deployments.get_versioned(storage, ep, name)
        return json_response(doc, headers={"ETag": etag})
    if req.method == "DELETE":
        deployments.delete(storage, ep, name)
        return func.HttpResponse(status_code=204)
    existing = deployments.find(storage, ep, name)
    body = json_body(req)
    if deployments.runs_code(body, existing):
        deployers.require_deployer(req.headers, req.params, "a deployment with a scoring script")
    parsed, etag = deployments.create_or_update(storage, ep, name, body, precondition(req))
    return json_response(with_warnings(parsed.value, parsed.warnings),
                         status=200 if existing is not None else 201, headers={"ETag": etag})


def _with_uri(req: func.HttpRequest, doc: dict) -> dict:
    return {**doc, "scoring_uri": f"{api_base(req, 'endpoints')}/{doors.scoring_route(doc)}"}


def _exists(storage, name: str) -> bool:
    """Whether the endpoint is there already (201 for a new one, 200 for an update)."""
    try:
        endpoints.get(storage, name)
    except NotFoundError:
        return False
    return True


# A datastore's folders and files (read-only), so a user can pick a job's input in Studio;
# and one file uploaded into it, to score files from their own machine.
@bp.route(route="datastores/{name}/paths", methods=["GET"])
@handles_errors
def browse_datastore(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(datastores.browse(default_storage(), req.route_params["name"],
                                           req.params.get("prefix", "")))


@bp.route(route="datastores/{name}/paths/{*path}", methods=["PUT"])
@handles_errors
def upload_to_datastore(req: func.HttpRequest) -> func.HttpResponse:
    doc = datastores.upload(default_storage(), req.route_params["name"],
                            req.route_params.get("path", ""), req.get_body() or b"",
                            part=_int_param(req, "part"), parts=_int_param(req, "parts"))
    return json_response(doc, status=202 if "part" in doc else 201)


def _int_param(req: func.HttpRequest, name: str) -> int | None:
    value = req.params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 6:
        raise ValidationError(name, "must be a whole number")
    return int(value)
