"""HTTP triggers on aiohttp with the real host's routing, keys and response shapes; the
runtime webhooks (Event Grid, blobs with the Event Grid source) are mounted beside them."""

from __future__ import annotations

import logging

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from devhost import keys as host_keys
from devhost.config import HostConfig
from devhost.eventgrid import Handler, Webhook
from devhost.functions import FunctionSpec
from devhost.invoker import Invoker
from devhost.routes import Route, compile_route, precedence

log = logging.getLogger("devhost")
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class HttpHost:
    def __init__(self, config: HostConfig, specs: list[FunctionSpec], keys: dict,
                 invoker: Invoker, blob_event: Handler):
        self.keys = keys
        self.invoker = invoker
        self.routes = sorted(_routes(config.route_prefix, specs), key=lambda r: precedence(r[0]))
        self.eventgrid = Webhook(
            {s.name: s for s in specs if s.trigger_type == "eventGridTrigger"}, keys,
            "eventgrid_extension", self._invoke_event)
        self.blobs = Webhook(
            {f"Host.Functions.{s.name}": s for s in specs if s.trigger_type == "blobTrigger"
             and str(s.trigger.get("source") or "").lower() == "eventgrid"}, keys,
            "blobs_extension", blob_event)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=110 * 1024 * 1024)  # Azure caps bodies at 100 MB
        app.router.add_route("*", "/runtime/webhooks/eventgrid", self.eventgrid)
        app.router.add_route("*", "/runtime/webhooks/blobs", self.blobs)
        app.router.add_route("*", "/{tail:.*}", self.http_trigger)
        return app

    async def _invoke_event(self, spec: FunctionSpec, event: func.EventGridEvent) -> bool:
        return (await self.invoker.invoke(spec, event)).ok

    async def http_trigger(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        for route, spec in self.routes:
            params = route.match(path)
            if params is None:
                continue
            methods = [m.upper() for m in (spec.trigger.get("methods") or ALL_METHODS)]
            if request.method not in methods:
                continue
            key = host_keys.presented(request.headers, request.query)
            if not host_keys.accepts(self.keys, key, str(spec.trigger.get("authLevel")
                                                         or "function").lower()):
                return web.Response(status=401)
            body = await request.read()
            req = func.HttpRequest(
                method=request.method, url=str(request.url), headers=dict(request.headers),
                params=dict(request.query), route_params=params, body=body)
            outcome = await self.invoker.invoke(spec, req, {**req.params, **params})
            if not outcome.ok or not isinstance(outcome.result, func.HttpResponse | str):
                if outcome.ok:  # the worker cannot encode it: the real host answers 500
                    log.error("function %s returned %s, not an HttpResponse: 500", spec.name,
                              type(outcome.result).__name__)
                return web.Response(status=500)
            return _response(outcome.result)
        return web.Response(status=404)


def _routes(prefix: str, specs: list[FunctionSpec]) -> list[tuple[Route, FunctionSpec]]:
    routes = []
    for spec in specs:
        if spec.trigger_type != "httpTrigger":
            continue
        try:
            routes.append((compile_route(prefix, spec.trigger.get("route") or spec.name), spec))
        except ValueError as e:  # the real host fails to index just this function
            log.error("function %s is not served: %s", spec.name, e)
    return routes


def _response(resp: func.HttpResponse | str) -> web.Response:
    """What the Python worker's HttpResponseConverter sends the host: a str is a 200 text
    body; a text/* mimetype gets its charset, others do not; Set-Cookie may repeat."""
    if isinstance(resp, str):
        return web.Response(status=200, body=resp.encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    headers = CIMultiDict()
    for name, value in resp.headers.items():
        if name.lower() != "set-cookie":
            headers[name] = value
    for cookie in resp.headers.get_all("Set-Cookie") if "Set-Cookie" in resp.headers else []:
        headers.add("Set-Cookie", cookie)
    if "content-type" not in headers:
        mimetype = resp.mimetype or "text/plain"
        headers["Content-Type"] = (f"{mimetype}; charset={resp.charset}"
                                   if mimetype.startswith("text/") else mimetype)
    return web.Response(status=resp.status_code, body=resp.get_body() or b"", headers=headers)
