"""Pollers: azure-core's `LROPoller` (`.result()`, `.status()`, `.wait()`, `.done()`).

Creating, updating and deleting resources finish within the request, so their pollers are
done at once (`NoPolling`); cancelling or retrying a job returns a poller that follows the
job until it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from azure.core.polling import LROPoller, NoPolling, PollingMethod

from client._entities import BatchJob

TERMINAL = ("Completed", "Failed", "Canceled")


def done_poller(result: Any) -> LROPoller:
    """A poller over an operation the service finished within the request."""
    return LROPoller(None, result, lambda r: r, NoPolling())


class JobPolling(PollingMethod):
    """Follows a job through `get` until it reaches a terminal state."""

    def __init__(self, get: Callable[[str], BatchJob], interval: float = 0.5):
        self._get, self._interval = get, interval
        self._job: BatchJob | None = None

    def initialize(self, client: Any, initial_response: BatchJob,
                   deserialization_callback: Any) -> None:
        self._job = initial_response

    def run(self) -> None:
        while not self.finished():
            time.sleep(self._interval)
            self._job = self._get(self._job.name)

    def status(self) -> str:
        return self._job.status

    def finished(self) -> bool:
        return self._job.status in TERMINAL

    def resource(self) -> BatchJob:
        return self._job


def job_poller(job: BatchJob, get: Callable[[str], BatchJob], interval: float = 0.5
               ) -> LROPoller:
    return LROPoller(None, job, lambda r: r, JobPolling(get, interval))
