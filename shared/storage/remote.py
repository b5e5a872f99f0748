"""Blob accounts other than the app's own: which hosts may be read, and readers for them.

A user's data lives in their own storage accounts. The service reads a URL of another
account only where it is an Azure Storage endpoint of the cloud in use (`<account>.blob.` or
`<account>.dfs.` + the `BATCH_STORAGE_SUFFIX` setting, `core.windows.net` by default) or a
host the operator listed in `BATCH_STORAGE_ALLOWED_HOSTS`, over https, and never where the
name resolves to a loopback, link-local, private or metadata address: the app must not be
turned into a client of its own network. When the app's own storage is the emulator, the
emulator's other accounts are reached path-style at its blob address
(`http://127.0.0.1:<port>/<account>/...`, Azurite's `AZURITE_ACCOUNTS`).

A reader signs as the account's access asks: a SAS as given, an account key (a SAS per
container made from it), the app's identity (a bearer token), or nothing (a public
container).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import ipaddress
import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from azure.storage.blob import BlobServiceClient, ContainerClient

from shared import netrules
from shared.errors import ValidationError
from shared.storage.blobreads import BlobReads
from shared.storage.connection import StorageAccount

CONNECTIONS = 32  # per other account and process: its readers share one pool


class Access(enum.StrEnum):
    """How the service signs its reads of another account."""

    ANONYMOUS = "anonymous"  # a public container
    SAS = "sas"  # the caller's SAS token
    KEY = "key"  # a datastore's account key
    IDENTITY = "identity"  # the app's managed identity (Storage Blob Data Reader)


SECRET_ACCESS = (Access.SAS, Access.KEY)
ACCOUNT_NAME = re.compile(r"[a-z0-9]{3,24}")  # Azure Storage's account names


def storage_suffix() -> str:
    return os.environ.get("BATCH_STORAGE_SUFFIX", "core.windows.net").strip().lower()


def allowed_hosts() -> set[str]:
    raw = os.environ.get("BATCH_STORAGE_ALLOWED_HOSTS", "")
    return {h.strip().lower() for h in raw.split(",") if h.strip()}


@dataclass(frozen=True)
class Account:
    """Another account's blob endpoint: `https://<name>.blob.<suffix>` (or the emulator's
    `http://127.0.0.1:<port>/<name>`)."""

    name: str
    blob_endpoint: str


def emulated(own: StorageAccount) -> bool:
    """The app's storage is the emulator, addressed path-style on a loopback address."""
    url = urlsplit(own.blob_endpoint)
    return _is_ip(url.hostname or "") and ipaddress.ip_address(url.hostname).is_loopback \
        and url.path.strip("/") == own.name


def emulator_account(own: StorageAccount, url: str) -> tuple[Account, str] | None:
    """(account, the rest of the path) when `url` names one of the emulator's accounts at
    the emulator's own address; None for any other URL."""
    if not emulated(own):
        return None
    parsed, base = urlsplit(url), urlsplit(own.blob_endpoint)
    if (parsed.scheme, parsed.netloc) != (base.scheme, base.netloc):
        return None
    account, _, rest = parsed.path.lstrip("/").partition("/")
    return Account(account, f"{base.scheme}://{base.netloc}/{account}"), rest


def check_account_name(name: str, field: str) -> str:
    if not ACCOUNT_NAME.fullmatch(name):
        raise ValidationError(field, f"'{name}' is not a storage account name (3-24 lowercase "
                              "letters and digits)")
    return name


def storage_account(host: str, field: str) -> Account:
    """The account a https host names, its blob endpoint standing in for a dfs one; refused
    unless it is a storage host of this cloud or listed, and resolves to public addresses."""
    host = host.lower().rstrip(".")
    if not host:
        raise ValidationError(field, "must be a URL with a host")
    if _is_ip(host):
        raise ValidationError(field, "must name a storage account by its host name, not an "
                              "IP address")
    suffix = storage_suffix()
    name, _, rest = host.partition(".")
    if rest in (f"blob.{suffix}", f"dfs.{suffix}"):
        account = Account(check_account_name(name, field), f"https://{name}.blob.{suffix}")
    elif host in allowed_hosts():
        account = Account(name, f"https://{host}")
    else:
        raise ValidationError(field, f"host {host} is not an Azure Storage blob or dfs "
                              f"endpoint (<account>.blob.{suffix}) nor listed in the "
                              "BATCH_STORAGE_ALLOWED_HOSTS app setting")
    netrules.check_public_host(urlsplit(account.blob_endpoint).hostname or "", field)
    return account


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def identity_available(own: StorageAccount) -> bool:
    """The app signs in to its own storage with an identity, which may read others too."""
    return own.connection_string is None


def container(own: StorageAccount, account: Account, access: Access, secret: str,
              name: str) -> ContainerClient:
    """An SDK client of the other account's container (listing probes, ranges of tables)."""
    return _service(own, account, access, secret).get_container_client(name)


def reads(own: StorageAccount, account: Account, access: Access, secret: str) -> BlobReads:
    """The lean reader (blobreads.py) of the other account."""
    return _clients(own, account, access, secret)[1]


def _service(own: StorageAccount, account: Account, access: Access,
             secret: str) -> BlobServiceClient:
    return _clients(own, account, access, secret)[0]


@functools.lru_cache(maxsize=16)
def _clients(own: StorageAccount, account: Account, access: Access,
             secret: str) -> tuple[BlobServiceClient, BlobReads]:
    """One SDK client and one lean reader per account and access, shared by the jobs that
    read it (a mini-batch's files come from one)."""
    target = _as_account(own, account, access, secret)
    credential = target.credential() if access == Access.IDENTITY else None
    if target.connection_string is not None:
        service = BlobServiceClient.from_connection_string(target.connection_string)
    else:
        service = BlobServiceClient(account.blob_endpoint, credential=credential)
    return service, BlobReads(target, credential, service.api_version, CONNECTIONS)


def _as_account(own: StorageAccount, account: Account, access: Access,
                secret: str) -> StorageAccount:
    """The other account in the shape the readers take (shared/storage/connection.py)."""
    base = f"BlobEndpoint={account.blob_endpoint};"
    if access == Access.SAS:
        return StorageAccount(account.name, account.blob_endpoint,
                              connection_string=f"{base}SharedAccessSignature={secret}")
    if access == Access.KEY:
        protocol = urlsplit(account.blob_endpoint).scheme
        return StorageAccount(account.name, account.blob_endpoint, connection_string=(
            f"DefaultEndpointsProtocol={protocol};AccountName={account.name};"
            f"AccountKey={secret};{base}"))
    if access == Access.IDENTITY:
        if not identity_available(own):
            raise ValueError("the app signs in to storage with a connection string: it has no "
                             "identity to read other accounts with")
        return dataclasses.replace(own, name=account.name, blob_endpoint=account.blob_endpoint,
                                   queue_endpoint="", table_endpoint="")
    return StorageAccount(account.name, account.blob_endpoint, connection_string=base)
