"""A job's outputs at a glance: which files it wrote (with their sizes) and the first rows of
one, read with a single ranged GET of its first bytes, so a preview of a multi-gigabyte
predictions file costs what a small one does."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.errors import NotFoundError, ValidationError
from shared.jobs.records import JobRecord
from shared.storage.clients import Storage

OUTPUT_FILES = {"score": "predictions", "errors": "errors", "summary": "summary"}
MAX_ROWS = 100
_PEEK_BYTES = 256 * 1024  # enough for the first 100 rows of any output we write


def listing(storage: Storage, job: JobRecord) -> list[dict[str, Any]]:
    """The job's output files that exist: name, file, datastore path, size in bytes."""
    out, found = job.output, []
    for name, key in OUTPUT_FILES.items():
        blob = storage.blobs.get_blob_client(out["container"], out[key])
        try:
            size = blob.get_blob_properties().size
        except ResourceNotFoundError:
            continue
        found.append({"name": name, "file": out[key].rsplit("/", 1)[-1], "size": size,
                      "path": f"azureml://datastores/{out['datastore']}/paths/{out[key]}"})
    return found


def first_rows(storage: Storage, job: JobRecord, output: str, rows: int) -> dict[str, Any]:
    """{"columns", "rows", "truncated"} of a CSV or JSON Lines output; the summary as its
    JSON ({"document"})."""
    key = OUTPUT_FILES.get(output)
    if key is None:
        raise ValidationError("output", "must be one of: score, errors, summary")
    if not 1 <= rows <= MAX_ROWS:
        raise ValidationError("rows", f"must be from 1 to {MAX_ROWS}")
    name = job.output[key]
    blob = storage.blobs.get_blob_client(job.output["container"], name)
    try:
        download = blob.download_blob(offset=0, length=_PEEK_BYTES)
    except ResourceNotFoundError:
        raise NotFoundError(f"job {job.name} has no '{output}' output yet") from None
    data, size = download.readall(), download.properties.size
    whole = len(data) >= size
    if output == "summary":
        return {"document": json.loads(data)}
    text = data.decode("utf-8", errors="replace")
    if not whole:  # the last line read may be cut: keep whole lines only
        text = text[:text.rfind("\n") + 1]
    if name.endswith(".jsonl"):
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        columns = list(dict.fromkeys(k for r in records[:rows] for k in r))
        table = [[r.get(c) for c in columns] for r in records[:rows]]
        return {"columns": columns, "rows": table, "truncated": len(records) > rows or not whole}
    if not name.endswith(".csv"):
        raise ValidationError("output", f"{name.rsplit('/', 1)[-1]} has no preview (only CSV "
                              "and JSON Lines outputs do); download it")
    read = csv.reader(io.StringIO(text, newline=""))
    header = next(read, [])
    table = [row for _, row in zip(range(rows + 1), read, strict=False)]
    return {"columns": header, "rows": table[:rows],
            "truncated": len(table) > rows or not whole}
