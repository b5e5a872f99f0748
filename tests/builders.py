"""Models and inputs for tests: the project's samples, plus direct ONNX Runtime references."""

from __future__ import annotations

import numpy as np

from samples.data import digit_pngs
from samples.models import DIGITS_SCORING, diabetes_regressor, digits_classifier

digits_model = digits_classifier
diabetes_model = diabetes_regressor

__all__ = ["DIGITS_SCORING", "diabetes_model", "digit_pngs", "digits_model", "expected_labels"]


def expected_labels(model: bytes, features: list[np.ndarray]) -> list[int]:
    """Labels straight from an ONNX Runtime session on the same features."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    labels = session.run(None, {session.get_inputs()[0].name: np.stack(features)})[0]
    return [int(v) for v in labels]
