"""HTTP API for preview: score a few sample files under a deployment, synchronously.

    POST /endpoints/{e}/deployments/{d}/preview
      application/json     {"inputs": ["azureml://datastores/<ds>/paths/<file>", ...]}
      multipart/form-data  the files themselves (each part with a filename)
    → 200 {"endpoint", "deployment", "model", "columns", "rows", "errors"}

Served through both doors, like the endpoint's jobs (blueprints/endpoint_auth.py).
"""

from __future__ import annotations

import time

import azure.functions as func

from blueprints.endpoint_auth import endpoint_route
from blueprints.http_util import handles_errors, json_body, json_response
from shared import preview
from shared.errors import ValidationError
from shared.resources.schemas import parse
from shared.resources.schemas.resources import PreviewBody
from shared.storage.clients import default_storage

bp = func.Blueprint()
_MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around MAX_BYTES of files


@endpoint_route(bp, "endpoints/{endpoint}/deployments/{deployment}/preview", ["POST"])
@handles_errors
def preview_deployment(req: func.HttpRequest) -> func.HttpResponse:
    started = time.monotonic()
    storage = default_storage()
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        items = preview.uploaded(_uploads(req))
    else:
        body = parse(PreviewBody, json_body(req)).value
        items = preview.from_datastores(storage, body.inputs)
    return json_response(preview.preview(storage, req.route_params["endpoint"],
                                         req.route_params["deployment"], items, started))


def _uploads(req: func.HttpRequest) -> list[tuple[str, bytes]]:
    """The uploaded files; the body's size is bounded before it is parsed."""
    preview.check_bytes(max(0, len(req.get_body() or b"") - _MULTIPART_OVERHEAD))
    files = [(f.filename, f.read()) for _, f in req.files.items(multi=True) if f.filename]
    if not files and req.form:
        raise ValidationError("files", "send each file as a multipart part with a filename")
    return files
