"""A fault-injecting HTTP proxy between the app and Azurite's blob, queue and table ports.

Process kills test crashes; this tests what Azure Storage itself does under load and what the
network between the app and storage does: a request may be answered late (`latency`), with
503 ServerBusy and a Retry-After (`busy`, as storage throttles), with 500 InternalError
(`error`), not at all until the client gives up (`stall`: held, then the connection
dropped), or be carried out and its answer lost (`reset`: forwarded, then the connection
reset; the client cannot tell whether it happened). One service can be cut off
(`partition`: every connection to it reset, as if the network were down) and healed.

Each request of a keep-alive connection is decided on its own (the clients, urllib3,
requests and aiohttp, send one request at a time on a connection), with a seeded random
generator. It runs on its own thread's event loop, so synchronous tests and benchmarks
start it, point the app's connection string at `.connection_string`, and read `.counts`.

    proxy = FaultProxy(azurite.ports, FaultRates.uniform(0.05)); proxy.start()
    ...  # the app uses proxy.connection_string
    proxy.partition("table"); ...; proxy.heal("table")
    proxy.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass

from shared.logredact import redact
from shared.storage.connection import SERVICES, azurite_connection_string

HEAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class FaultRates:
    """The chance of each fault per request (checked in this order), and its parameters."""

    reset: float = 0.0
    stall: float = 0.0
    busy: float = 0.0
    error: float = 0.0
    latency: float = 0.0
    latency_seconds: tuple[float, float] = (0.05, 0.5)
    stall_seconds: float = 3.0
    retry_after: int = 1  # seconds, in a busy answer's Retry-After

    @classmethod
    def uniform(cls, total: float, **options) -> FaultRates:
        """`total` of the requests faulted, the five kinds equally likely."""
        each = total / 5
        return cls(reset=each, stall=each, busy=each, error=each, latency=each, **options)

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        for kind in ("reset", "stall", "busy", "error", "latency"):
            chance = getattr(self, kind)
            if roll < chance:
                return kind
            roll -= chance
        return "ok"


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    head: bytes
    body: bytes


class FaultProxy:
    """One listener per service, each forwarding to Azurite's port for that service."""

    def __init__(self, upstream: dict[str, int], rates: FaultRates | None = None, *,
                 host: str = "127.0.0.1", seed: int | None = None):
        self.upstream = dict(upstream)
        self.rates = rates or FaultRates()
        self.host = host
        self.ports: dict[str, int] = {}
        self.counts: Counter = Counter()  # (service, fault kind) → requests
        # faulted requests: (monotonic time, service, method, target without SAS, kind)
        self.events: list[tuple[float, str, str, str, str]] = []
        self._forced: dict[str, list[str]] = {s: [] for s in SERVICES}
        self._partitioned: set[str] = set()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._writers: dict[str, set[asyncio.StreamWriter]] = {s: set() for s in SERVICES}
        self._thread: threading.Thread | None = None

    @property
    def connection_string(self) -> str:
        """Azurite's connection string, with the proxy's ports."""
        return azurite_connection_string(self.host, self.ports)

    # -- control (from any thread) ---------------------------------------------------------
    def set_rates(self, rates: FaultRates) -> None:
        self.rates = rates

    def force(self, service: str, *kinds: str) -> None:
        """The next requests to `service` get these faults, in order, whatever the rates."""
        with self._lock:
            self._forced[service].extend(kinds)

    def partition(self, service: str) -> None:
        """Cut `service` off: open connections are reset, new ones too, until `heal`."""
        with self._lock:
            self._partitioned.add(service)
        if self._loop:
            asyncio.run_coroutine_threadsafe(self._reset_all(service), self._loop).result(10)

    def heal(self, service: str) -> None:
        with self._lock:
            self._partitioned.discard(service)

    def clear(self) -> None:
        """Forget the requests counted so far (and the faulted ones' events)."""
        with self._lock:
            self.counts.clear()
            self.events.clear()

    def faults(self) -> Counter:
        """Requests faulted, by kind (all services)."""
        with self._lock:
            return Counter({k: n for (_, k), n in self.counts.items() if k != "ok"})

    # -- life ------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._listen())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="fault-proxy")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if not self._loop:
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            for service in SERVICES:
                await self._reset_all(service)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self) -> None:
        for service in SERVICES:
            server = await asyncio.start_server(
                lambda r, w, s=service: self._serve(s, r, w), self.host, 0,
                limit=HEAD_LIMIT)
            self._servers.append(server)
            self.ports[service] = server.sockets[0].getsockname()[1]

    async def _reset_all(self, service: str) -> None:
        for writer in list(self._writers[service]):
            _reset(writer)

    # -- one client connection -------------------------------------------------------------
    async def _serve(self, service: str, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        self._writers[service].add(client_w)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                if service in self._partitioned:
                    self._count(service, "-", "-", "partition")
                    _reset(client_w)
                    return
                request = await _read_request(client_r)
                if request is None:
                    return
                kind = self._decide(service)
                self._count(service, request.method, request.target, kind)
                if kind == "stall":
                    await asyncio.sleep(self.rates.stall_seconds)
                    _reset(client_w)
                    return
                if kind in ("busy", "error"):
                    client_w.write(_storage_error(service, kind, self.rates.retry_after))
                    await client_w.drain()
                    continue
                if kind == "latency":
                    await asyncio.sleep(self._rng.uniform(*self.rates.latency_seconds))
                if upstream is None:
                    upstream = await asyncio.open_connection(
                        "127.0.0.1", self.upstream[service], limit=HEAD_LIMIT)
                upstream[1].write(request.head + request.body)
                await upstream[1].drain()
                answer = await _read_response(upstream[0], request.method)
                if answer is None:  # Azurite closed it (or died): so does the proxy
                    _reset(client_w)
                    return
                if kind == "reset":  # done upstream, the answer lost on the way back
                    _reset(client_w)
                    return
                client_w.write(answer)
                await client_w.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                OSError):
            _reset(client_w)
        finally:
            self._writers[service].discard(client_w)
            if upstream is not None:
                upstream[1].close()
            client_w.close()

    def _decide(self, service: str) -> str:
        with self._lock:
            if self._forced[service]:
                return self._forced[service].pop(0)
            return self.rates.pick(self._rng)

    def _count(self, service: str, method: str, target: str, kind: str) -> None:
        with self._lock:
            self.counts[(service, kind)] += 1
            if kind != "ok":
                self.events.append((time.monotonic(), service, method, redact(target), kind))


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a dropped network path or a dead server does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None  # closed between requests


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in
            (line.partition(":") for line in lines if line)}


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str],
                     until_eof: bool) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            chunks.append(size_line)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    line = await reader.readuntil(b"\r\n")
                    chunks.append(line)
                    if line == b"\r\n":
                        return b"".join(chunks)
            chunks.append(await reader.readexactly(size + 2))
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    return await reader.read() if until_eof else b""


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await _read_head(reader)
    if head is None:
        return None
    method, target, _ = head.split(b" ", 2)
    body = await _read_body(reader, _headers(head), until_eof=False)
    return Request(method.decode(), target.decode("latin-1"), head, body)


