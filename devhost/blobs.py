"""Blob triggers as the storage extension (v5) runs them.

Polling source: one worker at a time (a singleton lease on
`azure-webjobs-hosts/locks/<hostId>/WebJobs.Internal.Blobs.Listener`) lists each trigger
container, considering blobs modified since its cursor (`blobscaninfo/<hostId>/<account>/
<container>`, so a restart does not rescan old blobs). For a new blob version it writes a
receipt `blobreceipts/<hostId>/Host.Functions.<name>/"<ETag>"/<container>/<blob>`, enqueues a
work item on `azure-webjobs-blobtrigger-<hostId>` and marks the receipt completed: one firing
per ETag, even across restarts. Any worker runs the work items; a blob overwritten since its
item was queued is skipped (its new ETag has its own item); after `poisonBlobThreshold` failed
attempts the item goes to `webjobs-blobtrigger-poison`.

Event Grid source: the webhook (`/runtime/webhooks/blobs`) names the blob; the host keeps no
receipts. In Azure an Event Grid subscription on the storage account calls that webhook;
Azurite emits no events, so the same singleton scanner stands in for the subscription: for a
new blob version it POSTs an EventGridSchema `Microsoft.Storage.BlobCreated` event to this
host's own webhook with the `blobs_extension` key, once per ETag (a delivery record under
`eventgrid-deliveries/`, this host's stand-in for Event Grid's own bookkeeping), retried on the
next scan while the webhook answers an error — as Event Grid retries. Nothing else differs:
the function runs from the webhook exactly as in Azure.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueClient

from devhost import typed_data
from devhost.config import HostConfig, resolve
from devhost.functions import FunctionSpec
from devhost.invoker import Invoker
from devhost.queues import QueueListener, encode

log = logging.getLogger("devhost")
HOSTS_CONTAINER = "azure-webjobs-hosts"
POISON_QUEUE = "webjobs-blobtrigger-poison"
LOCK_SECONDS = 15  # the real host's singleton lease period
EPOCH = datetime.min.replace(tzinfo=UTC)


def scan_seconds() -> float:
    """How often the polling source scans (real host: 10 s); a dev-host knob for tests."""
    return float(os.environ.get("DEVHOST_BLOB_SCAN_SECONDS", "10"))


def pattern(path: str) -> tuple[str, re.Pattern]:
    """`inbox/{name}` → ('inbox', regex with named groups for the blob name). A parameter at
    the end takes the rest of the name, slashes included; others stop at a slash."""
    container, _, blob = resolve(path).partition("/")
    regex, pos = "", 0
    params = list(re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", blob))
    for i, m in enumerate(params):
        regex += re.escape(blob[pos:m.start()])
        last = i == len(params) - 1 and m.end() == len(blob)
        regex += f"(?P<{m.group(1)}>{'.+' if last else '[^/]+?'})"
        pos = m.end()
    regex += re.escape(blob[pos:])
    return container, re.compile(regex)


def function_id(spec: FunctionSpec) -> str:
    return f"Host.Functions.{spec.name}"


def _readable(spec: FunctionSpec) -> bool:
    """A path naming a missing %setting% disables the function, as in the real host."""
    try:
        pattern(spec.trigger["path"])
    except KeyError as e:
        log.error("function %s is not served: %s", spec.name, e.args[0])
        return False
    return True


def polled(spec: FunctionSpec) -> bool:
    return str(spec.trigger.get("source") or "").lower() != "eventgrid"


class BlobTriggers:
    def __init__(self, config: HostConfig, connection_string: str, specs: list[FunctionSpec],
                 invoker: Invoker, worker_id: int, webhook: tuple[str, str] | None = None):
        """`webhook`: this host's blobs webhook URL and its `blobs_extension` key, which the
        stand-in Event Grid subscription calls."""
        self.config = config
        self.webhook = webhook
        self.conn = connection_string
        self.invoker = invoker
        self.worker_id = worker_id
        self.all = {function_id(s): s for s in specs
                    if s.trigger_type == "blobTrigger" and _readable(s)}
        self.polled = [s for s in self.all.values() if polled(s)]
        self.service = BlobServiceClient.from_connection_string(connection_string)
        self.hosts = self.service.get_container_client(HOSTS_CONTAINER)
        self.queue_name = f"azure-webjobs-blobtrigger-{config.host_id}"[:63].rstrip("-")
        self.cursors: dict[str, datetime] = {}
        self.retry: set[tuple[str, str, str]] = set()  # (function id, container, blob)
        self.lease: Any = None
        self.listener: QueueListener | None = None
        self.stopping = False

    async def start(self) -> list[asyncio.Task]:
        if not self.all:
            return []
        with contextlib.suppress(ResourceExistsError):
            await self.hosts.create_container()
        if not self.polled:  # Event Grid source only: no work-item queue
            return [asyncio.create_task(self._scan_loop())]
        async with QueueClient.from_connection_string(self.conn, self.queue_name) as q:
            with contextlib.suppress(ResourceExistsError):
                await q.create_queue()
        settings = dataclasses.replace(self.config.queues,
                                       max_dequeue_count=self.config.poison_blob_threshold)
        self.listener = QueueListener(self.conn, self.queue_name, settings, self._work_item,
                                      poison_queue=POISON_QUEUE)
        return [asyncio.create_task(self._scan_loop()), asyncio.create_task(self.listener.run())]

    async def stop(self) -> None:
        self.stopping = True
        if self.listener and not self.listener.stopping:
            await self.listener.stop()
        if self.lease is not None:  # let the next host scan at once
            with contextlib.suppress(HttpResponseError):
                await self.lease.release()
        await self.service.close()

    # -- the singleton scanner -------------------------------------------------------------
    async def _scan_loop(self) -> None:
        lock = self.hosts.get_blob_client(
            f"locks/{self.config.host_id}/WebJobs.Internal.Blobs.Listener")
        next_scan = 0.0
        while not self.stopping:
            try:
                if self.lease is None:
                    with contextlib.suppress(ResourceExistsError):
                        await lock.upload_blob(b"", overwrite=False)
                    self.lease = await lock.acquire_lease(lease_duration=LOCK_SECONDS)
                    self.cursors.clear()  # another worker may have moved them on
                    log.info("worker %d scans blob containers", self.worker_id)
                else:
                    await self.lease.renew()
                if time.monotonic() >= next_scan:
                    await self._scan()
                    next_scan = time.monotonic() + scan_seconds()
            except HttpResponseError as e:
                if e.status_code != 409:  # 409: another worker holds the scanner lease
                    log.warning("blob scan failed: %s", e)
                self.lease = None
            await asyncio.sleep(min(scan_seconds(), LOCK_SECONDS / 3))

    async def _scan(self) -> None:
        containers: dict[str, list[FunctionSpec]] = {}
        for spec in self.all.values():
            containers.setdefault(pattern(spec.trigger["path"])[0], []).append(spec)
        async with QueueClient.from_connection_string(self.conn, self.queue_name) as queue:
            for container, specs in containers.items():
                await self._scan_container(queue, container, specs)

    async def _scan_container(self, queue: QueueClient, container: str,
                              specs: list[FunctionSpec]) -> None:
        cursor = self.cursors.get(container)
        if cursor is None:
            cursor = self.cursors[container] = await self._load_cursor(container)
        latest, failed = cursor, []
        try:
            async for blob in self.service.get_container_client(container).list_blobs():
                modified = blob.last_modified
                latest = max(latest, modified)
                retry = any((function_id(s), container, blob.name) in self.retry
                            for s in specs)
                if modified < cursor and not retry:  # seen in an earlier sweep
                    continue
                for spec in specs:
                    if not pattern(spec.trigger["path"])[1].fullmatch(blob.name):
                        continue
                    key = (function_id(spec), container, blob.name)
                    deliver = self._enqueue_once if polled(spec) else self._publish_once
                    if await deliver(queue, spec, container, blob.name, blob.etag):
                        self.retry.discard(key)
                    else:
                        self.retry.add(key)
                        failed.append(modified)
        except ResourceNotFoundError:
            return  # the real host waits for the container as well
        if latest > cursor:
            self.cursors[container] = latest
            # stored a little earlier: timestamps have 1 s resolution (as the real host does)
            await self._save_cursor(container, min([latest, *failed]) - timedelta(
                milliseconds=1))

    def _scan_info(self, container: str):
        account = self.service.account_name
        return self.hosts.get_blob_client(
            f"blobscaninfo/{self.config.host_id}/{account}/{container}")

    async def _load_cursor(self, container: str) -> datetime:
        try:
            data = await (await self._scan_info(container).download_blob()).readall()
            return datetime.fromisoformat(json.loads(data)["LatestScan"])
        except (ResourceNotFoundError, ValueError, KeyError):
            return EPOCH  # fresh storage: every existing blob is a candidate

    async def _save_cursor(self, container: str, when: datetime) -> None:
        body = json.dumps({"LatestScan": when.isoformat()})
        await self._scan_info(container).upload_blob(body, overwrite=True)

    # -- receipts: one work item (or one event) per blob version ---------------------------
    def _receipt(self, spec: FunctionSpec, container: str, name: str, etag: str,
                 kind: str = "blobreceipts"):
        quoted = '"' + etag.strip('"') + '"'
        return self.hosts.get_blob_client(
            f"{kind}/{self.config.host_id}/{function_id(spec)}/{quoted}/{container}/{name}")

    async def _enqueue_once(self, queue: QueueClient, spec: FunctionSpec, container: str,
                            name: str, etag: str) -> bool:
        """The real BlobTriggerExecutor: False means "try again on the next scan"."""

        async def enqueue() -> bool:
            item = {"Type": "BlobTrigger", "FunctionId": function_id(spec),
                    "BlobType": "BlockBlob", "ContainerName": container, "BlobName": name,
                    "ETag": etag}
            await queue.send_message(encode(json.dumps(item).encode(),
                                            self.config.queues.message_encoding))
            log.info("blob %s/%s (ETag %s) queued for %s", container, name, etag, spec.name)
            if self.listener:
                self.listener.wake()
            return True

        return await self._once(self._receipt(spec, container, name, etag), enqueue)

    async def _publish_once(self, queue: QueueClient, spec: FunctionSpec, container: str,
                            name: str, etag: str) -> bool:
        """The stand-in Event Grid subscription: one BlobCreated event per blob version."""

        async def publish() -> bool:
            if self.webhook is None:
                return False
            url, key = self.webhook
            event = await self._blob_created_event(container, name)
            if event is None:
                return True  # deleted meanwhile: Event Grid would have sent it; nothing to run
            async with aiohttp.ClientSession() as http, http.post(
                    url, params={"functionName": function_id(spec), "code": key},
                    json=[event], headers={"aeg-event-type": "Notification"}) as r:
                if r.status >= 300:
                    log.warning("BlobCreated for %s/%s: webhook answered %d; retried on the "
                                "next scan", container, name, r.status)
                return r.status < 300

        return await self._once(self._receipt(spec, container, name, etag,
                                              "eventgrid-deliveries"), publish)

    async def _blob_created_event(self, container: str, name: str) -> dict[str, Any] | None:
        blob = self.service.get_blob_client(container, name)
        try:
            props = await blob.get_blob_properties()
        except ResourceNotFoundError:
            return None
        account = self.service.account_name
        return {
            "id": str(uuid.uuid4()), "eventType": "Microsoft.Storage.BlobCreated",
            "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                     f"local/providers/Microsoft.Storage/storageAccounts/{account}",
            "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
            "eventTime": datetime.now(UTC).isoformat(), "dataVersion": "",
            "metadataVersion": "1",
            "data": {"api": "PutBlob", "eTag": props.etag,
                     "contentType": props.content_settings.content_type,
                     "contentLength": props.size, "blobType": "BlockBlob", "url": blob.url,
                     "sequencer": f"{int(props.last_modified.timestamp() * 1e6):032x}"}}

    async def _once(self, receipt: Any, deliver: Callable[[], Awaitable[bool]]) -> bool:
        """Run `deliver` once per receipt, even with several scanners or after a crash: an
        `Incomplete` receipt is retried, a completed one is never run again."""
        try:
            props = await receipt.get_blob_properties()
            if props.metadata.get("Incomplete") != "true":
                return True  # this version was already queued
        except ResourceNotFoundError:
            try:
                await receipt.upload_blob(b"", metadata={"Incomplete": "true"},
                                          overwrite=False)
            except ResourceExistsError:
                return False  # someone else just created it
        try:
            lease = await receipt.acquire_lease(lease_duration=LOCK_SECONDS)
        except HttpResponseError:
            return False
        try:
            props = await receipt.get_blob_properties()
            if props.metadata.get("Incomplete") != "true":
                return True
            if not await deliver():
                return False
            await receipt.set_blob_metadata({}, lease=lease)  # completed
            return True
        finally:
            with contextlib.suppress(HttpResponseError):
                await lease.release()

    # -- running work items (any worker) ---------------------------------------------------
    async def _work_item(self, body: bytes, raw: Any) -> bool:
        try:
            item = json.loads(body)
            spec = self.all.get(item["FunctionId"])
            container, name, etag = item["ContainerName"], item["BlobName"], item["ETag"]
        except (ValueError, KeyError, TypeError):
            log.error("blob trigger queue: unreadable work item %r; deleting it", raw.content)
            return True
        if spec is None:
            log.warning("blob trigger work item for unknown function %s", item["FunctionId"])
            return True
        return await self.invoke_blob(spec, container, name, etag)

    async def invoke_blob(self, spec: FunctionSpec, container: str, name: str,
                          etag: str | None = None) -> bool:
        blob = self.service.get_blob_client(container, name)
        try:
            stream = await blob.download_blob()
            data = await stream.readall()
        except ResourceNotFoundError:
            log.info("blob %s/%s no longer exists; %s not run", container, name, spec.name)
            return True
        props = stream.properties
        if etag is not None and props.etag.strip('"') != etag.strip('"'):
            log.info("blob %s/%s changed since it was queued; its new version has its own "
                     "work item", container, name)
            return True
        m = pattern(spec.trigger["path"])[1].fullmatch(name)
        parts = m.groupdict() if m else {}
        value, metadata = typed_data.blob_trigger(
            data, f"{container}/{name}", blob.url,
            {"ETag": props.etag, "Length": props.size,
             "ContentType": props.content_settings.content_type,
             "LastModified": props.last_modified.isoformat(),
             "BlobType": getattr(props.blob_type, "value", props.blob_type)},
            dict(props.metadata or {}), parts)
        binding_data = {**parts, "blobTrigger": f"{container}/{name}"}
        return (await self.invoker.invoke(spec, value, metadata, binding_data)).ok

    async def from_event(self, spec: FunctionSpec, event: dict[str, Any]) -> bool:
        """Event Grid source: a BlobCreated event (either schema) names the blob; no
        receipts."""
        m = re.fullmatch(r"/blobServices/default/containers/([^/]+)/blobs/(.+)",
                     str(event.get("subject") or ""))
        kind = event.get("eventType") or event.get("type")
        if kind != "Microsoft.Storage.BlobCreated" or not m:
            return True
        container, name = m.groups()
        want, regex = pattern(spec.trigger["path"])
        if container != want or not regex.fullmatch(name):
            return True
        return await self.invoke_blob(spec, container, name)
