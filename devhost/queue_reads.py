"""The queue listener's Get Messages and Delete Message as single aiohttp requests.

The queue SDK's aio client spends about 4.5 ms of CPU on a receive, most of it in its
pipeline, and an empty receive costs as much as a full one. A worker polls each of the
app's queues, every 2 s at most when they are idle (`maxPollingInterval`): some 6 receives
a second, a twentieth of a core, in the same process as the function. In Azure those polls
are the C# host's, which costs far less per request; `python -m bench.run` counts what is
left here. Updates (lease renewals, a failure's new visibility) and poison moves stay on the
SDK: they are rare.

Signing: an account key signs a queue SAS that may get and delete messages; a connection
string's own SAS is used as it is. Messages come back as the SDK's `QueueMessage`, with the
same fields, so what the function sees is unchanged.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import aiohttp
from azure.storage.queue import QueueMessage, QueueSasPermissions, generate_queue_sas

from shared.storage.connection import parse
from shared.storage.sas import SasCache
from shared.storage.signedrequests import refusal

API_VERSION = "2021-02-12"  # Get Messages and Delete Message have not changed since
TIMEOUT = aiohttp.ClientTimeout(total=60, connect=20)


class QueueReads:
    """Receive and delete messages of one queue; `None` from `lean()` when the connection
    string carries neither a key nor a SAS (the SDK then does it all)."""

    def __init__(self, connection_string: str, queue_url: str):
        parts = parse(connection_string)
        self.url = queue_url.rstrip("/")
        self.queue = self.url.rsplit("/", 1)[1]
        self._static_sas = parts.get("SharedAccessSignature", "").lstrip("?")
        key, account = parts.get("AccountKey", ""), parts.get("AccountName", "")
        self._sas = SasCache(lambda queue, start, expiry: generate_queue_sas(
            account, queue, key, permission=QueueSasPermissions(process=True),
            start=start, expiry=expiry)) if key and account else None
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def lean(cls, connection_string: str, queue_url: str) -> QueueReads | None:
        reads = cls(connection_string, queue_url)
        return reads if reads._static_sas or reads._sas else None

    async def receive(self, count: int, visibility_timeout: int) -> list[QueueMessage]:
        query = f"numofmessages={count}&visibilitytimeout={visibility_timeout}"
        body = await self._call("GET", "messages", query, f"receive from '{self.queue}'")
        return [_message(m) for m in ET.fromstring(body).iterfind("QueueMessage")]

    async def delete(self, message_id: str, pop_receipt: str) -> None:
        await self._call("DELETE", f"messages/{quote(message_id, safe='')}",
                         f"popreceipt={quote(pop_receipt, safe='')}",
                         f"delete message {message_id} of '{self.queue}'")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, path: str, query: str, what: str) -> bytes:
        sas = self._static_sas or (self._sas.get(self.queue) if self._sas else "")
        if self._session is None:  # made on the running loop
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False)
        url = f"{self.url}/{path}?{query}&{sas}"
        async with self._session.request(method, url, headers={"x-ms-version": API_VERSION},
                                         skip_auto_headers=("Content-Type",)) as response:
            body = await response.read()
            if response.status in (200, 204):
                return body
            raise refusal(response.status, response.headers.get("x-ms-error-code", ""), what)


def _message(element: ET.Element) -> QueueMessage:
    def text(tag: str) -> str:
        return element.findtext(tag) or ""

    return QueueMessage(content=text("MessageText"), id=text("MessageId"),
                        inserted_on=_time(text("InsertionTime")),
                        expires_on=_time(text("ExpirationTime")),
                        dequeue_count=int(text("DequeueCount") or 0),
                        pop_receipt=text("PopReceipt"),
                        next_visible_on=_time(text("TimeNextVisible")))


def _time(value: str) -> datetime | None:
    return parsedate_to_datetime(value) if value else None
