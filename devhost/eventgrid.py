"""The Event Grid webhook protocol, as the Event Grid and blob extensions answer it.

`aeg-event-type: SubscriptionValidation` → 200 `{"validationResponse": code}`;
`Notification` (or a CloudEvents 1.0 body without the header) → every event invoked at once,
202, or 500 if any failed (Event Grid then resends the delivery); `Unsubscribe` → 202; anything
else → 400; an unknown function → 404; `OPTIONS` (CloudEvents abuse protection) → 200 with
`WebHook-Allowed-Origin`. The key is checked before anything else except `OPTIONS`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devhost import keys as host_keys
from devhost.functions import FunctionSpec

Handler = Callable[[FunctionSpec, dict[str, Any]], Awaitable[bool]]  # one event, as sent


class Webhook:
    """One `/runtime/webhooks/<name>` endpoint: its functions by name and its system key."""

    def __init__(self, functions: dict[str, FunctionSpec], keys: dict, key_name: str,
                 handler: Handler):
        self.functions = functions
        self.keys = keys
        self.key_name = key_name
        self.handler = handler

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            origin = request.headers.get("WebHook-Request-Origin", "*")
            return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin})
        if request.method != "POST":
            return web.Response(status=405)
        key = host_keys.presented(request.headers, request.query)
        if not host_keys.accepts(self.keys, key, f"system:{self.key_name}"):
            return web.Response(status=401)
        spec = self.functions.get(request.query.get("functionName", ""))
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
        results = await asyncio.gather(*(self.handler(spec, e) for e in events))
        return web.Response(status=202 if all(results) else 500)
