"""One ONNX Runtime session per model per process, loaded once and reused, and the process's
compute slots.

Sessions are keyed by the model's sha256 and kept in a small LRU. Loading happens outside the
cache lock (a big model does not stall lookups of others) but under a per-model lock, so two
threads asking for the same new model load it once.

A session run already uses every thread it is given, so two mini-batches computing at once in
one process only fight over the same cores. Runs therefore take a compute slot
(`BATCH_SCORING_SLOTS`, default 1): the other mini-batches of the process download and decode
meanwhile, which is what keeps the cores busy between mini-batches.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort

MAX_SESSIONS = 4

_lock = threading.Lock()
_slots = threading.BoundedSemaphore(max(1, int(os.environ.get("BATCH_SCORING_SLOTS") or 1)))
_sessions: OrderedDict[str, ort.InferenceSession] = OrderedDict()
_loading: dict[str, threading.Lock] = {}


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


def compute_slot() -> threading.BoundedSemaphore:
    """Held while a mini-batch runs through ONNX Runtime (a context manager)."""
    return _slots


def intra_op_threads() -> int:
    """`BATCH_SCORING_THREADS` if set (e.g. an instance's share of the cores where several
    worker processes share them), else every CPU this process may use."""
    setting = (os.environ.get("BATCH_SCORING_THREADS") or "").strip()
    return max(1, int(setting)) if setting else usable_cpus()


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads()
    options.inter_op_num_threads = 1
    # Several worker processes share the CPUs: threads that spin-wait after a run would
    # steal cycles from the other processes' sessions.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def get_session(key: str, load: Callable[[], bytes]) -> ort.InferenceSession:
    """The session for model `key` (its sha256); `load` gives the ONNX bytes on a miss."""
    with _lock:
        session = _sessions.get(key)
        if session is not None:
            _sessions.move_to_end(key)
            return session
        loading = _loading.setdefault(key, threading.Lock())
    with loading:
        with _lock:
            session = _sessions.get(key)
        if session is None:
            session = ort.InferenceSession(load(), session_options(),
                                           providers=["CPUExecutionProvider"])
            with _lock:
                _sessions[key] = session
                _sessions.move_to_end(key)
                while len(_sessions) > MAX_SESSIONS:
                    _sessions.popitem(last=False)
    with _lock:
        _loading.pop(key, None)
    return session
