"""Live progress on stderr (rich): uploads in bytes, jobs in mini-batches and items.

A job's rate and ETA come from the job resource (`throughput`, `eta`) when the service
gives them, and are worked out here from its counts and start time otherwise.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from client._entities import BatchJob

console = Console(stderr=True)
if not console.is_terminal:  # a log or a pipe: room for the whole line, no wrapping
    console = Console(stderr=True, width=160)


def upload_progress() -> tuple[Progress, Any, Any]:
    """A byte progress bar and the (on_start, on_progress) callbacks that drive it."""
    progress = Progress(TextColumn("uploading"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), console=console)
    task = progress.add_task("upload", total=None, start=False)

    def on_start(total: int) -> None:
        if not total:
            return
        progress.start()
        progress.update(task, total=total)
        progress.start_task(task)

    def on_progress(sent: int) -> None:
        progress.advance(task, sent)
        if progress.tasks[0].finished and progress.live.is_started:
            progress.stop()  # before a job's bar starts: one live display at a time

    return progress, on_start, on_progress


def _timestamp(value: Any) -> float | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _eta_seconds(eta: Any) -> float | None:
    """The service's `eta`: seconds left, or the moment it expects the job to end."""
    if isinstance(eta, int | float):
        return float(eta)
    if isinstance(eta, dict):
        return _eta_seconds(eta.get("seconds") or eta.get("at"))
    moment = _timestamp(eta)
    return None if moment is None else max(0.0, moment - time.time())


def _rate(throughput: Any) -> float | None:
    if isinstance(throughput, int | float):
        return float(throughput)
    if isinstance(throughput, dict):
        for key in ("items_per_second", "items_per_sec", "items"):
            if isinstance(throughput.get(key), int | float):
                return float(throughput[key])
    return None


def job_figures(job: BatchJob, now: float | None = None) -> dict[str, Any]:
    """Counts, rate (items/s) and ETA (s) of a job, for the bar and for tests."""
    p = job.progress or {}
    mb, items = p.get("mini_batches") or {}, p.get("items") or {}
    done = sum(mb.get(k) or 0 for k in ("succeeded", "failed", "canceled"))
    ok, failed = items.get("succeeded") or 0, items.get("failed") or 0
    started = _timestamp(job.started_at)
    elapsed = ((now or time.time()) - started) if started else None
    rate, eta = _rate(job.throughput), _eta_seconds(job.eta)
    if rate is None and elapsed and elapsed > 0:
        rate = (ok + failed) / elapsed
    total = mb.get("total")
    if eta is None and total and done and elapsed:
        eta = elapsed / done * (total - done)
    return {"done": done, "total": total, "ok": ok, "failed": failed, "rate": rate,
            "eta": eta}


class JobBar:
    """Feeds `jobs.stream(on_progress=...)` into one progress bar."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.fields[status]:<12}"), BarColumn(),
            TextColumn("{task.completed}/{task.fields[of]} mini-batches"),
            TextColumn("items ok {task.fields[ok]} failed {task.fields[failed]}"),
            TextColumn("{task.fields[rate]}"), TextColumn("ETA {task.fields[eta]}"),
            TimeElapsedColumn(), console=console)
        self.task = self.progress.add_task("job", total=None, status="", of="?", ok=0,
                                           failed=0, rate="", eta="-")

    def __enter__(self) -> JobBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, job: BatchJob) -> None:
        f = job_figures(job)
        eta = "-" if f["eta"] is None else f"{int(f['eta'] // 60)}:{int(f['eta'] % 60):02d}"
        rate = "" if f["rate"] is None else f"{f['rate']:.1f} items/s"
        self.progress.update(self.task, total=f["total"], completed=f["done"],
                             status=job.status, of=f["total"] if f["total"] is not None else "?",
                             ok=f["ok"], failed=f["failed"], rate=rate, eta=eta)
