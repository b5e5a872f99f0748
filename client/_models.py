"""`client.models`: register models: a local ONNX file, a local folder (zipped, as
`az ml` uploads `--path DIR`; `mlflow_model` folders converted to ONNX first when they are
scikit-learn, client/_mlflow.py), or a datastore path to an ONNX file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.core.paging import ItemPaged

from client._entities import DocumentError, Model
from client._operations import Operations


def local_model(path: str | Path, model_type: str | None) -> tuple[bytes, str, str, str]:
    """(bytes to upload, their sha256 as the service computes it, content type, file name)
    of a local model path: an ONNX file, or a folder as a zip."""
    import hashlib

    from client._code import zip_folder
    from client._mlflow import onnx_folder

    local = Path(path)
    if local.is_file():
        if model_type == "mlflow_model":
            raise DocumentError(f"model path {local}: an mlflow_model is a folder holding an "
                                "MLmodel file")
        data = local.read_bytes()
        return data, hashlib.sha256(data).hexdigest(), "application/octet-stream", local.name
    if not local.is_dir():
        raise DocumentError(f"model path {local}: no such file or folder")
    with tempfile.TemporaryDirectory() as work:
        folder = onnx_folder(local, Path(work)) if model_type == "mlflow_model" else local
        data, digest = zip_folder(folder)
    return data, digest, "application/zip", local.name


def _is_remote(path: str) -> bool:
    return "://" in path


class ModelOperations(Operations):
    def get(self, name: str, version: str | None = None, *, label: str | None = None) -> Model:
        """A model version; with no version (or `label="latest"`) the newest one."""
        if version is None:
            if label not in (None, "latest"):
                raise ValueError("label must be 'latest'")
            versions = list(self.list(name))
            if not versions:
                raise ResourceNotFoundError(f"model {name} not found")
            return versions[-1]
        return Model._from_rest(self._json("GET", f"models/{name}/versions/{version}"))

    def list(self, name: str | None = None) -> ItemPaged[Model]:
        """Every model version, or the versions of one model (oldest first)."""
        path = f"models/{name}/versions" if name else "models"
        return self._pipeline.pages(path, Model._from_rest)

    def create_or_update(self, model: Model) -> Model:
        """Register `model.path`; with no version, the next integer after the newest one
        (as Azure ML numbers versions)."""
        if not model.name or not model.path:
            raise DocumentError("a model needs a name and a path")
        version = model.version or self._next_version(model.name)
        url = f"models/{model.name}/versions/{version}"
        if _is_remote(model.path):
            doc = self._json("PUT", url, json={"path": model.path,
                                               "description": model.description or "",
                                               "tags": model.tags or {}})
        else:
            data, _, content_type, file_name = local_model(model.path, model.type)
            params = {"description": model.description or None,
                      "type": model.type or None,
                      "file_name": file_name if content_type != "application/zip" else None}
            if model.tags:
                params["tags"] = json.dumps(model.tags)
            doc = self._json("PUT", url, content=data, params=params,
                             headers={"content-type": content_type})
        return Model._from_rest(doc)

    def delete(self, name: str, version: str) -> None:
        self._pipeline.request("DELETE", f"models/{name}/versions/{version}")

    def _next_version(self, name: str) -> str:
        numbers = [int(m.version) for m in self.list(name) if str(m.version).isdigit()]
        return str(max(numbers, default=0) + 1)
