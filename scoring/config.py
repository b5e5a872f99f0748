"""The no-code scoring configuration: how files become tensors and outputs become rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from scoring.signature import ModelSignature
from shared.errors import ValidationError

INPUT_TYPES = ("image", "tabular", "tensor")
OUTPUT_TYPES = ("classification", "regression", "raw")


@dataclass(frozen=True)
class InputConfig:
    type: str
    input_name: str
    dtype: str
    # image
    mode: str = "RGB"
    size: tuple[int, int] | None = None
    scale: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    layout: str = "NCHW"
    # tabular
    format: str | None = None
    columns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mapping: str = "by_order"
    # tensor
    items_per_file: str = "many"


@dataclass(frozen=True)
class OutputConfig:
    type: str
    label_output: str | None = None
    probabilities_output: str | None = None
    class_names: tuple[str, ...] = ()
    probabilities: bool = False
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoringConfig:
    input: InputConfig
    output: OutputConfig
    max_batch: int = field(default=64)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringConfig:
        i = dict(d["input"])
        for key in ("size", "mean", "std", "columns", "exclude"):
            if i.get(key) is not None:
                i[key] = tuple(i[key])
        o = dict(d["output"])
        for key in ("class_names", "outputs"):
            o[key] = tuple(o.get(key) or ())
        return cls(InputConfig(**i), OutputConfig(**o), d.get("max_batch", 64))


def parse_scoring_config(doc: dict | None, signature: ModelSignature) -> ScoringConfig:
    doc = doc or {}
    if not isinstance(doc, dict):
        raise ValidationError("scoring", "must be an object with input and output")
    unknown = set(doc) - {"input", "output", "max_batch"}
    if unknown:
        raise ValidationError(f"scoring.{sorted(unknown)[0]}", "is not a scoring setting")
    inp = _input(doc.get("input") or {}, signature)
    out = _output(doc.get("output") or {}, signature)
    max_batch = doc.get("max_batch", 64)
    if not isinstance(max_batch, int) or not 1 <= max_batch <= 4096:
        raise ValidationError("scoring.max_batch", "must be an integer from 1 to 4096")
    return ScoringConfig(inp, out, max_batch)


def _input(d: dict, sig: ModelSignature) -> InputConfig:
    if not isinstance(d, dict):
        raise ValidationError("scoring.input", "must be an object")
    first = sig.inputs[0]
    default_type = "tabular" if len(first.shape) == 2 and first.dtype != "string" else "tensor"
    kind = d.get("type", default_type)
    if kind not in INPUT_TYPES:
        raise ValidationError("scoring.input.type", f"must be one of: {', '.join(INPUT_TYPES)}")
    name = d.get("input_name", first.name)
    if name not in [s.name for s in sig.inputs]:
        raise ValidationError("scoring.input.input_name",
                              f"the model has no input '{name}' "
                              f"(inputs: {', '.join(s.name for s in sig.inputs)})")
    spec = sig.input(name)
    dtype = d.get("dtype", spec.dtype)
    if dtype not in ("float32", "float64", "float16", "int64", "int32", "uint8", "int8"):
        raise ValidationError("scoring.input.dtype", "must be a numeric numpy dtype name")
    fields: dict[str, Any] = {"type": kind, "input_name": name, "dtype": dtype}
    if kind == "image":
        mode = d.get("mode", "RGB")
        if mode not in ("L", "RGB", "RGBA", "I", "F"):
            raise ValidationError("scoring.input.mode", "must be a Pillow mode: L, RGB, RGBA")
        size = d.get("size")
        if size is not None and (not isinstance(size, list | tuple) or len(size) != 2 or not all(
                isinstance(v, int) and v > 0 for v in size)):
            raise ValidationError("scoring.input.size",
                                  "must be [width, height] of positive integers")
        layout = d.get("layout", "NCHW")
        if layout not in ("NCHW", "NHWC", "flat"):
            raise ValidationError("scoring.input.layout", "must be NCHW, NHWC or flat")
        channels = len(mode) if mode in ("RGB", "RGBA", "L") else 1
        mean, std = d.get("mean", []), d.get("std", [])
        for key, value in (("mean", mean), ("std", std)):
            if not isinstance(value, list | tuple) or len(value) not in (0, 1, channels) or not all(
                    isinstance(v, int | float) for v in value):
                raise ValidationError(f"scoring.input.{key}",
                                      f"must be a list of 1 or {channels} numbers")
        if any(v == 0 for v in std):
            raise ValidationError("scoring.input.std", "must not contain 0")
        scale = d.get("scale", 1.0)
        if not isinstance(scale, int | float) or scale <= 0:
            raise ValidationError("scoring.input.scale", "must be a positive number")
        fields.update(mode=mode, size=tuple(size) if size else None, scale=float(scale),
                      mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std),
                      layout=layout)
    elif kind == "tabular":
        fmt = d.get("format")
        if fmt not in (None, "csv", "parquet", "jsonl"):
            raise ValidationError("scoring.input.format", "must be csv, parquet or jsonl")
        columns = d.get("columns", [])
        exclude = d.get("exclude", [])
        for key, value in (("columns", columns), ("exclude", exclude)):
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ValidationError(f"scoring.input.{key}", "must be a list of column names")
        names = {s.name for s in sig.inputs}
        default_mapping = "by_name" if len(sig.inputs) > 1 else "by_order"
        mapping = d.get("mapping", default_mapping)
        if mapping not in ("by_name", "by_order"):
            raise ValidationError("scoring.input.mapping", "must be by_name or by_order")
        if mapping == "by_order" and len(sig.inputs) > 1:
            raise ValidationError("scoring.input.mapping",
                                  f"the model has {len(sig.inputs)} inputs: use by_name")
        if mapping == "by_name" and columns and not set(columns) <= names:
            raise ValidationError("scoring.input.columns",
                                  "by_name: every column must be a model input name")
        fields.update(format=fmt, columns=tuple(columns), exclude=tuple(exclude),
                      mapping=mapping)
    else:
        per_file = d.get("items_per_file", "many")
        if per_file not in ("many", 1, "1"):
            raise ValidationError("scoring.input.items_per_file", "must be 'many' or 1")
        fields["items_per_file"] = "one" if per_file in (1, "1") else "many"
    return InputConfig(**fields)


def _output(d: dict, sig: ModelSignature) -> OutputConfig:
    if not isinstance(d, dict):
        raise ValidationError("scoring.output", "must be an object")
    names = [s.name for s in sig.outputs]
    kind = d.get("type")
    if kind is None:
        kind = "classification" if "output_label" in names else "raw"
    if kind not in OUTPUT_TYPES:
        raise ValidationError("scoring.output.type", f"must be one of: {', '.join(OUTPUT_TYPES)}")
    for key in ("label_output", "probabilities_output"):
        if d.get(key) is not None and d[key] not in names:
            raise ValidationError(f"scoring.output.{key}", f"the model has no output "
                                  f"'{d[key]}' (outputs: {', '.join(names)})")
    class_names = d.get("class_names", [])
    if not isinstance(class_names, list | tuple) or not all(
            isinstance(v, str | int) for v in class_names):
        raise ValidationError("scoring.output.class_names", "must be a list of names")
    outputs = d.get("outputs", names)
    if not isinstance(outputs, list | tuple) or not set(outputs) <= set(names):
        raise ValidationError("scoring.output.outputs", f"must list model outputs ({names})")
    label = d.get("label_output")
    probs = d.get("probabilities_output")
    if kind == "classification":
        if label is None and "output_label" in names:
            label = "output_label"
        if probs is None:
            probs = "output_probability" if "output_probability" in names else (
                None if label else names[0])
    probabilities = d.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise ValidationError("scoring.output.probabilities", "must be true or false")
    return OutputConfig(type=kind, label_output=label, probabilities_output=probs,
                        class_names=tuple(str(c) for c in class_names),
                        probabilities=probabilities, outputs=tuple(outputs))
