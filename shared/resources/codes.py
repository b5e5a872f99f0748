"""Code assets: a scoring script's folder, versioned (`PUT /codes/{name}/versions/{version}`
with a zip, as `az ml` uploads `code: ./src`).

The zip is checked before anything is stored (scoring/folders.py: size, entries, paths that
would escape the folder) and stored under its content hash, so the same folder is stored
once however many versions name it; workers verify the hash again before unpacking. Only
deployers may upload or delete code (shared/auth/deployers.py): what is stored here runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared import config, names
from shared.errors import ConflictError, NotFoundError, ValidationError, scoring_rules
from shared.resources import paging
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable


def _table(storage: Storage) -> DocumentTable:
    return DocumentTable(storage.table(config.TABLE_CODES), storage.rows)


def upload(storage: Storage, name: str, version: str, data: bytes) -> tuple[dict[str, Any],
                                                                          bool]:
    """Store a code version; (doc, created?). The same folder sent again for an existing
    version is that version (200); a different one is a 409."""
    from scoring.folders import check_zip

    names.asset_name(name)
    names.version(version)
    if not data:
        raise ValidationError("code", "is empty: send the code folder as a zip file")
    with scoring_rules():
        checked = check_zip(data, "code")
    existing = _table(storage).get(name, version)
    if existing is not None:
        if existing["sha256"] == checked.sha256:
            return existing, False
        raise ConflictError(f"code {name}:{version} already exists with other content; "
                            "upload a new version")
    blob = storage.container(config.CODE_CONTAINER).get_blob_client(f"{checked.sha256}.zip")
    if not blob.exists():
        blob.upload_blob(data, overwrite=True)
    doc = {
        "name": name, "version": version, "id": f"azureml:{name}:{version}",
        "sha256": checked.sha256, "size_bytes": checked.size, "files": list(checked.files),
        "path": f"{config.CODE_CONTAINER}/{checked.sha256}.zip",
        "created_at": datetime.now(UTC).isoformat(),
    }
    if len(doc["files"]) > 200:  # the document stays small; the zip holds them all
        doc["files"] = doc["files"][:200] + [f"... {len(checked.files) - 200} more"]
    _table(storage).create(name, version, doc, f"code {name}:{version}")
    return doc, True


def get(storage: Storage, name: str, version: str) -> dict[str, Any]:
    doc = _table(storage).get(name, version)
    if doc is None:
        raise NotFoundError(f"code {name}:{version} not found")
    return doc


def list_page(storage: Storage, page: paging.PageRequest, name: str) -> paging.Page:
    return paging.documents(storage.table(config.TABLE_CODES), page, "PartitionKey eq @pk",
                            {"pk": name})


def resolve(storage: Storage, ref: str, field: str) -> dict[str, Any]:
    """`azureml:name:version` or `name:version` of an uploaded code version."""
    text = ref.removeprefix("azureml:")
    name, sep, version = text.rpartition(":")
    if not sep or not name:
        raise ValidationError(field, f"'{ref}' is not a code version: upload the folder "
                              "(PUT /codes/{name}/versions/{version}, or give a local path to "
                              "the CLI) and name it 'azureml:<name>:<version>'")
    return get(storage, names.asset_name(name, field), names.version(version, field))


def delete(storage: Storage, name: str, version: str, users: list[str]) -> None:
    doc = get(storage, name, version)
    if users:
        raise ConflictError(f"code {name}:{version} is used by deployment(s) "
                            f"{', '.join(users)}; delete or update them first")
    _table(storage).delete(name, version)
    if not any(d["sha256"] == doc["sha256"] for d in _table(storage).list()):
        try:
            storage.container(config.CODE_CONTAINER).delete_blob(f"{doc['sha256']}.zip")
        except ResourceNotFoundError:
            pass


def read_bytes(storage: Storage, sha256: str) -> bytes:
    return storage.container(config.CODE_CONTAINER).download_blob(f"{sha256}.zip").readall()
