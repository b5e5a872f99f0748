"""`endpoint_route`: register a handler of one endpoint's routes behind both doors.

    @endpoint_route(bp, "jobs/{job}", ["GET"])
    @handles_errors
    def show_job(req): ...

serves `jobs/{job}` at the app's FUNCTION level (the host checks the key) and
`aad/jobs/{job}` at ANONYMOUS (the code checks the Entra ID token), each after
shared.auth.doors.authorize. Extra bindings (a queue output) are given as decorators and
put on both functions. Every other route keeps the app's FUNCTION level.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import azure.functions as func

from blueprints.http_util import handles_errors
from shared.auth import doors
from shared.storage.clients import default_storage

_DOORS = ((doors.KEY, "", "", None),
          (doors.TOKEN, f"{doors.TOKEN_PREFIX}/", f"{doors.TOKEN_PREFIX}_",
           func.AuthLevel.ANONYMOUS))


def endpoint_route(bp: func.Blueprint, route: str, methods: list[str],
                   *bindings: Callable[[Any], Any]) -> Callable[[Callable], Callable]:
    def register(handler: Callable) -> Callable:
        for door, route_prefix, name_prefix, level in _DOORS:
            function: Any = _guarded(handler, door)
            for binding in bindings:
                function = binding(function)
            function = bp.route(route=route_prefix + route, methods=methods,
                                auth_level=level)(function)
            bp.function_name(name_prefix + handler.__name__)(function)
        return handler

    return register


def _guarded(handler: Callable, door: str) -> Callable:
    authorize = _authorizer(door)

    @functools.wraps(handler)  # the worker reads the handler's parameters and annotations
    def guarded(req: func.HttpRequest, **bindings: Any) -> func.HttpResponse:
        refused = authorize(req)
        return refused if refused is not None else handler(req, **bindings)

    return guarded


def _authorizer(door: str) -> Callable[[func.HttpRequest], func.HttpResponse | None]:
    @handles_errors
    def authorize(req: func.HttpRequest) -> func.HttpResponse | None:
        doors.authorize(default_storage(), door, req.route_params,
                        req.headers.get("authorization"))
        return None

    return authorize
