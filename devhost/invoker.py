"""Calling a user function as the Python worker does: parameters by binding name, a fresh
`Out` per output binding written only when the function returns without raising, sync
functions in a thread pool and async ones on the loop, `functionTimeout` enforced."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from devhost.functions import FunctionSpec

log = logging.getLogger("devhost")


class OutValue(func.Out):
    def __init__(self) -> None:
        self._value: Any = None
        self.was_set = False

    def set(self, val: Any) -> None:
        self._value = val
        self.was_set = True

    def get(self) -> Any:
        return self._value


@dataclass
class InvocationContext:
    """What `func.Context` offers a function (the worker's own class is internal)."""

    invocation_id: str
    function_name: str
    function_directory: str
    trace_context: Any = None
    retry_context: Any = None
    thread_local_storage: Any = None


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: Any = None
    error: BaseException | None = None


class Invoker:
    """Runs invocations and logs one line each; `on_timeout` is told when one overran
    `functionTimeout` (the worker then restarts, as the real host restarts its language
    worker)."""

    def __init__(self, worker_id: int, timeout: float | None, project_dir: str,
                 write_outputs: Callable[[FunctionSpec, dict[str, OutValue], dict], Any],
                 on_timeout: Callable[[], None] = lambda: None):
        self.worker_id = worker_id
        self.timeout = timeout
        self.project_dir = project_dir
        self.write_outputs = write_outputs
        self.on_timeout = on_timeout
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="invoke")

    async def invoke(self, spec: FunctionSpec, trigger_value: Any,
                     metadata: dict[str, Any] | None = None) -> Outcome:
        invocation_id = str(uuid.uuid4())
        outs = {o["name"]: OutValue() for o in spec.outputs}
        kwargs: dict[str, Any] = {}
        for name in spec.params:
            if name == spec.trigger["name"]:
                kwargs[name] = trigger_value
            elif name == "context":
                kwargs[name] = InvocationContext(invocation_id, spec.name, self.project_dir)
            elif name in outs:
                kwargs[name] = outs[name]
        started = time.perf_counter()
        try:
            if spec.is_async:
                call = spec.user_function(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                call = loop.run_in_executor(self.pool, lambda: spec.user_function(**kwargs))
            result = await asyncio.wait_for(call, self.timeout)
            if outs:
                await asyncio.get_running_loop().run_in_executor(
                    self.pool, self.write_outputs, spec, outs, metadata or {})
        except TimeoutError as e:
            self._log(spec, invocation_id, started,
                      f"Failed (Timeout value of {self.timeout:g} s exceeded; "
                      "restarting the worker)")
            self.on_timeout()
            return Outcome(ok=False, error=e)
        except Exception as e:
            self._log(spec, invocation_id, started, f"Failed ({type(e).__name__}: {e})", exc=e)
            return Outcome(ok=False, error=e)
        self._log(spec, invocation_id, started, "Succeeded")
        return Outcome(ok=True, result=result)

    def _log(self, spec: FunctionSpec, invocation_id: str, started: float, outcome: str,
             exc: BaseException | None = None) -> None:
        ms = (time.perf_counter() - started) * 1000
        level = logging.INFO if outcome == "Succeeded" else logging.ERROR
        log.log(level, "worker=%d function=%s trigger=%s id=%s duration=%.0fms %s",
                self.worker_id, spec.name, spec.trigger_type, invocation_id, ms, outcome,
                exc_info=exc)  # the real host logs the exception with its stack too
