"""`client.data`: data assets (azure-ai-ml's `ml_client.data`), versions naming where data is;
a local folder or file is uploaded first, as `az ml data create --path ./local` does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from azure.core.exceptions import ResourceNotFoundError
from azure.core.paging import ItemPaged

from client._entities import Data, DocumentError
from client._operations import Operations

URI_FOLDER, URI_FILE = "uri_folder", "uri_file"


def is_local(path: str) -> bool:
    """A path on this machine (uploaded), not a datastore path, URL or `<container>/<p>`."""
    return "://" not in path and Path(path).exists()


class DataOperations(Operations):
    def __init__(self, pipeline, uploader: Callable[[Path], str]):
        super().__init__(pipeline)
        self._upload = uploader

    def get(self, name: str, version: str | None = None, *, label: str | None = None) -> Data:
        """A version; `label="latest"` (or no version): the one created last."""
        if version is None:
            if label not in (None, "latest"):
                raise ValueError("label must be 'latest'")
            versions = sorted(self.list(name), key=lambda d: d.creation_context["created_at"])
            if not versions:
                raise ResourceNotFoundError(f"data asset {name} not found")
            return versions[-1]
        return Data._from_rest(self._json("GET", f"data/{name}/versions/{version}"))

    def list(self, name: str | None = None) -> ItemPaged[Data]:
        """Every data asset version, or one asset's versions."""
        return self._pipeline.pages(f"data/{name}/versions" if name else "data",
                                    Data._from_rest)

    def create_or_update(self, data: Data) -> Data:
        """Register a version (with none: the next integer, as Azure ML numbers them);
        a local path is uploaded first."""
        if not data.name or not data.path:
            raise DocumentError("a data asset needs a name and a path")
        if is_local(data.path):
            local = Path(data.path)
            data.type = data.type or (URI_FILE if local.is_file() else URI_FOLDER)
            data.path = self._upload(local)
        version = data.version or self._next_version(data.name)
        body = {k: v for k, v in data._to_rest().items() if k != "version"}
        return Data._from_rest(self._json("PUT", f"data/{data.name}/versions/{version}",
                                          json=body))

    def delete(self, name: str, version: str) -> None:
        self._pipeline.request("DELETE", f"data/{name}/versions/{version}")

    def _next_version(self, name: str) -> str:
        numbers = [int(d.version) for d in self.list(name) if str(d.version).isdigit()]
        return str(max(numbers, default=0) + 1)
