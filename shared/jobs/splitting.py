"""Large tables become row ranges, and a page of listed files becomes mini-batches.

Azure ML splits work by file only, so one big file is one mini-batch on one node. Here, for
tabular deployments, a CSV or Parquet file larger than a mini-batch is cut into row ranges
at planning (scoring/ranges.py says where), each an ordinary mini-batch of its own with
consecutive indices, so ranges are scored in parallel and the aggregator writes them back in
file order. Every read is ranged and pinned to the ETag listed, so a file changed during
planning or scoring fails clearly instead of being scored in two versions.

`mini_batch_size` (shared/resources/settings.py `Batching`): a number of files keeps Azure
ML's grouping and cuts tables over SPLIT_BYTES into ranges of that size; a size packs whole
files up to that many bytes and cuts larger ones; rows packs and cuts by rows, which needs
every table's row count at planning (a Parquet footer; one streaming pass over a CSV).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError

from shared import config
from shared.jobs.inputs import InputRef, Part
from shared.resources.settings import MAX_BYTES, MAX_FILES, Batching, batching

SPLIT_BYTES = 32 * 1024 * 1024  # with a file count: tables larger than this are cut
CHUNK = 4 * 1024 * 1024  # bytes per ranged read of the CSV pass
_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="split")


def batches(container: Any, job_settings: dict[str, Any], scoring_input: dict[str, Any],
            files: list[InputRef]) -> list[list[InputRef]]:
    """The mini-batches of one listing page, in listing order (ranges of a file in order)."""
    how = batching(job_settings["mini_batch_size"])
    if scoring_input["type"] != "tabular":
        return [files[i:i + how.amount] for i in range(0, len(files), how.amount)]
    fmt = scoring_input.get("format")
    pieces = _READS.map(lambda ref: _pieces(container, ref, fmt, how), files)
    return _pack((p for file_pieces in pieces for p in file_pieces), how)


def _pack(pieces: Iterator[tuple[InputRef, int]], how: Batching) -> list[list[InputRef]]:
    """Greedy in order: a mini-batch holds pieces while their cost fits the budget."""
    out: list[list[InputRef]] = []
    current: list[InputRef] = []
    spent = 0
    for ref, cost in pieces:
        if current and (spent + cost > how.amount or len(current) >= MAX_FILES):
            out.append(current)
            current, spent = [], 0
        current.append(ref)
        spent += cost
    if current:
        out.append(current)
    return out


def _pieces(container: Any, ref: InputRef, fmt: str | None,
            how: Batching) -> list[tuple[InputRef, int]]:
    """The file whole or as ranges, each with its cost in the batching's unit."""
    from scoring.readers import table_format

    kind = table_format(fmt, ref.name)
    limit = {"files": SPLIT_BYTES, "bytes": how.amount, "rows": MAX_BYTES}[how.unit]
    read = kind in ("csv", "parquet") and ref.etag and (
        ref.size > limit or (how.unit == "rows" and ref.size > 0))
    cuts = None
    if read:
        try:
            cuts = _cuts(container.get_blob_client(ref.name), ref, kind, limit,
                         how.amount if how.unit == "rows" else 2**62)
        except (HttpResponseError, ValueError, OSError):
            cuts = None  # changed, gone or unreadable: scoring says why, for the whole file
    if not cuts or len(cuts) == 1:
        whole = {"files": 1, "bytes": ref.size,
                 "rows": cuts[0].rows if cuts else how.amount}  # unknown rows: alone
        return [(ref, whole[how.unit])]
    out = []
    for part in cuts:
        wanted = ref.rows  # sorted (a retry's manifest)
        if wanted is not None:
            wanted = wanted[bisect_left(wanted, part.first_row):
                            bisect_left(wanted, part.first_row + part.rows)]
            if not wanted:
                continue  # a retry scores only the ranges holding its rows
        cost = {"files": how.amount, "bytes": part.byte_stop - part.byte_start,
                "rows": part.rows}[how.unit]
        out.append((replace(ref, rows=wanted, part=part), cost))
    return out


class UnreadableRange(Exception):
    """A range whose bytes were read but do not make a table (a Parquet range)."""


def _reader(blob: Any, pinned: dict[str, Any]):
    def read(offset: int, length: int) -> bytes:
        return blob.download_blob(offset=offset, length=length, max_concurrency=1,
                                  **pinned).readall()
    return read


def read_part(blob: Any, part: Part, pinned: dict[str, Any]) -> bytes:
    """A range as a file of its own: the CSV header and the range's records, or the
    Parquet row groups; only those bytes (and the Parquet footer) are downloaded."""
    from scoring import ranges

    read = _reader(blob, pinned)
    if part.byte_stop - part.byte_start > config.MAX_INPUT_FILE_BYTES:
        raise UnreadableRange(f"rows {part.first_row}-{part.first_row + part.rows - 1}: "
                              f"range is larger than {config.MAX_INPUT_FILE_BYTES} bytes")
    if part.kind == "csv":
        if part.start == part.header:
            return read(0, part.stop)
        return read(0, part.header) + read(part.start, part.stop - part.start)
    tail = min(part.size, max(part.header, ranges.FOOTER_READ))
    pieces = {part.size - tail: read(part.size - tail, tail),
              part.byte_start: read(part.byte_start, part.byte_stop - part.byte_start)}
    try:
        return ranges.parquet_range(part.size, pieces, part.start, part.stop)
    except Exception as e:  # a file that planning could read: only a bug or corruption
        raise UnreadableRange(f"row groups {part.start}-{part.stop - 1} could not be read: "
                              f"{str(e).splitlines()[0][:300]}") from None


def _cuts(blob: Any, ref: InputRef, kind: str, max_bytes: int, max_rows: int) -> list[Part]:
    from scoring import ranges

    read = _reader(blob, {"etag": ref.etag, "match_condition": MatchConditions.IfNotModified})

    if kind == "parquet":
        tail = read(max(0, ref.size - 8), min(8, ref.size))
        footer = ranges.footer_length(tail)
        metadata = ranges.parquet_metadata(read(ref.size - footer, footer))
        return [Part("parquet", c.start, c.stop, c.first_row, c.rows, footer, c.byte_start,
                     c.byte_stop, ref.size)
                for c in ranges.parquet_cuts(metadata, max_bytes, max_rows)]
    chunks = (read(at, min(CHUNK, ref.size - at)) for at in range(0, ref.size, CHUNK))
    found = ranges.csv_cuts(chunks, max_bytes, max_rows)
    if found is None:
        return []
    header, cuts = found
    return [Part("csv", c.start, c.stop, c.first_row, c.rows, header, c.start, c.stop,
                 ref.size) for c in cuts]
