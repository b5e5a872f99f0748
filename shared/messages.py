"""Queue names and the messages that travel on them (frozen, JSON on the wire)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

PLAN_QUEUE = "batch-plan"
SCORE_QUEUE = "batch-score"
AGGREGATE_QUEUE = "batch-aggregate"
EVENTS_QUEUE = "batch-events"
DROPS_QUEUE = "batch-drops"
CHECK_QUEUE = "batch-check"
ALL_QUEUES = (PLAN_QUEUE, SCORE_QUEUE, AGGREGATE_QUEUE, EVENTS_QUEUE, DROPS_QUEUE, CHECK_QUEUE)


def poison(queue: str) -> str:
    """The queue the Functions host moves a message to after maxDequeueCount failures."""
    return f"{queue}-poison"


@dataclass(frozen=True)
class PlanPage:
    """List one page of a job's input, starting at `continuation` (None = the first page)."""

    job: str
    page: int = 0
    continuation: str | None = None


@dataclass(frozen=True)
class ScoreMiniBatch:
    """Score mini-batch `index` of `job`; its file list lives in the job's table partition.
    `retries` counts the mini-batch's retries in the service itself (a failed attempt, or a
    copy the host gave up on, is followed by a fresh copy), so retry_settings.max_retries is
    not capped by the host's maxDequeueCount. `sent` (epoch seconds) lets the step log how
    long the message waited."""

    job: str
    index: int
    retries: int = 0  # of retry_settings.max_retries, used by the copies before this one
    sent: float = field(default_factory=time.time, compare=False)


@dataclass(frozen=True)
class AggregateJob:
    """Merge the per-mini-batch results of `job` into its outputs (idempotent)."""

    job: str


@dataclass(frozen=True)
class JobEnded:
    """Publish the final-state event of `job` to its configured targets (at least once)."""

    job: str


@dataclass(frozen=True)
class QuietCheck:
    """Has drop group `group` been quiet long enough to become a job?"""

    group: str


@dataclass(frozen=True)
class CheckJob:
    """Has `job` moved since `progress` (the watchdog's last look)? If not, nudge it."""

    job: str
    progress: str = ""


Message = PlanPage | ScoreMiniBatch | AggregateJob | JobEnded | QuietCheck | CheckJob


def encode(message: Message) -> str:
    return json.dumps(asdict(message), separators=(",", ":"))


def decode(kind: type, body: bytes | str) -> Message:
    """Decode a message body; malformed bodies raise ValueError (the host then retries/poisons)."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__} message must be a JSON object")
    return kind(**data)
