"""Scoring a mini-batch: decode every file, run the items through the model together along
the batch axis (chunked; padded for a static batch size), and turn outputs into rows.

Every item ends in `rows` or in `errors`, exactly once: a file that cannot be read fails as
one item, a bad row fails alone, and a chunk ONNX Runtime rejects is retried item by item so
only the offending items fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scoring.config import MAX_BATCH_LIMIT, ScoringConfig
from scoring.errors import ItemError, MiniBatchTimeoutError
from scoring.outputs import output_columns, output_names, row_formatter
from scoring.readers import Block, read_file
from scoring.sessions import compute_slot, intra_op_threads, machine_slot
from scoring.signature import ModelSignature

__all__ = ["FailedItem", "InputFile", "MiniBatchResult", "ScoredRow", "output_columns",
           "score_files"]

CHUNK_BYTES = 64 * 1024 * 1024  # input bytes per ONNX Runtime run when max_batch is not set


@dataclass(frozen=True)
class InputFile:
    name: str
    data: bytes
    first_row: int = 0  # a row range of a larger table: its rows' numbers start here


@dataclass(frozen=True)
class ScoredRow:
    file_name: str
    row: int
    values: tuple[str, ...]  # aligned with output_columns()[2:]


@dataclass(frozen=True)
class FailedItem:
    file_name: str
    row: int | None  # None: the whole file
    reason: str


@dataclass(frozen=True)
class MiniBatchResult:
    rows: tuple[ScoredRow, ...]
    errors: tuple[FailedItem, ...]
    # Seconds spent decoding, waiting for the process's compute slot, and in ONNX Runtime.
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Slice:
    file_name: str
    block: Block
    start: int
    stop: int


def score_files(session: Any, config: ScoringConfig, signature: ModelSignature,
                files: Sequence[InputFile], deadline: float | None = None,
                concurrency: int = 1) -> MiniBatchResult:
    """Score files in order; `deadline` (a time.monotonic() value) is checked between files
    and between chunks, and raises MiniBatchTimeoutError once passed. Decoding and inference
    take one of the process's `concurrency` compute slots (scoring/sessions.py): both are
    work for the cores, and downloads of the next mini-batches go on meanwhile."""
    blocks: list[tuple[str, Block]] = []
    errors: list[FailedItem] = []
    began = time.perf_counter()
    with compute_slot(concurrency), machine_slot(intra_op_threads(concurrency)):
        slot = time.perf_counter()
        _decode(config, signature, files, blocks, errors, deadline)
        decoded = time.perf_counter()
        rows: list[ScoredRow] = []
        run = _Runner(session, signature, output_names(config, signature),
                      row_formatter(config, signature))
        for chunk in _chunks(blocks, _chunk_size(config, signature, blocks)):
            chunk_rows, chunk_errors = run.score(chunk)
            rows += chunk_rows
            errors += chunk_errors
            _check(deadline)
    done = time.perf_counter()
    position = {f.name: i for i, f in enumerate(files)}
    errors.sort(key=lambda e: (position.get(e.file_name, 0), -1 if e.row is None else e.row))
    return MiniBatchResult(rows=tuple(rows), errors=tuple(errors), timings={
        "slot_wait": slot - began, "decode": decoded - slot, "inference": done - decoded})


def _decode(config: ScoringConfig, signature: ModelSignature, files: Sequence[InputFile],
            blocks: list[tuple[str, Block]], errors: list[FailedItem],
            deadline: float | None) -> None:
    for f in files:
        try:
            block, failures = read_file(config.input, signature, f.name, f.data)
        except ItemError as e:
            errors.append(FailedItem(f.name, None, str(e)))
        except Exception as e:  # a decoder's unforeseen error still fails only its file
            errors.append(FailedItem(f.name, None, f"could not be read: {_short(e)}"))
        else:
            errors += [FailedItem(f.name, row + f.first_row, reason)
                       for row, reason in failures.items()]
            if len(block):
                blocks.append((f.name, Block(block.rows + f.first_row, block.feeds)
                               if f.first_row else block))
        _check(deadline)


def _chunk_size(config: ScoringConfig, signature: ModelSignature,
                blocks: list[tuple[str, Block]]) -> int:
    if signature.batch_size:
        return signature.batch_size
    if config.max_batch:
        return config.max_batch
    if not blocks:
        return 1
    block = blocks[0][1]
    item_bytes = sum(v.nbytes for v in block.feeds.values()) / len(block)
    return int(max(1, min(MAX_BATCH_LIMIT, CHUNK_BYTES // max(item_bytes, 1))))


def _chunks(blocks: list[tuple[str, Block]], size: int) -> Iterator[list[_Slice]]:
    """Runs of at most `size` items across files, in input order."""
    chunk: list[_Slice] = []
    room = size
    for name, block in blocks:
        start = 0
        while start < len(block):
            stop = min(len(block), start + room)
            chunk.append(_Slice(name, block, start, stop))
            room -= stop - start
            start = stop
            if room == 0:
                yield chunk
                chunk, room = [], size
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _Runner:
    session: Any
    signature: ModelSignature
    fetch: list[str]
    values: Callable[[dict[str, Any], int], tuple[str, ...]]

    def score(self, chunk: list[_Slice]) -> tuple[list[ScoredRow], list[FailedItem]]:
        rows: list[ScoredRow] = []
        errors: list[FailedItem] = []
        try:
            results = self.run(chunk)
        except Exception as e:
            singles = [_Slice(s.file_name, s.block, k, k + 1) for s in chunk
                       for k in range(s.start, s.stop)]
            if len(singles) == 1:
                s = singles[0]
                return [], [FailedItem(s.file_name, int(s.block.rows[s.start]),
                                       f"model rejected the item: {_short(e)}")]
            for single in singles:  # only the items ONNX Runtime refuses fail
                got, failed = self.score([single])
                rows += got
                errors += failed
            return rows, errors
        i = 0
        for s in chunk:
            for row in s.block.rows[s.start:s.stop].tolist():
                try:
                    rows.append(ScoredRow(s.file_name, row, self.values(results, i)))
                except Exception as e:
                    errors.append(FailedItem(s.file_name, row,
                                             f"cannot turn the model's output into a row: "
                                             f"{_short(e)}"))
                i += 1
        return rows, errors

    def run(self, chunk: list[_Slice]) -> dict[str, Any]:
        """One ONNX Runtime run over the chunk's items (padded to a static batch size)."""
        first = chunk[0]
        feeds = {name: np.concatenate([s.block.feeds[name][s.start:s.stop] for s in chunk])
                 if len(chunk) > 1 else first.block.feeds[name][first.start:first.stop]
                 for name in first.block.feeds}
        count = sum(s.stop - s.start for s in chunk)
        static = self.signature.batch_size
        if static and count < static:  # padding rows repeat the last item and are dropped
            feeds = {k: np.concatenate([v, np.repeat(v[-1:], static - count, axis=0)])
                     for k, v in feeds.items()}
        values = self.session.run(self.fetch, feeds)
        return {n: v[:count] for n, v in zip(self.fetch, values, strict=True)}


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise MiniBatchTimeoutError("mini-batch ran past retry_settings.timeout")


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:300] if str(e) else type(e).__name__
