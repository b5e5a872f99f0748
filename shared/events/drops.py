"""Blob drops: files written under `<inbox>/<endpoint>/[<deployment>/]<folder>/` become jobs.

Arrivals are grouped, not one job per blob (what Azure ML's Logic App recipe does):
* a marker blob `_READY` in the folder makes everything in it one job at once, and a
  `_manifest.json` (`{"files": ["a.png", ...]}`) makes exactly the files it names one job;
* without markers, what arrives for the same folder becomes one job once the folder has been
  quiet for `BATCH_DROP_QUIET_SECONDS`.

The blob trigger and the Event Grid trigger both call `on_blob_created`. Every arrival is a
row keyed by (blob, ETag) in the group's partition of the `drops` table, so the same blob
version is counted once however often it is delivered, and a job takes the arrivals waiting
in its group under a name derived from (group, generation), so two racing starters make the
same one job: each starter writes a manifest of its own (shared/jobs/manifests.py), the job
names the one it plans, and a starter that lost the race takes that one. A blob that arrived
in several versions is in the job once, at its newest version (the manifest names the ETag
it will be scored at).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.storage.blob import BlobPrefix

from shared import config
from shared.conflicts import retry_on_conflict
from shared.errors import BatchEndpointError, ConcurrentUpdate, ConflictError, Rejected
from shared.events import deadletters
from shared.jobs import invoke, manifests, records
from shared.messages import DROPS_QUEUE, QuietCheck
from shared.resources import deployments, endpoints, paging
from shared.storage.clients import Storage
from shared.storage.documents import merge_if_unchanged

log = logging.getLogger("batch.drops")
READY_MARKER = "_READY"
MANIFEST_MARKER = "_manifest.json"
GROUP_ROW = "group"
WAITING, TAKEN, REJECTED = "waiting", "taken", "rejected"


@dataclass(frozen=True)
class BlobCreated:
    """One blob version that appeared: from the blob trigger or a BlobCreated event."""

    container: str
    name: str
    etag: str
    source: str  # "blob-drop" | "eventgrid" | "eventgrid-deadletter" (never delivered)


@dataclass(frozen=True)
class DropTarget:
    endpoint: str
    deployment: str | None
    folder: str  # path inside the inbox container, without trailing '/'

    @property
    def group(self) -> str:
        key = f"{self.endpoint}\n{self.deployment or ''}\n{self.folder}"
        return hashlib.sha256(key.encode()).hexdigest()[:24]


def on_blob_created(storage: Storage, blob: BlobCreated) -> str:
    """Record one arrival; returns what happened (for logs and tests)."""
    if blob.container != config.inbox_container():
        return "ignored: not the inbox container"
    base = blob.name.rsplit("/", 1)[-1]
    if base.startswith((".", "_")) and base not in (READY_MARKER, MANIFEST_MARKER):
        return "ignored: hidden file"
    try:
        target = parse_target(storage, blob.name)
    except Rejected as e:
        reject(storage, blob, str(e))
        return f"rejected: {e}"
    if base in (READY_MARKER, MANIFEST_MARKER):
        if not _record(storage, target, blob.name, blob.etag, marker=True):
            return "duplicate"
        files = _marker_files(storage, target, blob.name, base)
        for name, etag in files:
            _record(storage, target, name, etag)
        job = start_group_job(storage, target.group, f"marker {base}", only=dict(files),
                              source=blob.source)
        return f"job: {job}" if job else "marker: nothing waiting"
    if not _record(storage, target, blob.name, blob.etag):
        return "duplicate"
    _touch_group(storage, target, blob.source)
    return "recorded"


def parse_target(storage: Storage, blob_name: str) -> DropTarget:
    parts = blob_name.split("/")
    if len(parts) < 2 or not all(parts):
        raise Rejected("drop files under <endpoint>/<folder>/ in the inbox container")
    endpoint = parts[0]
    try:
        ep = endpoints.get(storage, endpoint)
    except BatchEndpointError:
        raise Rejected(f"no batch endpoint named '{endpoint}'") from None
    deployment = None
    if len(parts) >= 4 and deployments.find(storage, endpoint, parts[1]) is not None:
        deployment = parts[1]
    elif not ep["defaults"].get("deployment_name"):
        raise Rejected(f"batch endpoint '{endpoint}' has no default deployment and the drop "
                       "names none (<endpoint>/<deployment>/<folder>/...)")
    return DropTarget(endpoint=endpoint, deployment=deployment,
                      folder="/".join(parts[:-1]))


def reject(storage: Storage, blob: BlobCreated, reason: str, at: str = "") -> None:
    log.warning("drop %s/%s rejected: %s", blob.container, blob.name, reason)
    table = storage.table(config.TABLE_REJECTED_DROPS)
    table.upsert_entity({
        "PartitionKey": "rejected", "RowKey": _key(blob.name, blob.etag), "blob": blob.name,
        "container": blob.container, "etag": blob.etag, "reason": reason, "source": blob.source,
        "at": at or records.now(),
    })


def list_rejected(storage: Storage, page: paging.PageRequest = paging.PageRequest()
                  ) -> paging.Page:
    """A page of rejected drops (in key order, which is by blob name and ETag hash), the
    inbox events Event Grid dead-lettered included (deadletters.py)."""
    deadletters.import_new(storage, lambda container, name, etag, reason, at: reject(
        storage, BlobCreated(container, name, etag, "eventgrid-deadletter"), reason, at))
    keep = ["container", "blob", "etag", "reason", "source", "at"]
    found = paging.entities(storage.table(config.TABLE_REJECTED_DROPS), page,
                            "PartitionKey eq 'rejected'", select=keep)
    return paging.Page([{k: r.get(k) for k in keep} for r in found.items], found.next_token)


def _key(name: str, etag: str) -> str:
    return "a-" + hashlib.sha256(f"{name}\n{etag.strip(chr(34))}".encode()).hexdigest()[:40]


def _record(storage: Storage, target: DropTarget, name: str, etag: str,
            marker: bool = False) -> bool:
    """Insert the arrival row; False if this blob version was seen before."""
    try:
        storage.table(config.TABLE_DROPS).create_entity({
            "PartitionKey": target.group, "RowKey": _key(name, etag), "blob": name,
            "etag": etag.strip('"'), "state": TAKEN if marker else WAITING, "job": "",
            "marker": marker, "at": records.now(),
        })
    except ResourceExistsError:
        return False
    return True


def _marker_files(storage: Storage, target: DropTarget, marker: str,
                  base: str) -> list[tuple[str, str]]:
    """The files a marker stands for: the folder's files, or those its manifest names."""
    container = storage.blobs.get_container_client(config.inbox_container())
    prefix = f"{target.folder}/"
    if base == MANIFEST_MARKER:
        try:
            doc = json.loads(container.download_blob(marker).readall())
            wanted = [prefix + f for f in doc["files"]]
        except (ValueError, KeyError, TypeError, ResourceNotFoundError) as e:
            raise Rejected(f"{marker}: must be JSON {{\"files\": [names...]}} ({e})") from None
        found = []
        for name in wanted:
            try:
                found.append((name, container.get_blob_client(name).get_blob_properties().etag))
            except ResourceNotFoundError:
                log.warning("manifest %s names a missing file %s", marker, name)
        return found
    return [(b.name, b.etag) for b in _folder(storage, target) if not _hidden(b.name)]


