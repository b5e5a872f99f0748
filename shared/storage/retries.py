"""The blob and queue SDK clients' retry policy: the storage SDKs' exponential retry, with
waits sized for a service that answers in milliseconds, and Retry-After honoured.

The blob and queue SDKs retry with their own `ExponentialRetry` (not azure-core's
`RetryPolicy`, which the tables SDK uses and which waits what a Retry-After says): its first
wait is 15 s ± 3 whatever the service asked for, so one 503 ServerBusy with `Retry-After: 1`
held a queue send or a blob upload for 12-18 s (measured through bench/faultproxy.py). Here
a Retry-After (or `x-ms-retry-after-ms`) of the last answer is the wait; without one the
waits are 1, 4 and 10 s (± 1), the three retries the SDK makes by default. The hot path's
own requests (signedrequests.py) retry with urllib3's Retry, which honours Retry-After too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry

BACKOFF = {"initial_backoff": 1, "increment_base": 3, "random_jitter_range": 1,
           "retry_total": 3}
MAX_RETRY_AFTER = 60.0  # seconds: a longer ask is capped (the caller has its own deadline)


def retry_after(headers: Any) -> float | None:
    """The wait the answer asks for, in seconds, or None."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001),
                        ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            return min(MAX_RETRY_AFTER, max(0.0, float(value) * scale))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            return min(MAX_RETRY_AFTER, max(0.0, (when - datetime.now(UTC)).total_seconds()))
    return None


class _HonoursRetryAfter:
    def sleep(self, settings: dict[str, Any], transport: Any) -> None:
        history = settings.get("history") or []
        answer = history[-1].http_response if history else None
        wait = retry_after(answer.headers) if answer is not None else None
        if wait is None:
            super().sleep(settings, transport)  # type: ignore[misc]
        elif wait > 0:
            transport.sleep(wait)


class BlobRetryPolicy(_HonoursRetryAfter, BlobRetry):
    def __init__(self) -> None:
        super().__init__(**BACKOFF)


class QueueRetryPolicy(_HonoursRetryAfter, QueueRetry):
    def __init__(self) -> None:
        super().__init__(**BACKOFF)
