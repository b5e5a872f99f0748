"""Queue names and the messages that travel on them (frozen, JSON on the wire).

Each kind of message has a format version (FORMATS; 1 unless listed), written as `v`. A
rolling update runs the old and the new code side by side, so a worker may meet a message
written by a newer one: `decode` raises NewerFormat for it, and the step leaves the message
alone (shared/jobs/steps.py puts it back with a visibility delay for an up-to-date worker to
take). A change to a message's fields that older code could not read bumps its format.
Format 1 is written without `v`, as the code before versioning wrote it and can read it.
The W3C trace context of the sending span (`traceparent`, `tracestate`: shared/telemetry.py)
rides along as envelope keys, which every format ignores when decoding.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from shared import telemetry

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
    """Publish the final-state event of `job` to its configured targets (at least once);
    `attempt` counts the failed deliveries before this one (shared/events/outbound.py)."""

    job: str
    attempt: int = 0


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
# The format this code writes and the newest it reads, per kind (1 unless listed).
FORMATS: dict[type, int] = {JobEnded: 2,  # 2: `attempt`
                             ScoreMiniBatch: 2}  # 2: `retries`


def format_of(kind: type) -> int:
    return FORMATS.get(kind, 1)


class NewerFormat(ValueError):
    """A message written by newer code than this worker's (during a rolling update)."""

    def __init__(self, kind: type, version: int):
        super().__init__(f"{kind.__name__} message of format {version}; this worker reads up "
                         f"to {format_of(kind)}")
        self.version = version


def encode(message: Message) -> str:
    version = format_of(type(message))
    fields = asdict(message) if version == 1 else {"v": version, **asdict(message)}
    return json.dumps({**fields, **telemetry.carrier()}, separators=(",", ":"))


def decode(kind: type, body: bytes | str) -> Message:
    """Decode a message body; malformed bodies raise ValueError (the host then retries/poisons),
    one of a newer format NewerFormat."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{kind.__name__} message must be a JSON object")
    for key in telemetry.CARRIER_KEYS:
        data.pop(key, None)
    version = data.pop("v", 1)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{kind.__name__} message: 'v' must be a format number, not {version!r}")
    if version > format_of(kind):
        raise NewerFormat(kind, version)
    return kind(**data)
