"""Datastores: named blob containers the service reads inputs from and writes outputs to.

`workspaceblobstore` always exists (its container comes from the app settings), as in an
Azure ML workspace; so does `inbox`, the container users drop files into to start jobs.
Others name a container of the app's own account, or a container or ADLS Gen2 filesystem of
another account (inputs are read there) with Azure ML's credentials: an account key or a
SAS token, kept encrypted (shared/secrets.py) and never answered, or none (the app's
identity, or a public container).
"""

from __future__ import annotations

import base64
from typing import Any

from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobBlock

from shared import config, names, secrets
from shared.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationError
from shared.resources import paging
from shared.resources.schemas import Parsed, parse
from shared.resources.schemas.limits import check_stored_size
from shared.resources.schemas.resources import DatastoreBody
from shared.storage import remote
from shared.storage.clients import Storage
from shared.storage.documents import DocumentTable
from shared.storage.remote import Access

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


def show(storage: Storage, name: str) -> dict[str, Any]:
    return shown(get(storage, name))


def list_page(storage: Storage, page: paging.PageRequest) -> paging.Page:
    """The built-in datastores first (on the first page), then the registered ones by name."""
    found = paging.documents(storage.table(config.TABLE_DATASTORES), page,
                             "PartitionKey eq @pk", {"pk": _PARTITION})
    first = [] if page.token else list(_builtins(storage).values())
    return paging.Page(first + [shown(d) for d in found.items], found.next_token)


def create_or_update(storage: Storage, name: str, body: object) -> Parsed[dict[str, Any]]:
    names.asset_name(name)
    if name in _builtins(storage):
        raise ConflictError(f"{name} is a built-in datastore, configured by app settings")
    parsed = parse(DatastoreBody, body)
    spec = parsed.value
    if spec.name not in (None, name):
        raise ValidationError("name", f"does not match the URL ('{name}')")
    kind = spec.type or "azure_blob"
    field, container = _container_of(kind, spec.container_name, spec.filesystem)
    container = names.container_name(container, field)
    kind_of_secret, secret = _credentials(spec.credentials)
    protocols = ("https", "wasbs") if kind == "azure_blob" else ("https", "abfss")
    if spec.protocol not in (None, *protocols):
        raise ValidationError("protocol", f"must be one of {', '.join(protocols)} for {kind}")
    account = _other_account(storage, spec.account_name, spec.endpoint)
    if account is None:
        if config.internal_container(container):
            raise ValidationError(field, f"'{container}' holds the service's own state and "
                                  "cannot be a datastore")
        if secret:
            raise ValidationError("credentials", "the service reads its own storage account "
                                  f"'{storage.account.name}' with its own access: credentials "
                                  "are for datastores on other accounts")
    doc = _doc(storage, name, container, spec.description or "")
    doc["type"] = kind
    if kind == "azure_data_lake_gen2":
        doc["filesystem"] = doc.pop("container_name")
    doc["tags"] = spec.tags or {}
    if account is not None:
        doc |= {"account_name": account.name, "endpoint": spec.endpoint or
                remote.storage_suffix(), "protocol": spec.protocol or "https",
                "blob_endpoint": account.blob_endpoint,
                "credentials": {"type": kind_of_secret}}
    check_stored_size(doc, "body")
    if secret:
        secrets.put(storage, secrets.DATASTORE, name, secret)  # before the doc names it
    _table(storage).put(_PARTITION, name, doc)
    if not secret:
        secrets.forget(storage, secrets.DATASTORE, name)  # an update that dropped it
    return Parsed(shown(doc), parsed.warnings)


def _container_of(kind: str, container: str | None, filesystem: str | None) -> tuple[str, str]:
    """(field, name): azure_blob names a container_name, ADLS Gen2 a filesystem."""
    if kind == "azure_blob":
        if filesystem is not None:
            raise ValidationError("filesystem", "is for azure_data_lake_gen2; an azure_blob "
                                  "datastore names a container_name")
        return "container_name", container or ""
    if container is not None:
        raise ValidationError("container_name", "is for azure_blob; an "
                              "azure_data_lake_gen2 datastore names a filesystem")
    return "filesystem", filesystem or ""


def _credentials(spec: Any) -> tuple[str, str]:
    """(account_key | sas | none, the secret)."""
    if spec is None:
        return "none", ""
    for unsupported in ("tenant_id", "client_id", "client_secret", "certificate"):
        if getattr(spec, unsupported) is not None:
            raise ValidationError(f"credentials.{unsupported}", "service principals are not "
                                  "supported: use an account_key, a sas_token, or no "
                                  "credentials (the app's identity)")
    if spec.account_key and spec.sas_token:
        raise ValidationError("credentials", "give an account_key or a sas_token, not both")
    if spec.account_key:
        return "account_key", spec.account_key
    if spec.sas_token:
        return "sas", spec.sas_token.lstrip("?")
    return "none", ""


def _other_account(storage: Storage, account_name: str | None,
                   endpoint: str | None) -> remote.Account | None:
    """The other account a datastore names (None: the app's own), under the host rules."""
    if account_name in (None, storage.account.name):
        return None
    remote.check_account_name(account_name, "account_name")
    if remote.emulated(storage.account):
        url = f"{storage.account.blob_endpoint.rsplit('/', 1)[0]}/{account_name}/"
        found = remote.emulator_account(storage.account, url)
        assert found is not None
        return found[0]
    suffix = (endpoint or remote.storage_suffix()).strip().lower()
    return remote.storage_account(f"{account_name}.blob.{suffix}", "account_name")


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    """A datastore as answered: its blob endpoint is the service's business."""
    return {k: v for k, v in doc.items() if k != "blob_endpoint"}


