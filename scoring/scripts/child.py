"""The child process that runs a user's scoring script (`python -m scoring.scripts.child
CODE_DIR SCRIPT`).

It imports the script and calls `init()` once, then answers run requests until its input
closes. Requests and answers are JSON lines on stdin and on a private copy of stdout; the
script's own prints (and anything native code writes to fd 1) go to stderr, which the
worker keeps in its log, and `logging` records are also sent to the parent so they reach
the job's log with the mini-batch they belong to.

run()'s return value is turned into text here, so the worker never takes Python objects
from user code: a list (one element per successful item) or a pandas DataFrame (one row per
successful item).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

MAX_LOG_CHARS = 2000


class _Channel:
    """JSON lines to the parent, on the process's original stdout."""

    def __init__(self) -> None:
        self.requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # a script that reads stdin reads nothing, not the requests
        os.close(null)
        os.dup2(2, 1)  # prints and native writes to fd 1 go to stderr from now on
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 (the process's own)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8",
                                      line_buffering=True)

    def send(self, message: dict[str, Any]) -> None:
        self._out.write(json.dumps(message, default=str) + "\n")
        self._out.flush()


class _ToParent(logging.Handler):
    def __init__(self, channel: _Channel):
        super().__init__(logging.DEBUG)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)[:MAX_LOG_CHARS]
            self.channel.send({"log": {"level": record.levelname, "logger": record.name,
                                       "message": text}})
        except Exception:  # a log line must never fail the script
            self.handleError(record)


def _load(code_dir: Path, script: str):
    sys.path.insert(0, str(code_dir))
    path = code_dir / script
    spec = importlib.util.spec_from_file_location(Path(script).stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{script} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    for name in ("init", "run"):
        if not callable(getattr(module, name, None)):
            raise AttributeError(f"{script} defines no {name}() function (Azure ML's scoring "
                                 "script contract: init() and run(mini_batch))")
    return module


def rendered(result: Any) -> list[str]:
    """run()'s return value as one text per element: strings as they are, numbers as
    str(), anything else (dicts, lists, DataFrame rows) as JSON."""
    kind = type(result)
    if kind.__module__.split(".")[0] == "pandas" and kind.__name__ == "DataFrame":
        records = result.to_dict(orient="records")
        return [json.dumps(r, default=str) for r in records]
    if not isinstance(result, list | tuple):
        raise TypeError(f"run() returned {kind.__module__}.{kind.__qualname__}; it must "
                        "return a list (one element per successful item) or a pandas "
                        "DataFrame (one row per successful item)")
    return [e if isinstance(e, str) else
            str(e) if isinstance(e, int | float | bool) else json.dumps(e, default=str)
            for e in result]


def _failure(stage: str, e: BaseException) -> dict[str, Any]:
    return {"failed": stage, "error": f"{type(e).__name__}: {e}"[:MAX_LOG_CHARS],
            "traceback": traceback.format_exc()[-8000:]}


def main(argv: list[str]) -> int:
    code_dir, script = Path(argv[0]), argv[1]
    channel = _Channel()
    root = logging.getLogger()
    root.addHandler(_ToParent(channel))
    root.setLevel(os.environ.get("AZUREML_LOG_LEVEL", "INFO"))
    os.chdir(code_dir)
    try:
        module = _load(code_dir, script)
        module.init()
    except BaseException as e:
        channel.send(_failure("init", e))
        return 1
    channel.send({"ready": True})
    for line in channel.requests:
        request = json.loads(line)
        os.environ["AZUREML_BI_OUTPUT_PATH"] = request["output_dir"]
        try:
            results = rendered(module.run(list(request["files"])))
        except BaseException as e:
            channel.send(_failure("run", e))
            continue
        channel.send({"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
