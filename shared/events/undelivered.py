"""Job-ended events a target never accepted: kept, listed on the job, re-sendable.

When every retry of a delivery has failed (shared/events/outbound.py), the event and the last
error are kept in the `eventdeadletters` table, one row per (job, target), instead of being
dropped. `GET /jobs/{name}/logs` lists them; `POST /jobs/{name}/events/resend` starts a new
round of deliveries, and a row goes away once its target has the event.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.jobs import records
from shared.storage.clients import Storage

TABLE = "eventdeadletters"


def keep(storage: Storage, job: str, target: str, event: dict[str, Any], error: str,
         attempts: int) -> None:
    storage.table(TABLE).upsert_entity({
        "PartitionKey": job, "RowKey": target, "target": target, "error": error[:2000],
        "attempts": attempts, "at": records.now(), "event": json.dumps(event),
    })


def listed(storage: Storage, job: str) -> list[dict[str, Any]]:
    """The job's undelivered events: target, attempts, last error, when it was given up."""
    rows = storage.table(TABLE).query_entities("PartitionKey eq @job",
                                               parameters={"job": job})
    return [{"target": r["target"], "attempts": r["attempts"], "error": r["error"],
             "at": r["at"], "event_id": json.loads(r["event"]).get("id")} for r in rows]


def clear(storage: Storage, job: str, target: str) -> None:
    with contextlib.suppress(ResourceNotFoundError):
        storage.table(TABLE).delete_entity(job, target)


def log_section(storage: Storage, job: str) -> str:
    """The lines `GET /jobs/{name}/logs` ends with: one per undelivered event, or nothing."""
    rows = listed(storage, job)
    if not rows:
        return ""
    lines = ["", f"Undelivered job-ended events (re-send: POST /jobs/{job}/events/resend):"]
    lines += [f"{r['at']}  {r['target']}: {r['event_id']} after {r['attempts']} attempts: "
              f"{r['error']}" for r in rows]
    return "\n".join(lines) + "\n"
