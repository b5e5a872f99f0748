"""`client.batch_deployments`: deployments under an endpoint. A deployment whose `model`
names a local file or folder (`model: {name, path}`) registers it first, as `az ml` does:
the next version, unless the newest version already holds the same bytes. A local
`code_configuration.code` folder is uploaded as a code version named after the folder,
versioned by its content hash (uploading needs a deployer's credential: the master key or
a token with the Deployer role)."""

from __future__ import annotations

import re
from pathlib import Path

from azure.core.paging import ItemPaged
from azure.core.polling import LROPoller

from client._code import zip_folder
from client._entities import BatchDeployment, BatchJob, DocumentError, Model
from client._models import ModelOperations, local_model
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
        if body.get("code_configuration") is not None:
            body["code_configuration"] = self._code_reference(body["code_configuration"])
        doc = self._json("PUT", f"endpoints/{deployment.endpoint_name}/deployments/"
                         f"{deployment.name}", json=body)
        return done_poller(BatchDeployment._from_rest(doc))

    def begin_delete(self, name: str, endpoint_name: str) -> LROPoller[None]:
        self._pipeline.request("DELETE", f"endpoints/{endpoint_name}/deployments/{name}")
        return done_poller(None)

    def list_jobs(self, endpoint_name: str, name: str) -> ItemPaged[BatchJob]:
        return self._jobs(f"endpoints/{endpoint_name}/deployments/{name}/jobs")

    def _code_reference(self, code_configuration):
        """`azureml:<folder name>:<content hash>` for a local code folder, uploaded once."""
        local = code_configuration.get("code") if isinstance(code_configuration, dict) else None
        if not isinstance(local, str) or local.startswith("azureml:") or "://" in local:
            return code_configuration
        folder = Path(local)
        data, digest = zip_folder(folder)
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", folder.resolve().name).lstrip("-_.") or "code"
        version = digest[:16]
        self._pipeline.request("PUT", f"codes/{name}/versions/{version}", content=data,
                               headers={"content-type": "application/zip"})
        return {**code_configuration, "code": f"azureml:{name}:{version}"}

    def _model_reference(self, model):
        """`azureml:name:version` for a model given inline with a local path."""
        if isinstance(model, Model):
            model = model._to_dict()
        if not isinstance(model, dict) or not model.get("path") or "://" in model["path"]:
            return model
        if not model.get("name"):
            raise DocumentError("model: a model given with a path needs a name")
        sha256 = local_model(model["path"], model.get("type"))[1]
        versions = list(self._models.list(model["name"]))
        if model.get("version") is None and versions and versions[-1].sha256 == sha256:
            return versions[-1].id
        created = self._models.create_or_update(Model(
            name=model["name"], version=model.get("version"), path=model["path"],
            type=model.get("type"), description=model.get("description"),
            tags=model.get("tags")))
        return created.id
