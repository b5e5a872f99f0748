"""The supervisor: Azurite (optional), the keys, N worker processes, restarts, clean stop.

It does not import the app itself (a worker does, as the real host leaves indexing to its
language worker): worker 0 reports the functions it found in its ready message.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost import azurite
from devhost import config as host_config
from devhost import keys as host_keys

log = logging.getLogger("devhost")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120.0
QUICK_EXIT = 5.0  # a worker that dies sooner than this after starting is crash-looping
SCORING_THREADS = "BATCH_SCORING_THREADS"  # read by scoring/sessions.py
COMPUTE_LOCKS = "BATCH_COMPUTE_LOCKS"  # likewise


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    ready: threading.Event = field(default_factory=threading.Event)
    functions: list[dict[str, Any]] = field(default_factory=list)
    indexing_error: str | None = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """True when something listens on the port. Workers bind with SO_REUSEPORT, so without
    this check a second host on the same port would silently share its connections."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


class Supervisor:
    def __init__(self, project_dir: Path, app: str, port: int | None, workers: int,
                 use_azurite: bool | None):
        self.project_dir = project_dir.resolve()
        self.app = app
        self.cfg = host_config.load(self.project_dir)
        self.port = port if port is not None else self.cfg.http_port
        if self.port == 0:
            self.port = free_port()
        self.count = workers
        storage = os.environ.get("AzureWebJobsStorage") or self.cfg.values.get(
            "AzureWebJobsStorage", "")
        self.use_azurite = (use_azurite if use_azurite is not None
                            else "usedevelopmentstorage=true" in storage.replace(" ", "").lower())
        self.workers: dict[int, Worker] = {}
        self.restart_due: dict[int, float] = {}  # dead worker → when to start a new one
        self.backoff: dict[int, float] = {}
        self.stopping = threading.Event()
        self.azurite: azurite.Azurite | None = None
        # the lock files of the machine's compute slots (scoring/sessions.machine_slot)
        self._compute_locks = tempfile.TemporaryDirectory(prefix="devhost-compute-")
        self.compute_locks = self._compute_locks.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Workers get local.settings.json `Values` as environment variables; variables that
        are already set win, as with Core Tools."""
        env = {**os.environ}
        for key, value in self.cfg.values.items():
            env.setdefault(key, value)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        # Each Azure instance has its own cores; local workers share this machine's, so each
        # gets its share for ONNX Runtime (unless the app settings say otherwise).
        env.setdefault(SCORING_THREADS, str(max(1, len(os.sched_getaffinity(0)) // self.count)))
        # More workers than cores: their runs take turns rather than time-slice one core.
        env.setdefault(COMPUTE_LOCKS, self.compute_locks)
        return env

    def spawn(self, index: int) -> Worker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devhost.worker", str(self.project_dir), self.app,
             str(self.port), str(index)],
            stdout=subprocess.PIPE, text=True, env=self.env(), cwd=self.project_dir)
        worker = Worker(index, proc)

        def read() -> None:  # the worker's stdout: its ready message, then the app's prints
            assert proc.stdout is not None
            for line in proc.stdout:
                message = _ready_message(line)
                if message is None:
                    say(line.rstrip("\n"))
                    continue
                worker.functions = message.get("functions", [])
                worker.indexing_error = message.get("indexingError")
                say(f"devhost worker {index} pid {proc.pid}")
                worker.ready.set()

        threading.Thread(target=read, daemon=True, name=f"worker-{index}-stdout").start()
        self.workers[index] = worker
        return worker

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        try:
            return self._run()
        finally:
            self.stop()

    def _run(self) -> int:
        if port_in_use(self.port):
            log.error("port %d is already in use (another host?); use --port", self.port)
            return 1
        keys = host_keys.ensure(self.project_dir)  # before any worker reads them
        if self.use_azurite:
            self.azurite = azurite.start(location=self.project_dir / ".azurite",
                                         ports={"blob": 10000, "queue": 10001, "table": 10002})
            log.info("Azurite listening on 10000-10002, data in %s",
                     self.project_dir / ".azurite")
        for i in range(self.count):
            self.spawn(i)
        deadline = time.monotonic() + START_TIMEOUT
        for worker in self.workers.values():
            while not worker.ready.wait(0.1):
                if self.stopping.is_set():
                    return 0
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    log.error("worker %d did not start (see its log above)", worker.index)
                    return 1
        say(f"devhost ready: {self.url} workers={self.count}")
        if self.workers[0].indexing_error:
            say(f"{self.workers[0].indexing_error}\nNo job functions found.")
        self._print_functions(self.workers[0].functions, keys)
        while not self.stopping.wait(0.2):
            self._restart_dead()
        return 0

    def _restart_dead(self) -> None:
        """Start a new worker for each dead one; one that keeps dying at start-up is restarted
        with a growing delay (up to 30 s) instead of in a tight loop."""
        now = time.monotonic()
        for index, worker in list(self.workers.items()):
            if worker.process.poll() is None:
                continue
            if index not in self.restart_due:
                quick = now - worker.started < QUICK_EXIT
                delay = min(30.0, max(1.0, self.backoff.get(index, 0.0) * 2)) if quick else 0.0
                self.backoff[index] = delay
                self.restart_due[index] = now + delay
                log.warning("worker %d (pid %d) exited with %s; starting a new one%s", index,
                            worker.process.pid, worker.process.returncode,
                            f" in {delay:g} s" if delay else "")
            if now >= self.restart_due[index]:
                del self.restart_due[index]
                self.spawn(index)

    def _print_functions(self, functions: list[dict[str, Any]], keys: dict) -> None:
        say("Functions:")
        for f in functions:
            say(f"  {describe(f, self.url, self.cfg.route_prefix)}")
        say(f"Keys: {host_keys.path(self.project_dir)} (masterKey, functionKeys, systemKeys)"
            f"; default function key: {keys['functionKeys']['default']}")

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers.values():
            try:
                worker.process.wait(10)
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in 10 s; killing it", worker.index)
                worker.process.kill()
                worker.process.wait()
        self.workers.clear()
        self._compute_locks.cleanup()
        if self.azurite:
            self.azurite.stop()
            self.azurite = None
        log.info("stopped")


def say(text: str) -> None:
    """One whole line (or lines) on stdout. Every worker's output thread and the main thread
    write here: `print` writes the text and its newline apart, so two threads' lines could
    merge (`...pid 20750devhost worker 1 pid 20752`) and a reader miss a worker's pid."""
    with _STDOUT:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


