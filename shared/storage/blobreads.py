"""Whole-blob GETs of a mini-batch's input files, and the planner's listing pages, on
urllib3 directly.

The SDK's `download_blob` costs 3.7–4.8 ms of client CPU for a 14 KB image (a BlobClient per
name, a StorageStreamDownloader, some fifteen pipeline policies, response headers parsed
into models); one GET through urllib3 costs about 0.9 ms. Against a ~50 ms model that is a
twentieth of a worker, and for small files it is most of it (`python -m bench.run` measures
both). The SDK's listing turns each entry into a model object, 0.4–0.6 ms of client CPU per
blob (a second for a page of 2,000, on the critical path of a job's start); ElementTree
reads the same page's XML in a few milliseconds. Everything else (uploads, ranges of big
tables, tables, queues) stays on the SDK.

Signing follows the connection: an account key signs a read-and-list SAS per container (the
SDK's `generate_container_sas`), renewed long before it ends; a connection string's own SAS
is used as it is; an identity-based connection sends a bearer token from the same
azure-identity credential the SDK clients use. As the SDK does, transient failures
(connection errors, 408, 429, 5xx) are retried with exponential backoff (urllib3's Retry),
proxy variables and NO_PROXY are honoured, and bytes come back exactly as stored
(no Content-Encoding decoding).
"""

from __future__ import annotations

import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

import requests
import urllib3
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy

from shared.storage.connection import StorageAccount, parse
from shared.storage.sas import SasCache

