"""Model outputs to row values: classification, regression, raw tensors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from scoring.config import OutputConfig, ScoringConfig
from scoring.signature import ModelSignature


def output_columns(config: ScoringConfig, signature: ModelSignature) -> list[str]:
    out = config.output
    if out.type == "classification":
        cols = ["prediction"]
        if out.probabilities:
            cols.append("probability")
            classes = _classes(out, signature)
            cols += [f"prob_{c}" for c in classes] if classes else ["probabilities"]
        return ["file_name", "row", *cols]
    if out.type == "regression":
        width = _width(signature, out.outputs[0] if out.outputs else signature.outputs[0].name)
        if width == 1:
            return ["file_name", "row", "prediction"]
        if width:
            return ["file_name", "row", *[f"prediction_{i}" for i in range(width)]]
        return ["file_name", "row", "prediction"]
    return ["file_name", "row", *out.outputs]


def _width(signature: ModelSignature, name: str) -> int | None:
    for spec in signature.outputs:
        if spec.name == name:
            dims = spec.shape[1:]
            if not dims:
                return 1
            if all(isinstance(d, int) and d > 0 for d in dims):
                return int(np.prod(dims))
    return None


def _classes(out: OutputConfig, signature: ModelSignature) -> list[str]:
    if out.class_names:
        return list(out.class_names)
    if out.probabilities_output:
        width = _width(signature, out.probabilities_output)
        if width and width > 1:
            return [str(i) for i in range(width)]
    return []


def fmt(value: Any) -> str:
    """Numbers as CSV text: floats to 7 significant digits (float32's precision)."""
    if isinstance(value, np.floating | float):
        return format(float(value), ".7g")
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def row_values(config: ScoringConfig, signature: ModelSignature,
               results: dict[str, Any], i: int) -> tuple[str, ...]:
    """The values of item `i` of a batch's outputs, aligned with output_columns()."""
    out = config.output
    if out.type == "classification":
        return _classification(out, signature, results, i)
    if out.type == "regression":
        name = out.outputs[0] if out.outputs else signature.outputs[0].name
        values = np.asarray(results[name][i]).reshape(-1)
        width = len(output_columns(config, signature)) - 2
        if width == 1 and values.size != 1:
            return (json.dumps([float(v) for v in values]),)
        return tuple(fmt(v) for v in values)
    return tuple(json.dumps(_jsonable(results[name][i]), separators=(",", ":"))
                 for name in out.outputs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    array = np.asarray(value)
    if array.dtype.kind in "fc":
        return array.astype(np.float64).round(7).tolist()
    return array.tolist()


def _classification(out: OutputConfig, signature: ModelSignature, results: dict[str, Any],
                    i: int) -> tuple[str, ...]:
    probs: dict[str, float] | None = None
    if out.probabilities_output:
        raw = results[out.probabilities_output][i]
        if isinstance(raw, dict):  # scikit-learn's ZipMap: one {class: probability} per item
            probs = {str(k): float(v) for k, v in raw.items()}
        else:
            vector = np.asarray(raw, dtype=np.float64).reshape(-1)
            if vector.min() < 0 or vector.max() > 1 or abs(vector.sum() - 1) > 1e-3:
                e = np.exp(vector - vector.max())  # logits: softmax
                vector = e / e.sum()
            probs = {str(k): float(v) for k, v in enumerate(vector)}
    if out.label_output:
        label = results[out.label_output][i]
        label = label.item() if hasattr(label, "item") else label
        label = label.decode() if isinstance(label, bytes) else label
    else:
        assert probs is not None
        label = max(probs, key=lambda k: probs[k])
    shown = _name(out, label)
    values = [shown]
    if out.probabilities:
        probs = probs or {}
        values.append(fmt(float(probs.get(str(label), max(probs.values(), default=0.0)))))
        classes = _classes(out, signature)
        if classes:
            keys = list(probs)
            for pos, cls in enumerate(classes):
                key = cls if cls in probs else (keys[pos] if pos < len(keys) else None)
                values.append(fmt(probs[key]) if key is not None else "")
        else:
            values.append(json.dumps({_name(out, k): round(v, 7) for k, v in probs.items()}))
    return tuple(values)


def _name(out: OutputConfig, label: Any) -> str:
    if out.class_names:
        try:
            index = int(label)
        except (TypeError, ValueError):
            return str(label)
        if 0 <= index < len(out.class_names):
            return out.class_names[index]
    return str(label)