def _folder(storage: Storage, target: DropTarget) -> list[Any]:
    """The blobs directly in the drop folder (flat, as jobs read folders)."""
    container = storage.blobs.get_container_client(config.inbox_container())
    return [b for b in container.walk_blobs(name_starts_with=f"{target.folder}/")
            if not isinstance(b, BlobPrefix)]


def _hidden(name: str) -> bool:
    return name.rsplit("/", 1)[-1].startswith(("_", "."))


def _touch_group(storage: Storage, target: DropTarget, source: str) -> None:
    """Note the arrival time; make sure one quiet-window check is on its way."""
    table = storage.table(config.TABLE_DROPS)

    def attempt() -> bool:
        """True when this arrival must send the check (nobody else has one on its way)."""
        try:
            row = table.get_entity(target.group, GROUP_ROW)
        except ResourceNotFoundError:
            try:
                table.create_entity({
                    "PartitionKey": target.group, "RowKey": GROUP_ROW,
                    "endpoint": target.endpoint, "deployment": target.deployment or "",
                    "folder": target.folder, "generation": 0, "last_arrival": time.time(),
                    "check_pending": True, "source": source})
            except ResourceExistsError:
                raise ConcurrentUpdate("group row created concurrently") from None
            return True
        if not merge_if_unchanged(table, {
                "PartitionKey": target.group, "RowKey": GROUP_ROW, "last_arrival": time.time(),
                "check_pending": True, "source": source}, row.metadata["etag"]):
            raise ConcurrentUpdate(f"drop group {target.group}")
        return not row["check_pending"]

    if retry_on_conflict(attempt, f"drop group {target.group}"):
        storage.send(DROPS_QUEUE, QuietCheck(group=target.group),
                     delay=config.drop_quiet_seconds())


