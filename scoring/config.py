"""The no-code scoring configuration: how files become tensors and outputs become rows.

`parse_scoring_config` validates a deployment's `scoring` section against the model's
signature and fills every default, so the stored `ScoringConfig` says exactly what runs.
Errors name the field (`scoring.input.size`) and the rule. Format: docs/scoring.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from scoring.errors import ScoringConfigError
from scoring.signature import ModelSignature, TensorSpec

INPUT_TYPES = ("image", "tabular", "tensor")
OUTPUT_TYPES = ("classification", "regression", "raw")
NUMERIC_DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
                  "uint16", "bool")
IMAGE_MODES = {"L": 1, "RGB": 3, "RGBA": 4, "I": 1, "F": 1}
MAX_BATCH_LIMIT = 4096

_COMMON_KEYS = {"type", "input_name", "dtype"}
_INPUT_KEYS = {
    "image": _COMMON_KEYS | {"mode", "size", "scale", "mean", "std", "layout"},
    "tabular": _COMMON_KEYS | {"format", "columns", "exclude", "mapping"},
    "tensor": _COMMON_KEYS | {"items_per_file"},
}
_OUTPUT_KEYS = {"type", "label_output", "probabilities_output", "class_names", "probabilities",
                "softmax", "outputs"}


@dataclass(frozen=True)
class InputConfig:
    type: str
    input_name: str
    dtype: str
    # image
    mode: str = "RGB"
    size: tuple[int, int] | None = None  # (width, height)
    scale: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    layout: str = "NCHW"
    # tabular
    format: str | None = None  # None: from the file's extension
    columns: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mapping: str = "by_order"  # by_order | by_name | auto (by_name when the input is a column)
    # tensor
    items_per_file: str = "many"  # many (along axis 0) | one


@dataclass(frozen=True)
class OutputConfig:
    type: str
    label_output: str | None = None
    probabilities_output: str | None = None
    class_names: tuple[str, ...] = ()
    probabilities: bool = False
    softmax: str = "auto"  # auto (when the scores are not probabilities) | always | never
    outputs: tuple[str, ...] = ()  # raw: the outputs written; regression: the one read


@dataclass(frozen=True)
class ScoringConfig:
    input: InputConfig
    output: OutputConfig
    max_batch: int | None = None  # None: as many items as fit in 64 MB, at most 4096

    def to_dict(self) -> dict[str, Any]:
        """The stored form; only the input type's own keys, so it can be sent back as is."""
        d = asdict(self)
        d["input"] = {k: v for k, v in d["input"].items() if k in _INPUT_KEYS[self.input.type]}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringConfig:
        i = dict(d["input"])
        for key in ("size", "mean", "std", "columns", "exclude"):
            if i.get(key) is not None:
                i[key] = tuple(i[key])
        o = dict(d["output"])
        for key in ("class_names", "outputs"):
            o[key] = tuple(o.get(key) or ())
        return cls(InputConfig(**i), OutputConfig(**o), d.get("max_batch"))


def parse_scoring_config(doc: dict | None, signature: ModelSignature) -> ScoringConfig:
    """Validate a `scoring` section (None: defaults inferred from the signature)."""
    doc = {} if doc is None else doc
    if not isinstance(doc, dict):
        raise ScoringConfigError("scoring", "must be an object with input and output")
    _no_unknown(doc, {"input", "output", "max_batch"}, "scoring")
    max_batch = doc.get("max_batch")
    if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, int)
                                  or not 1 <= max_batch <= MAX_BATCH_LIMIT):
        raise ScoringConfigError("scoring.max_batch",
                                 f"must be an integer from 1 to {MAX_BATCH_LIMIT}")
    inp = _input(_object(doc.get("input"), "scoring.input"), signature)
    out = _output(_object(doc.get("output"), "scoring.output"), signature)
    return ScoringConfig(inp, out, max_batch)


def _object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScoringConfigError(field, "must be an object")
    return value


