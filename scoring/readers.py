"""Turning one input file into a block of items: per-input arrays with the batch axis first.

Images give one item per file, tables one per row, `.npy` files one per entry along axis 0
(or one in all). Decoding is done by Pillow, pyarrow and numpy; tables are converted column
by column, and only a row whose value cannot be converted, or a CSV line with the wrong
number of values, is dropped (and reported). A file that cannot be read at all raises
ItemError.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import numpy as np

from scoring.config import InputConfig
from scoring.errors import ItemError
from scoring.signature import ModelSignature


@dataclass(frozen=True)
class Block:
    """The items of one file that decoded: their row numbers and the model feeds."""

    rows: np.ndarray  # int64, one per item, ascending
    feeds: dict[str, np.ndarray]  # input name → array of len(rows) items

    def __len__(self) -> int:
        return len(self.rows)


RowFailures = dict[int, str]  # row → reason
MAX_PIXELS = 64_000_000  # an image header can claim any size; decoding it would take GBs


def read_file(cfg: InputConfig, sig: ModelSignature, name: str,
              data: bytes) -> tuple[Block, RowFailures]:
    if cfg.type == "image":
        return _one(cfg.input_name, _image(cfg, sig, data)), {}
    if cfg.type == "tabular":
        return _tabular(cfg, sig, name, data)
    return _tensor(cfg, sig, data), {}


def _one(input_name: str, array: np.ndarray) -> Block:
    return Block(np.zeros(1, np.int64), {input_name: array[None]})


def _expect(sig: ModelSignature, input_name: str, item_shape: tuple[int, ...]) -> None:
    want = sig.input(input_name).shape[1:]
    if len(want) != len(item_shape) or any(
            isinstance(w, int) and w > 0 and w != g for w, g in zip(want, item_shape,
                                                                   strict=True)):
        shown = [w if isinstance(w, int) else "?" for w in want]
        raise ItemError(f"gives shape {list(item_shape)} but the model input '{input_name}' "
                        f"expects {shown} per item")


# images ---------------------------------------------------------------------------------------

def _image(cfg: InputConfig, sig: ModelSignature, data: bytes) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ItemError(f"is {img.width}x{img.height} pixels, more than the "
                                f"{MAX_PIXELS // 1_000_000} million read")
            if img.mode != cfg.mode:
                img = img.convert(cfg.mode)
            if cfg.size and img.size != tuple(cfg.size):
                img = img.resize(tuple(cfg.size), Image.Resampling.BILINEAR)
            pixels = np.array(img, dtype=np.float32)  # a writable copy
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        detail = re.sub(r" <[^>]*>", "", str(e))  # drop the BytesIO repr Pillow adds
        raise ItemError(f"not a readable image (PNG, JPEG, BMP, TIFF): {detail}") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if cfg.scale != 1.0:
        pixels *= np.float32(cfg.scale)
    if cfg.mean:
        pixels -= np.asarray(cfg.mean, dtype=np.float32)
    if cfg.std:
        pixels /= np.asarray(cfg.std, dtype=np.float32)
    if cfg.layout == "NCHW":
        pixels = pixels.transpose(2, 0, 1)
    elif cfg.layout == "flat":
        pixels = pixels.reshape(-1)
    _expect(sig, cfg.input_name, pixels.shape)
    return np.ascontiguousarray(pixels, dtype=cfg.dtype)


# tensors --------------------------------------------------------------------------------------

def _tensor(cfg: InputConfig, sig: ModelSignature, data: bytes) -> Block:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ItemError(f"not a readable .npy file: {e}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise ItemError("not a .npy file of numbers")
    array = array.astype(cfg.dtype, copy=False)
    if cfg.items_per_file == "one":
        _expect(sig, cfg.input_name, array.shape)
        return _one(cfg.input_name, array)
    if array.ndim == 0:
        raise ItemError("holds a scalar; items are taken along axis 0")
    _expect(sig, cfg.input_name, array.shape[1:])
    return Block(np.arange(len(array), dtype=np.int64), {cfg.input_name: array})


# tables ---------------------------------------------------------------------------------------

def table_format(fmt: str | None, name: str) -> str:
    """The configured table format, else the one the file's extension names (CSV if none)."""
    if fmt:
        return fmt
    lower = name.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "csv"