def quiet_check(storage: Storage, msg: QuietCheck) -> str:
    """Start the group's job once it has been quiet for the window; else check again later."""
    table = storage.table(config.TABLE_DROPS)
    try:
        row = table.get_entity(msg.group, GROUP_ROW)
    except ResourceNotFoundError:
        return "no such group"
    quiet = config.drop_quiet_seconds()
    waited = time.time() - float(row["last_arrival"])
    if waited < quiet:
        storage.send(DROPS_QUEUE, msg, delay=max(1, int(quiet - waited + 0.999)))
        return "not quiet yet"
    # Deliveries lag behind uploads (scans, Event Grid retries), so look at the folder itself:
    # a marker there owns the folder, and a file written within the window means "not yet".
    target = DropTarget(row["endpoint"], row.get("deployment") or None, row["folder"])
    blobs = _folder(storage, target)
    if any(b.name.rsplit("/", 1)[-1] in (READY_MARKER, MANIFEST_MARKER) for b in blobs):
        _close_generation(storage, msg.group, int(row["generation"]), bump=False,
                          rearm=False)
        return "a marker owns this folder"
    files = [b for b in blobs if not _hidden(b.name)]
    newest = max((b.last_modified.timestamp() for b in files), default=0.0)
    if time.time() - newest < quiet:
        storage.send(DROPS_QUEUE, msg, delay=max(1, int(quiet - (time.time() - newest) + 1)))
        return "not quiet yet"
    for b in files:  # files whose own delivery has not arrived yet still belong here
        _record(storage, target, b.name, b.etag)
    job = start_group_job(storage, msg.group, "quiet window", source=row.get("source", ""))
    return f"job: {job}" if job else "nothing waiting"


