"""JSON documents in a Table storage table, keyed by (partition, row).

Resources are small documents read far more often than written; a table gives cheap point
reads, conditional writes and listing by partition without a database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.errors import ConflictError
from shared.storage.tablereads import TableReads


class DocumentTable:
    """`rows` reads single documents (tablereads.py); the rest goes through `table`."""

    def __init__(self, table: TableClient, rows: TableReads):
        self.table = table
        self.rows = rows

    def get(self, partition: str, row: str) -> dict[str, Any] | None:
        try:
            entity = self.rows.get_entity(self.table.table_name, partition, row)
        except ResourceNotFoundError:
            return None
        return json.loads(entity["doc"])

    def create(self, partition: str, row: str, doc: dict[str, Any], what: str) -> None:
        try:
            self.table.create_entity(_entity(partition, row, doc))
        except ResourceExistsError as e:
            raise ConflictError(f"{what} already exists") from e

    def put(self, partition: str, row: str, doc: dict[str, Any]) -> None:
        self.table.upsert_entity(_entity(partition, row, doc), mode=UpdateMode.REPLACE)

    def delete(self, partition: str, row: str) -> None:
        self.table.delete_entity(partition, row)

    def list(self, partition: str | None = None) -> Iterator[dict[str, Any]]:
        if partition is None:
            entities = self.table.list_entities()
        else:
            entities = self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition})
        for entity in entities:
            yield json.loads(entity["doc"])


def _entity(partition: str, row: str, doc: dict[str, Any]) -> dict[str, Any]:
    return {"PartitionKey": partition, "RowKey": row, "doc": json.dumps(doc)}


def merge_if_unchanged(table: TableClient, entity: dict[str, Any], etag: str) -> bool:
    """Merge `entity` only if the row still has `etag`; False when someone changed it (412)."""
    try:
        table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag,
                            match_condition=MatchConditions.IfNotModified)
    except HttpResponseError as e:
        if e.status_code == 412:
            return False
        raise
    return True
