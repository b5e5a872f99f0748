"""Score one mini-batch: read its files, run them through the pinned model, store the result.

Per-item failures (a corrupt image, a bad row, a file deleted or changed since planning) are
recorded and the rest of the mini-batch goes on. A failure of the whole attempt (timeout,
storage outage) is retried by the queue up to `retry_settings.max_retries` times; after that
the mini-batch's files count as failed so the job still finishes.

Each attempt writes its results under its own part id and the completion names the winning
part in the mini-batch row, so an attempt that lost (a duplicate delivery, a poisoned copy)
can never overwrite what the aggregator reads.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared import config, telemetry
from shared.errors import NotFoundError
from shared.jobs import errorsfile, fanin, planning, records, scripts, sources, splitting, watchdog
from shared.jobs.lifecycle import JobStatus, Outcome, StopReason
from shared.jobs.planning import InputRef
from shared.jobs.records import JobRecord
from shared.messages import SCORE_QUEUE, ScoreMiniBatch
from shared.resources import codes, models
from shared.storage.blobreads import BlobTooLargeError
from shared.storage.clients import Storage

if TYPE_CHECKING:  # scoring (numpy, ONNX Runtime) loads with the first mini-batch
    from scoring.scorer import Scorer, ScriptScorer

log = logging.getLogger(__name__)
timing_log = logging.getLogger("batch.timing")
DOWNLOAD_THREADS = 16  # per process: more only queue up behind the GIL (bench.run shows it)
_DOWNLOADS = ThreadPoolExecutor(max_workers=DOWNLOAD_THREADS, thread_name_prefix="download")
RETRY_PAUSE_MAX = 30  # seconds before a retry, at most (1, 2, 4, ... before)
SKIP_REASONS = {StopReason.CANCELED: errorsfile.CANCELED,
                StopReason.ERROR_THRESHOLD: "not scored: error_threshold exceeded",
                StopReason.FAILED: "not scored: the job failed"}


def result_path(job: str, index: int, part: str) -> str:
    return f"{job}/results/{index:08d}.{part}.csv"


def errors_path(job: str, index: int, part: str) -> str:
    return f"{job}/results/{index:08d}.{part}.errors.csv"


def scorer(storage: Storage, job: JobRecord) -> Scorer | ScriptScorer:
    """The job's pinned deployment snapshot as a Scorer (a ScriptScorer for scripts)."""
    from scoring.scorer import for_snapshot

    model = job.deployment["model"]
    code = job.deployment.get("code") or {}
    return for_snapshot(job.deployment, lambda: models.read_bytes(storage, model),
                        lambda: codes.read_bytes(storage, code["sha256"]),
                        int(job.settings["max_concurrency_per_instance"]),
                        job.settings.get("environment_variables"),
                        job.settings.get("logging_level", "info"))


def score_minibatch(storage: Storage, msg: ScoreMiniBatch, dequeue_count: int) -> None:
    clock = Stopwatch(queued=max(0.0, time.time() - msg.sent) if msg.sent else 0.0)
    job = records.load(storage, msg.job)
    watchdog.revive_if_overdue(storage, job)
    got = records.get_minibatch(storage, msg.job, msg.index)
    if got is None:
        raise NotFoundError(f"job {msg.job} has no mini-batch {msg.index}")
    row = got[0]
    if not records.pending(row):
        fanin.after_completion(storage, job, msg.index)  # a redelivery: finish what follows
        return
    if job.stop_reason or job.status == JobStatus.FINALIZING or job.status.terminal:
        fanin.skip(storage, job.name, msg.index,
                   SKIP_REASONS.get(job.stop_reason, errorsfile.CANCELED))
        return
    refs = planning.files_of(storage, row)
    clock.lap("read_state")
    retry = job.settings["retry_settings"]
    try:
        rows_csv, failures, items_ok = score_refs(storage, job, refs,
                                                  time.monotonic() + retry["timeout"],
                                                  clock=clock, index=msg.index)
    except Exception as e:
        scripts.log_failure(storage, job.name, msg.index, e)
        if retry_again(storage, job, msg, f"attempt {msg.retries + 1} failed: {e}"):
            return
        fail_minibatch(storage, job.name, msg.index, f"mini-batch failed after "
                       f"{msg.retries + 1} attempts: {type(e).__name__}: {e}",
                       errorsfile.Kind.ATTEMPTS)
        return
    part = store_result(storage, job.name, msg.index, rows_csv, failures)
    clock.lap("write")
    fanin.complete(storage, job.name, msg.index, Outcome.DONE, items_ok, len(failures),
                   part=part, read=(job, got))
    clock.lap("commit_dispatch")
    telemetry.mini_batch_scored(job, len(refs), items_ok, len(failures),
                                time.time() - clock.began, clock.phases.get("queued", 0.0))
    timing_log.info("mini-batch timing %s", clock.report(job=job.name, index=msg.index,
                                                          items=len(refs)))


