"""`client.models`: register ONNX models (a local file or folder, or a datastore path)."""

from __future__ import annotations

import json
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.core.paging import ItemPaged

from client._entities import DocumentError, Model
from client._operations import Operations


def onnx_file(path: str | Path) -> Path:
    """The one `.onnx` file a local model path means: the file, or the only one in a folder."""
    local = Path(path)
    if local.is_file():
        return local
    if not local.is_dir():
        raise DocumentError(f"model path {local}: no such file or folder")
    found = sorted(local.rglob("*.onnx"))
    if len(found) != 1:
        what = "no .onnx file" if not found else f"{len(found)} .onnx files"
        raise DocumentError(f"model path {local}: the folder holds {what}; "
                            "a model here is exactly one ONNX file")
    return found[0]


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
            local = onnx_file(model.path)
            data = local.read_bytes()
            params = {"description": model.description or None, "file_name": local.name}
            if model.tags:
                params["tags"] = json.dumps(model.tags)
            doc = self._json("PUT", url, content=data, params=params,
                             headers={"content-type": "application/octet-stream"})
        return Model._from_rest(doc)

    def delete(self, name: str, version: str) -> None:
        self._pipeline.request("DELETE", f"models/{name}/versions/{version}")

    def _next_version(self, name: str) -> str:
        numbers = [int(m.version) for m in self.list(name) if str(m.version).isdigit()]
        return str(max(numbers, default=0) + 1)
