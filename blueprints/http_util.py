"""Turning requests into arguments and results (or errors) into HTTP responses."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import azure.functions as func
from azure.core.exceptions import ServiceRequestError, ServiceResponseError

from shared.auth import tokens
from shared.errors import AuthError, BatchEndpointError, StorageUnavailableError, ValidationError
from shared.resources import paging
from shared.resources.schemas.limits import load_json
from shared.storage.documents import Precondition

log = logging.getLogger("batch.http")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, indent=1), status_code=status,
                             mimetype="application/json", headers=headers)


def json_body(req: func.HttpRequest, *, required: bool = True) -> dict[str, Any]:
    """The request's JSON object, within the size and nesting limits (schemas/limits.py)."""
    raw = req.get_body() or b""
    if not raw.strip():
        if required:
            raise ValidationError("body", "is required: send a JSON object")
        return {}
    body = load_json(raw)
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    return body


def precondition(req: func.HttpRequest) -> Precondition:
    """`If-None-Match: *` (create only) or `If-Match: <etag>|*` (update only that version)
    of a PUT; any other If-None-Match is refused, not ignored."""
    if_match = req.headers.get("if-match")
    if_none_match = req.headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise ValidationError("If-None-Match", "only '*' (create, never overwrite) is "
                                               "supported on PUT")
    if if_match is not None and if_none_match is not None:
        raise ValidationError("If-Match", "cannot be combined with If-None-Match")
    return Precondition(if_match=if_match.strip() if if_match is not None else None,
                        if_none_match=if_none_match is not None)


def with_warnings(doc: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """A resource plus the fields the request carried that were accepted but not used."""
    return {**doc, "warnings": warnings} if warnings else doc


def page_request(req: func.HttpRequest) -> paging.PageRequest:
    return paging.PageRequest.from_query(req.params)


def paged_response(req: func.HttpRequest, page: paging.Page,
                   render: Callable[[Any], Any] = lambda item: item) -> func.HttpResponse:
    """`{"value": [...], "nextLink": ...}` as Azure's list APIs answer; `nextLink` repeats
    the query (filters, `$top`) with the next `$skiptoken`, and never carries a key."""
    body: dict[str, Any] = {"value": [render(item) for item in page.items]}
    if page.next_token:
        parts = urlsplit(req.url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("$skiptoken", "code")]
        query.append(("$skiptoken", page.next_token))
        body["nextLink"] = urlunsplit(parts._replace(query=urlencode(query, safe="$")))
    return json_response(body)


def api_base(req: func.HttpRequest, marker: str) -> str:
    """The absolute URL up to the route prefix, read off the request (works behind any
    routePrefix): `marker` is the first segment of the route being served."""
    parts = urlsplit(req.url)
    path = parts.path
    cut = path.find(f"/{marker}")
    prefix = path[:cut] if cut >= 0 else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}"


def _challenge(req: func.HttpRequest, error: BatchEndpointError) -> dict[str, str] | None:
    """`WWW-Authenticate` for a 401 of a route that takes Entra ID tokens. A function key's
    401 carries none, as the Functions host's own (FunctionInvocationMiddleware answers a
    bare UnauthorizedResult): keys are not an HTTP authentication scheme."""
    if not isinstance(error, AuthError) or not error.bearer:
        return None
    return {"WWW-Authenticate": tokens.challenge(urlsplit(req.url).netloc, error)}


def handles_errors(fn: Callable[[func.HttpRequest], func.HttpResponse]):
    """Map the project's exception tree to status codes; anything else is a logged 500."""

    @functools.wraps(fn)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return fn(req)
        except BatchEndpointError as e:
            if e.status >= 500:
                log.exception("%s %s failed", req.method, req.url)
            return json_response(e.to_dict(), status=e.status, headers=_challenge(req, e))
        except (ServiceRequestError, ServiceResponseError) as e:
            log.exception("storage unreachable")
            err = StorageUnavailableError(f"storage is unreachable: {type(e).__name__}")
            return json_response(err.to_dict(), status=err.status)
        except Exception:
            log.exception("%s %s failed", req.method, req.url)
            return json_response(BatchEndpointError("internal error; see the logs").to_dict(),
                                 status=500)

    return wrapper
