"""Datastores: named blob containers the service reads inputs from and writes outputs to.

`workspaceblobstore` always exists (its container comes from the app settings), as in an
Azure ML workspace; so does `inbox`, the container users drop files into to start jobs.
"""

from __future__ import annotations

from typing import Any

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
    return DocumentTable(storage.table(config.TABLE_DATASTORES))


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
    if _internal(container):
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


def _internal(container: str) -> bool:
    """Containers the service and the Functions host keep their state in."""
    from shared.messages import ALL_QUEUES, poison

    internal = {config.MODELS_CONTAINER, config.JOBS_CONTAINER, *ALL_QUEUES,
                *(poison(q) for q in ALL_QUEUES)}
    return container in internal or container.startswith(("azure-webjobs-", "scm-"))


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
