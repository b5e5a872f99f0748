"""Turning requests into arguments and results (or errors) into HTTP responses."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared import config
from shared.errors import BatchEndpointError, StorageUnavailableError, ValidationError

log = logging.getLogger("batch.http")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, indent=1), status_code=status,
                             mimetype="application/json", headers=headers)


def json_body(req: func.HttpRequest, *, required: bool = True) -> dict[str, Any]:
    raw = req.get_body() or b""
    if len(raw) > config.MAX_REQUEST_BYTES:
        raise ValidationError("body", f"is larger than {config.MAX_REQUEST_BYTES} bytes")
    if not raw.strip():
        if required:
            raise ValidationError("body", "is required: send a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError("body", f"is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def api_base(req: func.HttpRequest, marker: str) -> str:
    """The absolute URL up to the route prefix, read off the request (works behind any
    routePrefix): `marker` is the first segment of the route being served."""
    parts = urlsplit(req.url)
    path = parts.path
    cut = path.find(f"/{marker}")
    prefix = path[:cut] if cut >= 0 else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def handles_errors(fn: Callable[[func.HttpRequest], func.HttpResponse]):
    """Map the project's exception tree to status codes; anything else is a logged 500."""

    @functools.wraps(fn)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return fn(req)
        except BatchEndpointError as e:
            if e.status >= 500:
                log.exception("%s %s failed", req.method, req.url)
            return json_response(e.to_dict(), status=e.status)
        except (ServiceRequestError, ServiceResponseError) as e:
            log.exception("storage unreachable")
            err = StorageUnavailableError(f"storage is unreachable: {type(e).__name__}")
            return json_response(err.to_dict(), status=err.status)
        except Exception:
            log.exception("%s %s failed", req.method, req.url)
            return json_response(BatchEndpointError("internal error; see the logs").to_dict(),
                                 status=500)

    return wrapper
