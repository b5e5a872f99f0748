"""JSON documents in a Table storage table, keyed by (partition, row).

Resources are small documents read far more often than written; a table gives cheap point
reads, conditional writes and listing by partition without a database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.errors import ConflictError, PreconditionFailedError
from shared.storage.tablereads import TableReads


@dataclass(frozen=True)
class Precondition:
    """HTTP's conditional PUT: `If-None-Match: *` creates only (nothing of that name may
    exist), `If-Match: <etag>` updates only that version (`*`: any existing one). Without
    either a PUT creates or replaces, as Azure's PUTs do."""

    if_match: str | None = None
    if_none_match: bool = False

    def check(self, current_etag: str | None, what: str) -> None:
        """Refuse early, before the costly checks of a body (the write checks again)."""
        if self.if_none_match and current_etag is not None:
            raise PreconditionFailedError(f"{what} already exists (If-None-Match: *)")
        if self.if_match is not None and (
                current_etag is None or self.if_match not in ("*", current_etag)):
            raise PreconditionFailedError(_changed(what, current_etag))


def _changed(what: str, current_etag: str | None) -> str:
    if current_etag is None:
        return f"{what} does not exist (If-Match)"
    return f"{what} was changed since it was read (If-Match); read it again"


class DocumentTable:
    """`rows` reads single documents (tablereads.py); the rest goes through `table`."""

    def __init__(self, table: TableClient, rows: TableReads):
        self.table = table
        self.rows = rows

    def get(self, partition: str, row: str) -> dict[str, Any] | None:
        found = self.get_versioned(partition, row)
        return None if found is None else found[0]

    def get_versioned(self, partition: str, row: str) -> tuple[dict[str, Any], str] | None:
        """The document and its ETag (what `If-Match` names), or None."""
        try:
            entity = self.rows.get_entity(self.table.table_name, partition, row)
        except ResourceNotFoundError:
            return None
        return json.loads(entity["doc"]), entity.metadata["etag"]

    def create(self, partition: str, row: str, doc: dict[str, Any], what: str) -> None:
        try:
            self.table.create_entity(_entity(partition, row, doc))
        except ResourceExistsError as e:
            raise ConflictError(f"{what} already exists") from e

    def put(self, partition: str, row: str, doc: dict[str, Any],
            condition: Precondition = Precondition(), what: str = "the document") -> str:
        """Write the document (under `condition`, atomically); returns its new ETag."""
        entity = _entity(partition, row, doc)
        try:
            if condition.if_none_match:
                written = self.table.create_entity(entity)
            elif condition.if_match is not None:
                written = self.table.update_entity(
                    entity, mode=UpdateMode.REPLACE,
                    **({} if condition.if_match == "*" else {
                        "etag": condition.if_match,
                        "match_condition": MatchConditions.IfNotModified}))
            else:
                written = self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except ResourceExistsError:
            raise PreconditionFailedError(f"{what} already exists (If-None-Match: *)") from None
        except ResourceNotFoundError:
            raise PreconditionFailedError(_changed(what, None)) from None
        except HttpResponseError as e:
            if e.status_code != 412:
                raise
            raise PreconditionFailedError(_changed(what, "")) from None
        return written["etag"]

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
