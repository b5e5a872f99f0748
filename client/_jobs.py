"""`client.jobs`: show, list, follow, download, cancel and retry batch jobs."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.core.paging import ItemPaged
from azure.core.polling import LROPoller

from client._entities import BatchJob
from client._operations import Operations
from client._polling import TERMINAL, job_poller, poll_delays

OUTPUT_NAMES = ("score", "errors", "summary")


class JobFailedError(RuntimeError):
    """A followed job ended Failed or Canceled; `.job` is its last state."""

    def __init__(self, job: BatchJob):
        self.job = job
        reason = (job.error or {}).get("message") or "no reason given"
        super().__init__(f"job {job.name} ended {job.status}: {reason}")


class JobOperations(Operations):
    def get(self, name: str) -> BatchJob:
        return BatchJob._from_rest(self._json("GET", f"jobs/{name}"))

    def list(self, *, status: str | None = None, name: str | None = None
             ) -> ItemPaged[BatchJob]:
        """Jobs newest first; `name`: only those whose name contains it."""
        return self._jobs("jobs", status=status, name=name)

    def stream(self, name: str, *, on_progress: Callable[[BatchJob], None] | None = None,
               timeout: float = 3600.0, interval: float | None = None,
               raise_on_failure: bool = True) -> BatchJob:
        """Follow a job until it ends, calling `on_progress` with each state seen; it is
        read again after `interval` seconds each time, or by default after 0.5 s growing to
        5 s (`poll_delays`)."""
        deadline = time.monotonic() + timeout
        delays = poll_delays(interval)
        while True:
            job = self.get(name)
            if on_progress:
                on_progress(job)
            if job.status in TERMINAL:
                if raise_on_failure and job.status != "Completed":
                    raise JobFailedError(job)
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {name} still {job.status} after {timeout:.0f} s")
            time.sleep(next(delays))

    def get_logs(self, name: str) -> str:
        """The progress overview and event lines (Azure ML's job_progress_overview.txt)."""
        return self._pipeline.request("GET", f"jobs/{name}/logs").text()

    def download(self, name: str, *, output_name: str = "score",
                 download_path: str | Path = ".", all: bool = False) -> list[Path]:
        """Write outputs under `<download_path>/named-outputs/<output_name>/` (the layout of
        `az ml job download`); `all=True` downloads every output the job has."""
        names = OUTPUT_NAMES if all else (output_name,)
        written = []
        for output in names:
            response = self._pipeline.request("GET", f"jobs/{name}/outputs/{output}")
            target = Path(download_path) / "named-outputs" / output
            target.mkdir(parents=True, exist_ok=True)
            if output == "score" and response.headers.get("content-type", "").startswith(
                    "application/zip"):  # a scoring script's own files (summary_only)
                written += _unzip(response.read(), target)
                continue
            file = target / _file_name(response.headers.get("content-disposition"), output)
            file.write_bytes(response.read())
            written.append(file)
        return written

    def begin_cancel(self, name: str, *, interval: float | None = None) -> LROPoller[BatchJob]:
        """Ask the job to stop; the poller follows it until it is Canceled (or ended)."""
        job = BatchJob._from_rest(self._json("POST", f"jobs/{name}/cancel"))
        return job_poller(job, self.get, interval)

    def retry(self, name: str, *, deployment_name: str | None = None) -> BatchJob:
        """A new job over the items that failed in `name`."""
        body: dict[str, Any] = {"deployment_name": deployment_name} if deployment_name else {}
        return BatchJob._from_rest(self._json("POST", f"jobs/{name}/retry", json=body))

    def begin_retry(self, name: str, *, deployment_name: str | None = None,
                    interval: float | None = None) -> LROPoller[BatchJob]:
        """`retry`, with a poller that follows the new job until it ends."""
        return job_poller(self.retry(name, deployment_name=deployment_name), self.get,
                          interval)


def _unzip(data: bytes, target: Path) -> list[Path]:
    """The files of a folder output, each kept inside `target`."""
    written = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            path = (target / info.filename).resolve()
            if info.is_dir() or target.resolve() not in path.parents:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(info))
            written.append(path)
    return written


def _file_name(disposition: str | None, output: str) -> str:
    if disposition and "filename=" in disposition:
        return Path(disposition.split("filename=", 1)[1].strip().strip('"')).name
    return output
