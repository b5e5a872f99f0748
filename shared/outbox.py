"""Follow-up messages leave through the trigger's queue output bindings when it has them.

A queue-triggered step (plan a page, score a mini-batch, aggregate) ends by sending the next
steps' messages. Inside `collect(...)`, `Storage.send` puts those messages in an outbox
instead; the trigger hands them to its output bindings, which the Functions host writes only
when the function returns without raising — and, as the real host's SharedQueueWatcher does,
wakes its own listener on that queue at once instead of waiting for the next poll. Every step
is idempotent, so a message lost with a failed run is sent again by the retry. Outside
`collect` (HTTP-free tests, delayed messages) `send` goes straight to the queue.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

_current: contextvars.ContextVar[dict[str, list[str]] | None] = contextvars.ContextVar(
    "outbox", default=None)


def take(queue: str, body: str) -> bool:
    """Keep `body` for `queue` if an outbox collects for it; False means send it yourself."""
    box = _current.get()
    if box is None or queue not in box:
        return False
    box[queue].append(body)
    return True


@contextlib.contextmanager
def collect(bindings: dict[str, Any]) -> Iterator[None]:
    """Collect messages for the queues in `bindings` ({queue: func.Out}); set them on exit."""
    box: dict[str, list[str]] = {queue: [] for queue in bindings}
    token = _current.set(box)
    try:
        yield
    finally:
        _current.reset(token)
    for queue, out in bindings.items():  # reached only when the body did not raise
        if box[queue]:
            out.set(list(dict.fromkeys(box[queue])))  # the same message once is enough
