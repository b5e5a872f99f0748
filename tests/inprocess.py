"""An in-process stand-in for the queue host, in addition to the real one (devhost).

It drains the pipeline queues of a real Azurite and calls the same plain functions the
queue triggers call, one message at a time, so tests can reorder, duplicate or drop
deliveries deterministically. Retries and poison handling follow the host's rules.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from shared.events import drops, outbound
from shared.jobs import aggregate, fanin, minibatch, planning, records
from shared.messages import (
    AGGREGATE_QUEUE,
    DROPS_QUEUE,
    EVENTS_QUEUE,
    PLAN_QUEUE,
    SCORE_QUEUE,
    AggregateJob,
    JobEnded,
    PlanPage,
    QuietCheck,
    ScoreMiniBatch,
    decode,
)
from shared.storage.clients import Storage

QUEUES = (PLAN_QUEUE, SCORE_QUEUE, AGGREGATE_QUEUE, EVENTS_QUEUE, DROPS_QUEUE)


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
        if queue == PLAN_QUEUE:
            planning.plan_page(self.storage, decode(PlanPage, body))
        elif queue == SCORE_QUEUE:
            minibatch.score_minibatch(self.storage, decode(ScoreMiniBatch, body), dequeue_count)
        elif queue == AGGREGATE_QUEUE:
            aggregate.aggregate(self.storage, decode(AggregateJob, body))
        elif queue == EVENTS_QUEUE:
            outbound.publish(self.storage, decode(JobEnded, body).job)
        elif queue == DROPS_QUEUE:
            drops.quiet_check(self.storage, decode(QuietCheck, body))
        else:
            raise ValueError(queue)

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
                self._poisoned(queue, msg.content)
                client.delete_message(msg)
            else:
                client.update_message(msg, visibility_timeout=0)
            return True
        client.delete_message(msg)
        return True

    def _poisoned(self, queue: str, body: str) -> None:
        if queue == SCORE_QUEUE:
            m = decode(ScoreMiniBatch, body)
            minibatch.fail_minibatch(self.storage, records.load(self.storage, m.job), m.index,
                                     None, "the scoring message was poisoned")
        elif queue in (PLAN_QUEUE, AGGREGATE_QUEUE):
            fanin.fail_job(self.storage, decode(PlanPage if queue == PLAN_QUEUE
                                                else AggregateJob, body).job, "poisoned")

    def run_until_idle(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any([self.step(q) for q in QUEUES]):
                return
        raise TimeoutError("pipeline queues did not drain")
