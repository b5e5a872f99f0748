"""ONNX Runtime sessions, loaded once per process and reused, and the process's compute
slots.

Sessions are keyed by the model's sha256 (and their thread count) and kept in a small LRU.
Loading happens outside the cache lock (a big model does not stall lookups of others) but
under a per-model lock, so two threads asking for the same new model load it once.

A process has `BATCH_SCORING_THREADS` cores for ONNX Runtime (default: every CPU it may
use). A deployment's `max_concurrency_per_instance` (Azure ML: scoring processes per node)
splits them: that many mini-batches compute at once, each on cores ÷ concurrency threads,
and the other mini-batches of the process download and decode meanwhile. Runs on single
threads are the better use of shared cores: a parallel run waits at every operator for its
slowest thread, and with storage or downloads on the same cores one thread is always late.

Several worker processes on one machine (the local host's workers, or
`FUNCTIONS_WORKER_PROCESS_COUNT` > 1) each see every core. When `BATCH_COMPUTE_LOCKS` names
a directory they share, runs also take one of the machine's slots there (cores ÷ threads per
run, as file locks): more runs than cores would only time-slice, and two ResNet-18 runs
sharing one core cost 5.5% more CPU each than one after the other.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path

import onnxruntime as ort

MAX_SESSIONS = 4

_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}
_sessions: OrderedDict[tuple[str, int], ort.InferenceSession] = OrderedDict()
_loading: dict[tuple[str, int], threading.Lock] = {}


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, capped by a cgroup CPU quota if set."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(cpus, math.floor(quota))) if quota else cpus


def _cgroup_quota() -> float | None:
    """CPUs allowed by cgroup v2 (`cpu.max`) or v1 (`cfs_quota_us`/`cfs_period_us`)."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        v1 = Path("/sys/fs/cgroup/cpu")
        quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
        period_us = int((v1 / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def compute_slot(concurrency: int = 1) -> threading.BoundedSemaphore:
    """Held while a mini-batch is decoded and run through ONNX Runtime (a context manager):
    `concurrency` mini-batches of deployments with that max_concurrency_per_instance at once."""
    concurrency = max(1, concurrency)
    with _lock:
        return _slots.setdefault(concurrency, threading.BoundedSemaphore(concurrency))


@contextlib.contextmanager
def machine_slot(threads: int) -> Iterator[None]:
    """Held around a run of `threads` threads: one of the machine's `usable_cpus() ÷ threads`
    slots in `BATCH_COMPUTE_LOCKS`, shared by every process given that directory (none if
    unset). A lock file's lock goes with its process, so a worker that dies frees its slot."""
    folder = (os.environ.get("BATCH_COMPUTE_LOCKS") or "").strip()
    if not folder:
        yield
        return
    slots = max(1, usable_cpus() // max(1, threads))
    paths = [Path(folder) / f"slot-{i}.lock" for i in range(slots)]
    start = (os.getpid() + threading.get_ident()) % slots  # spread the first tries
    opened = []
    try:
        held = None
        for path in paths[start:] + paths[:start]:  # a free slot if there is one
            opened.append(f := open(path, "a+b"))  # noqa: SIM115 - closed below
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = f
                break
            except BlockingIOError:
                continue
        if held is None:  # every slot taken: wait for the first one tried
            held = opened[0]
            fcntl.flock(held, fcntl.LOCK_EX)
        for f in opened:
            if f is not held:
                f.close()
        yield
    finally:
        for f in opened:
            f.close()  # closing the held one releases its lock


def intra_op_threads(concurrency: int = 1) -> int:
    """Threads of one run: the process's cores — `BATCH_SCORING_THREADS` if set (e.g. an
    instance's share where several worker processes share them), else every CPU it may use —
    shared by `concurrency` runs at once."""
    setting = (os.environ.get("BATCH_SCORING_THREADS") or "").strip()
    cores = max(1, int(setting)) if setting else usable_cpus()
    return max(1, cores // max(1, concurrency))


def session_options(threads: int | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or intra_op_threads()
    options.inter_op_num_threads = 1
    # Several worker processes share the CPUs: threads that spin-wait after a run would
    # steal cycles from the other processes' sessions.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def get_session(key: str, load: Callable[[], bytes], concurrency: int = 1
                ) -> ort.InferenceSession:
    """The session for model `key` (its sha256) sized for `concurrency` runs at once; `load`
    gives the ONNX bytes on a miss."""
    cache_key = (key, intra_op_threads(concurrency))
    with _lock:
        session = _sessions.get(cache_key)
        if session is not None:
            _sessions.move_to_end(cache_key)
            return session
        loading = _loading.setdefault(cache_key, threading.Lock())
    with loading:
        with _lock:
            session = _sessions.get(cache_key)
        if session is None:
            session = ort.InferenceSession(load(), session_options(cache_key[1]),
                                           providers=["CPUExecutionProvider"])
            with _lock:
                _sessions[cache_key] = session
                _sessions.move_to_end(cache_key)
                while len(_sessions) > MAX_SESSIONS:
                    _sessions.popitem(last=False)
    with _lock:
        _loading.pop(cache_key, None)
    return session
