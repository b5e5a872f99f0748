"""A running job's mini-batch counters, sharded over rows of its partition: no hot row.

A completion is one entity-group transaction over the mini-batch row (pending → outcome)
and its shard row `cnt-KKKK` (K = index mod the job's shard count), both ETag-guarded:
exactly once, as with the job row before, but concurrent completions write different
rows. The shard count is the job's window (capped at records.SHARDS_MAX): dispatch keeps one
mini-batch in flight per window slot (index mod window), so each slot has a shard of its
own and completions do not contend at all.

The job row learns the counts once. A shard is *full* when all its mini-batches are in,
which is known only once planning is done (the total is then fixed); the completion or
planning run that sees the last shard full sums the shards into lifecycle's AllCounted,
which moves the job to Finalizing with its final counters. Whoever changes counts or ends
planning checks *after* its own write (`settle`), so of two that race one sees the other.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import UpdateMode

from shared.conflicts import retry_on_conflict
from shared.jobs import lifecycle, records
from shared.jobs.records import JobRecord
from shared.storage.clients import Storage

_COUNTS = ("mb_done", "mb_failed", "mb_canceled", "items_ok", "items_failed")


def shard_row(key: int) -> str:
    return f"cnt-{key:04d}"


@dataclass(frozen=True)
class Shard:
    """A shard row as read; no ETag: the row does not exist yet."""

    key: int
    mb_done: int = 0
    mb_failed: int = 0
    mb_canceled: int = 0
    items_ok: int = 0
    items_failed: int = 0
    full: bool = False
    etag: str = ""

    @property
    def accounted(self) -> int:
        return self.mb_done + self.mb_failed + self.mb_canceled

    @classmethod
    def from_entity(cls, entity: dict[str, Any]) -> Shard:
        known = {f.name for f in fields(cls)} - {"key", "etag"}
        return cls(key=int(entity["RowKey"][4:]), etag=entity.metadata["etag"],
                   **{k: v for k, v in entity.items() if k in known})

    def with_changes(self, changes: dict[str, Any]) -> Shard:
        return replace(self, **changes)


def get(storage: Storage, job: JobRecord, key: int) -> Shard:
    found = records.get_row(storage, job.name, shard_row(key))
    return Shard(key) if found is None else Shard.from_entity(found)


def op(job_name: str, shard: Shard, changes: dict[str, Any]) -> tuple:
    """A transaction operation: create the shard row, or merge into it if it is unchanged
    (a create that finds the row made meanwhile fails as a conflict, and is retried)."""
    entity = {"PartitionKey": job_name, "RowKey": shard_row(shard.key), **changes}
    if not shard.etag:
        return ("create", {**{k: getattr(shard, k) for k in (*_COUNTS, "full")}, **entity})
    return ("update", entity, {"mode": UpdateMode.MERGE, "etag": shard.etag,
                               "match_condition": MatchConditions.IfNotModified})


def read_all(storage: Storage, job: JobRecord) -> list[Shard]:
    rows = records.table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        parameters={"pk": job.name, "lo": shard_row(0), "hi": shard_row(job.shards)})
    return [Shard.from_entity(r) for r in rows]


def sums(shards: list[Shard]) -> dict[str, int]:
    return {k: sum(getattr(s, k) for s in shards) for k in _COUNTS}


def live(storage: Storage, job: JobRecord) -> JobRecord:
    """The job with its counters as of now: summed from the shards while it runs; once
    every mini-batch is in, the job row holds them."""
    if not job.status.active:
        return job
    return job.with_changes(sums(read_all(storage, job)))


def settle(storage: Storage, job: JobRecord, touched: list[Shard]) -> JobRecord:
    """After counts were written: flag the shards that are full now that planning is
    done, and move the job to Finalizing if every shard is."""
    if not job.planning_done or not job.status.active:
        return job
    became_full = False
    for shard in touched:
        if not shard.full and shard.accounted >= job.shard_size(shard.key):
            shard = _mark_full(storage, job, shard.key)
        became_full = became_full or shard.full
    return _finish_if_all_full(storage, job) if became_full else job


def settle_all(storage: Storage, job: JobRecord) -> JobRecord:
    """`settle` over every shard: when planning ends (shards filled before the total was
    known), and from the watchdog."""
    if not job.planning_done or not job.status.active:
        return job
    return settle(storage, job, read_all(storage, job))


def _mark_full(storage: Storage, job: JobRecord, key: int) -> Shard:
    def attempt() -> Shard:
        shard = get(storage, job, key)
        if shard.full or shard.accounted < job.shard_size(key):
            return shard
        records.submit(storage, [op(job.name, shard, {"full": True})])
        return shard.with_changes({"full": True})

    return retry_on_conflict(attempt, f"job {job.name} shard {key}")


def _finish_if_all_full(storage: Storage, job: JobRecord) -> JobRecord:
    """One row read when a shard is still open (most calls); all shards at the end."""
    used = min(job.shards, job.mb_total)
    open_shards = records.table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and full eq false",
        parameters={"pk": job.name, "lo": shard_row(0), "hi": shard_row(used)},
        results_per_page=1, select=["RowKey"])
    if next(iter(next(open_shards.by_page(), [])), None) is not None:
        return job
    counts = sums(read_all(storage, job))  # a shard with no row yet sums short: not yet
    job, _ = records.update_job(storage, job.name, lifecycle.AllCounted(**counts))
    return job


def failed_items(storage: Storage, job: JobRecord) -> int:
    """Items failed so far, for the error_threshold rule."""
    rows = records.table(storage).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        parameters={"pk": job.name, "lo": shard_row(0), "hi": shard_row(job.shards)},
        select=["items_failed"])
    return sum(int(r.get("items_failed", 0)) for r in rows)
