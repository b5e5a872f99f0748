"""Scoring a mini-batch: decode every file, run the items through the model together along
the batch axis (chunked; padded for a static batch size), and turn outputs into rows.

Every item ends in `rows` or in `errors`, exactly once: a file that cannot be read fails as
one item, a bad row fails alone, and a chunk ONNX Runtime rejects is retried item by item so
only the offending items fail.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scoring.config import ScoringConfig
from scoring.outputs import output_columns, row_values
from scoring.readers import Item, read_items
from scoring.signature import ModelSignature
from shared.errors import ItemError, MiniBatchTimeoutError

__all__ = ["FailedItem", "InputFile", "MiniBatchResult", "ScoredRow", "output_columns",
           "score_files"]


@dataclass(frozen=True)
class InputFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class ScoredRow:
    file_name: str
    row: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class FailedItem:
    file_name: str
    row: int | None
    reason: str


@dataclass(frozen=True)
class MiniBatchResult:
    rows: tuple[ScoredRow, ...]
    errors: tuple[FailedItem, ...]


def score_files(session, config: ScoringConfig, signature: ModelSignature,
                files: Sequence[InputFile], deadline: float | None = None) -> MiniBatchResult:
    items: list[tuple[str, Item]] = []
    errors: list[FailedItem] = []
    for f in files:
        try:
            decoded, failures = read_items(config.input, signature, f.name, f.data)
        except ItemError as e:
            errors.append(FailedItem(f.name, None, str(e)))
            continue
        items += [(f.name, item) for item in decoded]
        errors += [FailedItem(f.name, r.row, r.reason) for r in failures]
        _check(deadline)
    scored: dict[int, ScoredRow] = {}
    size = signature.batch_size or config.max_batch
    for start in range(0, len(items), size):
        chunk = items[start:start + size]
        try:
            results = _run(session, signature, [it for _, it in chunk])
            for offset, (name, item) in enumerate(chunk):
                scored[start + offset] = ScoredRow(
                    name, item.row, row_values(config, signature, results, offset))
        except Exception as e:
            if len(chunk) == 1:
                name, item = chunk[0]
                errors.append(FailedItem(name, item.row, f"model rejected the item: {_short(e)}"))
                continue
            for offset, (name, item) in enumerate(chunk):
                try:
                    results = _run(session, signature, [item])
                    scored[start + offset] = ScoredRow(
                        name, item.row, row_values(config, signature, results, 0))
                except Exception as e1:
                    errors.append(FailedItem(name, item.row,
                                             f"model rejected the item: {_short(e1)}"))
        _check(deadline)
    rows = tuple(scored[k] for k in sorted(scored))
    position = {f.name: i for i, f in enumerate(files)}
    errors.sort(key=lambda e: (position.get(e.file_name, 0), -1 if e.row is None else e.row))
    return MiniBatchResult(rows=rows, errors=tuple(errors))


def _run(session, signature: ModelSignature, items: list[Item]) -> dict:
    count = len(items)
    feeds = {name: np.stack([it.feeds[name] for it in items]) for name in items[0].feeds}
    static = signature.batch_size
    if static and count < static:  # pad to the model's fixed batch size
        feeds = {k: np.concatenate([v, np.repeat(v[-1:], static - count, axis=0)])
                 for k, v in feeds.items()}
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, feeds)
    return {n: v[:count] if not isinstance(v, list) else v[:count]
            for n, v in zip(names, values, strict=True)}


def _check(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise MiniBatchTimeoutError("mini-batch ran past retry_settings.timeout")


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:300]
