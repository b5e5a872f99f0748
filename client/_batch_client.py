"""`BatchClient`: one entry point with operation groups, as azure-ai-ml's `MLClient`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from client._data import DataOperations
from client._datastores import DatastoreOperations
from client._deployments import BatchDeploymentOperations
from client._endpoints import BatchEndpointOperations
from client._jobs import JobOperations
from client._models import ModelOperations
from client._pipeline import Credential, Pipeline


class BatchClient:
    """The service at `url` (e.g. `https://<app>.azurewebsites.net/api`).

    `credential`: an `AzureKeyCredential` (or the key string) for function keys, or a
    `TokenCredential` such as `DefaultAzureCredential` for Entra tokens, or a tuple of both
    (each request then carries the key and the token). Local inputs are
    uploaded with `storage_connection_string`, or `storage_credential` (an Entra
    credential) on the datastore's account, else through the service itself;
    `upload_progress` is an (on_start(total_bytes), on_progress(bytes_sent)) pair.
    """

    def __init__(self, url: str, credential: Credential | tuple[Credential, ...] = None, *,
                 storage_connection_string: str | None = None, storage_credential: Any = None,
                 upload_progress: tuple[Any, Any] | None = None, **kwargs: Any):
        self._pipeline = Pipeline(url, credential, **kwargs)
        self._storage = (storage_connection_string, storage_credential)
        self._upload_progress = upload_progress
        self.models = ModelOperations(self._pipeline)
        self.datastores = DatastoreOperations(self._pipeline)
        self.data = DataOperations(self._pipeline, self._upload)
        self.batch_endpoints = BatchEndpointOperations(self._pipeline, self._upload)
        self.batch_deployments = BatchDeploymentOperations(self._pipeline, self.models)
        self.jobs = JobOperations(self._pipeline)

    @property
    def url(self) -> str:
        return self._pipeline.url

    def _upload(self, local: Path) -> str:
        """A local input into the default datastore: straight to storage with the storage
        credentials given, else through the service with its key or token alone."""
        from client._upload import container_client, upload, upload_through_service

        datastore = self.datastores.get_default()
        on_start, on_progress = self._upload_progress or (None, None)
        if not any(c is not None for c in self._storage):
            return upload_through_service(local, datastore.name, self._pipeline, on_progress,
                                          on_start)
        container = container_client(datastore, *self._storage)
        return upload(local, datastore, container, on_progress, on_start)

    def close(self) -> None:
        self._pipeline.close()

    def __enter__(self) -> BatchClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