async def _read_response(reader: asyncio.StreamReader, method: str) -> bytes | None:
    head = await _read_head(reader)
    if head is None:
        return None
    status = int(head.split(b" ", 2)[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return head
    return head + await _read_body(reader, _headers(head), until_eof=True)


def _storage_error(service: str, kind: str, retry_after: int) -> bytes:
    """Azure Storage's answer when it is too busy (503 ServerBusy, with Retry-After) or
    failed inside (500 InternalError): XML from blob and queue, OData JSON from table."""
    status, reason, code, text = {
        "busy": (503, "Service Unavailable", "ServerBusy",
                 "The server is busy."),
        "error": (500, "Internal Server Error", "InternalError",
                  "The server encountered an internal error. Please retry the request."),
    }[kind]
    if service == "table":
        kind_of_body = "application/json;odata=minimalmetadata"
        body = json.dumps({"odata.error": {"code": code, "message": {
            "lang": "en-US", "value": text}}}).encode()
    else:
        kind_of_body = "application/xml"
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
                f"<Message>{text}</Message></Error>").encode()
    headers = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {kind_of_body}",
               f"Content-Length: {len(body)}", f"x-ms-error-code: {code}",
               "Connection: keep-alive"]
    if kind == "busy":
        headers.append(f"Retry-After: {retry_after}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body