def _no_unknown(d: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise ScoringConfigError(f"{where}.{unknown[0]}",
                                 f"is not a setting here (allowed: {', '.join(sorted(allowed))})")


def _numbers(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value)


def _names(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ScoringConfigError(field, "must be a list of column names")
    return tuple(value)


def _default_input_type(sig: ModelSignature) -> str:
    """One 2-D numeric input, or several (one per column): a table. Anything else: tensors."""
    if all(s.is_tensor and len(s.shape) == 2 for s in sig.inputs) and (
            len(sig.inputs) > 1 or sig.inputs[0].dtype != "string"):
        return "tabular"
    return "tensor"


def _input(d: dict, sig: ModelSignature) -> InputConfig:
    kind = d.get("type", _default_input_type(sig))
    if kind not in INPUT_TYPES:
        raise ScoringConfigError("scoring.input.type", f"must be one of: {', '.join(INPUT_TYPES)}")
    _no_unknown(d, _INPUT_KEYS[kind], "scoring.input")
    names = [s.name for s in sig.inputs]
    name = d.get("input_name", names[0])
    if name not in names:
        raise ScoringConfigError("scoring.input.input_name",
                                 f"the model has no input '{name}' (inputs: {', '.join(names)})")
    spec = sig.input(name)
    dtype = d.get("dtype", spec.dtype)
    if dtype not in NUMERIC_DTYPES and not (kind == "tabular" and dtype == spec.dtype):
        raise ScoringConfigError("scoring.input.dtype",
                                 "must be a numeric numpy dtype name "
                                 f"({', '.join(NUMERIC_DTYPES)})")
    fields: dict[str, Any] = {"type": kind, "input_name": name, "dtype": dtype}
    if kind == "image":
        fields.update(_image(d, spec))
    elif kind == "tabular":
        fields.update(_tabular(d, sig))
    else:
        per_file = d.get("items_per_file", "many")
        if per_file not in ("many", "one", 1):
            raise ScoringConfigError("scoring.input.items_per_file",
                                     "must be 'many' (items along axis 0) or 1 (one per file)")
        fields["items_per_file"] = "many" if per_file == "many" else "one"
    return InputConfig(**fields)


def _image(d: dict, spec: TensorSpec) -> dict[str, Any]:
    rank = len(spec.shape)
    layout = d.get("layout", "flat" if rank == 2 else "NCHW")
    if layout not in ("NCHW", "NHWC", "flat"):
        raise ScoringConfigError("scoring.input.layout", "must be NCHW, NHWC or flat")
    if rank and rank != (2 if layout == "flat" else 4):
        raise ScoringConfigError("scoring.input.layout",
                                 f"{layout} does not fit the model input '{spec.name}' of shape "
                                 f"{list(spec.shape)}")
    dims = {"NCHW": (1, 2, 3), "NHWC": (3, 1, 2)}.get(layout)  # channels, height, width
    channels = height = width = None
    if dims and rank == 4:
        channels, height, width = (spec.shape[k] if isinstance(spec.shape[k], int) else None
                                   for k in dims)
    default_mode = {1: "L", 4: "RGBA"}.get(channels or 3, "RGB")
    mode = d.get("mode", default_mode)
    if mode not in IMAGE_MODES:
        raise ScoringConfigError("scoring.input.mode",
                                 f"must be a Pillow mode: {', '.join(IMAGE_MODES)}")
    if channels and IMAGE_MODES[mode] != channels:
        raise ScoringConfigError("scoring.input.mode",
                                 f"{mode} gives {IMAGE_MODES[mode]} channel(s) but the model input "
                                 f"'{spec.name}' takes {channels}")
    size = d.get("size", [width, height] if width and height else None)
    if size is not None and (not isinstance(size, list | tuple) or len(size) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
        raise ScoringConfigError("scoring.input.size",
                                 "must be [width, height] of positive integers")
    if size is not None and width and height and tuple(size) != (width, height):
        raise ScoringConfigError("scoring.input.size",
                                 f"the model input '{spec.name}' takes {width}x{height} images")
    want = IMAGE_MODES[mode]
    mean, std = d.get("mean", []), d.get("std", [])
    for key, value in (("mean", mean), ("std", std)):
        if not _numbers(value) or len(value) not in (0, 1, want):
            raise ScoringConfigError(f"scoring.input.{key}",
                                     f"must be a list of 1 or {want} numbers")
    if any(v == 0 for v in std):
        raise ScoringConfigError("scoring.input.std", "must not contain 0")
    scale = d.get("scale", 1.0)
    if not _numbers([scale]) or scale <= 0:
        raise ScoringConfigError("scoring.input.scale", "must be a positive number")
    return {"mode": mode, "size": tuple(size) if size else None, "scale": float(scale),
            "mean": tuple(float(v) for v in mean), "std": tuple(float(v) for v in std),
            "layout": layout}


def _tabular(d: dict, sig: ModelSignature) -> dict[str, Any]:
    fmt = d.get("format")
    if fmt not in (None, "csv", "parquet", "jsonl"):
        raise ScoringConfigError("scoring.input.format", "must be csv, parquet or jsonl")
    columns = _names(d.get("columns", []), "scoring.input.columns")
    exclude = _names(d.get("exclude", []), "scoring.input.exclude")
    names = [s.name for s in sig.inputs]
    one_per_column = len(names) > 1 or sig.inputs[0].dtype == "string"
    mapping = d.get("mapping", "by_name" if one_per_column else "auto")
    if mapping not in ("by_name", "by_order", "auto"):
        raise ScoringConfigError("scoring.input.mapping", "must be by_name or by_order")
    if mapping == "auto" and columns:  # listed columns settle it
        mapping = "by_name" if list(columns) == names else "by_order"
    if mapping == "by_order" and len(names) > 1:
        raise ScoringConfigError("scoring.input.mapping",
                                 f"the model has {len(names)} inputs ({', '.join(names)}): "
                                 "use by_name (one input per column)")
    if mapping == "by_name":
        if columns and set(columns) != set(names):
            raise ScoringConfigError("scoring.input.columns",
                                     f"by_name: must name every model input ({', '.join(names)})")
        bad = [s.name for s in sig.inputs if not (s.is_tensor and len(s.shape) in (1, 2) and (
            len(s.shape) == 1 or s.shape[1] in (1, None) or isinstance(s.shape[1], str)))]
        if bad:
            raise ScoringConfigError("scoring.input.mapping",
                                     f"by_name needs inputs of one value per row; '{bad[0]}' is "
                                     f"{list(sig.input(bad[0]).shape)}")
    elif mapping == "by_order" and sig.inputs[0].dtype == "string":
        raise ScoringConfigError("scoring.input.mapping",
                                 "by_order stacks numbers; this model's input takes strings")
    if mapping != "by_name" and len(sig.inputs[0].shape) != 2:
        raise ScoringConfigError("scoring.input.type",
                                 f"tabular by_order needs a 2-D model input (rows x features); "
                                 f"'{names[0]}' is {list(sig.inputs[0].shape)}")
    width = sig.inputs[0].shape[-1]
    if mapping == "by_order" and columns and isinstance(width, int) and len(columns) != width:
        raise ScoringConfigError("scoring.input.columns",
                                 f"lists {len(columns)} columns but the model takes {width} "
                                 "features")
    return {"format": fmt, "columns": columns, "exclude": exclude, "mapping": mapping}


def _default_output_type(sig: ModelSignature) -> str:
    names = [o.name for o in sig.outputs]
    if "output_label" in names or "output_probability" in names:
        return "classification"
    first = sig.outputs[0]
    if len(sig.outputs) == 1 and first.dtype.startswith("float") and (
            len(first.shape) == 1 or (len(first.shape) == 2 and first.shape[1] == 1)):
        return "regression"
    return "raw"


def _output(d: dict, sig: ModelSignature) -> OutputConfig:
    kind = d.get("type", _default_output_type(sig))
    if kind not in OUTPUT_TYPES:
        raise ScoringConfigError("scoring.output.type",
                                 f"must be one of: {', '.join(OUTPUT_TYPES)}")
    _no_unknown(d, _OUTPUT_KEYS, "scoring.output")
    names = [s.name for s in sig.outputs]
    for key in ("label_output", "probabilities_output"):
        if d.get(key) is not None and d[key] not in names:
            raise ScoringConfigError(f"scoring.output.{key}", f"the model has no output "
                                     f"'{d[key]}' (outputs: {', '.join(names)})")
    outputs = d.get("outputs", names if kind == "raw" else names[:1])
    if (not isinstance(outputs, list | tuple) or not outputs
            or not all(isinstance(o, str) and o in names for o in outputs)):
        raise ScoringConfigError("scoring.output.outputs",
                                 f"must list model outputs (outputs: {', '.join(names)})")
    if kind == "regression" and not sig.output(outputs[0]).is_tensor:
        raise ScoringConfigError("scoring.output.outputs",
                                 f"regression reads a tensor; '{outputs[0]}' is "
                                 f"{sig.output(outputs[0]).dtype}")
    class_names = d.get("class_names", [])
    if not isinstance(class_names, list | tuple) or not all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in class_names):
        raise ScoringConfigError("scoring.output.class_names", "must be a list of names")
    probabilities = d.get("probabilities", False)
    if not isinstance(probabilities, bool):
        raise ScoringConfigError("scoring.output.probabilities", "must be true or false")
    softmax = d.get("softmax", "auto")
    softmax = {True: "always", False: "never"}.get(softmax, softmax)
    if softmax not in ("auto", "always", "never"):
        raise ScoringConfigError("scoring.output.softmax", "must be auto, true or false")
    label, probs = d.get("label_output"), d.get("probabilities_output")
    if kind == "classification":
        label, probs = _classification_outputs(sig, label, probs)
        classes = _class_count(sig, probs)
        if class_names and classes and len(class_names) != classes:
            raise ScoringConfigError("scoring.output.class_names",
                                     f"has {len(class_names)} names but the model has {classes} "
                                     "classes")
    return OutputConfig(type=kind, label_output=label, probabilities_output=probs,
                        class_names=tuple(str(c) for c in class_names),
                        probabilities=probabilities, softmax=softmax, outputs=tuple(outputs))


def _classification_outputs(sig: ModelSignature, label: str | None,
                            probs: str | None) -> tuple[str | None, str | None]:
    """scikit-learn's output_label + output_probability; otherwise the one float output
    (probabilities or logits) whose argmax is the label."""
    names = [s.name for s in sig.outputs]
    if label is None and probs is None:
        if "output_label" in names:
            label = "output_label"
        if "output_probability" in names:
            probs = "output_probability"
        elif label is None:
            scores = [s.name for s in sig.outputs if not s.is_tensor or s.dtype.startswith(
                "float")]
            if not scores:
                raise ScoringConfigError("scoring.output.probabilities_output",
                                         "the model has no float output to take the argmax of")
            probs = scores[0]
    if probs is not None:
        spec = sig.output(probs)
        if not (spec.dtype.startswith("seq(map(") or spec.dtype.startswith("float")):
            raise ScoringConfigError("scoring.output.probabilities_output",
                                     f"'{probs}' must be a float tensor or a ZipMap, not "
                                     f"{spec.dtype}")
    return label, probs


def _class_count(sig: ModelSignature, probs: str | None) -> int | None:
    if probs is None:
        return len(sig.class_labels) or None
    spec = sig.output(probs)
    if not spec.is_tensor:
        return len(sig.class_labels) or None
    last = spec.shape[-1] if len(spec.shape) >= 2 else None
    return last if isinstance(last, int) and last > 0 else None
