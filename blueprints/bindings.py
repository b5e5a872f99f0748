"""Binding annotations the Python worker accepts.

The worker checks every parameter's annotation when it indexes the app
(`azure_functions_runtime.functions.Registry.add_indexed_function`). For an output binding it
takes `func.Out[T]` only when `T` is a type or a `typing` generic: the builtin `list[str]` is
refused ("binding X has invalid non-type annotation"), which stops the whole app from loading
in Azure. A queue output of `typing.List[str]` becomes one message per element.
"""

import typing

import azure.functions as func

QueueMessagesOut = func.Out[typing.List[str]]  # noqa: UP006 -- the worker refuses list[str]
