"""Input and output locations: `azureml://datastores/<ds>/paths/<p>`, `<container>/<p>`,
blob URLs of this service's storage account, and (inputs) blob, dfs, `abfss://` and
`wasbs://` URLs of other storage accounts, public, with a SAS, or readable by the app's
identity (shared/storage/remote.py says which hosts). Anything else is refused before a job
exists.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlparse, urlsplit

from shared import config, names, netrules
from shared.errors import ValidationError
from shared.resources import datastores
from shared.storage import remote
from shared.storage.clients import Storage

_AZUREML = re.compile(r"azureml://datastores/(?P<ds>[^/]+)/paths/(?P<path>.*)")
_HADOOP = re.compile(r"(?P<scheme>abfss?|wasbs?)://(?P<container>[^@/]+)@(?P<host>[^/?#]+)"
                     r"(?P<rest>[^?#]*)(?P<query>\?[^#]*)?")
URI_FOLDER = "uri_folder"
URI_FILE = "uri_file"
SAS_SHOWN = "?<SAS>"  # what a job, a log line or an error shows in place of a SAS


@dataclass(frozen=True)
class Location:
    """A resolved blob location inside a container: of a datastore, or (`account` set) of
    another storage account named by a URL."""

    datastore: str
    container: str
    path: str  # no leading '/'; a folder path has no trailing '/' ('' = container root)
    kind: str  # uri_folder | uri_file
    account: str = ""  # another storage account's name ("" = the app's own)
    endpoint: str = ""  # its blob endpoint
    access: str = ""  # remote.Access; "" until invoke has probed how it can be read
    secret: str = field(default="", repr=False, compare=False)  # a SAS or key: never shown

    @property
    def remote(self) -> remote.Account | None:
        return remote.Account(self.account, self.endpoint) if self.account else None

    @property
    def uri(self) -> str:
        if self.datastore:
            return f"azureml://datastores/{self.datastore}/paths/{self.path}"
        shown = SAS_SHOWN if self.access == remote.Access.SAS else ""
        return f"{self.endpoint}/{self.container}/{self.path}{shown}"

    @property
    def prefix(self) -> str:
        """Listing prefix for a folder."""
        return f"{self.path}/" if self.path else ""

    def to_dict(self) -> dict[str, str]:
        """What the job records (the secret is kept apart: shared/secrets.py)."""
        out = {"datastore": self.datastore, "container": self.container, "path": self.path,
               "type": self.kind, "uri": self.uri}
        if self.account:
            out |= {"account": self.account, "endpoint": self.endpoint, "access": self.access}
        return out

    @classmethod
    def from_dict(cls, value: dict[str, Any], secret: str = "") -> Location:
        return cls(value["datastore"], value["container"], value["path"], value["type"],
                   value.get("account", ""), value.get("endpoint", ""),
                   value.get("access", ""), secret)


def resolve(storage: Storage, value: object, kind: str, field: str, *,
            other_accounts: bool = True) -> Location:
    """`other_accounts`: URLs of other storage accounts are allowed (inputs are read
    there; outputs and models stay in the app's datastores)."""
    if kind not in (URI_FOLDER, URI_FILE):
        raise ValidationError(f"{field}.type", "must be uri_folder or uri_file")
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field}.path", "is required")
    text = names.check_text(value, f"{field}.path").strip()
    m = _AZUREML.fullmatch(text)
    if m:
        return _in_named_datastore(storage, m.group("ds"), m.group("path"), kind, field,
                                   other_accounts)
    hadoop = _HADOOP.fullmatch(text)
    if hadoop:  # abfss://<filesystem>@<account>.dfs.<suffix>/<path>: the same blobs
        text = (f"https://{hadoop['host']}/{hadoop['container']}{hadoop['rest']}"
                f"{hadoop['query'] or ''}")
    if text.startswith(("http://", "https://")):
        return _from_url(storage, text, kind, field, other_accounts)
    if "://" in text or text.startswith(("/", "\\", "~")) or re.match(r"[a-zA-Z]:", text):
        raise ValidationError(
            f"{field}.path", "must be azureml://datastores/<datastore>/paths/<path>, "
            "<container>/<path> or an Azure Storage URL (https://<account>.blob.core.windows"
            ".net/<container>/<path>, a SAS URL, abfss://<filesystem>@<account>.dfs.core."
            "windows.net/<path>)")
    if text.startswith("azureml:"):
        raise ValidationError(f"{field}.path", "a data asset cannot be used here; use "
                              "azureml://datastores/<datastore>/paths/<path>")
    return _in_datastore(storage, text, kind, field)