def start_group_job(storage: Storage, group: str, why: str, *,
                    only: dict[str, str] | None = None, source: str = "") -> str | None:
    """Make the group's waiting arrivals one job (idempotent); returns the job name."""
    table = storage.table(config.TABLE_DROPS)
    try:
        row = table.get_entity(group, GROUP_ROW)
    except ResourceNotFoundError:
        row = None
    waiting = sorted(
        (r for r in table.query_entities("PartitionKey eq @g and state eq @s",
                                         parameters={"g": group, "s": WAITING})
         if only is None or r["blob"] in only),
        key=lambda r: r["blob"])
    if row is None:
        if not waiting:
            return None
        row = _group_from(storage, group, waiting[0]["blob"])
    generation = int(row.get("generation", 0))
    job_name = f"drop-{group[:16]}-{generation}"
    existing = records.find(storage, job_name)
    if existing is None:
        if not waiting:
            _close_generation(storage, group, generation, bump=False)
            return None
        newest = {r["blob"]: r for r in sorted(waiting, key=lambda r: r["at"])}
        manifest = f"drops/{group}/{generation}-{uuid.uuid4().hex[:8]}"  # this starter's own
        count = manifests.write(storage, manifest, ({"name": n, "etag": newest[n]["etag"]}
                                                    for n in sorted(newest)))
        try:
            _invoke(storage, row, job_name, manifest, source or row.get("source", ""))
        except BatchEndpointError as e:
            existing = records.find(storage, job_name) if isinstance(e, ConflictError) else None
            if existing is None or existing.input["manifest"] != manifest:
                manifests.delete(storage, manifest)  # a racing starter made it: take its own
            if existing is None:
                for r in waiting:
                    reject(storage, BlobCreated(config.inbox_container(), r["blob"],
                                                r["etag"], source), str(e))
                _mark(storage, group, [r for r in waiting], REJECTED, "")
                _close_generation(storage, group, generation, bump=False)
                return None
        else:
            log.info("drop group %s (%s): job %s over %d files", group, why, job_name, count)
    if existing is not None:
        manifest = existing.input["manifest"]  # the job's, whoever wrote it
    rows_of: dict[str, list[dict[str, Any]]] = {}
    for r in waiting:
        rows_of.setdefault(r["blob"], []).append(r)
    taken = [r for e in manifests.entries(storage, manifest) for r in rows_of.get(e["name"], [])]
    _mark(storage, group, taken, TAKEN, job_name)
    _close_generation(storage, group, generation, bump=True)
    return job_name


def _group_from(storage: Storage, group: str, blob_name: str) -> dict[str, Any]:
    target = parse_target(storage, blob_name)
    row = {"PartitionKey": group, "RowKey": GROUP_ROW, "endpoint": target.endpoint,
           "deployment": target.deployment or "", "folder": target.folder, "generation": 0,
           "last_arrival": time.time(), "check_pending": False, "source": ""}
    try:
        storage.table(config.TABLE_DROPS).create_entity(row)
    except ResourceExistsError:
        return storage.table(config.TABLE_DROPS).get_entity(group, GROUP_ROW)
    return row


def _invoke(storage: Storage, group: dict[str, Any], job_name: str, manifest: str,
            source: str) -> None:
    inbox = config.inbox_container()
    output = (f"azureml://datastores/{config.drop_output_datastore()}/paths/"
              f"{group['folder']}/{job_name}")
    request = invoke.InvokeRequest(
        input_path=f"{inbox}/{group['folder']}", input_type="uri_folder",
        output_path=output, output_type="uri_folder",
        deployment_name=group.get("deployment") or None, job_name=job_name, overrides={},
        started_by=source or "blob-drop", manifest=manifest)
    invoke.invoke(storage, group["endpoint"], request)


def _mark(storage: Storage, group: str, rows: list[dict[str, Any]], state: str,
          job: str) -> None:
    table = storage.table(config.TABLE_DROPS)
    for i in range(0, len(rows), 100):
        ops = [("update", {"PartitionKey": group, "RowKey": r["RowKey"], "state": state,
                           "job": job}, {"mode": UpdateMode.MERGE})
               for r in rows[i:i + 100]]
        table.submit_transaction(ops)


def _close_generation(storage: Storage, group: str, generation: int, bump: bool,
                      rearm: bool = True) -> None:
    """Advance the group past `generation`; re-arm the quiet check if files are waiting."""
    table = storage.table(config.TABLE_DROPS)

    def attempt() -> bool:
        row = table.get_entity(group, GROUP_ROW)
        if int(row["generation"]) != generation:
            return False
        left = rearm and any(True for _ in table.query_entities(
            "PartitionKey eq @g and state eq @s", parameters={"g": group, "s": WAITING},
            results_per_page=1))
        if not merge_if_unchanged(table, {
                "PartitionKey": group, "RowKey": GROUP_ROW,
                "generation": generation + (1 if bump else 0), "check_pending": left},
                row.metadata["etag"]):
            raise ConcurrentUpdate(f"drop group {group}")
        return left

    if retry_on_conflict(attempt, f"drop group {group}"):
        storage.send(DROPS_QUEUE, QuietCheck(group=group), delay=config.drop_quiet_seconds())
