"""Model outputs to row values: classification, regression, raw tensors.

Numbers are written with 7 significant digits (float32 carries about 7), so the same model on
the same input gives the same text on every machine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from scoring.config import OutputConfig, ScoringConfig
from scoring.signature import ModelSignature

SIGNIFICANT = ".7g"


def output_columns(config: ScoringConfig, signature: ModelSignature) -> list[str]:
    """The CSV header: where each row came from, then the prediction columns."""
    out = config.output
    if out.type == "classification":
        cols = ["prediction"]
        if out.probabilities:
            classes = class_names(out, signature)
            cols += ["probability", *([f"prob_{c}" for c in classes] if classes
                                      else ["probabilities"])]
        return ["file_name", "row", *cols]
    if out.type == "regression":
        width = _width(signature, out.outputs[0])
        if width and width > 1:
            return ["file_name", "row", *[f"prediction_{i}" for i in range(width)]]
        return ["file_name", "row", "prediction"]
    return ["file_name", "row", *out.outputs]


def output_names(config: ScoringConfig, signature: ModelSignature) -> list[str]:
    """The outputs a run must fetch."""
    out = config.output
    if out.type == "classification":
        return [n for n in (out.label_output, out.probabilities_output) if n]
    if out.type == "regression":
        return [out.outputs[0]]
    return list(out.outputs)


def class_names(out: OutputConfig, signature: ModelSignature) -> list[str]:
    """Names of the classes in probability order: `class_names`, the model's own labels
    (ZipMap), or indices when the probability tensor has a static width."""
    if out.class_names:
        return list(out.class_names)
    if signature.class_labels:
        return list(signature.class_labels)
    width = _width(signature, out.probabilities_output) if out.probabilities_output else None
    return [str(i) for i in range(width)] if width and width > 1 else []


def _width(signature: ModelSignature, name: str | None) -> int | None:
    """Values per item of a tensor output with static trailing dimensions."""
    spec = signature.output(name)
    if not spec.is_tensor:
        return None
    dims = spec.shape[1:]
    if all(isinstance(d, int) and d > 0 for d in dims):
        return int(np.prod(dims)) if dims else 1
    return None


def fmt(value: Any) -> str:
    """One value as CSV text: floats to 7 significant digits, integers and text as they are."""
    if isinstance(value, np.floating | float):
        return format(float(value), SIGNIFICANT)
    if isinstance(value, np.integer):
        return str(int(value))
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


def _rounded(x: float) -> float | None:
    return float(format(x, SIGNIFICANT)) if math.isfinite(x) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    array = np.asarray(value)
    if array.dtype.kind in "fc":
        flat = [_rounded(float(x)) for x in array.real.reshape(-1).tolist()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else (
            flat[0])
    if array.dtype.kind in "SO":
        return np.vectorize(fmt, otypes=[object])(array).tolist() if array.ndim else fmt(
            array.item())
    return array.tolist()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def row_formatter(config: ScoringConfig,
                  signature: ModelSignature) -> Callable[[dict[str, Any], int], tuple[str, ...]]:
    """A function giving the values of item `i` of a run's outputs, aligned with
    output_columns()[2:]; what depends only on the configuration is worked out once here."""
    out = config.output
    if out.type == "classification":
        classes = class_names(out, signature)
        return lambda results, i: _classification(out, signature, classes, results, i)
    if out.type == "regression":
        name = out.outputs[0]
        single = (_width(signature, name) or 1) == 1

        def regression(results: dict[str, Any], i: int) -> tuple[str, ...]:
            values = np.asarray(results[name][i]).reshape(-1)
            if single and values.size != 1:  # a dynamic width: one JSON column
                return (_json(_jsonable(values)),)
            return tuple(fmt(v) for v in values.tolist())

        return regression
    return lambda results, i: tuple(_json(_jsonable(results[name][i])) for name in out.outputs)


def _probabilities(out: OutputConfig, raw: Any) -> tuple[list[str] | None, np.ndarray]:
    """(ZipMap keys or None for a tensor, probabilities in class order)."""
    if isinstance(raw, dict):  # scikit-learn's ZipMap: one {class: probability} per item
        return [fmt(k) for k in raw], np.fromiter(raw.values(), dtype=np.float64)
    scores = np.asarray(raw, dtype=np.float64).reshape(-1)
    softmax = out.softmax == "always" or (out.softmax == "auto" and scores.size > 1 and (
        scores.min() < 0 or scores.max() > 1 or abs(scores.sum() - 1) > 1e-3))
    if softmax:  # logits
        e = np.exp(scores - scores.max())
        scores = e / e.sum()
    return None, scores


def _classification(out: OutputConfig, signature: ModelSignature, classes: list[str],
                    results: dict[str, Any], i: int) -> tuple[str, ...]:
    keys: list[str] | None = None
    probs: np.ndarray | None = None
    if out.probabilities_output:
        keys, probs = _probabilities(out, results[out.probabilities_output][i])
    index: int | None = None  # the predicted class's position among the probabilities
    if out.label_output:
        label = fmt(np.asarray(results[out.label_output][i]).reshape(-1)[0])
        if keys is not None:
            index = keys.index(label) if label in keys else None
        elif probs is not None:
            index = int(np.argmax(probs))
        shown = _display(out, signature, label, index if keys is not None else None)
    else:
        assert probs is not None
        index = int(np.argmax(probs))
        label = keys[index] if keys is not None else str(index)
        shown = _display(out, signature, label, index)
    values = [shown]
    if out.probabilities:
        values.append(fmt(probs[index]) if probs is not None and index is not None else "")
        if classes:
            if probs is not None and len(probs) != len(classes):
                raise ValueError(f"the model gave {len(probs)} probabilities for "
                                 f"{len(classes)} classes ({', '.join(classes[:5])}, ...)")
            values += [fmt(p) for p in probs] if probs is not None else [""] * len(classes)
        elif probs is None:
            values.append("{}")
        else:
            names = keys if keys is not None else [str(k) for k in range(len(probs))]
            values.append(_json({_display(out, signature, n, k): _rounded(float(p))
                                 for k, (n, p) in enumerate(zip(names, probs, strict=True))}))
    return tuple(values)


def _display(out: OutputConfig, signature: ModelSignature, label: str,
             index: int | None) -> str:
    """A label as users see it: `class_names` maps a class position (or an integer label)."""
    if not out.class_names:
        return label
    if index is None:
        if label in signature.class_labels:
            index = signature.class_labels.index(label)
        else:
            try:
                index = int(label)
            except ValueError:
                return label
    return out.class_names[index] if 0 <= index < len(out.class_names) else label
