"""What a model takes and gives, read from the ONNX graph by ONNX Runtime itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.errors import InvalidModel

_ELEMENT_TYPES = {
    "float": "float32", "double": "float64", "float16": "float16", "int64": "int64",
    "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
    "bool": "bool", "string": "string",
}


@dataclass(frozen=True)
class TensorSpec:
    """One input or output. `dtype` is a numpy dtype name ("float32", "int64", "string") for
    tensors, or the ONNX type with element names for others ("seq(map(int64,float))")."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict) -> TensorSpec:
        return cls(d["name"], d["dtype"], tuple(d["shape"]))

    @property
    def is_tensor(self) -> bool:
        return not self.dtype.startswith(("seq(", "map(", "optional("))


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch_size: int | None  # None: dynamic batch dimension
    # The classes of a scikit-learn style classifier, in the order of its probabilities
    # (read from its ZipMap output); empty when the model does not say.
    class_labels: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"inputs": [t.to_dict() for t in self.inputs],
                "outputs": [t.to_dict() for t in self.outputs], "batch_size": self.batch_size,
                "class_labels": list(self.class_labels)}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSignature:
        return cls(tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
                   tuple(TensorSpec.from_dict(t) for t in d["outputs"]), d["batch_size"],
                   tuple(d.get("class_labels") or ()))

    def input(self, name: str | None = None) -> TensorSpec:
        return self._find(self.inputs, name)

    def output(self, name: str | None = None) -> TensorSpec:
        return self._find(self.outputs, name)

    @staticmethod
    def _find(specs: tuple[TensorSpec, ...], name: str | None) -> TensorSpec:
        if name is None:
            return specs[0]
        for spec in specs:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _dtype(onnx_type: str) -> str:
    """"tensor(float)" → "float32"; inside sequences and maps the element names stay ONNX's."""
    plain = re.fullmatch(r"tensor\((\w+)\)", onnx_type)
    if plain:
        return _ELEMENT_TYPES.get(plain.group(1), plain.group(1))
    return re.sub(r"tensor\((\w+)\)", r"\1", onnx_type)


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) or d is None else str(d) for d in (arg.shape or []))
    return TensorSpec(arg.name, _dtype(arg.type), shape)


def read_signature(model_bytes: bytes) -> ModelSignature:
    """Load the model once with ONNX Runtime; bytes that are not a model are refused."""
    import onnxruntime as ort

    if not model_bytes:
        raise InvalidModel("model", "is empty")
    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise InvalidModel(
            "model", f"ONNX Runtime cannot load it as a model: {str(e).splitlines()[0][:300]}"
        ) from None
    inputs = tuple(_spec(a) for a in session.get_inputs())
    outputs = tuple(_spec(a) for a in session.get_outputs())
    if not inputs or not outputs:
        raise InvalidModel("model", "has no inputs or no outputs")
    first = inputs[0].shape[0] if inputs[0].shape else None
    batch = first if isinstance(first, int) and first > 0 else None
    return ModelSignature(inputs, outputs, batch, _zipmap_classes(session, inputs, outputs,
                                                                  batch))


def _zipmap_classes(session: Any, inputs: tuple[TensorSpec, ...],
                    outputs: tuple[TensorSpec, ...], batch: int | None) -> tuple[str, ...]:
    """The class labels of a ZipMap output (a sequence of {class: probability} maps).

    ONNX Runtime does not expose node attributes, but a ZipMap always emits every class, so
    one run on a zero-filled item shows them. Models whose inputs have free dimensions other
    than the batch, or that refuse zeros, keep an empty list (columns then fall back to JSON).
    """
    zipmaps = [o.name for o in outputs if o.dtype.startswith("seq(map(")]
    if not zipmaps:
        return ()
    feeds = {}
    for spec in inputs:
        dims = [batch or 1, *spec.shape[1:]]
        if not all(isinstance(d, int) and d > 0 for d in dims):
            return ()
        if spec.dtype == "string":
            feeds[spec.name] = np.full(dims, "", dtype=object)
        elif spec.is_tensor:
            feeds[spec.name] = np.zeros(dims, dtype=spec.dtype)
        else:
            return ()
    try:
        maps = session.run([zipmaps[0]], feeds)[0]
    except Exception:
        return ()
    return tuple(str(k) for k in maps[0]) if maps else ()
