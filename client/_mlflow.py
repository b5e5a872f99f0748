"""MLflow model folders on the user's machine, before they are registered.

An `onnx` flavor is uploaded as it is. A `sklearn` flavor is converted to ONNX here, where
scikit-learn and the user's own pickle already are (skl2onnx: the client's `sklearn` extra):
the conversion is checked against the model's `input_example` — the ONNX model's
predictions must equal scikit-learn's, else it is refused with the difference — and
registered as an ONNX MLflow folder (MLmodel, model.onnx, the signature and input example).
The service itself never unpickles anything. Other flavors are refused here already.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import yaml

from client._entities import DocumentError

EXTRA = "pip install 'batch-endpoints-functions[sklearn]'"
OPSET = 17  # ONNX Runtime >= 1.14 (the service's pin is 1.18) runs every operator of it


def mlmodel(folder: Path) -> dict[str, Any]:
    path = folder / "MLmodel"
    if not path.is_file():
        raise DocumentError(f"model path {folder}: not an MLflow model folder (no MLmodel file)")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise DocumentError(f"{path}: names no flavors")
    return doc


def onnx_folder(folder: Path, work: Path) -> Path:
    """The folder to upload: `folder` for an onnx flavor, else its ONNX conversion in `work`."""
    doc = mlmodel(folder)
    flavors = doc["flavors"]
    if "onnx" in flavors:
        return folder
    if "sklearn" not in flavors:
        others = ", ".join(sorted(set(flavors) - {"python_function"}) or ["python_function"])
        raise DocumentError(f"model path {folder}: MLflow flavor {others} deploys here only "
                            "with a scoring script: register it with --type custom_model and "
                            "give the deployment a code_configuration (docs/scoring-scripts.md)")
    estimator = _unpickle(folder, flavors["sklearn"])
    columns, x = _input_example(folder, doc)
    onnx_bytes = _convert(folder, estimator, x)
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.onnx").write_bytes(onnx_bytes)
    converted = {
        "artifact_path": doc.get("artifact_path", "model"),
        "flavors": {"onnx": {"data": "model.onnx", "providers": ["CPUExecutionProvider"],
                             "onnx_version": _onnx_version()}},
        "metadata": {"converted_from": "sklearn",
                     "sklearn_version": flavors["sklearn"].get("sklearn_version")},
        **{k: doc[k] for k in ("signature", "saved_input_example_info", "model_uuid",
                               "mlflow_version") if k in doc},
    }
    if "signature" not in doc and columns:
        converted["signature"] = {"inputs": json.dumps([{"name": c, "type": "double"}
                                                        for c in columns])}
    (work / "MLmodel").write_text(yaml.safe_dump(converted, sort_keys=False))
    example = (doc.get("saved_input_example_info") or {}).get("artifact_path")
    if example and (folder / example).is_file():
        shutil.copy(folder / example, work / example)
    return work


def _unpickle(folder: Path, flavor: dict[str, Any]) -> Any:
    path = folder / str(flavor.get("pickled_model") or "model.pkl")
    if not path.is_file():
        raise DocumentError(f"{folder}/MLmodel: flavors.sklearn.pickled_model {path.name} is "
                            "not in the folder")
    loader: Any = pickle
    if flavor.get("serialization_format") == "cloudpickle":
        try:
            import cloudpickle as loader
        except ImportError:
            loader = pickle  # cloudpickle's files are pickles; plain pickle reads most
    with path.open("rb") as f:
        return loader.load(f)  # the user's own model file, on the user's own machine


def _input_example(folder: Path, doc: dict[str, Any]) -> tuple[list[str], Any]:
    import numpy as np

    info = doc.get("saved_input_example_info") or {}
    path = folder / str(info.get("artifact_path") or "input_example.json")
    if not path.is_file():
        raise DocumentError(f"model path {folder}: a scikit-learn MLflow model needs an "
                            "input_example to be converted and checked (log it with "
                            "mlflow.sklearn.log_model(..., input_example=...))")
    example = json.loads(path.read_text(encoding="utf-8"))
    columns: list[str] = []
    if isinstance(example, dict) and "dataframe_split" in example:
        example = example["dataframe_split"]
    if isinstance(example, dict) and "data" in example:
        columns, rows = list(example.get("columns") or []), example["data"]
    elif isinstance(example, dict) and "inputs" in example:
        rows = example["inputs"]
    elif isinstance(example, list) and example and isinstance(example[0], dict):
        columns = list(example[0])
        rows = [[r[c] for c in columns] for r in example]
    else:
        rows = example
    try:
        x = np.asarray(rows, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise DocumentError(f"{path}: the input example is not a table of numbers ({e})"
                            ) from None
    return columns, x.reshape(len(x), -1)


def _convert(folder: Path, estimator: Any, x: Any) -> bytes:
    try:
        import numpy as np
        import onnxruntime as ort
        from skl2onnx import get_latest_tested_opset_version, to_onnx
    except ImportError:
        raise DocumentError(f"converting a scikit-learn MLflow model to ONNX needs skl2onnx "
                            f"and onnxruntime: {EXTRA}") from None
    try:
        onnx_bytes = to_onnx(estimator, x[:1], target_opset=min(
            OPSET, get_latest_tested_opset_version())).SerializeToString()
    except Exception as e:
        raise DocumentError(f"model path {folder}: skl2onnx cannot convert "
                            f"{type(estimator).__name__}: {str(e).splitlines()[0][:300]}; "
                            "deploy it with a scoring script instead") from None
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0]).reshape(len(x), -1)
    want = np.asarray(estimator.predict(x)).reshape(len(x), -1)
    exact = want.dtype.kind in "iubUSO"
    same = (np.array_equal(got.astype(want.dtype), want) if exact
            else np.allclose(got, want, rtol=1e-4, atol=1e-5))
    if not same:
        bad = int(np.flatnonzero((got != want).any(axis=1) if exact else
                                 ~np.isclose(got, want, rtol=1e-4, atol=1e-5).all(axis=1))[0])
        raise DocumentError(f"model path {folder}: the ONNX conversion does not predict what "
                            f"the scikit-learn model does on input_example row {bad}: "
                            f"scikit-learn {want[bad].tolist()}, ONNX {got[bad].tolist()}; "
                            "refused (deploy it with a scoring script instead)")
    return onnx_bytes


def _onnx_version() -> str | None:
    try:
        import onnx
    except ImportError:
        return None
    return onnx.__version__
