"""An in-process stand-in for the queue host, in addition to the real one (devhost).

It drains the pipeline queues of a real Azurite and calls the same step table the queue
triggers use (shared/jobs/steps.py), one message at a time, so tests can reorder, duplicate
or drop deliveries deterministically. Retries and poison queues follow the host's rules:
after `max_dequeue_count` failed deliveries a message moves to `<queue>-poison`, whose
handler is a step like any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.jobs import steps
from shared.messages import poison
from shared.storage.clients import Storage

QUEUES = tuple(steps.STEPS)
POISON_QUEUES = {poison(q): q for q in steps.queues_with_poison()}


@dataclass
class Delivery:
    queue: str
    body: str
    dequeue_count: int


@dataclass
class InProcessHost:
    storage: Storage
    max_dequeue_count: int = 5
    delivered: list[Delivery] = field(default_factory=list)

    def handle(self, queue: str, body: str, dequeue_count: int = 1) -> None:
        self.delivered.append(Delivery(queue, body, dequeue_count))
        if queue in POISON_QUEUES:
            steps.handle_poison(self.storage, POISON_QUEUES[queue], body, dequeue_count)
        else:
            steps.handle(self.storage, queue, body, dequeue_count)

    def step(self, queue: str) -> bool:
        """Process one message of `queue` like the host: delete on success, else retry/poison."""
        client = self.storage.queue(queue)
        try:
            messages = list(client.receive_messages(max_messages=1, visibility_timeout=30))
        except Exception:
            return False
        if not messages:
            return False
        msg = messages[0]
        try:
            self.handle(queue, msg.content, msg.dequeue_count)
        except Exception:
            if msg.dequeue_count >= self.max_dequeue_count:
                self.storage.send(poison(queue), msg.content)
                client.delete_message(msg)
            else:
                client.update_message(msg, visibility_timeout=0)
            return True
        client.delete_message(msg)
        return True

    def run_until_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any([self.step(q) for q in (*QUEUES, *POISON_QUEUES)]):
                return
        raise TimeoutError("pipeline queues did not drain")
