"""Small models and inputs the tests build themselves (nothing downloaded)."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image

DIGITS_SCORING = {
    "input": {"type": "image", "mode": "L", "size": [8, 8], "scale": 0.0625, "layout": "flat"},
    "output": {"type": "classification", "probabilities": True},
}


@functools.lru_cache(maxsize=1)
def digits_model() -> bytes:
    """Logistic regression on scikit-learn's bundled 8x8 digits, as ONNX (ZipMap output)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x.astype(np.float32), y)
    return to_onnx(model, x[:1].astype(np.float32), target_opset=17).SerializeToString()


@functools.lru_cache(maxsize=1)
def diabetes_model() -> bytes:
    """Linear regression on scikit-learn's bundled diabetes table (10 float features)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    x, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(x.astype(np.float32), y)
    return to_onnx(model, x[:1].astype(np.float32), target_opset=17).SerializeToString()


def digit_pngs(count: int, start: int = 0) -> list[tuple[str, bytes, np.ndarray]]:
    """(file name, PNG bytes, the float features the model should see) per digit image."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    out = []
    for i in range(start, start + count):
        pixels = np.clip(images[i] * 16, 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(buf, format="PNG")
        out.append((f"digit-{i:05d}.png", buf.getvalue(),
                    (pixels.astype(np.float32) * 0.0625).reshape(64)))
    return out


def expected_labels(model: bytes, features: list[np.ndarray]) -> list[int]:
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    labels = session.run(None, {session.get_inputs()[0].name: np.stack(features)})[0]
    return [int(v) for v in labels]
