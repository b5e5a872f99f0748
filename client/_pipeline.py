"""The HTTP pipeline under every operation: azure-core's `PipelineClient` with its retry,
logging and credential policies, so no operation carries a retry loop of its own.

Errors come back as `azure.core.exceptions` (`ResourceNotFoundError`, `ResourceExistsError`,
`ClientAuthenticationError`, `HttpResponseError`) carrying the service's own message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.credentials import AzureKeyCredential, TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.paging import ItemPaged
from azure.core.pipeline.policies import (
    AzureKeyCredentialPolicy,
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    NetworkTraceLoggingPolicy,
    RequestIdPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest, HttpResponse

KEY_HEADER = "x-functions-key"
AAD_SCOPE = "https://ml.azure.com/.default"
USER_AGENT = "batch-endpoints-client/0.1"
_ERRORS: dict[int, type[HttpResponseError]] = {
    401: ClientAuthenticationError, 403: ClientAuthenticationError,
    404: ResourceNotFoundError, 409: ResourceExistsError,
}
T = TypeVar("T")
# The routes of one endpoint (its jobs, preview, a job and its outputs): served through the
# token door as well as the key door (blueprints/endpoint_auth.py).
_ENDPOINT_ROUTE = re.compile(r"^(endpoints/[^/]+/(jobs|deployments/[^/]+/(jobs|preview))"
                             r"|jobs/[^/]+)(/|$|\?)")
Credential = AzureKeyCredential | TokenCredential | str | None


def _auth_policies(credential: Credential | tuple[Credential, ...]) -> list[Any]:
    """A policy per credential: a function key, an Entra token, or both (a function app
    behind App Service authentication still checks its function key)."""
    if isinstance(credential, tuple):
        return [p for c in credential for p in _auth_policies(c)]
    if credential is None:
        return []
    if isinstance(credential, str):
        credential = AzureKeyCredential(credential)
    if isinstance(credential, AzureKeyCredential):
        return [AzureKeyCredentialPolicy(credential, KEY_HEADER)]
    if hasattr(credential, "get_token"):
        return [BearerTokenCredentialPolicy(credential, AAD_SCOPE)]
    raise TypeError("credential must be an AzureKeyCredential, a key string or a TokenCredential")


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class Pipeline:
    """Sends requests relative to the service URL (`http://host/api`) and maps errors."""

    def __init__(self, url: str, credential: Credential | tuple[Credential, ...], *,
                 logging_enable: bool = False,
                 transport: Any = None, **retry: Any):
        self.url = url.rstrip("/")
        retry.setdefault("retry_total", 3)
        retry.setdefault("retry_backoff_factor", 0.4)
        auth = _auth_policies(credential)
        policies = [RequestIdPolicy(), HeadersPolicy(), UserAgentPolicy(USER_AGENT),
                    RetryPolicy(**retry), *auth,
                    NetworkTraceLoggingPolicy(logging_enable=logging_enable),
                    HttpLoggingPolicy()]
        self._client = PipelineClient(base_url=self.url + "/", policies=policies,
                                      transport=transport)
        # Bearer tokens go over TLS only, except to a host on this machine (the local host).
        bearer = any(isinstance(p, BearerTokenCredentialPolicy) for p in auth)
        self._options = {"enforce_https": False} if bearer and _is_loopback(self.url) else {}
        # With a token, an endpoint's routes are reached through the service's token door,
        # /aad/... (docs/security.md); management routes take the key, when one is given too.
        self._door = "aad/" if bearer else ""

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, *, json: Any = None, content: Any = None,
                params: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                stream: bool = False) -> HttpResponse:
        """`path` is relative to the service URL, or an absolute link the service gave."""
        if "://" in path:
            url = path
        else:
            path = path.lstrip("/")
            door = self._door if _ENDPOINT_ROUTE.match(path) else ""
            url = f"{self.url}/{door}{path}"
        params = {k: v for k, v in (params or {}).items() if v is not None}
        request = HttpRequest(method, url, json=json, content=content, params=params,
                              headers=headers)
        response = self._client.send_request(request, stream=stream, **self._options)
        if response.status_code >= 400:
            if stream:
                response.read()
            raise _error(response)
        return response

    def pages(self, path: str, factory: Callable[[dict[str, Any]], T],
              params: dict[str, Any] | None = None) -> ItemPaged[T]:
        """A pager over a list route: a bare JSON list, or `{"value": [...], "nextLink"}`
        pages followed until the service gives no further link."""

        def get_next(link: str | None) -> HttpResponse:
            return self.request("GET", link) if link else self.request("GET", path,
                                                                       params=params)

        def extract(response: HttpResponse) -> tuple[str | None, Iterator[T]]:
            body = response.json()
            if isinstance(body, list):
                return None, iter([factory(d) for d in body])
            return body.get("nextLink") or None, iter([factory(d) for d in body["value"]])

        return ItemPaged(get_next, extract)


def _error(response: HttpResponse) -> HttpResponseError:
    """The service's `{"error": {"code", "message", "target"}}` as an azure-core error whose
    message is the service's own wording."""
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), str(error.get("code") or "")
    except (ValueError, KeyError, TypeError):
        message = (response.text() or "").strip() or response.reason or "no details"
        code = ""
    cls = _ERRORS.get(response.status_code, HttpResponseError)
    exc = cls(message=message, response=response)
    exc.message = message
    exc.error_code = code
    return exc


def describe(error: HttpResponseError) -> str:
    """One line for a person: the service's message, its status and code."""
    status = error.status_code or ""
    code = f" {error.error_code}" if getattr(error, "error_code", "") else ""
    message = (str(error.message or "").strip().splitlines() or ["no details"])[0]
    return f"{message} (HTTP {status}{code})"
