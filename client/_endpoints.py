"""`client.batch_endpoints`: endpoints, and invoking them (uploading local inputs first)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from azure.core.paging import ItemPaged
from azure.core.polling import LROPoller

from client._entities import BatchEndpoint, BatchJob, DocumentError
from client._operations import Operations
from client._polling import done_poller

URI_FOLDER, URI_FILE = "uri_folder", "uri_file"
LITERAL_TYPES = ("number", "integer", "string", "boolean")


def _remote(path: str) -> bool:
    """Datastore paths, storage URLs, data assets and `<container>/<path>` go to the service
    as they are; anything that exists on this machine is uploaded first."""
    return "://" in path or path.startswith("azureml:") or not Path(path).exists()


class BatchEndpointOperations(Operations):
    def __init__(self, pipeline, uploader):
        super().__init__(pipeline)
        self._upload = uploader

    def get(self, name: str) -> BatchEndpoint:
        return BatchEndpoint._from_rest(self._json("GET", f"endpoints/{name}"))

    def list(self) -> ItemPaged[BatchEndpoint]:
        return self._pipeline.pages("endpoints", BatchEndpoint._from_rest)

    def begin_create_or_update(self, endpoint: BatchEndpoint) -> LROPoller[BatchEndpoint]:
        if not endpoint.name:
            raise DocumentError("the endpoint needs a name")
        doc = self._json("PUT", f"endpoints/{endpoint.name}", json=endpoint._to_rest())
        return done_poller(BatchEndpoint._from_rest(doc))

    def begin_delete(self, name: str) -> LROPoller[None]:
        self._pipeline.request("DELETE", f"endpoints/{name}")
        return done_poller(None)

    def invoke(self, endpoint_name: str, *, input: Any = None,
               inputs: dict[str, Any] | None = None, input_type: str | None = None,
               deployment_name: str | None = None, output_path: str | None = None,
               job_name: str | None = None,
               params_override: list[dict[str, Any]] | None = None,
               repeatability_request_id: str | None = None, **settings: Any) -> BatchJob:
        """Start a job on the endpoint's default deployment (or `deployment_name`).

        `input` (or one file input of `inputs`, a name → `Input` dict that may also hold
        literals) is a datastore path, a storage URL, a data asset (`azureml:name:1`), or a
        local file or folder (uploaded first). `settings` are per-job overrides such as
        `mini_batch_size`, `instance_count`, `output_file_name`, `error_threshold`;
        `params_override` (`[{"retry_settings.max_retries": 1}]`, what `--set` gives) goes to
        the service as it is, as azure-ai-ml sends it. The same `repeatability_request_id`
        (default: one per call) returns the same job.
        """
        if (input is None) == (inputs is None):
            raise DocumentError("invoke needs an input: input=... or inputs={name: Input(...)}")
        given = {"input_data": input} if inputs is None else inputs
        body: dict[str, Any] = {"inputs": {name: self._input(value, input_type)
                                           for name, value in given.items()}}
        if output_path:
            body["outputs"] = {"score": {"type": URI_FOLDER, "path": output_path}}
        extras = {"deployment_name": deployment_name, "job_name": job_name, **settings}
        body.update({k: v for k, v in extras.items() if v is not None})
        if params_override:
            body["params_override"] = params_override
        # The same id on every attempt: a retried POST returns the job the first one made.
        headers = {"repeatability-request-id": repeatability_request_id or str(uuid.uuid4())}
        return BatchJob._from_rest(self._json("POST", f"endpoints/{endpoint_name}/jobs",
                                              json=body, headers=headers))

    def _input(self, value: Any, input_type: str | None) -> Any:
        """An input as the service takes it: a literal's {type, value}, or a file input
        {type, path} (a local path uploaded first). `value` is a path, a number or boolean,
        a dict, or an `Input` (ours or azure-ai-ml's: its type, path and default)."""
        if isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            kind, path, literal = value.get("type"), value.get("path"), value.get(
                "value", value.get("default"))
        elif isinstance(value, str):
            kind, path, literal = input_type, value, None
        else:
            kind, path = getattr(value, "type", None), getattr(value, "path", None)
            literal = getattr(value, "default", None)
        mode = value.get("mode") if isinstance(value, dict) else getattr(value, "mode", None)
        if kind in LITERAL_TYPES:
            return {"type": kind, "value": literal}
        if not isinstance(path, str) or not path:
            raise DocumentError("a file input needs a path")
        if not _remote(path):
            local = Path(path)
            kind = kind or (URI_FILE if local.is_file() else URI_FOLDER)
            path = self._upload(local)
        return {"type": kind or URI_FOLDER, "path": path, **({"mode": mode} if mode else {})}

    def list_jobs(self, endpoint_name: str, *, status: str | None = None
                  ) -> ItemPaged[BatchJob]:
        return self._jobs(f"endpoints/{endpoint_name}/jobs", status=status)