_STDOUT = threading.Lock()


def _ready_message(line: str) -> dict | None:
    if not line.startswith('{"ready"'):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


def describe(f: dict[str, Any], url: str, prefix: str) -> str:
    """One line per function, like `func start` prints them."""
    name, trigger = f["name"], f["trigger"]
    if trigger == "httpTrigger":
        methods = ",".join(m.upper() for m in f.get("methods") or []) or "ALL"
        path = "/".join(p for p in (prefix, f["route"]) if p)
        return f"{name}: [{methods}] {url}/{path} (auth: {f.get('authLevel') or 'function'})"
    if trigger == "queueTrigger":
        return f"{name}: queueTrigger (queue {f['queueName']})"
    if trigger == "blobTrigger":
        if str(f.get("source") or "").lower() == "eventgrid":
            return (f"{name}: blobTrigger (Event Grid) POST {url}/runtime/webhooks/blobs"
                    f"?functionName=Host.Functions.{name}&code=<systemKeys.blobs_extension>")
        return f"{name}: blobTrigger (path {f['path']})"
    if trigger == "eventGridTrigger":
        return (f"{name}: eventGridTrigger POST {url}/runtime/webhooks/eventgrid"
                f"?functionName={name}&code=<systemKeys.eventgrid_extension>")
    return f"{name}: {trigger} (not served by the local host)"
