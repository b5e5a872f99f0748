"""Input and output locations: `azureml://datastores/<ds>/paths/<p>`, `<container>/<p>`, and
blob URLs of this service's storage account. Anything else is refused before a job exists.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from shared import config, names, netrules
from shared.errors import ValidationError
from shared.resources import datastores
from shared.storage.clients import Storage

_AZUREML = re.compile(r"azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)")
URI_FOLDER = "uri_folder"
URI_FILE = "uri_file"


@dataclass(frozen=True)
class Location:
    """A resolved blob location inside a datastore's container."""

    datastore: str
    container: str
    path: str  # no leading '/'; a folder path has no trailing '/' ('' = container root)
    kind: str  # uri_folder | uri_file

    @property
    def uri(self) -> str:
        return f"azureml://datastores/{self.datastore}/paths/{self.path}"

    @property
    def prefix(self) -> str:
        """Listing prefix for a folder."""
        return f"{self.path}/" if self.path else ""

    def to_dict(self) -> dict[str, str]:
        return {"datastore": self.datastore, "container": self.container, "path": self.path,
                "type": self.kind, "uri": self.uri}


def resolve(storage: Storage, value: object, kind: str, field: str) -> Location:
    if kind not in (URI_FOLDER, URI_FILE):
        raise ValidationError(f"{field}.type", "must be uri_folder or uri_file")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}.path", "is required")
    text = names.check_text(value, f"{field}.path").strip()
    m = _AZUREML.fullmatch(text)
    if m:
        store = datastores.get(storage, names.asset_name(m.group("ds"), f"{field}.path"))
        return _location(store["name"], store["container_name"], m.group("path"), kind, field)
    if text.startswith(("http://", "https://")):
        return _from_url(storage, text, kind, field)
    if "://" in text or text.startswith(("/", "\\", "~")) or re.match(r"[a-zA-Z]:", text):
        raise ValidationError(
            f"{field}.path", "must be azureml://datastores/<datastore>/paths/<path>, "
            "<container>/<path> or a blob URL of this service's storage account")
    if text.startswith("azureml:"):
        raise ValidationError(f"{field}.path", "data assets are not supported; use "
                              "azureml://datastores/<datastore>/paths/<path>")
    return _in_datastore(storage, text, kind, field)


def _in_datastore(storage: Storage, container_path: str, kind: str, field: str) -> Location:
    """`<container>/<path>`, allowed only where the container is a registered datastore."""
    container, _, path = container_path.partition("/")
    store = datastores.by_container(storage, container)
    if store is None:
        raise ValidationError(
            f"{field}.path", f"container '{container}' is not a registered datastore")
    return _location(store["name"], container, path, kind, field)


def _from_url(storage: Storage, url: str, kind: str, field: str) -> Location:
    base = storage.account.blob_endpoint
    netrules.http_url(url, f"{field}.path")  # a malformed URL is the caller's 400
    parsed, own = urlparse(url), urlparse(base)
    if (parsed.scheme, parsed.netloc) != (own.scheme, own.netloc) or not parsed.path.startswith(
        own.path.rstrip("/") + "/"
    ):
        raise ValidationError(
            f"{field}.path", f"blob URLs must point at this service's storage account ({base})")
    return _in_datastore(storage, unquote(parsed.path[len(own.path.rstrip("/")) + 1:]), kind,
                         field)


def _location(datastore: str, container: str, path: str, kind: str, field: str) -> Location:
    names.container_name(container, f"{field}.path")
    if config.internal_container(container):
        raise ValidationError(f"{field}.path", f"container '{container}' holds the service's "
                              "own state")
    path = names.check_text(unquote(path), f"{field}.path")
    segments = [s for s in path.split("/") if s]
    if any(s in (".", "..") for s in segments) or "\\" in path:
        raise ValidationError(f"{field}.path", "must not contain '.', '..' or '\\' segments")
    clean = posixpath.join(*segments) if segments else ""
    if kind == URI_FILE and not clean:
        raise ValidationError(f"{field}.path", "a uri_file must name a file, not a container")
    if len(clean) > 1024:
        raise ValidationError(f"{field}.path", "is longer than 1024 characters")
    return Location(datastore=datastore, container=container, path=clean, kind=kind)
