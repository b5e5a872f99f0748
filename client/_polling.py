"""Pollers: azure-core's `LROPoller` (`.result()`, `.status()`, `.wait()`, `.done()`).

Creating, updating and deleting resources finish within the request, so their pollers are
done at once (`NoPolling`); cancelling or retrying a job returns a poller that follows the
job until it ends.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

from azure.core.polling import LROPoller, NoPolling, PollingMethod

from client._entities import BatchJob

TERMINAL = ("Completed", "Failed", "Canceled")
FIRST_POLL, POLL_GROWTH, POLL_CAP = 0.5, 1.5, 5.0  # seconds, factor, seconds


def poll_delays(interval: float | None = None) -> Iterator[float]:
    """Seconds to wait before each next look at a job: `interval` every time if given, else
    0.5 s growing by half each time up to 5 s. A short job is seen ending within a second or
    so; a long one costs its instances one request per 5 s rather than two per second (each
    job read is a few table reads on the app's instances). azure-ai-ml's `jobs.stream` waits
    2 s, growing to 60 s."""
    if interval is not None:
        return itertools.repeat(interval)
    return (min(POLL_CAP, FIRST_POLL * POLL_GROWTH ** n) for n in itertools.count())


def done_poller(result: Any) -> LROPoller:
    """A poller over an operation the service finished within the request."""
    return LROPoller(None, result, lambda r: r, NoPolling())


class JobPolling(PollingMethod):
    """Follows a job through `get` until it reaches a terminal state."""

    def __init__(self, get: Callable[[str], BatchJob], interval: float | None = None):
        self._get, self._delays = get, poll_delays(interval)
        self._job: BatchJob | None = None

    def initialize(self, client: Any, initial_response: BatchJob,
                   deserialization_callback: Any) -> None:
        self._job = initial_response

    def run(self) -> None:
        while not self.finished():
            time.sleep(next(self._delays))
            self._job = self._get(self._job.name)

    def status(self) -> str:
        return self._job.status

    def finished(self) -> bool:
        return self._job.status in TERMINAL

    def resource(self) -> BatchJob:
        return self._job


def job_poller(job: BatchJob, get: Callable[[str], BatchJob], interval: float | None = None
               ) -> LROPoller:
    return LROPoller(None, job, lambda r: r, JobPolling(get, interval))
