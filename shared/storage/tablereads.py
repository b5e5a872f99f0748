"""Point reads of table rows on urllib3 directly: the job, mini-batch and shard rows every
mini-batch reads, and the documents every API call reads.

The tables SDK's `get_entity` costs about 3.7 ms of client CPU for a 2 KB row; the same GET
through urllib3 costs about 1.5 ms. A mini-batch reads four or five rows and a job read by
the API three, so on a ResNet-class model this is 1–2% of a worker. The reply is turned into
a `TableEntity` by the SDK's own deserializer (`_convert_to_entity`: the same typed values,
ETag and timestamp), so callers cannot tell the two apart; a test compares them row by row.
Transactions: tabletransactions.py; queries and single writes stay on the SDK.

Signing, retries, proxies and refusals: signedrequests.py (an account key signs a read-only
table SAS).
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import ServiceResponseError
from azure.data.tables import TableEntity, TableSasPermissions, generate_table_sas
from azure.data.tables._deserialize import _convert_to_entity

from shared.storage.signedrequests import SignedRequests

ACCEPT = "application/json;odata=minimalmetadata"  # typed values, as the SDK asks for them


class TableReads(SignedRequests):
    """Point reads of rows in one account's tables; one per Storage."""

    def get_entity(self, table: str, partition_key: str, row_key: str) -> TableEntity:
        """The row as `TableClient.get_entity` returns it; raises ResourceNotFoundError (no
        such row or table), ClientAuthenticationError, HttpResponseError (any other refusal)
        or ServiceRequestError (unreachable)."""
        path = row_address(table, partition_key, row_key)
        headers = {"x-ms-version": self.api_version, "DataServiceVersion": "3.0",
                   "Accept": ACCEPT}
        what = f"{table}({partition_key}, {row_key})"
        body = self._fetch(table, path, f"$format={quote(ACCEPT, safe='')}", headers, what,
                           lambda response: response.read(decode_content=False))
        try:
            return _convert_to_entity(json.loads(body))
        except ValueError as e:  # a reply cut short: worth trying again, as the SDK would
            raise ServiceResponseError(f"GET {what}: the row is not JSON: {e}",
                                       error=e) from e

    def make_sas(self, table: str, start: datetime, expiry: datetime) -> str:
        return generate_table_sas(AzureNamedKeyCredential(self._account_name,
                                                          self._account_key),
                                  table, permission=TableSasPermissions(read=True),
                                  start=start, expiry=expiry)


def row_address(table: str, partition_key: str, row_key: str) -> str:
    """A row's address under the endpoint, keys written as the SDK writes them: quotes
    doubled (OData), then percent-encoded."""
    pk, rk = (quote(str(k).replace("'", "''"), safe="") for k in (partition_key, row_key))
    return f"{quote(table)}(PartitionKey='{pk}',RowKey='{rk}')"
