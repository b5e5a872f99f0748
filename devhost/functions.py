"""Finding the app's functions the way the Python worker does: import the module, find its
one FunctionApp, index it with the worker's own Registry (devhost/pyworker.py) — which calls
get_functions() once and refuses what Azure refuses — and read each function's bindings."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost import pyworker
from devhost.config import resolve


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger_type: str  # httpTrigger | queueTrigger | blobTrigger | eventGridTrigger
    trigger: dict[str, Any]  # the trigger binding as function.json would show it
    outputs: tuple[dict[str, Any], ...]
    user_function: Any
    info: pyworker.FunctionInfo

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    def summary(self) -> dict[str, Any]:
        """What the supervisor prints for this function (it does not import the app)."""
        t = self.trigger
        return {"name": self.name, "trigger": self.trigger_type,
                "route": (t.get("route") or self.name) if "route" in t or
                self.trigger_type == "httpTrigger" else None,
                "methods": t.get("methods"), "authLevel": t.get("authLevel"),
                "queueName": _resolved(t.get("queueName")), "path": _resolved(t.get("path")),
                "source": t.get("source")}


def load_app(project_dir: Path, app: str = "function_app") -> list[FunctionSpec]:
    """Import the app (module name or .py path relative to the project) and list functions;
    `pyworker.IndexingError` when the worker refuses any of them."""
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    if app.endswith(".py"):
        spec = importlib.util.spec_from_file_location("function_app", project_dir / app)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["function_app"] = module
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    else:
        module = importlib.import_module(app)
    # the worker's loader.index_function_app: exactly one top-level FunctionRegister
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if len(apps) != 1:
        raise pyworker.IndexingError(ValueError(
            f"More than one {type(apps[0]).__name__} or other top level function app "
            "instances are defined." if apps else
            f"Could not find top level function app instances in {app}."))
    specs = []
    for fn, info in pyworker.index(apps[0]):
        bindings = [b.get_dict_repr() for b in fn.get_bindings()]
        trigger = next(b for b in bindings if str(b["type"]).endswith("Trigger"))
        outputs = tuple(b for b in bindings if _direction(b) == "out" and b["name"] != "$return")
        specs.append(FunctionSpec(
            name=fn.get_function_name(), trigger_type=str(trigger["type"]),
            trigger={k: _plain(v) for k, v in trigger.items()},
            outputs=tuple({k: _plain(v) for k, v in o.items()} for o in outputs),
            user_function=fn.get_user_function(), info=info))
    return specs


def _resolved(value: str | None) -> str | None:
    try:
        return resolve(value) if value else value
    except KeyError:
        return value


def _direction(binding: dict[str, Any]) -> str:
    d = binding.get("direction")
    return str(getattr(d, "name", d)).lower()


def _plain(value: Any) -> Any:
    if hasattr(value, "value") and not isinstance(value, str | int | float):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
