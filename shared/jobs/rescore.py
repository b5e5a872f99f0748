"""Re-score a mini-batch whose result storage lost after it was scored.

Its input files are still there, pinned by version: the aggregator scores them again and
writes a new part instead of failing items that had succeeded, while the deployment's
retry_settings.max_retries last (counted on the mini-batch row, `rescored`, written before
each try so a run that dies mid-way counts too). Only when they are used up are its files
listed as failed, with kind `lost`. The shards keep the counts of the first scoring; the
job's final counts are those of the outputs written (lifecycle's OutputsWritten).
"""

from __future__ import annotations

import time
from typing import Any

from shared.errors import NotFoundError, RetryableError
from shared.jobs import minibatch, planning, records
from shared.jobs.records import JobRecord
from shared.storage.clients import Storage


def lost_part(storage: Storage, job: JobRecord, row: dict[str, Any]) -> bytes | None:
    """The mini-batch's new result part (`row` updated to name it), None when its retries
    are used up."""
    index = records.row_index(row)
    retry = job.settings["retry_settings"]
    used = int(row.get("rescored", 0))
    if used >= int(retry["max_retries"]):
        return None
    records.submit(storage, [records.minibatch_op(job.name, index, row.metadata["etag"],
                                                  {"rescored": used + 1})])
    records.log(storage, job.name, f"mini-batch {index}: its result was lost from storage "
                f"after it was scored; scoring it again (retry {used + 1}/"
                f"{retry['max_retries']})")
    rows_csv, failures, items_ok = minibatch.score_refs(
        storage, job, planning.files_of(storage, row), time.monotonic() + retry["timeout"])
    part = minibatch.store_result(storage, job.name, index, rows_csv, failures)
    got = records.get_minibatch(storage, job.name, index)
    if got is None:
        raise NotFoundError(f"job {job.name} has no mini-batch {index}")
    changes = {"part": part, "items_ok": items_ok, "items_failed": len(failures)}
    records.submit(storage, [records.minibatch_op(job.name, index, got[1], changes)])
    row.update(changes, rescored=used + 1)
    return rows_csv


class LostSince(RetryableError):
    """A part was there when checked and gone when read: the next run scores it again."""
