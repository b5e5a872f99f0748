"""Scoring through real ONNX Runtime sessions, the way a worker does."""

from __future__ import annotations

import io

import numpy as np
import onnxruntime as ort

from scoring.config import ScoringConfig, parse_scoring_config
from scoring.engine import InputFile, MiniBatchResult, output_columns, score_files
from scoring.signature import ModelSignature, read_signature


def run(model: bytes, scoring: dict | None, files: list[tuple[str, bytes]],
        deadline: float | None = None) -> tuple[ScoringConfig, ModelSignature, MiniBatchResult]:
    sig = read_signature(model)
    cfg = parse_scoring_config(scoring, sig)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    result = score_files(session, cfg, sig, [InputFile(n, d) for n, d in files], deadline)
    return cfg, sig, result


def table(cfg: ScoringConfig, sig: ModelSignature, result: MiniBatchResult) -> list[dict]:
    """Rows as {column: value} dicts, keyed by output_columns()."""
    cols = output_columns(cfg, sig)
    return [dict(zip(cols, (r.file_name, str(r.row), *r.values), strict=True))
            for r in result.rows]


def ort_outputs(model: bytes, feeds: dict[str, np.ndarray]) -> list:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def tiny_model(nodes: list, inputs: list[tuple[str, list]], outputs: list[tuple[str, list]],
               initializers: dict[str, np.ndarray] | None = None) -> bytes:
    """A small float model built with onnx.helper, for behaviour the samples do not show."""
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()
