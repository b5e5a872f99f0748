"""The supervisor: Azurite (optional), the keys, N worker processes, restarts, clean stop."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devhost import azurite
from devhost import config as host_config
from devhost import keys as host_keys
from devhost.functions import load_app

log = logging.getLogger("devhost")
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Worker:
    index: int
    process: subprocess.Popen
    ready: threading.Event = field(default_factory=threading.Event)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        storage = self.cfg.values.get("AzureWebJobsStorage") or os.environ.get(
            "AzureWebJobsStorage", "")
        self.use_azurite = (use_azurite if use_azurite is not None
                            else "usedevelopmentstorage=true" in storage.replace(" ", "").lower())
        self.workers: dict[int, Worker] = {}
        self.stopping = threading.Event()
        self.azurite: azurite.Azurite | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ}
        for key, value in self.cfg.values.items():
            env.setdefault(key, value)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    def spawn(self, index: int) -> Worker:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devhost.worker", str(self.project_dir), self.app,
             str(self.port), str(index)],
            stdout=subprocess.PIPE, text=True, env=self.env(), cwd=self.project_dir)
        worker = Worker(index, proc)

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    ready = "ready" in json.loads(line)
                except ValueError:
                    ready = False
                if ready:
                    print(f"devhost worker {index} pid {proc.pid}", flush=True)
                    worker.ready.set()
                else:
                    sys.stdout.write(line)

        threading.Thread(target=read, daemon=True).start()
        self.workers[index] = worker
        return worker

    def run(self) -> int:
        keys = host_keys.ensure(self.project_dir)
        if self.use_azurite:
            self.azurite = azurite.start(location=self.project_dir / ".azurite",
                                         ports={"blob": 10000, "queue": 10001, "table": 10002})
            log.info("Azurite listening on 10000-10002, data in %s",
                     self.project_dir / ".azurite")
        specs = load_app(self.project_dir, self.app)  # fail fast, before any worker starts
        for i in range(self.count):
            self.spawn(i)
        deadline = time.monotonic() + 120
        for worker in self.workers.values():
            while not worker.ready.wait(0.1):
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    log.error("worker %d did not start", worker.index)
                    self.stop()
                    return 1
        url = f"http://127.0.0.1:{self.port}"
        print(f"devhost ready: {url} workers={self.count}", flush=True)
        print("Functions:", flush=True)
        for spec in specs:
            print(f"  {spec.describe}", flush=True)
        print(f"Keys: {host_keys.path(self.project_dir)} (function key: "
              f"{keys['functionKeys']['default']})", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: self.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: self.stopping.set())
        while not self.stopping.wait(0.2):
            for index, worker in list(self.workers.items()):
                code = worker.process.poll()
                if code is not None and not self.stopping.is_set():
                    log.warning("worker %d (pid %d) exited with %s; starting a new one", index,
                                worker.process.pid, code)
                    self.spawn(index)
        self.stop()
        return 0

    def stop(self) -> None:
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers.values():
            try:
                worker.process.wait(10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        if self.azurite:
            self.azurite.stop()
        log.info("stopped")
