"""Where the app's storage account is and how to sign in to it, from app settings.

A connection setting (`AzureWebJobsStorage`) takes the two forms the Functions host takes:

- a connection string; `UseDevelopmentStorage=true` is understood by the blob and queue SDKs
  but not by azure-data-tables, so it is expanded here once, for all three, into Azurite's full
  string (`azurite_connection_string` lets tests point it at an Azurite on free ports);
- an identity-based connection, settings under `<setting>__`: `accountName`, or the service
  URIs `blobServiceUri` (or `serviceUri`), `queueServiceUri`, `tableServiceUri`; and how to get
  a token: `credential=managedidentity` with an optional `clientId` (a user-assigned identity),
  `tenantId` + `clientId` + `clientSecret` (a service principal), or nothing, which means
  azure-identity's `DefaultAzureCredential`. The account needs blob, queue and table URIs: the
  service uses all three.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.errors import ConfigError

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
SERVICES = ("blob", "queue", "table")
MANAGED_IDENTITY = "managedidentity"


def azurite_connection_string(
    host: str = "127.0.0.1", ports: dict[str, int] | None = None
) -> str:
    """The full connection string for an Azurite at `host` with the given ports."""
    p = {**DEFAULT_PORTS, **(ports or {})}
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{p['blob']}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint=http://{host}:{p['queue']}/{AZURITE_ACCOUNT};"
        f"TableEndpoint=http://{host}:{p['table']}/{AZURITE_ACCOUNT};"
    )


def parse(conn_str: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in conn_str.strip().strip(";").split(";"):
        if not piece:
            continue
        key, sep, value = piece.partition("=")
        if not sep:
            raise ConfigError(f"connection string part '{piece}' is not key=value")
        parts[key.strip()] = value.strip()
    return parts


def expand(conn_str: str) -> str:
    """Return a connection string every SDK understands (expands development storage)."""
    parts = parse(conn_str)
    if parts.get("UseDevelopmentStorage", "").lower() == "true":
        return azurite_connection_string()
    return conn_str


@dataclass(frozen=True)
class StorageAccount:
    """The account behind a connection setting: its name, service endpoints and sign-in.

    `connection_string` is set for the connection-string form; otherwise `credential()` makes
    the token credential the identity settings ask for.
    """

    name: str
    blob_endpoint: str
    queue_endpoint: str = ""
    table_endpoint: str = ""
    connection_string: str | None = None
    credential_kind: str = ""
    client_id: str = ""
    tenant_id: str = ""
    client_secret: str = ""

    @classmethod
    def from_connection_string(cls, conn_str: str) -> StorageAccount:
        full = expand(conn_str)
        parts = parse(full)
        name = parts.get("AccountName", "")
        protocol = parts.get("DefaultEndpointsProtocol", "https")
        suffix = parts.get("EndpointSuffix", "core.windows.net")
        endpoints = {
            service: (parts.get(f"{service.capitalize()}Endpoint")
                      or f"{protocol}://{name}.{service}.{suffix}").rstrip("/")
            for service in SERVICES
        }
        return cls(name=name, blob_endpoint=endpoints["blob"],
                   queue_endpoint=endpoints["queue"], table_endpoint=endpoints["table"],
                   connection_string=full)

    @classmethod
    def from_identity_settings(cls, setting: str, values: Mapping[str, str]) -> StorageAccount:
        """The identity-based form: `values` are the `<setting>__<key>` settings by key."""
        v = {key.lower(): value.strip() for key, value in values.items() if value.strip()}
        name = v.get("accountname", "")
        uris = {
            "blob": v.get("blobserviceuri") or v.get("serviceuri"),
            "queue": v.get("queueserviceuri"),
            "table": v.get("tableserviceuri"),
        }
        for service in SERVICES:
            if not uris[service] and name:
                uris[service] = f"https://{name}.{service}.core.windows.net"
            if not uris[service]:
                key = "blobServiceUri" if service == "blob" else f"{service}ServiceUri"
                raise ConfigError(
                    f"app setting {setting}__{key} is missing: the service uses {service} "
                    f"storage (set it, or {setting}__accountName)")
        kind = v.get("credential", "").lower()
        if kind not in ("", MANAGED_IDENTITY):
            raise ConfigError(f"app setting {setting}__credential must be "
                              f"'{MANAGED_IDENTITY}' or not set, not '{kind}'")
        if v.get("clientsecret") and not (v.get("tenantid") and v.get("clientid")):
            raise ConfigError(f"app setting {setting}__clientSecret needs __tenantId and "
                              "__clientId beside it")
        return cls(name=name or _account_name(uris["blob"]),
                   blob_endpoint=uris["blob"].rstrip("/"),
                   queue_endpoint=uris["queue"].rstrip("/"),
                   table_endpoint=uris["table"].rstrip("/"),
                   credential_kind=kind, client_id=v.get("clientid", ""),
                   tenant_id=v.get("tenantid", ""), client_secret=v.get("clientsecret", ""))

    def credential(self) -> Any:
        """The azure-identity credential for the identity form (None for a connection string).

        azure-identity is imported here, so apps on connection strings never load it.
        """
        if self.connection_string is not None:
            return None
        import azure.identity as identity

        if self.credential_kind == MANAGED_IDENTITY:
            return identity.ManagedIdentityCredential(client_id=self.client_id or None)
        if self.client_secret:
            return identity.ClientSecretCredential(self.tenant_id, self.client_id,
                                                   self.client_secret)
        return identity.DefaultAzureCredential()


def _account_name(blob_uri: str) -> str:
    """`https://<name>.blob.…` → name; `http://127.0.0.1:10000/<name>` (Azurite) → name."""
    url = urlsplit(blob_uri)
    host = url.hostname or ""
    if host.replace(".", "").isdigit() or host == "localhost":
        return url.path.strip("/").split("/")[0]
    return host.split(".")[0]


def from_environment(setting: str = "AzureWebJobsStorage",
                     environ: Mapping[str, str] = os.environ) -> StorageAccount:
    """The storage account named by an app setting (as the Functions host reads them).

    A connection string in `<setting>` wins; otherwise the `<setting>__*` identity settings
    (matched without regard to case, as the host's configuration does).
    """
    value = environ.get(setting)
    if value:
        return StorageAccount.from_connection_string(value)
    prefix = f"{setting}__".lower()
    values = {k[len(prefix):]: v for k, v in environ.items() if k.lower().startswith(prefix)}
    if not values:
        raise ConfigError(f"app setting {setting} is missing (a connection string, or "
                          f"{setting}__accountName for an identity)")
    return StorageAccount.from_identity_settings(setting, values)
