"""MLflow model folders: the `MLmodel` file read (YAML; nothing in the folder is loaded but
the ONNX file, and nothing is unpickled).

An `onnx` flavor is scored with no code: its ONNX file is the model, and a column-based
MLflow signature gives the no-code scoring defaults — tabular input, columns fed to the
model by name in the signature's order (CSV, Parquet, JSON Lines). A `sklearn` flavor is
converted to ONNX by the CLI or client on the user's machine before it is registered; any
other flavor needs a scoring script.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from scoring.errors import ScoringConfigError

FIELD = "model"


@dataclass(frozen=True)
class MlflowOnnx:
    onnx_file: str  # the ONNX file's path in the folder
    inputs: tuple[dict[str, Any], ...]  # MLflow signature inputs (columns or tensors)
    outputs: tuple[dict[str, Any], ...]

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.inputs if c.get("type") != "tensor" and c.get("name")]

    def default_scoring(self) -> dict[str, Any] | None:
        """Tabular by column name when the signature names columns; else None (inferred
        from the ONNX graph as for any ONNX model)."""
        if self.columns and len(self.columns) == len(self.inputs):
            return {"input": {"type": "tabular", "columns": self.columns}}
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"flavor": "onnx", "onnx_file": self.onnx_file, "signature": {
            "inputs": list(self.inputs), "outputs": list(self.outputs)}}


def read(zip_bytes: bytes) -> MlflowOnnx:
    """The ONNX flavor of an MLflow folder (zipped), or ScoringConfigError saying why not."""
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    names = set(archive.namelist())
    if "MLmodel" not in names:
        raise ScoringConfigError(FIELD, "is not an MLflow model folder: it has no MLmodel file "
                                 "at its top level")
    try:
        doc = yaml.safe_load(archive.read("MLmodel"))
    except yaml.YAMLError as e:
        raise ScoringConfigError(f"{FIELD}.MLmodel", f"is not valid YAML: {e}") from None
    flavors = (doc or {}).get("flavors") if isinstance(doc, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise ScoringConfigError(f"{FIELD}.MLmodel", "names no flavors")
    if "onnx" not in flavors:
        real = sorted(set(flavors) - {"python_function"}) or ["python_function"]
        if "sklearn" in flavors:
            raise ScoringConfigError(FIELD, "is a scikit-learn MLflow model: register it with "
                                     "the CLI or the Python client, which convert it to ONNX on "
                                     "your machine (pip install 'batch-endpoints-functions"
                                     "[sklearn]'); the service never unpickles models")
        raise ScoringConfigError(FIELD, f"has MLflow flavor {', '.join(real)}, which is scored "
                                 "here only by a scoring script: register the folder as a "
                                 "custom_model and deploy it with code_configuration "
                                 "(docs/scoring-scripts.md)")
    onnx = flavors["onnx"] or {}
    data = str(onnx.get("data") or "model.onnx")
    path = PurePosixPath(data).as_posix()
    if path not in names:
        raise ScoringConfigError(f"{FIELD}.MLmodel", f"flavors.onnx.data names {data}, which "
                                 "is not in the folder")
    signature = doc.get("signature") or {}
    return MlflowOnnx(path, _specs(signature.get("inputs"), "inputs"),
                      _specs(signature.get("outputs"), "outputs"))


def _specs(value: Any, which: str) -> tuple[dict[str, Any], ...]:
    """MLflow keeps each signature part as a JSON string of column or tensor specs."""
    if value in (None, "", "null"):
        return ()
    try:
        specs = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        raise ScoringConfigError(f"{FIELD}.MLmodel", f"signature.{which} is not JSON") from None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ScoringConfigError(f"{FIELD}.MLmodel", f"signature.{which} must be a list of "
                                 "column or tensor specs")
    return tuple(specs)


def member(zip_bytes: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).read(name)
