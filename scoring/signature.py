"""What a model takes and gives, read from the ONNX graph by ONNX Runtime itself."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import InvalidModelError

_ORT_TYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
    "tensor(uint8)": "uint8", "tensor(bool)": "bool", "tensor(string)": "string",
}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int | str | None, ...]

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict) -> TensorSpec:
        return cls(d["name"], d["dtype"], tuple(d["shape"]))


@dataclass(frozen=True)
class ModelSignature:
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    batch_size: int | None  # None: dynamic batch dimension

    def to_dict(self) -> dict:
        return {"inputs": [t.to_dict() for t in self.inputs],
                "outputs": [t.to_dict() for t in self.outputs], "batch_size": self.batch_size}

    @classmethod
    def from_dict(cls, d: dict) -> ModelSignature:
        return cls(tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
                   tuple(TensorSpec.from_dict(t) for t in d["outputs"]), d["batch_size"])

    def input(self, name: str | None = None) -> TensorSpec:
        if name is None:
            return self.inputs[0]
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _spec(arg) -> TensorSpec:
    dtype = _ORT_TYPES.get(arg.type, arg.type)
    shape = tuple(d if isinstance(d, int) or d is None else str(d) for d in (arg.shape or []))
    return TensorSpec(arg.name, dtype, shape)


def read_signature(model_bytes: bytes) -> ModelSignature:
    """Load the model once with ONNX Runtime; bytes that are not a model are refused."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise InvalidModelError(
            "model", f"ONNX Runtime cannot load it as a model: {str(e).splitlines()[0][:300]}"
        ) from None
    inputs = tuple(_spec(a) for a in session.get_inputs())
    outputs = tuple(_spec(a) for a in session.get_outputs())
    first = inputs[0].shape[0] if inputs and inputs[0].shape else None
    batch = first if isinstance(first, int) and first > 0 else None
    return ModelSignature(inputs, outputs, batch)
