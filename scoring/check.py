"""Does a deployment's scoring configuration fit its model? One synthetic item shows it.

`parse_scoring_config` checks what the signature alone can tell. What only shows when data
flows — 28x28 images flattened to 784 values for a 64-feature model, a dtype the model
refuses, a second model input nothing feeds, class names that do not match the scores — is
found by sending one synthetic item of the configured kind (an image of the configured size
and mode, a table row with the configured columns, a `.npy` tensor) through the same reader,
ONNX Runtime session and row formatter a mini-batch uses. A deployment that passes scores
its first real file the same way; one that fails is refused before any job runs.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import numpy as np

from scoring.config import ScoringConfig
from scoring.engine import InputFile, score_files
from scoring.signature import ModelSignature

# Images are resized to at most 4096x4096 (16.7 M pixels): one such RGB item is 192 MiB as
# float32 and preprocessing holds two to three copies (about 450 MiB at peak), which fits a
# 2 GB Flex Consumption instance beside the model; common vision models take 224 to 1280
# pixels a side.
MAX_IMAGE_PIXELS = 4096 * 4096


class ModelMismatchError(Exception):
    """The configuration does not fit the model; `field` and `rule` as in ValidationError."""

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


def check_config_against_model(config: ScoringConfig, signature: ModelSignature,
                               session: Any) -> None:
    """Raise ModelMismatchError unless a synthetic item scores through `session`. Sizes are
    bounded before anything is allocated. A configuration whose item shape comes only from
    the files (no image size, dynamic tensor dimensions) has no synthetic item to try."""
    inp = config.input
    if inp.type == "image" and inp.size and inp.size[0] * inp.size[1] > MAX_IMAGE_PIXELS:
        width, height = inp.size
        raise ModelMismatchError(
            "scoring.input.size", f"[{width}, {height}] is {width * height:,} pixels; images "
            f"are resized to at most {MAX_IMAGE_PIXELS:,} (4096x4096)")
    sample = _sample(config, signature)
    if sample is None:
        return
    what, item = sample
    errors = score_files(session, config, signature, [item]).errors
    if errors:
        reason = errors[0].reason
        field = "scoring.output" if reason.startswith("cannot turn") else "scoring.input"
        raise ModelMismatchError(field, f"a synthetic {what}: {reason}")


def _sample(config: ScoringConfig, signature: ModelSignature) -> tuple[str, InputFile] | None:
    """(what the item is, the item as a file), or None when its shape depends on the files."""
    inp = config.input
    if inp.type == "image":
        if not inp.size:
            return None
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", tuple(inp.size), (128, 128, 128)).save(buf, "PNG")
        return (f"{inp.size[0]}x{inp.size[1]} {inp.mode} image",
                InputFile("synthetic.png", buf.getvalue()))
    if inp.type == "tabular":
        columns = _columns(config, signature)
        if not columns:
            return None
        return (f"row of {len(columns)} column(s) ({_shown(columns)})",
                InputFile(f"synthetic.{inp.format or 'csv'}", _row(inp.format, columns)))
    item = signature.input(inp.input_name).shape[1:]
    if not all(isinstance(d, int) and d > 0 for d in item):
        return None
    shape = tuple(item) if inp.items_per_file == "one" else (1, *item)
    buf = io.BytesIO()
    np.save(buf, np.zeros(shape, dtype=inp.dtype))
    return f"{inp.dtype} tensor of shape {list(shape)}", InputFile("synthetic.npy",
                                                                      buf.getvalue())


def _columns(config: ScoringConfig, signature: ModelSignature) -> list[str]:
    """The configured columns; by order without a list, one per feature of a static width."""
    inp = config.input
    if inp.columns:
        return list(inp.columns)
    if inp.mapping == "by_name":
        return [s.name for s in signature.inputs]
    width = signature.input(inp.input_name).shape[-1]
    return [f"feature_{k}" for k in range(width)] if isinstance(width, int) else []


def _row(fmt: str | None, columns: list[str]) -> bytes:
    """One row of zeros with these columns, in the configured file format."""
    if fmt == "jsonl":
        return (json.dumps(dict.fromkeys(columns, 0)) + "\n").encode()
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.table({c: [0] for c in columns}), buf)
        return buf.getvalue()
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([columns, ["0"] * len(columns)])
    return text.getvalue().encode()


def _shown(columns: list[str]) -> str:
    return ", ".join(columns[:5]) + (", ..." if len(columns) > 5 else "")
