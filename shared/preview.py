"""Preview: a deployment scores a few sample files at once, inside the HTTP request.

A user sees the predictions (and the per-item errors) of a deployment before starting a
100,000-file job. The files are datastore paths (resolved as invoke's input paths are) or
uploaded bytes; they go through the same session cache, scoring engine and row formatter as
a mini-batch. Bounded so a request stays well inside an HTTP timeout: at most MAX_FILES files
and MAX_BYTES bytes (checked before anything is downloaded or parsed), scored within
BUDGET_SECONDS.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from shared.errors import (
    DeadlineError,
    MiniBatchTimeoutError,
    PayloadTooLargeError,
    ValidationError,
)
from shared.jobs import paths
from shared.resources import codes, deployments, models
from shared.storage.clients import Storage

if TYPE_CHECKING:  # scoring (numpy, ONNX Runtime) loads when a preview runs, not at start-up
    from scoring.engine import FailedItem, InputFile

MAX_FILES = 20
MAX_BYTES = 16 * 1024 * 1024
BUDGET_SECONDS = 20.0


def check_count(count: int, field: str) -> None:
    if count == 0:
        raise ValidationError(field, "names no file: send 1 to "
                              f"{MAX_FILES} datastore paths or uploaded files")
    if count > MAX_FILES:
        raise ValidationError(field, f"has {count} files; a preview scores at most "
                              f"{MAX_FILES} (invoke a job for more)")


def check_bytes(total: int) -> None:
    if total > MAX_BYTES:
        raise PayloadTooLargeError(f"the files are {total:,} bytes; a preview scores at most "
                                   f"{MAX_BYTES:,} bytes (16 MiB) in all")


def uploaded(files: list[tuple[str, bytes]]) -> list[InputFile | FailedItem]:
    """Uploaded (file name, bytes), checked against the bounds."""
    from scoring.engine import InputFile

    check_count(len(files), "files")
    check_bytes(sum(len(data) for _, data in files))
    return [InputFile(name, data) for name, data in files]


def from_datastores(storage: Storage, inputs: object) -> list[InputFile | FailedItem]:
    """`inputs`: a list of file paths (azureml://datastores/<ds>/paths/<file>,
    <container>/<file> of a datastore, or blob URLs of this account). A missing file is an
    item error, as in a job; sizes are bounded before any file is read."""
    from scoring.engine import FailedItem, InputFile

    if not isinstance(inputs, list) or not all(isinstance(v, str) for v in inputs):
        raise ValidationError("inputs", "must be a list of file paths "
                              "(azureml://datastores/<datastore>/paths/<file>)")
    check_count(len(inputs), "inputs")
    locations = [paths.resolve(storage, v, paths.URI_FILE, f"inputs[{k}]", other_accounts=False)
                 for k, v in enumerate(inputs)]
    blobs = [storage.blobs.get_blob_client(loc.container, loc.path) for loc in locations]
    with ThreadPoolExecutor(max_workers=8) as pool:
        sizes = list(pool.map(_size, blobs))
        check_bytes(sum(s for s in sizes if s is not None))
        datas = list(pool.map(lambda b, s: None if s is None else b.download_blob().readall(),
                              blobs, sizes))
    return [InputFile(loc.path, data) if data is not None
            else FailedItem(loc.path, None, "file not found")
            for loc, data in zip(locations, datas, strict=True)]


def _size(blob: Any) -> int | None:
    try:
        return blob.get_blob_properties().size
    except ResourceNotFoundError:
        return None


def preview(storage: Storage, endpoint: str, deployment: str,
            items: list[InputFile | FailedItem], started: float,
            budget: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Score the files under the deployment (no-code, or its scoring script: files it
    writes to AZUREML_BI_OUTPUT_PATH are not kept); `started` (time.monotonic()) is when the
    request began, so reading the files counts against the budget too."""
    from scoring.engine import FailedItem, InputFile
    from scoring.errors import ScriptError
    from scoring.outputs import output_columns
    from scoring.scorer import ScriptScorer, for_snapshot
    from scoring.scripts.runner import COLUMNS

    doc = deployments.get(storage, endpoint, deployment)
    model = models.get(storage, doc["model_name"], doc["model_version"])
    code = doc.get("code_configuration") or {}
    scorer = for_snapshot({"model": model, "scoring": doc["scoring"], "code": code or None},
                          lambda: models.read_bytes(storage, model),
                          lambda: codes.read_bytes(storage, code["sha256"]), 1,
                          doc["settings"].get("environment_variables"),
                          doc["settings"].get("logging_level", "info"))
    files = [i for i in items if isinstance(i, InputFile)]
    try:
        result = scorer.score(files, deadline=started + budget)
        rows, failed, logs = result.rows, list(result.errors), list(getattr(result, "logs", ()))
    except MiniBatchTimeoutError:
        raise DeadlineError(f"the preview ran past its {budget:g} s budget; send fewer or "
                            "smaller files") from None
    except ScriptError as e:  # as in a job: the run's files fail with its error
        rows, failed = (), [FailedItem(f.name, None, str(e)) for f in files]
        logs = [*e.logs, *({"level": "ERROR", "logger": "traceback", "message": line}
                           for line in e.traceback.splitlines()[-20:])]
    position = {item.file_name if isinstance(item, FailedItem) else item.name: k
                for k, item in enumerate(items)}
    errors = sorted([i for i in items if isinstance(i, FailedItem)] + failed,
                    key=lambda e: (position.get(e.file_name, 0), -1 if e.row is None else e.row))
    script = isinstance(scorer, ScriptScorer)
    return {
        "endpoint": endpoint,
        "deployment": deployment,
        "model": model["id"],
        "columns": list(COLUMNS) if script else output_columns(scorer.config, scorer.signature),
        "rows": [[r.file_name, r.text] if script else [r.file_name, r.row, *r.values]
                 for r in rows],
        "errors": [{"file_name": e.file_name, "row": e.row, "reason": e.reason}
                   for e in errors],
        **({"logs": [f"{x['level']} {x['logger']}: {x['message']}" for x in logs]}
           if script else {}),
    }
