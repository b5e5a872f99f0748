"""Children that run scoring scripts: started on first use, kept while they work, killed on
a timeout or a crash (the next mini-batch starts a new one, which runs init() again).

A child serves one deployment version (its code, script, model and environment variables:
the `key`) in one worker process; up to `max_concurrency_per_instance` children of a key
run at once, as Azure ML runs that many processes per node, each with its own init().
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scoring.errors import MiniBatchTimeoutError, ScriptError

MAX_KEYS = 4  # deployment versions with live children per worker process
HIDDEN = {"BATCH_MASTER_KEY"}  # settings a script has no use for (docs/security.md)
_EOF = object()


@dataclass(frozen=True)
class ScriptSpec:
    """What a child runs: the code folder, the script in it, and its environment."""

    key: str
    code_dir: Path
    script: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    """A child's answer: the results (None when it failed) and the log records it sent."""

    results: list[str] | None
    logs: list[dict[str, str]]
    error: str = ""
    traceback: str = ""


class ScriptProcess:
    def __init__(self, spec: ScriptSpec, deadline: float | None):
        env = {**{k: v for k, v in os.environ.items() if k not in HIDDEN},
               **spec.env, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(),
                                                        env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scoring.scripts.child", str(spec.code_dir), spec.script],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=spec.code_dir,
            text=True, encoding="utf-8", bufsize=1)
        self._lines: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True, name="script-child").start()
        self.init_logs: list[dict[str, str]] = []
        started = self._answer(deadline, "init()")
        self.init_logs = started.logs
        if started.results is None:
            self.kill()
            raise ScriptError(f"init() failed: {started.error}", started.traceback,
                              started.logs)

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(_EOF)

    def run(self, files: list[str], output_dir: Path, deadline: float | None) -> Answer:
        assert self.process.stdin
        try:
            self.process.stdin.write(json.dumps({"files": files,
                                                 "output_dir": str(output_dir)}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self.kill()
            raise ScriptError("the scoring script's process has ended", "", []) from None
        return self._answer(deadline, "run()")

    def _answer(self, deadline: float | None, what: str) -> Answer:
        logs: list[dict[str, str]] = []
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                line = self._lines.get(timeout=wait)
            except queue.Empty:
                self.kill()
                raise MiniBatchTimeoutError(
                    f"{what} ran past retry_settings.timeout; its process was killed", logs
                ) from None
            if line is _EOF:
                code = self.process.wait()
                raise ScriptError(f"the scoring script's process ended during {what} "
                                  f"(exit code {code})", "", logs)
            message = json.loads(line)
            if "log" in message:
                logs.append(message["log"])
            elif "failed" in message:
                return Answer(None, logs, message["error"], message["traceback"])
            elif "ready" in message:
                return Answer([], logs)
            else:
                return Answer(list(message["results"]), logs)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Pool:
    """Idle children per key; a key's children are capped at its concurrency."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._idle: dict[str, list[ScriptProcess]] = {}
        self._busy: dict[str, int] = {}
        self._order: list[str] = []

    def run(self, spec: ScriptSpec, concurrency: int, deadline: float | None,
            use: Callable[[ScriptProcess], Answer]) -> tuple[Answer, list[dict[str, str]]]:
        """`use` one child of the key (a new one, after its init(), if none is idle);
        returns its answer and the logs of an init() that ran for it."""
        child, init_logs = self._take(spec, concurrency, deadline)
        try:
            answer = use(child)
        except BaseException:
            child.kill()
            self._give_back(spec.key, None)
            raise
        self._give_back(spec.key, child if child.alive else None)
        return answer, init_logs

    def _take(self, spec: ScriptSpec, concurrency: int, deadline: float | None
              ) -> tuple[ScriptProcess, list[dict[str, str]]]:
        with self._lock:
            while True:
                idle = self._idle.get(spec.key) or []
                while idle and not idle[-1].alive:
                    idle.pop()
                if idle:
                    self._busy[spec.key] = self._busy.get(spec.key, 0) + 1
                    return idle.pop(), []
                if self._busy.get(spec.key, 0) < concurrency:
                    self._busy[spec.key] = self._busy.get(spec.key, 0) + 1
                    self._touch(spec.key)
                    break
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise MiniBatchTimeoutError("no scoring-script process became free "
                                                "before retry_settings.timeout", [])
                self._lock.wait(wait)
        try:
            child = ScriptProcess(spec, deadline)
        except BaseException:
            self._give_back(spec.key, None)
            raise
        return child, child.init_logs

    def _give_back(self, key: str, child: ScriptProcess | None) -> None:
        with self._lock:
            self._busy[key] = max(0, self._busy.get(key, 0) - 1)
            if child is not None:
                self._idle.setdefault(key, []).append(child)
            self._lock.notify_all()

    def _touch(self, key: str) -> None:
        """Keep the children of the MAX_KEYS most recent keys; idle others are stopped."""
        if key in self._order:
            self._order.remove(key)
        self._order.append(key)
        for old in self._order[:-MAX_KEYS]:
            if self._busy.get(old, 0) == 0:
                for child in self._idle.pop(old, []):
                    child.kill()
                self._order.remove(old)


def _package_root() -> str:
    """The folder holding the `scoring` package, so the child imports this checkout's."""
    return str(Path(__file__).resolve().parents[2])


POOL = Pool()