def container_of(doc: dict[str, Any]) -> str:
    return doc.get("container_name") or doc["filesystem"]


def read_access(storage: Storage, doc: dict[str, Any]) -> tuple[str, str]:
    """How an other account's datastore is read: (remote.Access or "" = to be probed, the
    secret)."""
    kind = doc["credentials"]["type"]
    if kind == "none":
        return "", ""
    secret = secrets.get(storage, secrets.DATASTORE, doc["name"])
    if secret is None:
        raise ValidationError("datastore", f"datastore {doc['name']}: its credentials are "
                              "missing; create it again with them")
    return (Access.KEY if kind == "account_key" else Access.SAS), secret


def delete(storage: Storage, name: str) -> None:
    if name in _builtins(storage):
        raise ConflictError(f"{name} is a built-in datastore and cannot be deleted")
    get(storage, name)
    _table(storage).delete(_PARTITION, name)
    secrets.forget(storage, secrets.DATASTORE, name)


def by_container(storage: Storage, container: str) -> dict[str, Any] | None:
    """The datastore whose container this is, if any (for plain `<container>/<path>` inputs)."""
    for doc in [*_builtins(storage).values(), *_table(storage).list(_PARTITION)]:
        if container_of(doc) == container and "blob_endpoint" not in doc:
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
    container = _reader(storage, doc)
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


UPLOAD_PART_BYTES = 32 * 1024 * 1024  # a request's body: well under the host's 100 MB cap
MAX_PARTS = 50_000  # blocks of a blob (Azure Storage's limit)


def upload(storage: Storage, name: str, path: str, data: bytes, *, part: int | None = None,
           parts: int | None = None) -> dict[str, Any]:
    """Put one file into a datastore (refused if it is there already), so a user can score
    files from their own machine with no storage credentials of their own; returns its
    azureml:// URI. A file bigger than one request goes in parts: `part=0, 1, ...` stage
    its blocks, then `parts=<count>` (no body) commits them as the file, atomically."""
    doc = get(storage, names.asset_name(name))  # checked before any storage call
    if "blob_endpoint" in doc:
        raise ValidationError("datastore", f"{name} is on another storage account, which the "
                              "service only reads: upload into one of its own datastores")
    path = _inside("path", path or "")
    if not path or any(not p for p in path.split("/")):
        raise ValidationError("path", "must name a file, e.g. uploads/batch-1/image.png")
    if len(data) > UPLOAD_PART_BYTES:
        raise PayloadTooLargeError(f"body is larger than {UPLOAD_PART_BYTES} bytes: send the "
                                   "file in parts (?part=0, ?part=1, ... then ?parts=<count>)")
    blob = storage.container(container_of(doc)).get_blob_client(path)
    where = {"datastore": name, "path": path,
             "uri": f"azureml://datastores/{name}/paths/{path}"}
    if part is not None:
        if parts is not None:
            raise ValidationError("parts", "a request stages a part or commits them, not both")
        if not 0 <= part < MAX_PARTS:
            raise ValidationError("part", f"must be 0 to {MAX_PARTS - 1}")
        blob.stage_block(_block_id(part), data)
        return {**where, "part": part, "size": len(data)}
    try:
        if parts is None:
            if len(data) > config.MAX_INPUT_FILE_BYTES:
                raise ValidationError("body", f"is larger than {config.MAX_INPUT_FILE_BYTES} "
                                      "bytes")
            blob.upload_blob(data, overwrite=False)
            return {**where, "size": len(data)}
        return {**where, "size": _commit(blob, parts, data)}
    except (ResourceExistsError, ResourceModifiedError):
        raise ConflictError(f"{name}/{path} exists already; upload under another folder") \
            from None


def _commit(blob: Any, parts: int, data: bytes) -> int:
    """Commit staged blocks 0..parts-1 as the blob, if it does not exist; its size."""
    if data:
        raise ValidationError("body", "a commit (?parts=) carries no body")
    if not 1 <= parts <= MAX_PARTS:
        raise ValidationError("parts", f"must be 1 to {MAX_PARTS}")
    if blob.exists():
        raise ResourceExistsError("the file exists")
    try:
        _, staged = blob.get_block_list("uncommitted")
    except ResourceNotFoundError:
        staged = []
    sizes = {b.id: b.size for b in staged}
    wanted = [_block_id(i) for i in range(parts)]
    missing = [i for i, block in enumerate(wanted) if block not in sizes]
    if missing:
        raise ValidationError("parts", f"part {missing[0]} was not uploaded ({len(missing)} "
                              "of the parts are missing)")
    size = sum(sizes[b] for b in wanted)
    if size > config.MAX_INPUT_FILE_BYTES:
        raise ValidationError("parts", f"the file would be {size} bytes, over "
                              f"{config.MAX_INPUT_FILE_BYTES}")
    blob.commit_block_list([BlobBlock(b) for b in wanted], headers={"If-None-Match": "*"})
    return size


def _block_id(part: int) -> str:
    """Block ids of one blob must all have the same length."""
    return base64.b64encode(f"part-{part:08d}".encode()).decode()


def _reader(storage: Storage, doc: dict[str, Any]) -> Any:
    """The SDK client of a datastore's container, on whichever account it is."""
    if "blob_endpoint" not in doc:
        return storage.blobs.get_container_client(container_of(doc))
    access, secret = read_access(storage, doc)
    if not access:
        access = (Access.IDENTITY if remote.identity_available(storage.account)
                  else Access.ANONYMOUS)
    account = remote.Account(doc["account_name"], doc["blob_endpoint"])
    return remote.container(storage.account, account, Access(access), secret,
                            container_of(doc))


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
