"""Where a job's input files are read: the app's own account (its clients), or another
account (shared/storage/remote.py) signed as the job's input asks.

Invoke decides how another account's input can be read (a SAS as given; else anonymously,
a public container; else with the app's identity), checks there are files, and keeps a SAS
or key with the job (shared/secrets.py) only until the job ends.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared import secrets
from shared.errors import ValidationError
from shared.jobs.paths import URI_FILE, Location
from shared.storage import remote
from shared.storage.blobreads import BlobReads
from shared.storage.clients import Storage
from shared.storage.remote import Access


@dataclass(frozen=True)
class InputStore:
    """The readers of one container: lean GETs and listing pages, and the SDK's client."""

    reads: BlobReads
    container: ContainerClient


def store(storage: Storage, where: Location) -> InputStore:
    account = where.remote
    if account is None:
        return InputStore(storage.reads, storage.blobs.get_container_client(where.container))
    access = Access(where.access)
    return InputStore(remote.reads(storage.account, account, access, where.secret),
                      remote.container(storage.account, account, access, where.secret,
                                       where.container))


def for_job(storage: Storage, job_name: str, source: dict[str, Any]) -> InputStore:
    """The readers of a job's input (`job.input`)."""
    secret = ""
    if source.get("access") in remote.SECRET_ACCESS:
        secret = _job_secret(storage, job_name)
    return store(storage, Location.from_dict(source, secret))


@functools.lru_cache(maxsize=64)
def _job_secret(storage: Storage, job_name: str) -> str:
    found = secrets.get(storage, secrets.JOB, job_name)
    if found is None:
        raise ValidationError("inputs", f"job {job_name}: the credential of its input is gone "
                              "(it is dropped when the job ends)")
    return found


def keep_secret(storage: Storage, job_name: str, where: Location) -> None:
    """Store the SAS or key the job's reads sign with, until the job ends."""
    if where.secret:
        secrets.put(storage, secrets.JOB, job_name, where.secret)


def forget_secret(storage: Storage, job_name: str, source: dict[str, Any]) -> None:
    """The job ended: its input's SAS or key is no longer kept."""
    if source.get("access") in remote.SECRET_ACCESS:
        secrets.forget(storage, secrets.JOB, job_name)


def check_readable(storage: Storage, where: Location) -> Location:
    """The location with how it is read settled (another account without a SAS: anonymously
    if its container is public, else with the app's identity), once at least one file was
    found there; a 400 saying why not otherwise."""
    if where.secret:
        secrets.check_configured()
    tries = [where] if where.access or not where.account else [
        replace(where, access=Access.ANONYMOUS)]
    if not where.access and where.account and remote.identity_available(storage.account):
        tries.append(replace(where, access=Access.IDENTITY))
    refused = ""
    for attempt in tries:
        try:
            if _has_files(store(storage, attempt).container, attempt):
                return attempt
        except HttpResponseError as e:  # 401/403; 409: the account allows no public access
            if e.status_code not in (401, 403, 409):
                raise
            refused = f" (storage refused: HTTP {e.status_code} {e.error_code or ''}".rstrip()
            refused += ")"
    what = "file" if where.kind == URI_FILE else "files"
    if refused:
        raise ValidationError("inputs", f"cannot read {where.uri}{refused}: {_HOW_TO_READ}")
    hint = f" (or it cannot be read: {_HOW_TO_READ})" if where.account and not where.access \
        else ""
    raise ValidationError("inputs", f"no {what} found at {where.uri}{hint}")


_HOW_TO_READ = ("make the container public, pass a SAS URL with read and list permissions, "
                "or grant the app's identity Storage Blob Data Reader on the account")


def _has_files(container: ContainerClient, where: Location) -> bool:
    try:
        if where.kind == URI_FILE:
            container.get_blob_client(where.path).get_blob_properties()
            return True
        page = next(container.walk_blobs(name_starts_with=where.prefix,
                                         results_per_page=5).by_page())
        return any(True for _ in page)
    except (ResourceNotFoundError, StopIteration):
        return False
