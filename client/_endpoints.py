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


def _remote(path: str) -> bool:
    """Datastore paths, blob URLs and `<container>/<path>` go to the service as they are;
    anything that exists on this machine is uploaded first."""
    return "://" in path or not Path(path).exists()


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

    def invoke(self, endpoint_name: str, *, input: str | None = None,
               input_type: str | None = None, deployment_name: str | None = None,
               output_path: str | None = None, job_name: str | None = None,
               params_override: list[dict[str, Any]] | None = None,
               repeatability_request_id: str | None = None, **settings: Any) -> BatchJob:
        """Start a job on the endpoint's default deployment (or `deployment_name`).

        `input` is a datastore path, a blob URL, or a local file or folder (uploaded to the
        default datastore first). `settings` are per-job overrides such as
        `mini_batch_size`, `instance_count`, `output_file_name`, `error_threshold`.
        The same `repeatability_request_id` (default: one per call) returns the same job.
        """
        if not input:
            raise DocumentError("invoke needs an input")
        if not _remote(input):
            local = Path(input)
            input_type = input_type or (URI_FILE if local.is_file() else URI_FOLDER)
            input = self._upload(local)
        body: dict[str, Any] = {"inputs": {"input_data": {"type": input_type or URI_FOLDER,
                                                          "path": input}}}
        if output_path:
            body["outputs"] = {"score": {"type": URI_FOLDER, "path": output_path}}
        extras = {"deployment_name": deployment_name, "job_name": job_name, **settings}
        body.update({k: v for k, v in extras.items() if v is not None})
        for override in params_override or []:
            body.update(override)
        # The same id on every attempt: a retried POST returns the job the first one made.
        headers = {"repeatability-request-id": repeatability_request_id or str(uuid.uuid4())}
        return BatchJob._from_rest(self._json("POST", f"endpoints/{endpoint_name}/jobs",
                                              json=body, headers=headers))

    def list_jobs(self, endpoint_name: str, *, status: str | None = None
                  ) -> ItemPaged[BatchJob]:
        return self._jobs(f"endpoints/{endpoint_name}/jobs", status=status)
