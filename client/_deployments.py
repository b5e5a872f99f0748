"""`client.batch_deployments`: deployments under an endpoint. A deployment whose `model`
names a local file or folder (`model: {name, path}`) registers it first, as `az ml` does:
the next version, unless the newest version already holds the same bytes."""

from __future__ import annotations

import hashlib

from azure.core.paging import ItemPaged
from azure.core.polling import LROPoller

from client._entities import BatchDeployment, BatchJob, DocumentError, Model
from client._models import ModelOperations, onnx_file
from client._operations import Operations
from client._polling import done_poller


class BatchDeploymentOperations(Operations):
    def __init__(self, pipeline, models: ModelOperations):
        super().__init__(pipeline)
        self._models = models

    def get(self, name: str, endpoint_name: str) -> BatchDeployment:
        return BatchDeployment._from_rest(
            self._json("GET", f"endpoints/{endpoint_name}/deployments/{name}"))

    def list(self, endpoint_name: str) -> ItemPaged[BatchDeployment]:
        return self._pipeline.pages(f"endpoints/{endpoint_name}/deployments",
                                    BatchDeployment._from_rest)

    def begin_create_or_update(self, deployment: BatchDeployment
                               ) -> LROPoller[BatchDeployment]:
        if not deployment.name:
            raise DocumentError("the deployment needs a name")
        if not deployment.endpoint_name:
            raise DocumentError(f"deployment {deployment.name} needs an endpoint_name")
        body = deployment._to_rest()
        body["model"] = self._model_reference(deployment.model)
        doc = self._json("PUT", f"endpoints/{deployment.endpoint_name}/deployments/"
                         f"{deployment.name}", json=body)
        return done_poller(BatchDeployment._from_rest(doc))

    def begin_delete(self, name: str, endpoint_name: str) -> LROPoller[None]:
        self._pipeline.request("DELETE", f"endpoints/{endpoint_name}/deployments/{name}")
        return done_poller(None)

    def list_jobs(self, endpoint_name: str, name: str) -> ItemPaged[BatchJob]:
        return self._jobs(f"endpoints/{endpoint_name}/deployments/{name}/jobs")

    def _model_reference(self, model):
        """`azureml:name:version` for a model given inline with a local path."""
        if isinstance(model, Model):
            model = model._to_dict()
        if not isinstance(model, dict) or not model.get("path") or "://" in model["path"]:
            return model
        if not model.get("name"):
            raise DocumentError("model: a model given with a path needs a name")
        sha256 = hashlib.sha256(onnx_file(model["path"]).read_bytes()).hexdigest()
        versions = list(self._models.list(model["name"]))
        if model.get("version") is None and versions and versions[-1].sha256 == sha256:
            return versions[-1].id
        created = self._models.create_or_update(Model(
            name=model["name"], version=model.get("version"), path=model["path"],
            description=model.get("description"), tags=model.get("tags")))
        return created.id
