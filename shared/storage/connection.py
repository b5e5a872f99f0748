"""Connection strings for blob, queue and table clients.

`UseDevelopmentStorage=true` is understood by the blob and queue SDKs but not by
azure-data-tables, so it is expanded here once, for all three, into Azurite's full string.
`DevelopmentStorageProxyUri` and the port environment variables let tests point it at an
Azurite started on free ports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.errors import ConfigError

AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}


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
    """The account behind a connection string: its name and service endpoints."""

    connection_string: str
    name: str
    blob_endpoint: str

    @classmethod
    def from_connection_string(cls, conn_str: str) -> StorageAccount:
        full = expand(conn_str)
        parts = parse(full)
        name = parts.get("AccountName", "")
        blob = parts.get("BlobEndpoint")
        if not blob:
            protocol = parts.get("DefaultEndpointsProtocol", "https")
            suffix = parts.get("EndpointSuffix", "core.windows.net")
            blob = f"{protocol}://{name}.blob.{suffix}"
        return cls(connection_string=full, name=name, blob_endpoint=blob.rstrip("/"))


def from_environment(setting: str = "AzureWebJobsStorage") -> StorageAccount:
    """The storage account named by an app setting (as the Functions host passes them)."""
    value = os.environ.get(setting)
    if not value:
        raise ConfigError(f"app setting {setting} is missing")
    return StorageAccount.from_connection_string(value)
