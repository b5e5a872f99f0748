"""Entity-group transactions on urllib3 directly: every mini-batch's completion and every
change of a job row is one.

The tables SDK's `submit_transaction` costs about 8 ms of client CPU for two rows: a
pipeline run for the batch and one per operation, the multipart body and the reply built and
parsed with the email package. This writes the same request (the sub-requests the SDK
writes, each entity serialized by the SDK's own `_add_entity_properties`) and reads the
reply's status lines: 1.6 ms (`python -m bench.writes`). A refusal raises what callers look
at in the SDK's: the status (409: a row it creates exists; 412: a row changed since its
ETag was read) and the failing operation's error code. A test runs every kind of operation
and refusal through both, against Azurite.

Only what the service's transactions use: create, and update (merge or replace, guarded by
an ETag or unconditional); anything else is refused before anything is sent
(UnsupportedOperation). Signing, proxies and refusals: signedrequests.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

import urllib3
from azure.core import MatchConditions
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import (
    AccountSasPermissions,
    ResourceTypes,
    UpdateMode,
    generate_account_sas,
)
from azure.data.tables._serialize import _add_entity_properties

from shared.storage.signedrequests import SignedRequests, refusal
from shared.storage.tablereads import row_address

# As azure-core retries a POST: on 500, 503 and 504; a reply lost on the way (a read error)
# is not retried, since the service may have applied the transaction: the caller's retry
# reads the rows again, and their ETags tell.
RETRY = urllib3.Retry(total=4, read=0, backoff_factor=0.5, backoff_max=30,
                      status_forcelist=(500, 503, 504), allowed_methods=frozenset({"POST"}),
                      raise_on_status=False, respect_retry_after_header=True)
_STATUS = re.compile(rb"^HTTP/1\.1 (\d{3})", re.MULTILINE)


class UnsupportedOperation(ValueError):
    """An operation this writer does not write (the SDK does)."""


class TableTransactions(SignedRequests):
    """Entity-group transactions in one account's tables; one per Storage."""

    def submit(self, table: str, operations: Iterable[tuple]) -> None:
        """Apply `operations` (the SDK's tuples: ("create", entity) or ("update", entity,
        {"mode", "etag", "match_condition"})) all or none; raises what `refusal` makes of
        the failing operation's status and code, UnsupportedOperation before sending
        anything it cannot write, or ServiceRequestError (unreachable)."""
        changeset = f"changeset_{uuid.uuid4()}"
        batch = f"batch_{uuid.uuid4()}"
        parts = [self._part(table, i, op) for i, op in enumerate(operations)]
        body = (f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
                + "".join(f"--{changeset}\r\n{p}" for p in parts)
                + f"--{changeset}--\r\n\r\n--{batch}--\r\n").encode()
        headers = {"x-ms-version": self.api_version, "DataServiceVersion": "3.0",
                   "MaxDataServiceVersion": "3.0;NetFx", "Accept": "application/json",
                   "Content-Type": f"multipart/mixed; boundary={batch}"}
        reply = self._send("POST", table, "$batch", "", headers, f"{table} transaction",
                           lambda response: response.read(decode_content=False),
                           body=body, ok=202, retries=RETRY)
        _raise_for_parts(reply, f"POST {table} transaction")

    def _part(self, table: str, index: int, operation: tuple) -> str:
        kind, entity, options = (*operation, {})[:3]
        headers = {"Content-Type": "application/json", "x-ms-version": self.api_version,
                   "DataServiceVersion": "3.0"}
        if kind == "create":
            line = f"POST {self.endpoint}/{quote(table)} HTTP/1.1"
            headers["Accept"] = "application/json;odata=minimalmetadata"
        elif kind == "update":
            mode = options.get("mode", UpdateMode.MERGE)
            method = {UpdateMode.MERGE: "PATCH", UpdateMode.REPLACE: "PUT"}[UpdateMode(mode)]
            address = row_address(table, entity["PartitionKey"], entity["RowKey"])
            line = f"{method} {self.endpoint}/{address} HTTP/1.1"
            headers["Accept"] = "application/json"
            condition = options.get("match_condition", MatchConditions.Unconditionally)
            if condition == MatchConditions.IfNotModified:
                if not options.get("etag"):
                    raise ValueError("IfNotModified must be specified with etag.")
                headers["If-Match"] = options["etag"]
            elif condition == MatchConditions.Unconditionally:
                headers["If-Match"] = "*"
            else:
                raise UnsupportedOperation(f"match condition {condition}")
        else:
            raise UnsupportedOperation(f"operation {kind!r}")
        content = json.dumps(_add_entity_properties(entity))
        headers["Content-Length"] = str(len(content.encode()))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (f"Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                f"Content-ID: {index}\r\n\r\n{line}\r\n{head}\r\n{content}\r\n")

    def make_sas(self, table: str, start: datetime, expiry: datetime) -> str:
        """An account SAS for adding and updating rows: a `$batch` is not under one table's
        address, and Azurite refuses a table SAS for it (403)."""
        return generate_account_sas(AzureNamedKeyCredential(self._account_name,
                                                            self._account_key),
                                    ResourceTypes(object=True),
                                    AccountSasPermissions(add=True, update=True),
                                    start=start, expiry=expiry)


def _raise_for_parts(reply: bytes, what: str) -> None:
    """A 202 holds one status per operation, or one for the operation that failed the
    whole changeset (its body an OData error naming the code)."""
    for match in _STATUS.finditer(reply):
        status = int(match.group(1))
        if 200 <= status < 300:
            continue
        start = reply.find(b"{", match.end())
        end = reply.find(b"\r\n--", match.end())
        code, message = "", ""
        if start != -1:
            try:
                error = json.loads(reply[start:end if end > start else None])["odata.error"]
                code, message = error.get("code", ""), error.get("message", {}).get("value", "")
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
        raise refusal(status, code, f"{what} ({message.splitlines()[0]})" if message else what)
    if not _STATUS.search(reply):
        raise ServiceResponseError(f"{what}: a reply without operation statuses")
