"""One ONNX Runtime session per model per process, loaded once and reused."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import onnxruntime as ort

_lock = threading.Lock()
_sessions: OrderedDict[str, ort.InferenceSession] = OrderedDict()
MAX_SESSIONS = 4


def usable_cpus() -> int:
    """CPUs this process may run on (affinity, then a cgroup v2 quota if one is set)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            cpus = max(1, min(cpus, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cpus


def get_session(key: str, load: Callable[[], bytes]) -> ort.InferenceSession:
    with _lock:
        session = _sessions.get(key)
        if session is not None:
            _sessions.move_to_end(key)
            return session
        options = ort.SessionOptions()
        options.intra_op_num_threads = usable_cpus()
        options.inter_op_num_threads = 1
        # Several worker processes share the CPUs: threads that spin-wait after a run would
        # steal cycles from the other processes' sessions.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(load(), options, providers=["CPUExecutionProvider"])
        _sessions[key] = session
        while len(_sessions) > MAX_SESSIONS:
            _sessions.popitem(last=False)
        return session
