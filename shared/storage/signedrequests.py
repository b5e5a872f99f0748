"""Signed requests on urllib3 directly, for what the hot path does: GETs of blobs and rows
(blobreads.py, tablereads.py), PUTs of result parts (blobputs.py) and entity-group
transactions (tabletransactions.py).

The SDKs' pipelines cost 3.5–5 ms of client CPU a request (some fifteen policies, request and
response models); one GET through urllib3 costs about 1 ms. Signing follows the connection:
an account key signs a SAS per resource (a container, a table: `make_sas`), renewed long
before it ends; a connection string's own SAS is used as it is; an identity-based
connection sends a bearer token from the same azure-identity credential the SDK clients
use. As the SDKs do, transient failures (connection errors, 408, 429, 5xx; a writer names
what it may retry for its method) are retried with exponential backoff (urllib3's Retry),
proxy variables and NO_PROXY are honoured, refusals raise the SDK's exceptions, and bytes
come back exactly as stored (no Content-Encoding decoding).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from typing import Any

import requests
import urllib3
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from requests.utils import DEFAULT_CA_BUNDLE_PATH, select_proxy

from shared.logredact import redact
from shared.storage.connection import StorageAccount, parse
from shared.storage.sas import SasCache

STORAGE_SCOPE = "https://storage.azure.com/.default"
TOKEN_RENEW_SECONDS = 300  # before a bearer token expires
RETRY = urllib3.Retry(total=4, backoff_factor=0.5, backoff_max=30,
                      status_forcelist=(408, 429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False,
                      respect_retry_after_header=True)
TIMEOUT = urllib3.Timeout(connect=20, read=60)  # the SDK's connection and read time-outs
Read = Callable[[urllib3.BaseHTTPResponse], bytes]


class SignedRequests:
    """Requests under one service endpoint of one account, thread-safe."""

    def __init__(self, endpoint: str, account: StorageAccount, credential: Any,
                 api_version: str, connections: int,
                 pool: urllib3.PoolManager | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.api_version = api_version
        self._credential = credential
        parts = parse(account.connection_string) if account.connection_string else {}
        self._account_key = parts.get("AccountKey", "")
        self._sas = parts.get("SharedAccessSignature", "").lstrip("?")
        self._account_name = account.name
        self._lock = threading.Lock()
        self._resource_sas = SasCache(self.make_sas)
        self._token: Any = None
        self.pool = pool or _pool(self.endpoint, connections)  # may be shared: same endpoint

    def make_sas(self, resource: str, start: datetime, expiry: datetime) -> str:
        """A SAS for `resource` from the account key (what this reader needs of it)."""
        raise NotImplementedError

    def _fetch(self, resource: str, path: str, query: str, headers: dict[str, str],
               what: str, read: Read) -> bytes:
        """One signed GET of `path` (under the endpoint): `read` takes the body of a 200;
        any other status raises as the SDK would, after its small body is drained, and the
        connection goes back to the pool either way."""
        return self._send("GET", resource, path, query, headers, what, read)

    def _send(self, method: str, resource: str, path: str, query: str,
              headers: dict[str, str], what: str, read: Read, *, body: bytes | None = None,
              ok: int = 200, retries: urllib3.Retry | None = None) -> bytes:
        """One signed request; `read` takes the body of an `ok` reply (see `_fetch`)."""
        query = "&".join(filter(None, [query, self._sign(resource, headers)]))
        url = f"{self.endpoint}/{path}" + (f"?{query}" if query else "")
        try:
            response = self.pool.request(method, url, headers=headers, body=body,
                                          preload_content=False, decode_content=False,
                                          **({"retries": retries} if retries else {}))
            try:
                if response.status != ok:
                    response.drain_conn()
                    raise refusal(response.status,
                                  response.headers.get("x-ms-error-code", ""), f"{method} {what}")
                return read(response)
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as e:
            # urllib3's message names the signed URL (its SAS): the error may reach a log,
            # an errors file or an answer, so it says why without it (and without its cause)
            raise ServiceRequestError(redact(f"{method} {what}: {e}"), error=e) from None

    def _sign(self, resource: str, headers: dict[str, str]) -> str:
        """Add the request's credentials: a SAS query, or a bearer token header."""
        if self._sas:
            return self._sas
        if self._account_key:
            return self._resource_sas.get(resource)
        if self._credential is not None:
            headers["Authorization"] = f"Bearer {self._bearer()}"
            headers["x-ms-date"] = formatdate(usegmt=True)  # as the SDKs send it with a token
        return ""

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


def refusal(status: int, code: str, what: str) -> HttpResponseError:
    """A refused request's exception, as the SDKs map statuses (`code`: x-ms-error-code)."""
    kind = {401: ClientAuthenticationError, 403: ClientAuthenticationError,
            404: ResourceNotFoundError, 412: ResourceModifiedError}.get(status,
                                                                        HttpResponseError)
    error = kind(message=f"{what}: HTTP {status} {code}".rstrip())
    error.status_code = status
    error.error_code = code or None
    return error