def store_result(storage: Storage, job_name: str, index: int, rows_csv: bytes,
                 failures: list[tuple[str, str, str]]) -> str:
    """Write an attempt's result part (and its items' failures) under a new part id."""
    part = uuid.uuid4().hex[:12]
    storage.put(config.JOBS_CONTAINER, result_path(job_name, index, part), rows_csv)
    if failures:
        storage.put(config.JOBS_CONTAINER, errors_path(job_name, index, part),
                    errorsfile.lines(failures))
    return part


class Stopwatch:
    """Where one mini-batch's wall time went, in seconds per phase (logged as one JSON line
    by the `batch.timing` logger: Application Insights keeps it, bench.run reads it)."""

    def __init__(self, **known: float):
        self.phases = dict(known)
        self.mark = time.perf_counter()
        self.began = time.time()  # epoch seconds: where the job's own start and end went

    def lap(self, phase: str, parts: dict[str, float] | None = None) -> None:
        """Time since the last lap goes to `phase`, less what `parts` accounts for."""
        now = time.perf_counter()
        spent = now - self.mark
        for part, seconds in (parts or {}).items():
            self.phases[part] = self.phases.get(part, 0.0) + seconds
            spent -= seconds
        self.phases[phase] = self.phases.get(phase, 0.0) + max(0.0, spent)
        telemetry.phases(phase, max(0.0, spent), parts, self.mark, now)  # child spans
        self.mark = now

    def report(self, **about: object) -> str:
        return json.dumps({**about, "began": round(self.began, 3), "ended": round(time.time(), 3),
                           **{k: round(v, 5) for k, v in self.phases.items()}})


def retry_again(storage: Storage, job: JobRecord, msg: ScoreMiniBatch, why: str) -> bool:
    """Send the mini-batch again as a fresh copy (after a pause that grows) while its
    retry_settings.max_retries last; False when they are used up. Counted in the message,
    not in the host's dequeue count: deliveries that died (a worker killed, a lease that
    ran out) are the host's to repeat, up to maxDequeueCount, and a copy it gave up on is
    one retry (steps.py)."""
    retry = job.settings["retry_settings"]
    if msg.retries >= int(retry["max_retries"]):
        return False
    log.warning("job %s mini-batch %d: %s; retry %d/%d", job.name, msg.index, why,
                msg.retries + 1, retry["max_retries"])
    pause = min(RETRY_PAUSE_MAX, 2 ** msg.retries)
    # the watchdog leaves a mini-batch waiting for its retry alone (watchdog.resend)
    records.mark_minibatch(storage, job.name, msg.index, {
        "retry_until": time.time() + pause + float(retry["timeout"])})
    storage.send(SCORE_QUEUE, ScoreMiniBatch(job.name, msg.index, msg.retries + 1),
                 delay=pause)
    return True


