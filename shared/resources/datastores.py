"""Datastores: named blob containers the service reads inputs from and writes outputs to.

`workspaceblobstore` always exists (its container comes from the app settings), as in an
Azure ML workspace; so does `inbox`, the container users drop files into to start jobs.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.resources import paging
from shared.resources.schemas import Parsed, parse
from shared.resources.schemas.limits import check_stored_size
from shared.resources.schemas.resources import DatastoreBody
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable

_PARTITION = "datastore"


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_DATASTORES), storage.rows)


def _builtins(storage: Storage) -> dict[str, dict[str, Any]]:
    return {
        config.DEFAULT_DATASTORE: _doc(storage, config.DEFAULT_DATASTORE,
                                       config.default_datastore_container(),
                                       "the default datastore"),
        config.INBOX_DATASTORE: _doc(storage, config.INBOX_DATASTORE, config.inbox_container(),
                                     "drop files under <endpoint>/<folder>/ to start jobs"),
    }


def _doc(storage: Storage, name: str, container: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "azure_blob",
        "account_name": storage.account.name,
        "container_name": container,
        "description": description,
        "is_default": name == config.DEFAULT_DATASTORE,
    }


def get(storage: Storage, name: str) -> dict[str, Any]:
    builtin = _builtins(storage).get(name)
    if builtin:
        return builtin
    doc = _table(storage).get(_PARTITION, name)
    if doc is None:
        raise NotFoundError(f"datastore {name} not found")
    return doc


def list_page(storage: Storage, page: paging.PageRequest) -> paging.Page:
    """The built-in datastores first (on the first page), then the registered ones by name."""
    found = paging.documents(storage.table(config.TABLE_DATASTORES), page,
                             "PartitionKey eq @pk", {"pk": _PARTITION})
    first = [] if page.token else list(_builtins(storage).values())
    return paging.Page(first + found.items, found.next_token)


def create_or_update(storage: Storage, name: str, body: object) -> Parsed[dict[str, Any]]:
    names.asset_name(name)
    if name in _builtins(storage):
        raise ConflictError(f"{name} is a built-in datastore, configured by app settings")
    parsed = parse(DatastoreBody, body)
    spec = parsed.value
    if spec.name not in (None, name):
        raise ValidationError("name", f"does not match the URL ('{name}')")
    container = names.container_name(spec.container_name, "container_name")
    if config.internal_container(container):
        raise ValidationError("container_name", f"'{container}' holds the service's own state "
                              "and cannot be a datastore")
    if spec.account_name not in (None, storage.account.name):
        raise ValidationError(
            "account_name", f"must be this service's storage account '{storage.account.name}'")
    doc = _doc(storage, name, container, spec.description or "")
    doc["tags"] = spec.tags or {}
    check_stored_size(doc, "body")
    _table(storage).put(_PARTITION, name, doc)
    return Parsed(doc, parsed.warnings)


def delete(storage: Storage, name: str) -> None:
    if name in _builtins(storage):
        raise ConflictError(f"{name} is a built-in datastore and cannot be deleted")
    get(storage, name)
    _table(storage).delete(_PARTITION, name)


def by_container(storage: Storage, container: str) -> dict[str, Any] | None:
    """The datastore whose container this is, if any (for plain `<container>/<path>` inputs)."""
    for doc in [*_builtins(storage).values(), *_table(storage).list(_PARTITION)]:
        if doc["container_name"] == container:
            return doc
    return None


BROWSE_LIMIT = 500


MAX_PREFIX = 256


def browse(storage: Storage, name: str, prefix: str = "") -> dict[str, Any]:
    """One level of a datastore's container under `prefix` (read-only): its sub-folders and
    files, at most BROWSE_LIMIT entries, so a user can pick a job's input folder or file."""
    names.asset_name(name)  # checked before any storage call
    prefix = _inside("prefix", prefix or "")
    doc = get(storage, name)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    container = storage.blobs.get_container_client(doc["container_name"])
    folders: list[str] = []
    files: list[dict[str, Any]] = []
    truncated = False
    try:
        for item in container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
            if len(folders) + len(files) >= BROWSE_LIMIT:
                truncated = True
                break
            if item.name.endswith("/"):
                folders.append(item.name)
            else:
                files.append({"name": item.name, "size": item.size,
                              "last_modified": item.last_modified.isoformat()})
    except ResourceNotFoundError:
        pass  # a container nobody wrote to yet is an empty datastore
    return {"datastore": name, "prefix": prefix, "folders": folders, "files": files,
            "truncated": truncated}


def upload(storage: Storage, name: str, path: str, data: bytes) -> dict[str, Any]:
    """Put one file into a datastore (refused if it is there already), so a user can score
    files from their own machine; returns its azureml:// URI."""
    names.asset_name(name)
    path = _inside("path", path or "")
    if not path or any(not part for part in path.split("/")):
        raise ValidationError("path", "must name a file, e.g. uploads/batch-1/image.png")
    if len(data) > config.MAX_INPUT_FILE_BYTES:
        raise ValidationError("body", f"is larger than {config.MAX_INPUT_FILE_BYTES} bytes")
    doc = get(storage, name)
    try:
        storage.container(doc["container_name"]).upload_blob(path, data, overwrite=False)
    except ResourceExistsError:
        raise ConflictError(f"{name}/{path} exists already; upload under another folder") \
            from None
    return {"datastore": name, "path": path, "size": len(data),
            "uri": f"azureml://datastores/{name}/paths/{path}"}


def _inside(field: str, path: str) -> str:
    """`path` as a blob name prefix inside the container: no `.`/`..` segments, no `\\`,
    short enough to travel in a URL (blob names allow 1,024 characters; a URL of 8 KB, the
    usual front-end limit, holds 256 characters however they are encoded)."""
    if len(path) > MAX_PREFIX:
        raise ValidationError(field, f"must be at most {MAX_PREFIX} characters")
    names.check_text(path, field)
    path = path.lstrip("/")
    if "\\" in path or any(part in (".", "..") for part in path.split("/")):
        raise ValidationError(field, "must be a path inside the datastore, without . or ..")
    return path