STORAGE_SCOPE = "https://storage.azure.com/.default"
TOKEN_RENEW_SECONDS = 300  # before a bearer token expires
RETRY = urllib3.Retry(total=4, backoff_factor=0.5, backoff_max=30,
                      status_forcelist=(408, 429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False,
                      respect_retry_after_header=True)
TIMEOUT = urllib3.Timeout(connect=20, read=60)  # the SDK's connection and read time-outs


class BlobTooLargeError(ValueError):
    """The blob is over the caller's limit; its body was not read."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"blob is {size} bytes, over the limit of {limit}")
        self.size = size


@dataclass(frozen=True)
class Listed:
    """A blob of a listing page: its name, version (the ETag as listed) and size."""

    name: str
    etag: str
    size: int


class BlobReads:
    """GETs of whole blobs in one account, thread-safe; one per Storage."""

    def __init__(self, account: StorageAccount, credential: Any, api_version: str,
                 connections: int):
        self.endpoint = account.blob_endpoint.rstrip("/")
        self.api_version = api_version
        self._credential = credential
        parts = parse(account.connection_string) if account.connection_string else {}
        self._account_key = parts.get("AccountKey", "")
        self._sas = parts.get("SharedAccessSignature", "").lstrip("?")
        self._account_name = account.name
        self._lock = threading.Lock()
        self._container_sas = SasCache(self._make_sas)
        self._token: Any = None
        self._pool = _pool(self.endpoint, connections)

    def get(self, container: str, name: str, *, etag: str = "", limit: int) -> bytes:
        """The blob's bytes; raises ResourceNotFoundError (no such blob),
        ResourceModifiedError (`etag` given and the blob changed since), BlobTooLargeError,
        HttpResponseError (any other refusal) or ServiceRequestError (unreachable)."""
        headers = {"x-ms-version": self.api_version}
        if etag:
            headers["If-Match"] = etag
        path = f"{quote(container)}/{quote(name, safe='~/')}"
        return self._fetch(container, path, "", headers, f"{container}/{name}",
                           lambda response: _body(response, limit))

    def list_page(self, container: str, prefix: str, *, marker: str | None = None,
                  max_results: int = 5000, delimiter: str = "/") -> tuple[list[Listed], str]:
        """One page of List Blobs: the blobs directly under `prefix` (the virtual folders
        under it are left out, as `walk_blobs` yields them apart) and the marker of the next
        page ("" when this is the last). The marker is Storage's NextMarker, which is also
        the SDK pager's continuation token. Refusals raise as `get` does."""
        params = {"restype": "container", "comp": "list", "prefix": prefix,
                  "delimiter": delimiter, "maxresults": str(max_results)}
        if marker:
            params["marker"] = marker
        what = f"{container}/{prefix}*"
        body = self._fetch(container, quote(container), urlencode(params, quote_via=quote),
                           {"x-ms-version": self.api_version}, what,
                           lambda response: response.read(decode_content=False))
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:  # a reply cut short: worth trying again, as the SDK would
            raise ServiceResponseError(f"GET {what}: the listing is not XML: {e}",
                                       error=e) from e
        blobs = [Listed(_text(b.find("Name")), _text(b.find("Properties/Etag")),
                        int(_text(b.find("Properties/Content-Length")) or 0))
                 for b in root.iterfind("Blobs/Blob")]
        return blobs, _text(root.find("NextMarker"))

    def _fetch(self, container: str, path: str, query: str, headers: dict[str, str],
               what: str, read: Callable[[urllib3.BaseHTTPResponse], bytes]) -> bytes:
        """One signed GET of `path` (under the endpoint): `read` takes the body of a 200;
        any other status raises as the SDK would, after its small body is drained, and the
        connection goes back to the pool either way."""
        query = "&".join(filter(None, [query, self._sign(container, headers)]))
        url = f"{self.endpoint}/{path}" + (f"?{query}" if query else "")
        try:
            response = self._pool.request("GET", url, headers=headers, preload_content=False,
                                          decode_content=False)
            try:
                if response.status != 200:
                    response.drain_conn()
                    raise _refusal(response, what)
                return read(response)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as e:
            raise ServiceRequestError(f"GET {what}: {e}", error=e) from e

    def _sign(self, container: str, headers: dict[str, str]) -> str:
        """Add the request's credentials: a SAS query, or a bearer token header."""
        if self._sas:
            return self._sas
        if self._account_key:
            return self._container_sas.get(container)
        if self._credential is not None:
            headers["Authorization"] = f"Bearer {self._bearer()}"
        return ""

    def _make_sas(self, container: str, start: datetime, expiry: datetime) -> str:
        return generate_container_sas(self._account_name, container,
                                      account_key=self._account_key,
                                      permission=ContainerSasPermissions(read=True, list=True),
                                      start=start, expiry=expiry)

    def _bearer(self) -> str:
        with self._lock:
            token = self._token
            if token is None or token.expires_on - TOKEN_RENEW_SECONDS <= time.time():
                token = self._token = self._credential.get_token(STORAGE_SCOPE)
            return str(token.token)


def _pool(endpoint: str, connections: int) -> urllib3.PoolManager:
    """A pool with the CA bundle and the proxy that requests (the SDK's transport) would use
    for this endpoint: its own reading of the environment, not a copy of its rules."""
    env = requests.Session().merge_environment_settings(endpoint, {}, None, None, None)
    verify = env["verify"] if isinstance(env["verify"], str) else DEFAULT_CA_BUNDLE_PATH
    options: dict[str, Any] = {"maxsize": connections, "retries": RETRY, "timeout": TIMEOUT,
                               "ca_cert_dir" if os.path.isdir(verify) else "ca_certs": verify}
    proxy = select_proxy(endpoint, env["proxies"])
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


def _body(response: urllib3.BaseHTTPResponse, limit: int) -> bytes:
    """The body of a 200, at most `limit` bytes; an oversized one's connection is closed, so
    the pool never hands it out half read."""
    size = int(response.headers.get("Content-Length") or 0)
    data = b"" if size > limit else response.read(amt=limit + 1, decode_content=False)
    if size > limit or len(data) > limit:
        response.close()  # not worth reading to the end: a new connection is cheaper
        raise BlobTooLargeError(max(size, len(data)), limit)
    return data


def _text(element: ET.Element | None) -> str:
    """An element's text; a name Storage had to percent-encode (`Encoded="true"`: it holds
    characters XML cannot carry) decoded back."""
    if element is None or element.text is None:
        return ""
    return unquote(element.text) if element.get("Encoded") == "true" else element.text


def _refusal(response: urllib3.BaseHTTPResponse, what: str) -> HttpResponseError:
    code = response.headers.get("x-ms-error-code", "")
    message = f"GET {what}: HTTP {response.status} {code}".rstrip()
    kind = {401: ClientAuthenticationError, 403: ClientAuthenticationError,  # as the SDK maps
            404: ResourceNotFoundError, 412: ResourceModifiedError}.get(response.status,
                                                                        HttpResponseError)
    error = kind(message=message)
    error.status_code = response.status
    error.error_code = code or None
    return error
