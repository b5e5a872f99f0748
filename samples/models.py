"""Sample ONNX models, built from scikit-learn's bundled datasets or with `onnx.helper`.

Each builder returns the ONNX bytes (cached per process; every one builds in about a second
or less); `*_estimator()` give the fitted scikit-learn models to compare predictions with.
Building is deterministic (fixed seeds), so the same bytes come out on every machine.

| builder | input | output |
|---|---|---|
| digits_classifier | X [N, 64] (8x8 digits, 0..16) | output_label, ZipMap probabilities |
| digits_forest | X [N, 64] | output_label, ZipMap probabilities (random forest) |
| digits_logits(batch) | X [N or batch, 64] | logits [N, 10] only |
| diabetes_regressor | X [N, 10] | variable [N, 1] |
| breast_cancer_classifier | X [N, 30] (named CSV columns) | string labels, ZipMap |
| iris_multi_input | one [N, 1] input per column | string labels, ZipMap |
| resnet18 | images [N, 3, 224, 224] | logits [N, 1000]; ResNet-18's layers, ~1.8 GFLOPs |
| heavy_cnn(size, batch) | images [N or batch, 3, size, size] | logits [N, 80]; ~8.6 GFLOPs at 640 |
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
BREAST_CANCER_SCORING = {
    "input": {"type": "tabular", "exclude": ["diagnosis"]},
    "output": {"type": "classification", "probabilities": True},
}
IRIS_SCORING = {  # one model input per column: mapping by_name is the default
    "input": {"type": "tabular"},
    "output": {"type": "classification", "probabilities": True},
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
def digits_estimator():
    """The fitted scikit-learn pipeline behind `digits_classifier` (scaler + logistic
    regression on the 64 pixel values, 0..16), for comparing predictions."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        x.astype(np.float32), y)


@functools.lru_cache(maxsize=1)
def digits_classifier() -> bytes:
    """The digits classifier: input X [N, 64] floats, output_label + ZipMap probabilities."""
    from skl2onnx import to_onnx

    return to_onnx(digits_estimator(), np.zeros((1, 64), np.float32),
                   target_opset=OPSET).SerializeToString()


@functools.lru_cache(maxsize=4)
def digits_logits(batch: int | None = None) -> bytes:
    """The same classifier as bare logits (one Gemm, no label, no ZipMap) built with
    `onnx.helper`: argmax gives sklearn's label. `batch` fixes the batch dimension."""
    from onnx import TensorProto, helper, numpy_helper

    scaler, lr = digits_estimator()[0], digits_estimator()[-1]
    weights = (lr.coef_ / scaler.scale_).T  # fold the scaler into the linear layer
    bias = lr.intercept_ - (lr.coef_ / scaler.scale_) @ scaler.mean_
    dim = batch if batch else "N"
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["X", "W", "B"], ["logits"])], "digits_logits",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [dim, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [dim, 10])],
        [numpy_helper.from_array(weights.astype(np.float32), "W"),
         numpy_helper.from_array(bias.astype(np.float32), "B")])
    return _model(graph)


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


@functools.lru_cache(maxsize=1)
def breast_cancer_estimator():
    """Scaler + logistic regression on the 30 named breast-cancer features, with string
    labels ("malignant", "benign")."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    bunch = load_breast_cancer()
    labels = bunch.target_names[bunch.target]
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        bunch.data.astype(np.float32), labels)


@functools.lru_cache(maxsize=1)
def breast_cancer_classifier() -> bytes:
    """A tabular classifier for CSVs with named columns: input X [N, 30], string labels,
    ZipMap probabilities. Score it with BREAST_CANCER_SCORING."""
    from skl2onnx import to_onnx

    return to_onnx(breast_cancer_estimator(), np.zeros((1, 30), np.float32),
                   target_opset=OPSET).SerializeToString()


IRIS_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


@functools.lru_cache(maxsize=1)
def iris_estimator():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    bunch = load_iris()
    return LogisticRegression(max_iter=1000).fit(bunch.data.astype(np.float32),
                                                 bunch.target_names[bunch.target])


@functools.lru_cache(maxsize=1)
def iris_multi_input() -> bytes:
    """An iris classifier with one [N, 1] input per column (IRIS_COLUMNS), the shape
    skl2onnx gives pipelines whose ColumnTransformer picks columns by name: the columns are
    concatenated in the graph, then the converted classifier runs (ZipMap probabilities)."""
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx

    model = to_onnx(iris_estimator(), np.zeros((1, 4), np.float32), target_opset=OPSET)
    graph = model.graph
    features = graph.input[0].name
    del graph.input[:]
    graph.input.extend(helper.make_tensor_value_info(c, TensorProto.FLOAT, [None, 1])
                       for c in IRIS_COLUMNS)
    graph.node.insert(0, helper.make_node("Concat", list(IRIS_COLUMNS), [features], axis=1))
    return model.SerializeToString()


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
    return _model(graph)


@functools.lru_cache(maxsize=1)
def resnet18() -> bytes:
    """ResNet-18's architecture (He et al. 2015: a 7x7 stem, max-pool, four stages of two
    basic residual blocks at 64/128/256/512 channels, global average pool, 1000 logits) with
    random weights and batch norm folded into the convolutions, as exported ResNets run: the
    mid-weight image model users have (~1.8 GFLOPs per 224x224 image)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(18)
    nodes, inits = [], []

    def conv(x: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        n = len(nodes)
        w = rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k)).astype(np.float32)
        inits.extend([numpy_helper.from_array(w, f"w{n}"),
                      numpy_helper.from_array(np.zeros(cout, np.float32), f"b{n}")])
        nodes.append(helper.make_node("Conv", [x, f"w{n}", f"b{n}"], [f"c{n}"],
                                      kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        if not relu:
            return f"c{n}"
        nodes.append(helper.make_node("Relu", [f"c{n}"], [f"r{n}"]))
        return f"r{n}"

    x = conv("images", 3, 64, 7, 2, relu=True)
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], kernel_shape=[3, 3],
                                  strides=[2, 2], pads=[1, 1, 1, 1]))
    x, channels = "pool", 64
    for out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for block in range(2):
            s_ = stride if block == 0 else 1
            y = conv(conv(x, channels, out, 3, s_, relu=True), out, out, 3, 1, relu=False)
            shortcut = x if (s_ == 1 and channels == out) else conv(x, channels, out, 1, s_,
                                                                   relu=False)
            n = len(nodes)
            nodes += [helper.make_node("Add", [y, shortcut], [f"sum{n}"]),
                      helper.make_node("Relu", [f"sum{n}"], [f"out{n}"])]
            x, channels = f"out{n}", out
    inits += [numpy_helper.from_array(
        rng.normal(0, 0.01, (512, 1000)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(np.zeros(1000, np.float32), "fc_b")]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"]),
              helper.make_node("Flatten", ["pooled"], ["flat"]),
              helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"])]
    graph = helper.make_graph(
        nodes, "resnet18",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])], inits)
    return _model(graph)


def _model(graph) -> bytes:
    from onnx import checker, helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what every onnxruntime >= 1.14 reads
    checker.check_model(model)
    return model.SerializeToString()