def _in_named_datastore(storage: Storage, name: str, path: str, kind: str, field: str,
                        other_accounts: bool) -> Location:
    store = datastores.get(storage, names.asset_name(name, f"{field}.path"))
    found = _location(store["name"], datastores.container_of(store), path, kind, field)
    if "blob_endpoint" not in store:
        return found
    if not other_accounts:
        raise ValidationError(f"{field}.path", f"datastore {name} is on another storage "
                              f"account ('{store['account_name']}'), which the service only "
                              "reads: write to one of its own datastores")
    access, secret = datastores.read_access(storage, store)
    return replace(found, account=store["account_name"], endpoint=store["blob_endpoint"],
                   access=access, secret=secret)


def _in_datastore(storage: Storage, container_path: str, kind: str, field: str) -> Location:
    """`<container>/<path>`, allowed only where the container is a registered datastore."""
    container, _, path = container_path.partition("/")
    store = datastores.by_container(storage, container)
    if store is None:
        raise ValidationError(
            f"{field}.path", f"container '{container}' is not a registered datastore")
    return _location(store["name"], container, path, kind, field)


def _from_url(storage: Storage, url: str, kind: str, field: str,
              other_accounts: bool) -> Location:
    base = storage.account.blob_endpoint
    netrules.http_url(url, f"{field}.path")  # a malformed URL is the caller's 400
    parsed, own = urlparse(url), urlparse(base)
    if (parsed.scheme, parsed.netloc) == (own.scheme, own.netloc) and parsed.path.startswith(
        own.path.rstrip("/") + "/"
    ):
        return _in_datastore(storage, unquote(parsed.path[len(own.path.rstrip("/")) + 1:]),
                             kind, field)
    where = f"{field}.path"
    shown = url.split("?", 1)[0] + (SAS_SHOWN if "?" in url else "")
    if not other_accounts:
        raise ValidationError(where, f"{shown}: must be in a datastore of this service's "
                              f"storage account ({base})")
    split = urlsplit(url)
    if split.username or split.password or split.fragment:
        raise ValidationError(where, f"{shown}: a storage URL carries no user name, password "
                              "or #fragment")
    sas = split.query
    if sas and "sig=" not in sas:
        raise ValidationError(where, f"{shown}: the query string of a storage URL must be a "
                              "SAS token (with sig=)")
    emulated = remote.emulator_account(storage.account, url)
    if emulated:
        account, rest = emulated
        remote.check_account_name(account.name, where)
    else:
        if split.scheme != "https":
            raise ValidationError(where, f"{shown}: storage URLs must be https")
        account, rest = remote.storage_account(split.hostname or "", where), split.path
        if account.blob_endpoint == base:  # our own account, by its dfs name
            return _in_datastore(storage, unquote(rest.lstrip("/")), kind, field)
    container, _, path = rest.lstrip("/").partition("/")
    found = _location("", container, path, kind, field)
    return replace(found, account=account.name, endpoint=account.blob_endpoint,
                   access=remote.Access.SAS if sas else "", secret=sas)


def _location(datastore: str, container: str, path: str, kind: str, field: str) -> Location:
    names.container_name(container, f"{field}.path")
    if datastore and config.internal_container(container):  # (another account's are its own)
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
