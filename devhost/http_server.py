"""HTTP triggers on aiohttp with the real host's routing, keys and response shapes; the
runtime webhooks (Event Grid, blobs with the Event Grid source) are mounted beside them."""

from __future__ import annotations

import logging

from aiohttp import web
from multidict import CIMultiDict

from devhost import keys as host_keys
from devhost import typed_data
from devhost.config import HostConfig
from devhost.eventgrid import Handler, Webhook
from devhost.functions import FunctionSpec
from devhost.invoker import Invoker
from devhost.pyworker import Datum
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
        # every path, newlines included (`.` would stop at a decoded %0A and aiohttp would
        # answer 404 before the routes the real host matches are tried)
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.http_trigger)
        return app

    async def _invoke_event(self, spec: FunctionSpec, event: dict) -> bool:
        return (await self.invoker.invoke(spec, *typed_data.event(event))).ok

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
            req = typed_data.http_request(
                request.method, str(request.url), dict(request.headers), dict(request.query),
                params, await request.read())
            outcome = await self.invoker.invoke(spec, req, {}, {**request.query, **params})
            if not outcome.ok or outcome.result is None:
                if outcome.ok:
                    log.error("function %s has no HTTP output: 500", spec.name)
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


def _response(datum: Datum) -> web.Response:
    """The host's HTTP answer to the worker's typed data: a string is a 200 text body (the
    host's content negotiation); an `RpcHttp` carries status, headers, cookies and body."""
    if datum.type == "string":
        return web.Response(status=200, body=datum.value.encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8"})
    if datum.type != "http":
        raise TypeError(f"an HTTP output cannot take typed data of type {datum.type!r}")
    value = datum.value
    headers = CIMultiDict((k, v.value) for k, v in value["headers"].items())
    for cookie in value.get("cookies") or []:
        headers.add("Set-Cookie", cookie.output(header="").strip())
    body = value["body"]
    return web.Response(status=int(value["status_code"].value), headers=headers,
                        body=body.value if body.type == "bytes" else str(body.value or "").encode())