def _table(fmt: str, data: bytes):
    """The file as a pyarrow Table, the rows of the table that failed to parse (JSON Lines),
    and the CSV rows left out of the table (a wrong number of values), by input row."""
    import pyarrow as pa

    failures: RowFailures = {}
    skipped: RowFailures = {}
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(data))
        elif fmt == "jsonl":
            import pyarrow.json as pj

            try:
                table = pj.read_json(io.BytesIO(data))
            except pa.ArrowInvalid:
                table, failures = _jsonl_as_text(data)
        else:
            table, skipped = _csv(data)
        table.column_names  # noqa: B018 - names that are not UTF-8 fail here, not later
    except (pa.ArrowException, OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise ItemError(f"not a readable {fmt} file: {str(e).splitlines()[0]}") from None
    return table, failures, skipped


def _csv(data: bytes):
    """A CSV as a Table without its lines of the wrong number of values, and those lines
    ({input row: reason}). pyarrow numbers records from 1 with the header first, not
    counting empty lines, so record n is input row n - 2 (the row the table would give).
    The fast multi-threaded read runs first; only a file with bad lines is read again, in
    one thread, because pyarrow gives line numbers only then. Quoted values may hold
    newlines."""
    import pyarrow as pa
    import pyarrow.csv as pc

    # pyarrow cuts a file into blocks at newlines, inside quoted values too unless told
    quoted = pc.ParseOptions(newlines_in_values=b'"' in data)
    try:
        return pc.read_csv(io.BytesIO(data), parse_options=quoted), {}
    except pa.ArrowInvalid as e:
        if "columns, got" not in str(e):
            raise
    skipped: RowFailures = {}

    def skip(row) -> str:
        skipped[row.number - 2] = (f"has {row.actual_columns} values but the header has "
                                   f"{row.expected_columns} columns")
        return "skip"

    table = pc.read_csv(io.BytesIO(data), read_options=pc.ReadOptions(use_threads=False),
                        parse_options=pc.ParseOptions(
                            invalid_row_handler=skip,
                            newlines_in_values=quoted.newlines_in_values))
    return table, skipped


def _jsonl_as_text(data: bytes):
    """JSON Lines that pyarrow refuses (a value whose type changes between rows, a broken
    line): parse line by line and keep every value as text, so only the bad rows fail."""
    import pyarrow as pa

    records: list[dict] = []
    failures: RowFailures = {}
    lines = [line for line in data.decode("utf-8", errors="replace").splitlines()
             if line.strip()]
    for row, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            record = None
            failures[row] = f"not valid JSON: {e.msg}"
        if record is not None and not isinstance(record, dict):
            failures[row] = "not a JSON object"
        records.append(record if isinstance(record, dict) else {})
    names = list(dict.fromkeys(k for r in records for k in r))
    columns = {k: pa.array([None if r.get(k) is None else str(r[k]) for r in records],
                           pa.string()) for k in names}
    return pa.table(columns) if columns else pa.table({}), failures


def _tabular(cfg: InputConfig, sig: ModelSignature, name: str,
             data: bytes) -> tuple[Block, RowFailures]:
    table, failures, skipped = _table(table_format(cfg.format, name), data)
    names = table.column_names
    mapping = cfg.mapping
    if mapping == "auto":
        mapping = "by_name" if cfg.input_name in names else "by_order"
    if mapping == "by_name":
        columns = list(cfg.columns) or [s.name for s in sig.inputs]
    else:
        columns = list(cfg.columns) or [c for c in names if c not in cfg.exclude]
    missing = [c for c in columns if c not in names]
    if missing:
        raise ItemError(f"has no column(s) {', '.join(missing)} (columns: {', '.join(names)})")
    count = table.num_rows
    if mapping == "by_name":
        feeds = {}
        for c in columns:
            spec = sig.input(c)
            values = _column(table.column(c), spec.dtype, c, failures)
            feeds[c] = values.reshape(count, 1) if len(spec.shape) == 2 else values
    else:
        if not columns:
            raise ItemError("has no feature columns")
        _expect(sig, cfg.input_name, (len(columns),))
        matrix = np.empty((count, len(columns)), dtype=cfg.dtype)
        for k, c in enumerate(columns):
            matrix[:, k] = _column(table.column(c), cfg.dtype, c, failures)
        feeds = {cfg.input_name: matrix}
    keep = np.ones(count, dtype=bool)
    keep[[r for r in failures if r < count]] = False
    if not keep.all():
        feeds = {k: v[keep] for k, v in feeds.items()}
    # input row of each table row: the CSV rows left out of the table keep their numbers
    index = np.delete(np.arange(count + len(skipped), dtype=np.int64), sorted(skipped))
    failures = {int(index[r]): reason for r, reason in failures.items() if r < count}
    return Block(index[keep], feeds), {**failures, **skipped}


def _column(column, dtype: str, name: str, failures: RowFailures) -> np.ndarray:
    """One table column as `dtype` values; rows whose value does not convert are added to
    `failures` (the first reason per row wins) and get a placeholder."""
    import pyarrow as pa

    kind = column.type
    if dtype == "string":
        values = column.cast(pa.string()).to_pylist() if not pa.types.is_null(kind) else (
            [None] * len(column))
        for row, v in enumerate(values):
            if v is None:
                failures.setdefault(row, f"column '{name}' is empty")
        return np.array(["" if v is None else v for v in values], dtype=object)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or (
            pa.types.is_decimal(kind)):
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        for row in np.flatnonzero(nulls):
            failures.setdefault(int(row), f"column '{name}' is empty")
        target = pa.int64() if pa.types.is_integer(kind) else pa.float64()
        values = column.cast(target).fill_null(0).to_numpy()
        return values.astype(dtype, copy=False)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_null(kind):
        out = np.zeros(len(column), dtype=dtype)
        texts = column.to_pylist() if not pa.types.is_null(kind) else [None] * len(column)
        for row, v in enumerate(texts):
            if v is None or not v.strip():
                failures.setdefault(row, f"column '{name}' is empty")
                continue
            try:
                out[row] = float(v)
            except (TypeError, ValueError, OverflowError):
                failures.setdefault(row, f"column '{name}': '{v[:40]}' is not a number")
        return out
    raise ItemError(f"column '{name}' holds {kind}, not numbers")
