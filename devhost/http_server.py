"""HTTP triggers and the runtime webhooks on aiohttp, with the real host's auth and shapes."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from datetime import datetime
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

from devhost.config import HostConfig
from devhost.functions import FunctionSpec
from devhost.invoker import Invoker
from devhost.routes import compile_route, precedence

log = logging.getLogger("devhost")
ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


class HttpHost:
    def __init__(self, config: HostConfig, specs: list[FunctionSpec], keys: dict,
                 invoker: Invoker, blob_webhook=None):
        self.config = config
        self.keys = keys
        self.invoker = invoker
        self.blob_webhook = blob_webhook
        self.routes = sorted(
            ((compile_route(config.route_prefix, s.trigger.get("route") or s.name), s)
             for s in specs if s.trigger_type == "httpTrigger"),
            key=lambda rs: precedence(rs[0]))
        self.eventgrid = {s.name: s for s in specs if s.trigger_type == "eventGridTrigger"}
        self.blob_eventgrid = {f"Host.Functions.{s.name}": s for s in specs
                               if s.trigger_type == "blobTrigger"
                               and str(s.trigger.get("source", "")).lower() == "eventgrid"}

    def app(self) -> web.Application:
        app = web.Application(client_max_size=110 * 1024 * 1024)  # Azure caps bodies at 100 MB
        app.router.add_route("*", "/runtime/webhooks/eventgrid", self.eventgrid_webhook)
        app.router.add_route("*", "/runtime/webhooks/blobs", self.blobs_webhook)
        app.router.add_route("*", "/{tail:.*}", self.http_trigger)
        return app

    # -- keys -----------------------------------------------------------------------------
    def _presented(self, request: web.Request) -> str:
        return request.headers.get("x-functions-key") or request.query.get("code") or ""

    def _authorized(self, request: web.Request, level: str) -> bool:
        if level == "anonymous":
            return True
        key = self._presented(request)
        if not key:
            return False
        allowed = [self.keys["masterKey"]]
        if level == "function":
            allowed += list(self.keys["functionKeys"].values())
        return any(hmac.compare_digest(key, k) for k in allowed)

    def _system_key_ok(self, request: web.Request, name: str) -> bool:
        key = self._presented(request)
        allowed = [self.keys["masterKey"], self.keys["systemKeys"][name]]
        return bool(key) and any(hmac.compare_digest(key, k) for k in allowed)

    # -- HTTP triggers ----------------------------------------------------------------------
    async def http_trigger(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        for route, spec in self.routes:
            params = route.match(path)
            if params is None:
                continue
            methods = [m.upper() for m in (spec.trigger.get("methods") or ALL_METHODS)]
            if request.method not in methods:
                continue
            if not self._authorized(request, str(spec.trigger.get("authLevel", "function"))):
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

    # -- Event Grid -------------------------------------------------------------------------
    async def eventgrid_webhook(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook(request, self.eventgrid, "eventgrid_extension",
                                   self._invoke_eventgrid)

    async def blobs_webhook(self, request: web.Request) -> web.StreamResponse:
        return await self._webhook(request, self.blob_eventgrid, "blobs_extension",
                                   self._invoke_blob_event)

    async def _webhook(self, request: web.Request, functions: dict[str, FunctionSpec],
                       key_name: str, handler) -> web.StreamResponse:
        if request.method == "OPTIONS":  # CloudEvents abuse protection handshake
            origin = request.headers.get("WebHook-Request-Origin", "*")
            return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin})
        if request.method != "POST":
            return web.Response(status=405)
        if not self._system_key_ok(request, key_name):
            return web.Response(status=401)
        spec = functions.get(request.query.get("functionName", ""))
        if spec is None:
            return web.Response(status=404)
        try:
            body = json.loads(await request.read() or b"null")
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        events = body if isinstance(body, list) else [body]
        kind = request.headers.get("aeg-event-type")
        if kind is None and events and all(isinstance(e, dict) and "specversion" in e
                                           for e in events):
            kind = "Notification"  # CloudEvents 1.0 deliveries carry no aeg-event-type
        if kind == "SubscriptionValidation":
            code = (events[0].get("data") or {}).get("validationCode") if events else None
            if not code:
                return web.Response(status=400, text="no data.validationCode")
            return web.json_response({"validationResponse": code})
        if kind == "Unsubscribe":
            return web.Response(status=202)
        if kind != "Notification":
            return web.Response(status=400, text="aeg-event-type must be SubscriptionValidation"
                                ", Notification or Unsubscribe")
        if not all(isinstance(event, dict) for event in events):
            return web.Response(status=400, text="events must be JSON objects")
        # As the extension does: all events at once; any failure makes Event Grid resend all.
        results = await asyncio.gather(*(handler(spec, event) for event in events))
        return web.Response(status=202 if all(results) else 500)

    async def _invoke_eventgrid(self, spec: FunctionSpec, event: dict[str, Any]) -> bool:
        outcome = await self.invoker.invoke(spec, to_event(event))
        return outcome.ok

    async def _invoke_blob_event(self, spec: FunctionSpec, event: dict[str, Any]) -> bool:
        if self.blob_webhook is None:
            return False
        return await self.blob_webhook(spec, to_event(event))


def to_event(e: dict[str, Any]) -> func.EventGridEvent:
    """EventGridSchema or CloudEvents 1.0, as the Python worker hands both to a function."""
    if "specversion" in e:
        return func.EventGridEvent(
            id=e.get("id", ""), data=e.get("data"), topic=e.get("source", ""),
            subject=e.get("subject", ""), event_type=e.get("type", ""),
            event_time=_time(e.get("time")), data_version=e.get("specversion", ""))
    return func.EventGridEvent(
        id=e.get("id", ""), data=e.get("data"), topic=e.get("topic", ""),
        subject=e.get("subject", ""), event_type=e.get("eventType", ""),
        event_time=_time(e.get("eventTime")), data_version=e.get("dataVersion", ""))


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


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
