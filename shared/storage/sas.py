"""SAS tokens made from an account key, one per resource (a container, a queue), reused until
half their life is gone: a long mini-batch or a host that runs for days never signs with a
stale one, and signing costs nothing per request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

SAS_LIFETIME = timedelta(hours=2)
SAS_RENEW_AFTER = timedelta(hours=1)
SAS_CLOCK_SKEW = timedelta(minutes=15)  # starts before now: clocks differ

# (resource, start, expiry) → the SAS query string
MakeSas = Callable[[str, datetime, datetime], str]


class SasCache:
    """Thread-safe; `make` signs a SAS for one resource."""

    def __init__(self, make: MakeSas):
        self._make = make
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str, datetime]] = {}

    def get(self, resource: str) -> str:
        now = datetime.now(UTC)
        with self._lock:
            known = self._known.get(resource)
            if known is None or now >= known[1]:
                known = (self._make(resource, now - SAS_CLOCK_SKEW, now + SAS_LIFETIME),
                         now + SAS_RENEW_AFTER)
                self._known[resource] = known
            return known[0]
