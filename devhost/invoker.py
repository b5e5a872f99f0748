"""Calling a user function as the Python worker does: the trigger's typed data decoded by the
`azure.functions` converters (devhost/pyworker.py), the worker's own `Out` per output binding
and `func.Context`, sync functions in a thread pool and async ones on the loop, outputs and the
return value encoded back to typed data and written only when the function returned without
raising, `functionTimeout` enforced."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from devhost import pyworker
from devhost.functions import FunctionSpec
from devhost.pyworker import Datum

log = logging.getLogger("devhost")
OutputWriter = Callable[[FunctionSpec, dict[str, Datum], dict[str, Any]], Any]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    result: Datum | None = None  # the return value as typed data, for HTTP
    error: BaseException | None = None


class Invoker:
    """Runs invocations and logs one line each; `on_timeout` is told when one overran
    `functionTimeout` (the worker then restarts, as the real host restarts its language
    worker)."""

    def __init__(self, worker_id: int, timeout: float | None, project_dir: str,
                 write_outputs: OutputWriter,
                 on_timeout: Callable[[], None] = lambda: None):
        self.worker_id = worker_id
        self.timeout = timeout
        self.project_dir = project_dir
        self.write_outputs = write_outputs
        self.on_timeout = on_timeout
        self.pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="invoke")

    async def invoke(self, spec: FunctionSpec, data: Datum, metadata: dict[str, Datum],
                     binding_data: dict[str, Any] | None = None) -> Outcome:
        """Run one invocation; `binding_data` fills `{name}`-style output binding paths."""
        invocation_id = str(uuid.uuid4())
        info = spec.info
        started = time.perf_counter()
        try:
            kwargs: dict[str, Any] = {
                spec.trigger["name"]: pyworker.decode_trigger(info, spec.trigger["name"], data,
                                                              metadata)}
            if info.requires_context:
                kwargs["context"] = pyworker.context(info, invocation_id)
            outs = {name: pyworker.Out() for name in info.output_types}
            kwargs.update(outs)
            if spec.is_async:
                call = spec.user_function(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                call = loop.run_in_executor(self.pool, lambda: spec.user_function(**kwargs))
            result = await asyncio.wait_for(call, self.timeout)
            returned = pyworker.encode_return(info, result)
            outputs = pyworker.encode_outputs(info, outs)
            if outputs:
                await asyncio.get_running_loop().run_in_executor(
                    self.pool, self.write_outputs, spec, outputs, binding_data or {})
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
        return Outcome(ok=True, result=returned)

    def _log(self, spec: FunctionSpec, invocation_id: str, started: float, outcome: str,
             exc: BaseException | None = None) -> None:
        ms = (time.perf_counter() - started) * 1000
        level = logging.INFO if outcome == "Succeeded" else logging.ERROR
        log.log(level, "worker=%d function=%s trigger=%s id=%s duration=%.0fms %s",
                self.worker_id, spec.name, spec.trigger_type, invocation_id, ms, outcome,
                exc_info=exc)  # the real host logs the exception with its stack too
