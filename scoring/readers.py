"""Turning one input file into items: per-input arrays without the batch axis.

Images give one item per file, tables one per row, `.npy` files one per entry along axis 0
(or one in all). Decoding is done by Pillow, pyarrow and numpy.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

from scoring.config import InputConfig
from scoring.signature import ModelSignature
from shared.errors import ItemError


@dataclass(frozen=True)
class Item:
    row: int
    feeds: dict[str, np.ndarray]


@dataclass(frozen=True)
class RowFailure:
    row: int | None
    reason: str


def read_items(cfg: InputConfig, sig: ModelSignature, name: str,
               data: bytes) -> tuple[list[Item], list[RowFailure]]:
    """Items of one file; a file that cannot be read at all raises ItemError."""
    if cfg.type == "image":
        return [Item(0, {cfg.input_name: _image(cfg, sig, data)})], []
    if cfg.type == "tabular":
        return _tabular(cfg, sig, name, data)
    return _tensor(cfg, sig, data), []


def _expect(sig: ModelSignature, input_name: str, array: np.ndarray) -> None:
    want = sig.input(input_name).shape[1:]
    got = array.shape
    if len(want) != len(got) or any(
            isinstance(w, int) and w > 0 and w != g for w, g in zip(want, got, strict=False)):
        shown = ["?" if not isinstance(w, int) else w for w in want]
        raise ItemError(f"gives shape {list(got)} but the model input '{input_name}' expects "
                        f"{shown} per item")


def _image(cfg: InputConfig, sig: ModelSignature, data: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert(cfg.mode)
            if cfg.size:
                img = img.resize(tuple(cfg.size), Image.Resampling.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        detail = re.sub(r" <[^>]*>", "", str(e))  # drop the BytesIO repr Pillow adds
        raise ItemError(f"not a readable image (PNG, JPEG, BMP, TIFF): {detail}") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = pixels * np.float32(cfg.scale)
    if cfg.mean:
        pixels = pixels - np.asarray(cfg.mean, dtype=np.float32)
    if cfg.std:
        pixels = pixels / np.asarray(cfg.std, dtype=np.float32)
    if cfg.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    elif cfg.layout == "flat":
        pixels = pixels.reshape(-1)
    array = pixels.astype(cfg.dtype)
    _expect(sig, cfg.input_name, array)
    return array


def _format(cfg: InputConfig, name: str) -> str:
    if cfg.format:
        return cfg.format
    lower = name.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "csv"


def _table(cfg: InputConfig, name: str, data: bytes):
    import pyarrow as pa

    fmt = _format(cfg, name)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(io.BytesIO(data))
        if fmt == "jsonl":
            import pyarrow.json as pj

            return pj.read_json(io.BytesIO(data))
        import pyarrow.csv as pc

        return pc.read_csv(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as e:
        raise ItemError(f"not a readable {fmt} file: {str(e).splitlines()[0]}") from None


def _tabular(cfg: InputConfig, sig: ModelSignature, name: str,
             data: bytes) -> tuple[list[Item], list[RowFailure]]:
    table = _table(cfg, name, data)
    if cfg.mapping == "by_name":
        columns = list(cfg.columns) or [s.name for s in sig.inputs]
    else:
        columns = list(cfg.columns) or [c for c in table.column_names if c not in cfg.exclude]
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ItemError(f"has no column(s) {', '.join(missing)} "
                        f"(columns: {', '.join(table.column_names)})")
    values = {c: table.column(c).to_pylist() for c in columns}
    items, failures = [], []
    for row in range(table.num_rows):
        try:
            if cfg.mapping == "by_name":
                feeds = {c: _cell(sig.input(c).dtype, values[c][row], c) for c in columns}
            else:
                vector = np.array([_number(values[c][row], c) for c in columns],
                                  dtype=cfg.dtype)
                _expect(sig, cfg.input_name, vector)
                feeds = {cfg.input_name: vector}
        except ItemError as e:
            failures.append(RowFailure(row, str(e)))
            continue
        items.append(Item(row, feeds))
    return items, failures


def _number(value: object, column: str) -> float:
    if value is None or isinstance(value, bool):
        raise ItemError(f"column '{column}' is empty or not a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ItemError(f"column '{column}': '{value}' is not a number") from None


def _cell(dtype: str, value: object, column: str) -> np.ndarray:
    if dtype == "string":
        if value is None:
            raise ItemError(f"column '{column}' is empty")
        return np.array([str(value)], dtype=object)
    return np.array([_number(value, column)], dtype=dtype)


def _tensor(cfg: InputConfig, sig: ModelSignature, data: bytes) -> list[Item]:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ItemError(f"not a readable .npy file: {e}") from None
    array = array.astype(cfg.dtype)
    if cfg.items_per_file == "one":
        _expect(sig, cfg.input_name, array)
        return [Item(0, {cfg.input_name: array})]
    if array.ndim == 0:
        raise ItemError("holds a scalar; items are taken along axis 0")
    _expect(sig, cfg.input_name, array[0])
    return [Item(i, {cfg.input_name: array[i]}) for i in range(array.shape[0])]
