"""Blob triggers: a singleton scanner (polling source) or Event Grid (webhook source), with
the real host's receipts so one blob version (ETag) fires once, across restarts.

The scanner holds a blob lease in `azure-webjobs-hosts/locks/<hostId>/` so one worker scans;
it enqueues work on `azure-webjobs-blobtrigger-<hostId>`, which every worker processes. A
receipt at `azure-webjobs-hosts/blobreceipts/<hostId>/<functionId>/"<ETag>"/<container>/<blob>`
marks a version done; after `poisonBlobThreshold` failures the work item goes to
`webjobs-blobtrigger-poison`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from typing import Any

import azure.functions as func
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from devhost.config import HostConfig, QueueSettings, resolve
from devhost.functions import FunctionSpec
from devhost.invoker import Invoker
from devhost.queues import QueueListener

log = logging.getLogger("devhost")
HOSTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"
LOCK_SECONDS = 30


def scan_seconds() -> float:
    """How often the polling source scans (real host: about 10 s); a dev-host knob."""
    return float(os.environ.get("DEVHOST_BLOB_SCAN_SECONDS", "10"))


def pattern(path: str) -> tuple[str, re.Pattern]:
    """`inbox/{name}` → (container 'inbox', regex for the blob name with named groups)."""
    container, _, blob = resolve(path).partition("/")
    regex, pos = "", 0
    params = list(re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", blob))
    for i, m in enumerate(params):
        regex += re.escape(blob[pos:m.start()])
        last = i == len(params) - 1 and m.end() == len(blob)
        regex += f"(?P<{m.group(1)}>{'.+' if last else '[^/]+?'})"
        pos = m.end()
    regex += re.escape(blob[pos:])
    return container, re.compile(f"^{regex}$")


def function_id(spec: FunctionSpec) -> str:
    return f"Host.Functions.{spec.name}"


class BlobTriggers:
    def __init__(self, config: HostConfig, connection_string: str, specs: list[FunctionSpec],
                 invoker: Invoker, worker_id: int):
        self.config = config
        self.conn = connection_string
        self.invoker = invoker
        self.worker_id = worker_id
        self.all = {s.name: s for s in specs if s.trigger_type == "blobTrigger"}
        self.polled = [s for s in self.all.values()
                       if str(s.trigger.get("source", "")).lower() != "eventgrid"]
        self.service = BlobServiceClient.from_connection_string(connection_string)
        self.hosts = self.service.get_container_client(HOSTS_CONTAINER)
        self.queue_name = f"azure-webjobs-blobtrigger-{config.host_id}"[:63]
        self.enqueued: set[tuple[str, str, str]] = set()
        self.listener: QueueListener | None = None
        self.stopping = False

    async def start(self) -> list[asyncio.Task]:
        if not self.polled:
            return []
        with contextlib.suppress(ResourceExistsError):
            await self.hosts.create_container()
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(self.conn, self.queue_name) as q:
            with contextlib.suppress(ResourceExistsError):
                await q.create_queue()
        settings = QueueSettings(batch_size=self.config.queues.batch_size,
                                 new_batch_threshold=self.config.queues.new_batch_threshold,
                                 max_polling_interval=self.config.queues.max_polling_interval,
                                 visibility_timeout=0, max_dequeue_count=5,
                                 message_encoding="none")
        self.listener = QueueListener(self.conn, self.queue_name, settings, self._work_item,
                                      poison_queue=POISON_QUEUE,
                                      max_dequeue_count=self.config.poison_blob_threshold)
        return [asyncio.create_task(self._scan_loop()), asyncio.create_task(self.listener.run())]

    async def stop(self) -> None:
        self.stopping = True
        if self.listener:
            await self.listener.stop()
        await self.service.close()

    # -- scanning (one worker at a time) ----------------------------------------------------
    async def _scan_loop(self) -> None:
        lock = self.hosts.get_blob_client(f"locks/{self.config.host_id}/blobscanner")
        lease = None
        while not self.stopping:
            try:
                if lease is None:
                    with contextlib.suppress(ResourceExistsError):
                        await lock.upload_blob(b"", overwrite=False)
                    lease = await lock.acquire_lease(lease_duration=LOCK_SECONDS)
                else:
                    await lease.renew()
                await self._scan()
            except HttpResponseError as e:
                if e.status_code != 409:  # 409: another worker holds the scanner lease
                    log.warning("blob scan failed: %s", e)
                lease = None
            await asyncio.sleep(scan_seconds())

    async def _scan(self) -> None:
        from azure.storage.queue.aio import QueueClient

        async with QueueClient.from_connection_string(self.conn, self.queue_name) as queue:
            for spec in self.polled:
                container, regex = pattern(spec.trigger["path"])
                client = self.service.get_container_client(container)
                try:
                    async for blob in client.list_blobs():
                        if not regex.match(blob.name):
                            continue
                        key = (spec.name, blob.name, blob.etag)
                        if key in self.enqueued or await self._receipt_done(spec, container,
                                                                            blob.name, blob.etag):
                            continue
                        await queue.send_message(json.dumps({
                            "Type": "BlobTrigger", "FunctionId": function_id(spec),
                            "BlobType": "BlockBlob", "ContainerName": container,
                            "BlobName": blob.name, "ETag": blob.etag}))
                        self.enqueued.add(key)
                except ResourceNotFoundError:
                    continue

    # -- receipts and invocation --------------------------------------------------------------
    def _receipt(self, spec: FunctionSpec, container: str, name: str, etag: str):
        path = (f"blobreceipts/{self.config.host_id}/{function_id(spec)}/\"{etag.strip(chr(34))}\""
                f"/{container}/{name}")
        return self.hosts.get_blob_client(path)

    async def _receipt_done(self, spec: FunctionSpec, container: str, name: str,
                            etag: str) -> bool:
        try:
            props = await self._receipt(spec, container, name, etag).get_blob_properties()
        except ResourceNotFoundError:
            return False
        return props.metadata.get("Incomplete") != "true"

    async def _work_item(self, message: Any, raw: Any) -> bool:
        item = json.loads(message.get_body())
        spec = self.all.get(item["FunctionId"].removeprefix("Host.Functions."))
        if spec is None:
            return True
        container, name, etag = item["ContainerName"], item["BlobName"], item["ETag"]
        receipt = self._receipt(spec, container, name, etag)
        try:
            await receipt.upload_blob(b"", metadata={"Incomplete": "true"}, overwrite=False)
        except ResourceExistsError:
            if await self._receipt_done(spec, container, name, etag):
                return True
        try:
            lease = await receipt.acquire_lease(lease_duration=60)
        except HttpResponseError:
            return False  # another worker is running it; retried later
        try:
            ok = await self.invoke_blob(spec, container, name, etag)
            if ok:
                await receipt.set_blob_metadata({"Incomplete": "false"}, lease=lease)
            return ok
        finally:
            with contextlib.suppress(HttpResponseError):
                await lease.release()

    async def invoke_blob(self, spec: FunctionSpec, container: str, name: str,
                          etag: str | None = None) -> bool:
        blob = self.service.get_blob_client(container, name)
        try:
            stream = await blob.download_blob()
            data = await stream.readall()
        except ResourceNotFoundError:
            log.warning("blob %s/%s vanished before its trigger ran", container, name)
            return True
        props = stream.properties
        _, regex = pattern(spec.trigger["path"])
        m = regex.match(name)
        value = func.blob.InputStream(
            data=data, name=f"{container}/{name}", uri=blob.url, length=len(data),
            blob_properties={"ETag": props.etag, "Length": props.size,
                             "ContentType": props.content_settings.content_type,
                             "LastModified": str(props.last_modified)},
            metadata=dict(props.metadata or {}))
        outcome = await self.invoker.invoke(spec, value, m.groupdict() if m else {})
        return outcome.ok

    async def from_event(self, spec: FunctionSpec, event: func.EventGridEvent) -> bool:
        """The Event Grid source: BlobCreated events name the blob; no receipts."""
        subject = event.subject or ""
        m = re.match(r"^/blobServices/default/containers/([^/]+)/blobs/(.+)$", subject)
        if event.event_type != "Microsoft.Storage.BlobCreated" or not m:
            return True
        container, name = m.groups()
        want, regex = pattern(spec.trigger["path"])
        if container != want or not regex.match(name):
            return True
        return await self.invoke_blob(spec, container, name)
