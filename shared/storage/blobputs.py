"""Put Blob on urllib3 directly, for the result parts every mini-batch writes.

The SDK's `upload_blob` costs about 3 ms of client CPU for a part of a few kilobytes (a
BlobClient, an upload helper, some fifteen pipeline policies); one PUT through urllib3
costs under 1 ms (`python -m bench.writes`). A PUT replaces the whole blob, so it is
retried, as the SDK retries it, on connection and read errors, 408, 429 and 5xx. Parts
above PUT_LIMIT go to the SDK, which uploads them in blocks (Storage.put).

Signing, proxies and refusals: signedrequests.py (an account key signs a container SAS
that may create and write blobs).
"""

from __future__ import annotations

from datetime import datetime

import urllib3
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from shared.storage.blobreads import blob_path
from shared.storage.connection import StorageAccount
from shared.storage.signedrequests import SignedRequests

PUT_LIMIT = 64 * 1024 * 1024  # the SDK's max_single_put_size: above it, it stages blocks
RETRY = urllib3.Retry(total=4, backoff_factor=0.5, backoff_max=30,
                      status_forcelist=(408, 429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"PUT"}), raise_on_status=False,
                      respect_retry_after_header=True)


class BlobPuts(SignedRequests):
    """Whole-blob PUTs in one account; one per Storage."""

    def __init__(self, account: StorageAccount, credential: object, api_version: str,
                 connections: int, pool: urllib3.PoolManager | None = None):
        super().__init__(account.blob_endpoint, account, credential, api_version, connections,
                         pool)

    def put(self, container: str, name: str, data: bytes,
            content_type: str = "application/octet-stream") -> None:
        """Write `data` as the blob `name`, replacing it if it exists (as `upload_blob(...,
        overwrite=True)`); raises as blobreads' `get` does."""
        if len(data) > PUT_LIMIT:
            raise ValueError(f"{len(data)} bytes: over the single PUT's {PUT_LIMIT}")
        headers = {"x-ms-version": self.api_version, "x-ms-blob-type": "BlockBlob",
                   "Content-Type": content_type}
        self._send("PUT", container, blob_path(container, name), "", headers,
                   f"{container}/{name}", lambda response: b"", body=data, ok=201,
                   retries=RETRY)

    def make_sas(self, container: str, start: datetime, expiry: datetime) -> str:
        return generate_container_sas(self._account_name, container,
                                      account_key=self._account_key,
                                      permission=ContainerSasPermissions(create=True,
                                                                         write=True),
                                      start=start, expiry=expiry)
