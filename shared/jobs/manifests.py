"""Explicit file lists of jobs (a drop's arrivals, a retry's failed items), kept in pieces.

A manifest `<name>` is a folder of the jobs container: pieces `<name>/<n:08d>.jsonl` of
PIECE entries each (JSON Lines, one `{"name", "etag"?, "rows"?}` per line), then
`<name>/index.json` (`{"entries": total, "pieces": count}`), written last. Planning reads
the index and the one or two pieces a page covers, so a run's reads and memory follow the
page, never the list; writers take their entries as an iterable and hold one piece at a
time. A manifest is written once under a name of its own and never changed: the job row
names the one it plans, so a page planned twice reads the same entries.

A manifest named `<name>.json` (one JSON array: jobs created before pieces) is read whole.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared import config
from shared.storage.clients import Storage

PIECE = 5000  # entries per piece: a listing page's worth
INDEX = "index.json"


def write(storage: Storage, name: str, entries: Iterable[dict[str, Any]]) -> int:
    """Store `entries` as manifest `name`, one piece at a time; returns how many."""
    container = storage.container(config.JOBS_CONTAINER)
    stream = iter(entries)
    total = pieces = 0
    while chunk := list(islice(stream, PIECE)):
        container.upload_blob(_piece(name, pieces),
                              "".join(json.dumps(e) + "\n" for e in chunk), overwrite=True)
        total, pieces = total + len(chunk), pieces + 1
    container.upload_blob(f"{name}/{INDEX}", json.dumps({"entries": total, "pieces": pieces}),
                          overwrite=True)
    return total


def page(storage: Storage, name: str, offset: int,
         size: int) -> tuple[list[dict[str, Any]], int | None]:
    """Entries [offset, offset+size) and the next offset (None: that was the last page)."""
    if name.endswith(".json"):
        entries = _whole(storage, name)
        end = offset + size
        return entries[offset:end], end if end < len(entries) else None
    total = _index(storage, name)["entries"]
    end = min(offset + size, total)
    out: list[dict[str, Any]] = []
    for n in range(offset // PIECE, (end - 1) // PIECE + 1) if end > offset else ():
        first = n * PIECE
        out += _read_piece(storage, name, n, max(0, offset - first), end - first)
    return out, end if end < total else None


def entries(storage: Storage, name: str) -> Iterator[dict[str, Any]]:
    """Every entry in order, one piece in memory at a time."""
    if name.endswith(".json"):
        yield from _whole(storage, name)
        return
    for n in range(_index(storage, name)["pieces"]):
        yield from _read_piece(storage, name, n)


def delete(storage: Storage, name: str) -> None:
    """Remove a manifest no job names (a racing starter's that lost)."""
    container = storage.container(config.JOBS_CONTAINER)
    for blob in container.list_blob_names(name_starts_with=f"{name}/"):
        with contextlib.suppress(ResourceNotFoundError):
            container.delete_blob(blob)


def _piece(name: str, n: int) -> str:
    return f"{name}/{n:08d}.jsonl"


def _download(storage: Storage, path: str) -> bytes:
    return storage.container(config.JOBS_CONTAINER).download_blob(path).readall()


def _index(storage: Storage, name: str) -> dict[str, int]:
    return json.loads(_download(storage, f"{name}/{INDEX}"))


def _read_piece(storage: Storage, name: str, n: int, start: int = 0,
                stop: int | None = None) -> list[dict[str, Any]]:
    lines = _download(storage, _piece(name, n)).splitlines()[start:stop]
    return [json.loads(line) for line in lines]


def _whole(storage: Storage, name: str) -> list[dict[str, Any]]:
    return json.loads(_download(storage, name))
