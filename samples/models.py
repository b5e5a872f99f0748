"""Sample ONNX models, built from scikit-learn's bundled datasets or with `onnx.helper`.

Building is deterministic (fixed seeds), so the same bytes come out on every machine.
"""

from __future__ import annotations

import functools

import numpy as np

OPSET = 17

DIGITS_SCORING = {
    "input": {"type": "image", "mode": "L", "size": [8, 8], "scale": 0.0625, "layout": "flat"},
    "output": {"type": "classification", "probabilities": True},
}
DIABETES_SCORING = {
    "input": {"type": "tabular", "exclude": ["target"]},
    "output": {"type": "regression"},
}
HEAVY_SIZE = 640


def heavy_scoring(size: int = HEAVY_SIZE) -> dict:
    """ImageNet-style preprocessing for the CNN: RGB, resize, 1/255, mean/std, NCHW."""
    return {
        "input": {"type": "image", "mode": "RGB", "size": [size, size], "scale": 1 / 255,
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                  "layout": "NCHW"},
        "output": {"type": "classification", "probabilities": False},
    }


@functools.lru_cache(maxsize=1)
def digits_classifier() -> bytes:
    """Logistic regression on the 8x8 digits (64 float features, ZipMap probabilities)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(x.astype(np.float32), y)
    return to_onnx(model, x[:1].astype(np.float32), target_opset=OPSET).SerializeToString()


@functools.lru_cache(maxsize=1)
def digits_forest() -> bytes:
    """A random forest on the same digits: a second model for a second deployment."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=50, max_depth=10, random_state=0).fit(x, y)
    return to_onnx(model, x[:1].astype(np.float32), target_opset=OPSET).SerializeToString()


@functools.lru_cache(maxsize=1)
def diabetes_regressor() -> bytes:
    """Gradient-boosted trees on the diabetes table (10 float features, one output)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = load_diabetes(return_X_y=True)
    model = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(x, y)
    return to_onnx(model, x[:1].astype(np.float32), target_opset=OPSET).SerializeToString()


@functools.lru_cache(maxsize=4)
def heavy_cnn(size: int = HEAVY_SIZE, batch: int | None = None) -> bytes:
    """A convolutional backbone of YOLOv8n's cost (about 8.6 GFLOPs per 640x640 image; YOLOv8n
    is 8.7) with random weights and SiLU activations, ending in 80 class logits. `batch` fixes
    the batch dimension (a static-batch model); None leaves it dynamic."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    # (out channels, stride, repeats): a stem and four stages, as in small detectors
    plan = [(16, 2, 1), (32, 2, 1), (32, 1, 4), (64, 2, 1), (64, 1, 4), (128, 2, 1),
            (128, 1, 4), (256, 2, 1), (256, 1, 4)]
    current, channels, n = "images", 3, 0
    for out, stride, repeats in plan:
        for _ in range(repeats):
            w = rng.normal(0, np.sqrt(2 / (channels * 9)), (out, channels, 3, 3))
            inits += [numpy_helper.from_array(w.astype(np.float32), f"w{n}"),
                      numpy_helper.from_array(np.zeros(out, np.float32), f"b{n}")]
            nodes.append(helper.make_node("Conv", [current, f"w{n}", f"b{n}"], [f"c{n}"],
                                          kernel_shape=[3, 3], strides=[stride, stride],
                                          pads=[1, 1, 1, 1]))
            nodes.append(helper.make_node("Sigmoid", [f"c{n}"], [f"s{n}"]))
            nodes.append(helper.make_node("Mul", [f"c{n}", f"s{n}"], [f"a{n}"]))  # SiLU
            current, channels, n, stride = f"a{n}", out, n + 1, 1
    inits += [numpy_helper.from_array(
        rng.normal(0, 0.05, (channels, 80)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(80, np.float32), "fc_b")]
    nodes += [helper.make_node("GlobalAveragePool", [current], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["flat"]),
              helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"])]
    dim = batch if batch else "N"
    graph = helper.make_graph(
        nodes, "heavy_cnn",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [dim, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [dim, 80])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return model.SerializeToString()
