"""Where a large table may be cut into row ranges, and reading one range back as a table.

CSV: one streaming pass (a chunk at a time, so memory is one chunk whatever the file size)
finds every record end — a newline outside quotes, counting quote characters from the start
of the file (RFC 4180 doubles a quote inside a quoted field, so the parity is exact) — and
cuts a range at the first record end past the budget. The pass also counts the rows before
each range, which is what gives every row its number in the whole file: a range alone
cannot know how many rows came before it. Rows are counted as pyarrow numbers them: the
header is the first non-empty line, empty lines are not rows. A file whose quotes do not
balance is not cut (None).

Parquet: ranges are runs of whole row groups, read from the footer; a range is read back
from the bytes of its own row groups plus the footer.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

QUOTE, NEWLINE, CR = 34, 10, 13


@dataclass(frozen=True)
class Cut:
    """A range: [start, stop) in bytes (CSV) or row groups (Parquet), the whole-file number
    of its first row and its number of rows; for Parquet also the bytes it spans."""

    start: int
    stop: int
    first_row: int
    rows: int
    byte_start: int = 0
    byte_stop: int = 0


@dataclass
class _CsvPass:
    max_bytes: int
    max_rows: int
    offset: int = 0  # file offset of the chunk being read
    record_start: int = 0  # where the record being read began
    in_quote: bool = False
    last_byte: int = 0
    header_end: int = -1  # after the header's newline, once seen
    range_start: int = -1
    range_first_row: int = 0
    range_rows: int = 0
    rows_before: int = 0

    def __post_init__(self) -> None:
        self.cuts: list[Cut] = []

    def feed(self, chunk: bytes) -> None:
        data = np.frombuffer(chunk, np.uint8)
        newline = data == NEWLINE
        quotes = data == QUOTE
        if self.in_quote or quotes.any():
            inside = np.bitwise_xor.accumulate(quotes.view(np.uint8)) ^ np.uint8(self.in_quote)
            newline &= inside == 0
            self.in_quote = bool(inside[-1])
        at = np.flatnonzero(newline)
        if len(at):
            before = np.where(at > 0, data[np.maximum(at - 1, 0)], self.last_byte)
            self._records(self.offset + at, before == CR)
        self.last_byte = int(data[-1]) if len(data) else self.last_byte
        self.offset += len(chunk)

    def _records(self, ends: np.ndarray, cr: np.ndarray) -> None:
        """Records ending at `ends` (their newlines' offsets); cuts with a search per cut."""
        starts = np.concatenate([[self.record_start], ends[:-1] + 1])
        length = ends - starts
        filled = ~((length == 0) | ((length == 1) & cr))
        self.record_start = int(ends[-1]) + 1
        if self.header_end < 0:
            nonempty = np.flatnonzero(filled)
            if not len(nonempty):
                return
            k = int(nonempty[0]) + 1
            self.header_end = self.range_start = int(ends[k - 1]) + 1
            ends, filled = ends[k:], filled[k:]
        rows = np.cumsum(filled)  # rows among ends[:i + 1]
        done = 0  # rows before ends[i] that are in ranges already
        while len(ends):
            by_bytes = np.searchsorted(ends, self.range_start + self.max_bytes - 1)
            by_rows = np.searchsorted(rows, self.max_rows - self.range_rows + done)
            i = int(min(by_bytes, by_rows))
            if i >= len(ends):
                self.range_rows += int(rows[-1]) - done
                return
            self._close(int(ends[i]) + 1, self.range_rows + int(rows[i]) - done)
            done = int(rows[i])

    def _close(self, stop: int, rows: int) -> None:
        if rows:
            self.cuts.append(Cut(self.range_start, stop, self.rows_before, rows))
            self.rows_before += rows
        else:  # only empty lines: they belong to the range before
            self.cuts[-1:] = [Cut(c.start, stop, c.first_row, c.rows) for c in self.cuts[-1:]]
        self.range_start, self.range_rows = stop, 0

    def finish(self) -> tuple[int, list[Cut]] | None:
        if self.in_quote or self.header_end < 0:
            return None
        tail = self.offset - self.record_start
        if tail > 1 or (tail == 1 and self.last_byte != CR):
            self.range_rows += 1  # a last record without a newline
        if self.range_start < self.offset:
            self._close(self.offset, self.range_rows)
        return self.header_end, self.cuts


def csv_cuts(chunks: Iterable[bytes], max_bytes: int,
             max_rows: int) -> tuple[int, list[Cut]] | None:
    """(header length, ranges) of a CSV read as `chunks` in order; None: not safely cut."""
    scan = _CsvPass(max_bytes, max_rows)
    for chunk in chunks:
        scan.feed(chunk)
    return scan.finish()


def parquet_cuts(metadata: Any, max_bytes: int, max_rows: int) -> list[Cut]:
    """Runs of whole row groups of at most max_bytes (in the file) and max_rows; a row group
    larger than either is a range alone."""
    cuts: list[Cut] = []
    first_row = start = rows = lo = hi = 0
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        g_lo, g_hi = _group_bytes(group)
        if g > start and (g_hi - lo > max_bytes or rows + group.num_rows > max_rows):
            cuts.append(Cut(start, g, first_row, rows, lo, hi))
            first_row, start, rows = first_row + rows, g, 0
        if g == start:
            lo = g_lo
        hi, rows = g_hi, rows + group.num_rows
    if metadata.num_row_groups:
        cuts.append(Cut(start, metadata.num_row_groups, first_row, rows, lo, hi))
    return cuts


def _group_bytes(group: Any) -> tuple[int, int]:
    """[first, last) byte of a row group's column chunks in the file."""
    starts, stops = [], []
    for c in range(group.num_columns):
        col = group.column(c)
        start = col.data_page_offset
        if col.has_dictionary_page and col.dictionary_page_offset:
            start = min(start, col.dictionary_page_offset)
        starts.append(start)
        stops.append(start + col.total_compressed_size)
    return min(starts), max(stops)


class _Pieces(io.RawIOBase):
    """A file of `size` bytes of which only some pieces ({offset: bytes}) were read; reading
    anywhere else is an error, so a range can never read more than it downloaded."""

    def __init__(self, size: int, pieces: dict[int, bytes]):
        self.size, self.pieces, self.pos = size, pieces, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence] + offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        want, got = max(0, min(len(buffer), self.size - self.pos)), 0
        while got < want:
            at = self.pos + got
            piece = next(((s, d) for s, d in self.pieces.items() if s <= at < s + len(d)), None)
            if piece is None:
                raise OSError(f"read at byte {at}, outside the bytes read for this range")
            start, data = piece
            n = min(want - got, start + len(data) - at)
            buffer[got:got + n] = memoryview(data)[at - start:at - start + n]
            got += n
        self.pos += want
        return want


FOOTER_READ = 64 * 1024  # pyarrow reads this much of a Parquet file's end at first


def parquet_range(size: int, pieces: dict[int, bytes], start: int, stop: int) -> bytes:
    """Row groups [start, stop) of a Parquet file of `size` bytes, from `pieces` (the file's
    last max(footer, FOOTER_READ) bytes and the groups' span), as a Parquet file alone."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(_Pieces(size, pieces)).read_row_groups(range(start, stop))
    out = io.BytesIO()
    pq.write_table(table, out, compression="none")
    return out.getvalue()


def footer_length(tail: bytes) -> int:
    """The Parquet footer's length (metadata + 8 bytes) from the file's last 8 bytes."""
    if len(tail) < 8 or tail[-4:] != b"PAR1":
        raise ValueError("not a Parquet file (no PAR1 at its end)")
    return int.from_bytes(tail[-8:-4], "little") + 8


def parquet_metadata(footer: bytes) -> Any:
    """The FileMetaData of a footer (metadata, its length, PAR1) read alone."""
    import pyarrow.parquet as pq

    return pq.read_metadata(io.BytesIO(b"PAR1" + footer))
