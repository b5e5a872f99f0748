"""The Python worker's half of the host, done by the worker's own code.

In Azure the host never touches Python objects: it sends the Python worker typed data over
gRPC, and the worker (Microsoft's `azure-functions-runtime`) indexes the app, turns typed data
into arguments with the `azure.functions` converters, and turns `Out` values and return values
back into typed data. Calling functions directly, as this host once did, accepted code the
worker refuses (`func.Out[list[str]]`). So here:

- `index` runs `Registry.add_indexed_function` on every function. One refusal fails the whole
  indexing, as in Azure, where the host then logs "Worker failed to index functions" and runs
  no function at all ("No job functions found").
- `decode_trigger` / `encode_outputs` / `encode_return` are the worker's invocation steps
  (`handle_event.invocation_request`): `meta.from_incoming_proto` without the protobuf wrapper,
  and `meta.get_datum`.
"""

from __future__ import annotations

import threading
import types
from typing import Any

from azure_functions_runtime import functions as worker_functions
from azure_functions_runtime.bindings import meta
from azure_functions_runtime.bindings.context import Context
from azure_functions_runtime.bindings.datumdef import Datum
from azure_functions_runtime.bindings.out import Out
from azure_functions_runtime.bindings.retrycontext import RetryContext
from azure_functions_runtime.bindings.tracecontext import TraceContext

__all__ = ["Datum", "FunctionInfo", "IndexingError", "Out", "context", "decode_trigger",
           "encode_outputs", "encode_return", "index"]

FunctionInfo = worker_functions.FunctionInfo

# The enum values of FunctionRpc.proto's BindingInfo that the worker's Registry compares with
# (azure-functions-language-worker-protobuf: Direction in=0 out=1 inout=2; DataType
# undefined=0 string=1 binary=2 stream=3). The host hands the worker the generated module.
PROTOS = types.SimpleNamespace(BindingInfo=types.SimpleNamespace(
    out=1, inout=2, undefined=0, string=1, binary=2, stream=3, **{"in": 0}))
_invocation_local = threading.local()


class IndexingError(Exception):
    """The worker refused the app; the text is what the host logs in Azure."""

    def __init__(self, error: BaseException):
        self.error = error
        super().__init__(f"Worker failed to index functions\nResult: Failure\n"
                         f"Exception: {type(error).__name__}: {error}")


def index(app: Any) -> list[tuple[Any, FunctionInfo]]:
    """Every function of `app` with the worker's FunctionInfo; IndexingError on a refusal."""
    meta.load_binding_registry()
    registry = worker_functions.Registry()
    try:
        return [(fn, registry.add_indexed_function(fn, PROTOS)) for fn in app.get_functions()]
    except Exception as e:  # FunctionLoadError, or anything the library raises while indexing
        raise IndexingError(e) from e


def decode_trigger(info: FunctionInfo, name: str, datum: Datum,
                   metadata: dict[str, Datum]) -> Any:
    """The trigger argument, as the worker decodes it (trigger metadata for triggers only)."""
    type_info = info.input_types[name]
    binding = meta.get_binding(type_info.binding_name, type_info.deferred_bindings_enabled)
    trigger_metadata = metadata if meta.is_trigger_binding(type_info.binding_name) else None
    try:
        return binding.decode(datum, trigger_metadata=trigger_metadata or {})
    except NotImplementedError as e:
        raise TypeError(f"unable to decode incoming TypedData: unsupported combination of "
                        f"TypedData field {datum.type!r} and expected binding type "
                        f"{binding}") from e


def encode_outputs(info: FunctionInfo, outs: dict[str, Out]) -> dict[str, Datum]:
    """The typed data the host receives for each output binding that was set."""
    data = {}
    for name, type_info in info.output_types.items():
        value = outs[name].get()
        if value is not None:
            data[name] = meta.get_datum(type_info.binding_name, value, type_info.pytype)
    return data


def encode_return(info: FunctionInfo, result: Any) -> Datum | None:
    """The typed data of the return value; a value without a `$return` binding is an error."""
    if result is not None and not info.has_return:
        raise RuntimeError(f"function {info.name!r} without a $return binding returned a "
                           "non-None value")
    if info.return_type is None:
        return None
    return meta.get_datum(info.return_type.binding_name, result, info.return_type.pytype)


def context(info: FunctionInfo, invocation_id: str) -> Context:
    """The worker's own `func.Context` (no trace or retry context from this host)."""
    return Context(info.name, info.directory, invocation_id, _invocation_local,
                   TraceContext("", "", {}), RetryContext(0, 0, None))
