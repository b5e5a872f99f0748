"""Data assets, as Azure ML's `az ml data`: a name and version naming where data is (a
datastore path or a storage URL), `uri_folder` or `uri_file`. Versions are immutable;
`azureml:<name>:<version>` and `azureml:<name>@latest` (the version created last) resolve at
invoke time, and the job records what they resolved to. A version a running job reads cannot
be deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.jobs import paths
from shared.jobs.jobindex import all_jobs
from shared.resources import paging
from shared.resources.schemas import Parsed, parse
from shared.resources.schemas.limits import check_stored_size
from shared.resources.schemas.resources import DataBody
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable

PREFIX = "azureml:"


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_DATA), storage.rows)


def create(storage: Storage, name: str, version: str, body: object) -> Parsed[dict[str, Any]]:
    """Register a version; the same document again is a no-op, a different one a 409."""
    names.asset_name(name)
    names.version(version)
    parsed = parse(DataBody, body)
    spec = parsed.value
    if spec.name not in (None, name):
        raise ValidationError("name", f"does not match the URL ('{name}')")
    if spec.version is not None and str(spec.version) != version:
        raise ValidationError("version", f"does not match the URL ('{version}')")
    if spec.path.startswith(PREFIX) and not spec.path.startswith("azureml://"):
        raise ValidationError("path", "must name where the data is, not another data asset")
    if "?" in spec.path:
        raise ValidationError("path", "must not carry a query string (a SAS is a secret an "
                              "asset would show): register a datastore with a sas_token "
                              "credential and use its azureml://datastores/... path")
    try:  # refused now rather than at invoke
        paths.resolve(storage, spec.path, spec.type, "data")
    except ValidationError as e:
        raise ValidationError("path", e.rule) from None
    doc = {"name": name, "version": version, "id": f"{PREFIX}{name}:{version}",
           "type": spec.type, "path": spec.path, "description": spec.description or "",
           "tags": spec.tags or {}}
    existing = _table(storage).get(name, version)
    if existing is not None:
        if {k: existing.get(k) for k in doc} == doc:
            return Parsed(existing, parsed.warnings)
        raise ConflictError(f"data asset {name}:{version} already exists with other "
                            "content; data versions are immutable: create a new version")
    doc["creation_context"] = {"created_at": datetime.now(UTC).isoformat()}
    check_stored_size(doc, "body")
    _table(storage).create(name, version, doc, f"data asset {name}:{version}")
    return Parsed(doc, parsed.warnings)


def get(storage: Storage, name: str, version: str) -> dict[str, Any]:
    doc = _table(storage).get(name, version)
    if doc is None:
        raise NotFoundError(f"data asset {name}:{version} not found")
    return doc


def latest(storage: Storage, name: str) -> dict[str, Any]:
    docs = list(_table(storage).list(name))
    if not docs:
        raise NotFoundError(f"data asset {name} not found")
    return max(docs, key=lambda d: d["creation_context"]["created_at"])


def list_page(storage: Storage, page: paging.PageRequest, name: str | None = None
              ) -> paging.Page:
    """Data assets in (name, version) key order; with `name`, that asset's versions."""
    table = storage.table(config.TABLE_DATA)
    if name is None:
        return paging.documents(table, page, paging.ALL)
    return paging.documents(table, page, "PartitionKey eq @pk", {"pk": name})


def is_reference(value: str) -> bool:
    """`azureml:<name>:<version>` or `azureml:<name>@latest` (not an azureml:// URI)."""
    return value.startswith(PREFIX) and not value.startswith("azureml://")


def resolve(storage: Storage, ref: str, field: str) -> dict[str, Any]:
    """The version a reference names (`@latest`: the newest), or a 4xx saying why not."""
    text = ref.removeprefix(PREFIX)
    if text.endswith("@latest"):
        return latest(storage, names.asset_name(text[:-len("@latest")], field))
    name, sep, version = text.rpartition(":")
    if not sep:
        raise ValidationError(field, f"'{ref}' names no version: use '{ref}:<version>' or "
                              f"'{ref}@latest'")
    return get(storage, names.asset_name(name, field), names.version(version, field))


def delete(storage: Storage, name: str, version: str) -> None:
    doc = get(storage, name, version)
    users = [j.name for j in all_jobs(storage)
             if not j.status.terminal and j.input.get("data_asset") == doc["id"]]
    if users:
        raise ConflictError(f"data asset {doc['id']} is read by running job(s) "
                            f"{', '.join(users)}; cancel them or wait until they end")
    _table(storage).delete(name, version)