def fail_minibatch(storage: Storage, job_name: str, index: int, reason: str,
                   kind: errorsfile.Kind) -> None:
    """Count the mini-batch as failed (its files are listed with `reason` and `kind` by
    the aggregator); a mini-batch that finished already keeps its results."""
    got = records.get_minibatch(storage, job_name, index)
    if got is None:
        raise NotFoundError(f"job {job_name} has no mini-batch {index}")
    if not records.pending(got[0]):
        fanin.complete(storage, job_name, index, Outcome.FAILED)  # changes nothing
        return
    records.log(storage, job_name, f"mini-batch {index}: {errorsfile.clean_reason(reason)}")
    fanin.complete(storage, job_name, index, Outcome.FAILED, 0, int(got[0]["file_count"]),
                   reason, kind=kind)


def relative_name(job: JobRecord, blob_name: str) -> str:
    """A file's name as users see it in outputs: relative to the input folder."""
    source = job.input
    if source["type"] == "uri_folder" and source["path"]:
        return blob_name[len(source["path"]) + 1:]
    return blob_name.rsplit("/", 1)[-1] if source["type"] == "uri_file" else blob_name


def score_refs(storage: Storage, job: JobRecord, refs: list[InputRef],
               deadline: float | None, clock: Stopwatch | None = None,
               index: int | None = None) -> tuple[bytes, list[tuple[str, str, str]], int]:
    """Score the files (only the listed rows where a ref names rows; only its range where a
    ref is a range of a table): CSV rows, failures as (file_name, row, reason), and the
    number of rows scored. Rows are numbered in the whole file. A scoring script gets the
    whole files (shared/jobs/scripts.py)."""
    from scoring.scorer import InputFile, ScriptScorer

    clock = clock or Stopwatch()
    scoring = scorer(storage, job)
    where = sources.for_job(storage, job.name, job.input)
    container = job.input["container"]
    downloaded = list(_DOWNLOADS.map(lambda ref: _download(where, container, ref), refs))
    clock.lap("download")
    failures: list[tuple[str, str, str]] = []
    inputs = []
    wanted: dict[str, set[int]] = {}
    for ref, data, problem in downloaded:
        name = relative_name(job, ref.name)
        if problem:
            failures += [(name, row, problem) for row in ref.failed_rows()]
            continue
        inputs.append(InputFile(name=name, data=data,
                                first_row=ref.part.first_row if ref.part else 0))
        if ref.rows is not None:
            wanted.setdefault(name, set()).update(ref.rows)
    if isinstance(scoring, ScriptScorer):
        rows_csv, script_failures, items_ok = scripts.score(storage, job, index, scoring,
                                                            inputs, deadline)
        clock.lap("script")
        return rows_csv, failures + script_failures, items_ok
    result = scoring.score(inputs, deadline)
    clock.lap("score_other", parts=result.timings)

    def kept(file_name: str, row: int | None) -> bool:
        return file_name not in wanted or row is None or row in wanted[file_name]

    rows = [r for r in result.rows if kept(r.file_name, r.row)]
    failures += [(e.file_name, "" if e.row is None else str(e.row), e.reason)
                 for e in result.errors if kept(e.file_name, e.row)]
    return scoring.rows_csv(rows), failures, len(rows)


def _download(where: sources.InputStore, container: str, ref: InputRef
              ) -> tuple[InputRef, bytes, str]:
    """The version planning listed (only the range's bytes, for a range), or why it cannot
    be had."""
    try:
        if ref.part is not None:
            blob = where.container.get_blob_client(ref.name)
            pinned = ({"etag": ref.etag, "match_condition": MatchConditions.IfNotModified}
                      if ref.etag else {})
            return ref, splitting.read_part(blob, ref.part, pinned), ""
        return ref, where.reads.get(container, ref.name, etag=ref.etag,
                                    limit=config.MAX_INPUT_FILE_BYTES), ""
    except ResourceNotFoundError:
        return ref, b"", "file not found (deleted after the job was planned?)"
    except ResourceModifiedError:
        return ref, b"", (f"file changed after the job was planned: version {ref.etag} "
                          "is gone (retry the job's failed items to score the new one)")
    except splitting.UnreadableRange as e:
        return ref, b"", str(e)
    except BlobTooLargeError:
        return ref, b"", f"file is larger than {config.MAX_INPUT_FILE_BYTES} bytes"
