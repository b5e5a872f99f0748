"""The OpenAPI 3.1 document of the HTTP API, generated from the pydantic models.

`OPERATIONS` is the one table of paths; request and response schemas are the models'
JSON schemas (shared/resources/schemas). Served at GET /api/openapi.json and, readable, at
GET /api/docs (blueprints/openapi_api.py).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.resources import datastores, paging
from shared.resources.schemas import responses as r
from shared.resources.schemas.invoke import InvokeBody
from shared.resources.schemas.resources import (
    DataBody,
    DatastoreBody,
    DeploymentBody,
    EndpointBody,
    ModelBody,
    PreviewBody,
    RetryBody,
)

AML_NAME = {"type": "string", "minLength": 3, "maxLength": 32,
            "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"}
ASSET_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9\\-_.]{0,254}$"}
VERSION = {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9\\-_.]{0,63}$"}
JOB_NAME = {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9\\-_]{2,62}$"}
PATH_PARAMS = {"endpoint": AML_NAME, "deployment": AML_NAME, "name": ASSET_NAME,
               "version": VERSION, "job": JOB_NAME,
               "path": {"type": "string", "minLength": 1, "maxLength": datastores.MAX_PREFIX,
                        "description": "a file's path in the datastore (may hold /)"},
               "output": {"type": "string", "enum": ["score", "errors", "summary"]}}
PAGE = [
    {"name": "$top", "in": "query", "description": "items per page",
     "schema": {"type": "integer", "minimum": 1, "maximum": paging.MAX_TOP,
                "default": paging.DEFAULT_TOP}},
    {"name": "maxResults", "in": "query", "description": "the same as $top",
     "schema": {"type": "integer", "minimum": 1, "maximum": paging.MAX_TOP}},
    {"name": "$skiptoken", "in": "query", "description": "from the previous page's nextLink",
     "schema": {"type": "string"}},
]
STATUS = {"name": "status", "in": "query", "description": "only jobs in this state",
          "schema": {"type": "string", "enum": list(get_args(r.JobStatus))}}
DEPLOYMENT = {"name": "deployment", "in": "query", "description": "only jobs of this deployment",
              "schema": AML_NAME}
INVOKE_HEADERS = [
    {"name": "azureml-model-deployment", "in": "header", "schema": AML_NAME,
     "description": "the deployment to run (default: the endpoint's default deployment)"},
    {"name": "Repeatability-Request-ID", "in": "header",
     "schema": {"type": "string", "maxLength": 256},
     "description": "a retried request with the same id returns the first request's job "
                    "(the azure-ai-ml SDK sends it as repeatability_request-id)"},
]
CONDITIONS = [
    {"name": "If-None-Match", "in": "header", "schema": {"type": "string", "enum": ["*"]},
     "description": "'*': create only; 412 if the name exists"},
    {"name": "If-Match", "in": "header", "schema": {"type": "string"},
     "description": "the ETag of the version read: replace only that version, else 412"},
]
NAME_SEARCH = {"name": "name", "in": "query", "schema": {"type": "string", "maxLength": 63},
               "description": "only jobs whose name contains this (case-insensitive)"}
ROWS = {"name": "rows", "in": "query", "description": "how many rows (default 20)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
BINARY = "binary"  # a model upload: ONNX bytes, or {"path"} of a blob
FILE = "file"  # any file's bytes
TEXT = "text"
UPLOAD_PARTS = (
    {"name": "part", "in": "query", "description": "stage this part (0, 1, ...) of a big file",
     "schema": {"type": "integer", "minimum": 0, "maximum": datastores.MAX_PARTS - 1}},
    {"name": "parts", "in": "query", "description": "commit the parts 0..parts-1 as the file "
     "(no body)", "schema": {"type": "integer", "minimum": 1, "maximum": datastores.MAX_PARTS}})
PREFIX = {"name": "prefix", "in": "query", "description": "the folder to list ('' = the top)",
          "schema": {"type": "string", "maxLength": datastores.MAX_PREFIX}}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    summary: str
    body: Any = None  # a model, BINARY, or None
    ok: dict[int, Any] = field(default_factory=dict)  # status → model, BINARY, TEXT or None
    params: tuple[dict, ...] = ()
    anonymous: bool = False


EP, DEP, MODEL, JOB = ("/endpoints/{endpoint}", "/endpoints/{endpoint}/deployments/{deployment}",
                       "/models/{name}/versions/{version}", "/jobs/{job}")
CODE = "/codes/{name}/versions/{version}"
DATA = "/data/{name}/versions/{version}"
OPERATIONS = (
    Op("get", "/models", "Models_List", "List model versions", ok={200: r.page_of(
        r.ModelResource)}, params=(*PAGE,)),
    Op("get", "/models/{name}/versions", "Models_ListVersions", "List one model's versions",
       ok={200: r.page_of(r.ModelResource)}, params=(*PAGE,)),
    Op("get", MODEL, "Models_Get", "Show a model version", ok={200: r.ModelResource}),
    Op("put", MODEL, "Models_Register", "Register an ONNX model version: its bytes, or "
       "{\"path\"} of a blob", body=BINARY, ok={201: r.ModelResource}),
    Op("delete", MODEL, "Models_Delete", "Delete a model version no deployment uses",
       ok={204: None}),
    Op("get", "/codes/{name}/versions", "Codes_ListVersions", "List one code asset's versions",
       ok={200: r.page_of(r.CodeResource)}, params=(*PAGE,)),
    Op("get", CODE, "Codes_Get", "Show a code version (its files and content hash)",
       ok={200: r.CodeResource}),
    Op("put", CODE, "Codes_Upload", "Upload a scoring script's folder as a zip (deployers "
       "only: the master key or the Deployer app role)", body=FILE,
       ok={200: r.CodeResource, 201: r.CodeResource}),
    Op("delete", CODE, "Codes_Delete", "Delete a code version no deployment runs (deployers "
       "only)", ok={204: None}),
    Op("get", f"{CODE}/content", "Codes_Download", "The code version's zip", ok={200: BINARY}),
    Op("get", "/datastores", "Datastores_List", "List datastores (built-in ones first)",
       ok={200: r.page_of(r.DatastoreResource)}, params=(*PAGE,)),
    Op("get", "/datastores/{name}", "Datastores_Get", "Show a datastore",
       ok={200: r.DatastoreResource}),
    Op("put", "/datastores/{name}", "Datastores_CreateOrUpdate", "Register a container",
       body=DatastoreBody, ok={200: r.DatastoreResource}),
    Op("delete", "/datastores/{name}", "Datastores_Delete", "Forget a datastore",
       ok={204: None}),
    Op("get", "/datastores/{name}/paths", "Datastores_Browse", "One level of a datastore's "
       "folders and files (at most 500 entries)", ok={200: r.DatastoreListing},
       params=(PREFIX,)),
    Op("put", "/datastores/{name}/paths/{path}", "Datastores_UploadFile", "Put one file into "
       "a datastore of the app's account (409 if it exists; at most 32 MiB a request: a "
       "bigger file as ?part=0, 1, ... then ?parts=<count>, committed atomically)", body=FILE,
       ok={201: r.UploadedFile, 202: r.UploadedFile}, params=UPLOAD_PARTS),
    Op("get", "/data", "Data_List", "List data asset versions",
       ok={200: r.page_of(r.DataResource)}, params=(*PAGE,)),
    Op("get", "/data/{name}/versions", "Data_ListVersions", "List one data asset's versions",
       ok={200: r.page_of(r.DataResource)}, params=(*PAGE,)),
    Op("get", DATA, "Data_Get", "Show a data asset version", ok={200: r.DataResource}),
    Op("put", DATA, "Data_Create", "Register a data asset version (immutable; the same "
       "document again is a no-op)", body=DataBody, ok={201: r.DataResource,
                                                        200: r.DataResource}),
    Op("delete", DATA, "Data_Delete", "Delete a data asset version no running job reads",
       ok={204: None}),
    Op("get", "/endpoints", "BatchEndpoints_List", "List batch endpoints",
       ok={200: r.page_of(r.EndpointResource)}, params=(*PAGE,)),
    Op("get", EP, "BatchEndpoints_Get", "Show a batch endpoint", ok={200: r.EndpointResource}),
    Op("put", EP, "BatchEndpoints_CreateOrUpdate", "Create or update a batch endpoint",
       body=EndpointBody, ok={200: r.EndpointResource, 201: r.EndpointResource},
       params=(*CONDITIONS,)),
    Op("delete", EP, "BatchEndpoints_Delete", "Delete an endpoint and its deployments (jobs "
       "stay; 409 while any of its jobs runs)", ok={200: r.EndpointDeleted}),
    Op("get", f"{EP}/deployments", "BatchDeployments_List", "List an endpoint's deployments",
       ok={200: r.page_of(r.DeploymentResource)}, params=(*PAGE,)),
    Op("get", DEP, "BatchDeployments_Get", "Show a deployment", ok={200: r.DeploymentResource}),
    Op("put", DEP, "BatchDeployments_CreateOrUpdate", "Create or update a deployment",
       body=DeploymentBody, ok={200: r.DeploymentResource, 201: r.DeploymentResource},
       params=(*CONDITIONS,)),
    Op("delete", DEP, "BatchDeployments_Delete", "Delete a deployment that is not the default",
       ok={204: None}),
    Op("post", f"{DEP}/preview", "BatchDeployments_Preview", "Score up to 20 files at once "
       "and answer their rows and per-item errors (JSON file paths, or multipart/form-data "
       "uploads; at most 16 MiB, 20 s)", body=PreviewBody, ok={200: r.PreviewResult}),
    Op("post", f"{EP}/jobs", "BatchEndpoints_Invoke", "Invoke: start a job. Native bodies "
       "answer 202 with a Location; Azure ML's REST bodies (PascalCase or the SDK's camelCase) "
       "200, as Azure ML does", body=InvokeBody,
       ok={200: r.JobResource, 202: r.JobResource}, params=(*INVOKE_HEADERS,)),
    Op("get", f"{EP}/jobs", "BatchEndpoints_ListJobs", "List an endpoint's jobs, newest first",
       ok={200: r.page_of(r.JobResource)}, params=(*PAGE, STATUS, DEPLOYMENT, NAME_SEARCH)),
    Op("get", f"{DEP}/jobs", "BatchDeployments_ListJobs", "List a deployment's jobs, newest "
       "first", ok={200: r.page_of(r.JobResource)}, params=(*PAGE, STATUS, NAME_SEARCH)),
    Op("get", "/jobs", "Jobs_List", "List jobs, newest first",
       ok={200: r.page_of(r.JobResource)}, params=(*PAGE, STATUS, NAME_SEARCH)),
    Op("get", JOB, "Jobs_Get", "Show a job: state, live progress, outputs, error",
       ok={200: r.JobResource}),
    Op("post", f"{JOB}/cancel", "Jobs_Cancel", "Cancel a job (409 naming its state once it "
       "has ended)", ok={202: r.JobResource}),
    Op("post", f"{JOB}/retry", "Jobs_Retry", "A new job over exactly the items that failed or "
       "were canceled (409 when none did)", body=RetryBody, ok={202: r.JobResource}),
    Op("get", f"{JOB}/outputs/{{output}}", "Jobs_DownloadOutput", "Download an output once "
       "the job has ended", ok={200: BINARY}),
    Op("get", f"{JOB}/outputs", "Jobs_ListOutputs", "The output files the job wrote: name, "
       "file, datastore path, size", ok={200: r.OutputListing}),
    Op("get", f"{JOB}/outputs/{{output}}/preview", "Jobs_PreviewOutput", "The first rows of "
       "a CSV or JSON Lines output (one ranged read), or the summary's JSON",
       ok={200: r.OutputPreview}, params=(ROWS,)),
    Op("get", f"{JOB}/errors", "Jobs_DownloadErrors", "Every failed item with its reason",
       ok={200: BINARY}),
    Op("get", f"{JOB}/logs", "Jobs_Logs", "Progress overview and events, then the job-ended "
       "events no target accepted", ok={200: TEXT}),
    Op("post", f"{JOB}/events/resend", "Jobs_ResendEvent", "Send the ended job's event again "
       "to the targets that do not have it (409 while the job runs)", ok={202: r.EventResend}),
    Op("get", f"{JOB}/timeline", "Jobs_Timeline", "Mini-batches succeeded, failed and "
       "canceled over time (cumulative, up to 120 points), from their finish times",
       ok={200: r.JobTimeline}),
    Op("get", "/drops/rejected", "Drops_ListRejected", "Dropped files that could not become "
       "jobs, with the reason", ok={200: r.page_of(r.RejectedDrop)}, params=(*PAGE,)),
    Op("get", "/openapi.json", "OpenApi_Get", "This document", ok={200: None}, anonymous=True),
)


@functools.cache
def document() -> dict[str, Any]:
    bodies = [op.body for op in OPERATIONS if isinstance(op.body, type)] + [ModelBody]
    answers = [m for op in OPERATIONS for m in op.ok.values() if isinstance(m, type)]
    keys, schema = models_json_schema(
        [(m, "validation") for m in bodies] + [(m, "serialization") for m in {*answers, r.Error}],
        ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return keys[(model, mode)]

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Batch endpoints on Azure Functions", "version": "1",
                 "description": "Azure Machine Learning's batch endpoints (endpoints, "
                 "deployments, jobs, outputs) on Azure Functions and ONNX Runtime. Errors "
                 "are {\"error\": {\"code\", \"message\": \"field: rule\", \"target\"}}; "
                 "limits: docs/api.md."},
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": paths,
        "components": {
            "schemas": schema.get("$defs", {}),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }


def _operation(op: Op, ref) -> dict[str, Any]:
    params = [{"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
              for name in _path_names(op.path)]
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                           "parameters": params + list(op.params),
                           "responses": {str(s): _response(m, ref) for s, m in op.ok.items()}}
    if op.anonymous:
        out["security"] = []
    else:
        error = {"description": "an error", "content": {
            "application/json": {"schema": ref(r.Error, "serialization")}}}
        out["responses"].update({
            "400": {**error, "description": "a field broke a rule"},
            "401": {"description": "no valid function key (empty body, the host's); on an "
                    "endpoint's routes also a JSON error with a Bearer WWW-Authenticate "
                    "challenge when the endpoint takes Entra ID tokens"},
            "403": {**error, "description": "a valid key or token that may not do this (user "
                    "code needs a deployer: the master key or the Deployer app role)"},
            "404": {"description": "not found; text/plain when no route matches the URL (the "
                    "Functions host's own answer)", "content": {
                        **error["content"], "text/plain": {"schema": {"type": "string"}}}},
            "409": {**error, "description": "conflict"},
            **({"412": {**error, "description": "If-None-Match / If-Match not met; nothing "
                        "was written"}} if op.params[:1] == tuple(CONDITIONS[:1]) else {}),
            "413": {**error, "description": "the request is larger than the limit"},
            "504": {**error, "description": "the request ran past its time budget"},
            "503": {**error, "description": "storage unreachable"},
        })
    if op.body is BINARY:
        out["requestBody"] = {"required": True, "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": ref(ModelBody, "validation")}}}
    elif op.body is FILE:
        out["requestBody"] = {"required": True, "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    elif op.body is not None:
        out["requestBody"] = {"required": op.body not in (EndpointBody, RetryBody),
                              "content": {"application/json": {
                                  "schema": ref(op.body, "validation")}}}
        if op.body is PreviewBody:
            out["requestBody"]["content"]["multipart/form-data"] = {"schema": {
                "type": "object", "additionalProperties": {"type": "string",
                                                           "format": "binary"}}}
    return out


def _response(model: Any, ref) -> dict[str, Any]:
    if model is None:
        return {"description": "done"}
    if model is BINARY:
        return {"description": "the file", "content": {"*/*": {
            "schema": {"type": "string", "format": "binary"}}}}
    if model is TEXT:
        return {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {"description": model.__doc__.strip().splitlines()[0] if model.__doc__ else "ok",
            "content": {"application/json": {"schema": ref(model, "serialization")}}}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
