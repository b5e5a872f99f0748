"""Running the local host from tests: a real `python -m devhost start` process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devhost import config as host_config
from devhost import keys as host_keys
from devhost.supervisor import PACKAGE_ROOT


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail with `message` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def make_project(folder: Path, app_file: Path, connection_string: str,
                 values: dict[str, str] | None = None,
                 host_json: Path | dict | None = None) -> Path:
    """A throw-away project folder serving `app_file` (linked as function_app.py) against the
    given storage; `host_json` is a file to copy or the document itself."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").symlink_to(app_file.resolve())
    if isinstance(host_json, dict):
        (folder / "host.json").write_text(json.dumps(host_json))
    elif host_json is not None:
        shutil.copy(host_json, folder / "host.json")
    settings = {"AzureWebJobsStorage": connection_string, "FUNCTIONS_WORKER_RUNTIME": "python",
                **(values or {})}
    (folder / "local.settings.json").write_text(json.dumps({"IsEncrypted": False,
                                                            "Values": settings}))
    return folder


class HostProcess:
    """A real `python -m devhost start` for tests (the product's too), on a free port.

        with HostProcess(project_dir, app="function_app", workers=2, env={...}) as host:
            httpx.get(f"{host.api}/jobs", headers={"x-functions-key": host.function_key})

    `.url`, `.api` (url + routePrefix), `.keys`, `.function_key`, `.master_key`, `.logs()`,
    `.wait_for_log(text)`, `.worker_pids()`, `.kill_worker(i)`, `.stop()` / `.start()`.
    `env` adds to this process's environment (dev-host knobs, app settings that override
    local.settings.json, `AzureFunctionsJobHost__...` overrides of host.json).
    """

    def __init__(self, project_dir: Path, app: str = "function_app", *, workers: int = 1,
                 env: dict[str, str] | None = None, start_timeout: float = 60.0,
                 port: int = 0):
        self.project_dir = Path(project_dir)
        self.app = app
        self.workers = workers
        self.extra_env = env or {}
        self.start_timeout = start_timeout
        self.port = port
        self.lines: list[str] = []
        self.pids: dict[int, int] = {}
        self.keys: dict = {}
        self.url = ""
        self.returncode: int | None = None
        self.process: subprocess.Popen | None = None
        self._ready = threading.Event()

    def __enter__(self) -> HostProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        # The project's local.settings.json names its storage; a connection string left in
        # this process's environment (by a benchmark or fixture) must not override it.
        env = {k: v for k, v in os.environ.items() if k != "AzureWebJobsStorage"}
        env.update(self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT),
                                                        env.get("PYTHONPATH", "")) if p)
        self._ready.clear()
        self.pids.clear()
        self.returncode = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devhost", "start", "--project-dir", str(self.project_dir),
             "--app", self.app, "--port", str(self.port), "--workers", str(self.workers),
             "--no-azurite"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=self.project_dir, start_new_session=True)
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()
        try:
            wait_for(lambda: self._ready.is_set() or self.process.poll() is not None,
                     self.start_timeout, message="the host to start")
        except TimeoutError:
            self.stop()
            raise
        if not self._ready.is_set():
            raise RuntimeError("the host did not start:\n" + "\n".join(self.lines[-40:]))
        self.keys = host_keys.load(self.project_dir)
        self.route_prefix = host_config.load(self.project_dir, env).route_prefix

    def _pump(self, process: subprocess.Popen) -> None:
        assert process.stdout
        for line in process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            # searched, not matched at the start: the pipe also carries the workers' stderr
            for m in re.finditer(r"devhost worker (\d+) pid (\d+)", line):
                self.pids[int(m.group(1))] = int(m.group(2))
            m = re.search(r"devhost ready: (\S+)", line)
            if m:
                self.url = m.group(1)
                self._ready.set()

    @property
    def function_key(self) -> str:
        return self.keys["functionKeys"]["default"]

    @property
    def master_key(self) -> str:
        return self.keys["masterKey"]

    @property
    def api(self) -> str:
        """The base URL of HTTP functions: url + routePrefix."""
        return "/".join(p for p in (self.url, self.route_prefix) if p)

    def logs(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, text: str, timeout: float = 30.0) -> str:
        """The first log line containing `text` (waits for it)."""
        return wait_for(lambda: next((line for line in list(self.lines) if text in line),
                                     None), timeout, message=f"a log line with {text!r}")

    def worker_pids(self) -> dict[int, int]:
        return dict(self.pids)

    def kill_worker(self, index: int) -> int:
        """SIGKILL a worker (a crash); returns its pid. The supervisor starts a new one:
        `wait_for(lambda: host.worker_pids()[index] != pid)`. ProcessLookupError when that
        worker is not running (dead, and its successor not ready yet)."""
        pid = self.pids.get(index)
        if pid is None:
            raise ProcessLookupError(f"worker {index} has not reported a pid yet")
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> int | None:
        """Ctrl-C the host (it stops its workers) and wait; returns its exit status."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            self.returncode = self.process.returncode
        return self.returncode
