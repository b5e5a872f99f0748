"""Images: digits PNGs through the sample classifiers, preprocessing, per-file failures."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from onnx import helper
from PIL import Image

from samples import data, models
from scoring.engine import output_columns
from tests.scoring.helpers import run, table, tiny_model


@pytest.fixture(scope="module")
def digits():
    return data.digit_pngs(12)


def test_digit_labels_equal_sklearn_predict_on_the_same_pixels(digits):
    cfg, sig, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                           [(n, b) for n, b, _ in digits])
    features = np.stack([x for _, _, x in digits])
    assert result.errors == ()
    assert [r.file_name for r in result.rows] == [n for n, _, _ in digits]
    assert [r.row for r in result.rows] == [0] * len(digits)
    want = models.digits_estimator().predict(features)
    assert [int(r["prediction"]) for r in table(cfg, sig, result)] == want.tolist()


def test_zipmap_probabilities_become_one_column_per_class(digits):
    cfg, sig, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                           [(n, b) for n, b, _ in digits])
    assert output_columns(cfg, sig) == ["file_name", "row", "prediction", "probability",
                                        *[f"prob_{k}" for k in range(10)]]
    want = models.digits_estimator().predict_proba(np.stack([x for _, _, x in digits]))
    for row, p in zip(table(cfg, sig, result), want, strict=True):
        got = [float(row[f"prob_{k}"]) for k in range(10)]
        assert got == pytest.approx(p.tolist(), abs=1e-5)
        assert float(row["probability"]) == pytest.approx(p.max(), abs=1e-5)


def test_class_names_rename_predictions_and_columns(digits):
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    scoring = {**models.DIGITS_SCORING, "output": {**models.DIGITS_SCORING["output"],
                                                   "class_names": names}}
    cfg, sig, result = run(models.digits_classifier(), scoring,
                           [(n, b) for n, b, _ in digits[:4]])
    assert output_columns(cfg, sig)[4:6] == ["prob_zero", "prob_one"]
    want = models.digits_estimator().predict(np.stack([x for _, _, x in digits[:4]]))
    assert [r.values[0] for r in result.rows] == [names[k] for k in want]


def test_logits_model_takes_argmax_and_softmax(digits):
    scoring = {**models.DIGITS_SCORING, "output": {"type": "classification",
                                                   "probabilities": True}}
    cfg, sig, result = run(models.digits_logits(), scoring, [(n, b) for n, b, _ in digits])
    assert cfg.output.probabilities_output == "logits" and cfg.output.label_output is None
    features = np.stack([x for _, _, x in digits])
    rows = table(cfg, sig, result)
    assert [int(r["prediction"]) for r in rows] == models.digits_estimator().predict(
        features).tolist()
    for row, p in zip(rows, models.digits_estimator().predict_proba(features), strict=True):
        assert [float(row[f"prob_{k}"]) for k in range(10)] == pytest.approx(p, abs=1e-4)


def test_static_batch_pads_a_mini_batch_not_divisible_by_the_batch_size(digits):
    files = [(n, b) for n, b, _ in digits[:7]]
    files.insert(3, ("zz-corrupt.png", data.CORRUPT_PNG))
    cfg, sig, result = run(models.digits_logits(batch=4), models.DIGITS_SCORING, files)
    assert sig.batch_size == 4
    assert [r.file_name for r in result.rows] == [n for n, _, _ in digits[:7]]
    want = models.digits_estimator().predict(np.stack([x for _, _, x in digits[:7]]))
    assert [int(r.values[0]) for r in result.rows] == want.tolist()
    assert [(e.file_name, e.row) for e in result.errors] == [("zz-corrupt.png", None)]


def test_static_batch_cnn_matches_the_dynamic_one():
    photos = data.photos(6, size=32)
    _, _, static = run(models.heavy_cnn(32, batch=4), models.heavy_scoring(32), photos)
    _, _, dynamic = run(models.heavy_cnn(32), models.heavy_scoring(32), photos)
    assert len(static.rows) == 6 and static.errors == ()
    assert [r.values for r in static.rows] == [r.values for r in dynamic.rows]


def test_corrupt_image_fails_only_that_item(digits):
    files = [(n, b) for n, b, _ in digits[:3]]
    files.insert(1, ("bad.png", data.CORRUPT_PNG))
    files.append(("empty.jpg", b""))
    _, _, result = run(models.digits_classifier(), models.DIGITS_SCORING, files)
    assert [r.file_name for r in result.rows] == [n for n, _, _ in digits[:3]]
    assert [(e.file_name, e.row) for e in result.errors] == [("bad.png", None),
                                                             ("empty.jpg", None)]
    assert result.errors[0].reason.startswith("not a readable image")
    assert "BytesIO" not in result.errors[0].reason


def test_image_of_the_wrong_size_fails_with_the_expected_shape():
    scoring = {"input": {"type": "image", "mode": "L", "layout": "flat"}}
    _, _, result = run(models.digits_classifier(), scoring, data.photos(1, size=16))
    assert result.rows == ()
    assert "[256]" in result.errors[0].reason and "expects [64]" in result.errors[0].reason


def _png(pixels: np.ndarray, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_preprocessing_resize_scale_mean_std_and_layout(layout):
    shape = [None, 3, 2, 4] if layout == "NCHW" else [None, 2, 4, 3]
    model = tiny_model([helper.make_node("Identity", ["img"], ["out"])],
                       [("img", shape)], [("out", shape)])
    pixels = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3) * 10
    big = np.asarray(Image.fromarray(pixels, "RGB").resize((8, 4), Image.Resampling.NEAREST))
    scoring = {"input": {"type": "image", "size": [4, 2], "scale": 1 / 255, "layout": layout,
                         "mean": [0.5, 0.25, 0], "std": [0.5, 0.5, 1]},
               "output": {"type": "raw"}}
    cfg, _, result = run(model, scoring, [("a.png", _png(big, "RGB"))])
    assert cfg.input.mode == "RGB" and cfg.input.size == (4, 2)
    resized = np.asarray(Image.fromarray(big, "RGB").resize((4, 2), Image.Resampling.BILINEAR))
    want = (resized / 255 - np.array([0.5, 0.25, 0])) / np.array([0.5, 0.5, 1])
    if layout == "NCHW":
        want = want.transpose(2, 0, 1)
    assert np.array(json.loads(result.rows[0].values[0])) == pytest.approx(want, abs=1e-6)


def test_an_item_onnx_runtime_refuses_fails_alone():
    # dynamic height/width, 3x3 convolution without padding: a 2x2 image cannot be scored
    model = tiny_model([helper.make_node("Conv", ["img", "w"], ["c"], kernel_shape=[3, 3]),
                        helper.make_node("ReduceMean", ["c"], ["out"], axes=[1, 2, 3],
                                         keepdims=0)],
                       [("img", [None, 1, "h", "w"])], [("out", [None])],
                       {"w": np.ones((1, 1, 3, 3), np.float32)})
    files = [("a.png", _png(np.full((5, 5), 1, np.uint8), "L")),
             ("tiny.png", _png(np.full((2, 2), 1, np.uint8), "L")),
             ("b.png", _png(np.full((4, 6), 2, np.uint8), "L"))]
    _, _, result = run(model, {"input": {"type": "image", "mode": "L"},
                               "output": {"type": "regression"}}, files)
    assert [(r.file_name, r.values) for r in result.rows] == [("a.png", ("9",)),
                                                              ("b.png", ("18",))]
    assert [(e.file_name, e.row) for e in result.errors] == [("tiny.png", 0)]
    assert result.errors[0].reason.startswith("model rejected the item")


@pytest.mark.parametrize("fmt, ext", [("BMP", "bmp"), ("TIFF", "tiff"), ("JPEG", "jpg")])
def test_other_image_formats_decode_like_png(digits, fmt, ext):
    name, png, features = digits[0]
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).save(buf, format=fmt, **({"quality": 100} if ext == "jpg"
                                                         else {}))
    _, _, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                       [(f"d.{ext}", buf.getvalue())])
    assert result.errors == ()
    assert int(result.rows[0].values[0]) == models.digits_estimator().predict(features[None])[0]


def test_float_tiff_in_mode_f():
    pixels = np.arange(64, dtype=np.float32).reshape(8, 8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(buf, format="TIFF")
    model = tiny_model([helper.make_node("Identity", ["x"], ["y"])], [("x", [None, 64])],
                       [("y", [None, 64])])
    _, _, result = run(model, {"input": {"type": "image", "mode": "F", "scale": 2},
                               "output": {"type": "raw"}}, [("a.tiff", buf.getvalue())])
    assert json.loads(result.rows[0].values[0]) == (pixels.reshape(-1) * 2).tolist()


def test_images_larger_than_the_pixel_limit_fail_before_decoding(digits, monkeypatch):
    from scoring import readers

    monkeypatch.setattr(readers, "MAX_PIXELS", 63)
    _, _, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                       [(digits[0][0], digits[0][1])])
    assert result.rows == () and "8x8 pixels, more than" in result.errors[0].reason
