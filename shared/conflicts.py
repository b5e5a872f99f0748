"""The one rule for optimistic concurrency: read, decide, write if unchanged; on a conflict
wait a little (exponential backoff with full jitter) and do it all again — a bounded number
of times, then raise ContentionError. Nobody carries on as if a lost write had happened."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from shared.errors import ConcurrentUpdate, ContentionError

T = TypeVar("T")
ATTEMPTS = 40
BASE_DELAY = 0.005
MAX_DELAY = 0.5
_lock = threading.Lock()
_retried = 0


def retried() -> int:
    """Conflicts retried so far in this process (what bench.scale reports per completion)."""
    return _retried


def _count_retry() -> None:
    global _retried
    with _lock:
        _retried += 1


def retry_on_conflict(attempt: Callable[[], T], what: str, attempts: int = ATTEMPTS) -> T:
    """Run `attempt` until it returns without raising ConcurrentUpdate."""
    for n in range(attempts):
        try:
            return attempt()
        except ContentionError:
            raise
        except ConcurrentUpdate:
            _count_retry()
            time.sleep(random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** n)))
    raise ContentionError(f"{what}: {attempts} attempts in a row lost to concurrent updates")
