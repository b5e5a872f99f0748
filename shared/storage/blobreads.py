"""Whole-blob GETs of a mini-batch's input files, and the planner's listing pages, on
urllib3 directly.

The SDK's `download_blob` costs 3.7–4.8 ms of client CPU for a 14 KB image (a BlobClient per
name, a StorageStreamDownloader, some fifteen pipeline policies, response headers parsed
into models); one GET through urllib3 costs about 0.9 ms. Against a ~50 ms model that is a
twentieth of a worker, and for small files it is most of it (`python -m bench.run` measures
both). The SDK's listing turns each entry into a model object, 0.4–0.6 ms of client CPU per
blob (a second for a page of 2,000, on the critical path of a job's start); ElementTree
reads the same page's XML in a few milliseconds. Result parts are PUT by blobputs.py;
other uploads and ranges of big tables stay on the SDK.

Signing, retries, proxies and refusals: signedrequests.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

import urllib3
from azure.core.exceptions import ServiceResponseError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from shared.storage.connection import StorageAccount
from shared.storage.signedrequests import SignedRequests


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


class BlobReads(SignedRequests):
    """GETs of whole blobs, and listing pages, in one account; one per Storage."""

    def __init__(self, account: StorageAccount, credential: Any, api_version: str,
                 connections: int):
        super().__init__(account.blob_endpoint, account, credential, api_version, connections)

    def get(self, container: str, name: str, *, etag: str = "", limit: int) -> bytes:
        """The blob's bytes; raises ResourceNotFoundError (no such blob),
        ResourceModifiedError (`etag` given and the blob changed since), BlobTooLargeError,
        HttpResponseError (any other refusal) or ServiceRequestError (unreachable)."""
        headers = {"x-ms-version": self.api_version}
        if etag:
            headers["If-Match"] = etag
        path = blob_path(container, name)
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

    def make_sas(self, container: str, start: datetime, expiry: datetime) -> str:
        return generate_container_sas(self._account_name, container,
                                      account_key=self._account_key,
                                      permission=ContainerSasPermissions(read=True, list=True),
                                      start=start, expiry=expiry)


def blob_path(container: str, name: str) -> str:
    """A blob's address under the endpoint, as the SDK writes it."""
    return f"{quote(container)}/{quote(name, safe='~/')}"


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
