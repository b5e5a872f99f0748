"""Deployments checked against their model: a synthetic item through the real session."""

from __future__ import annotations

import time
import tracemalloc

import onnxruntime as ort
import pytest
from onnx import helper

from samples import models
from scoring.check import MAX_IMAGE_PIXELS, ModelMismatchError, check_config_against_model
from scoring.config import parse_scoring_config
from scoring.signature import read_signature
from tests.scoring.helpers import tiny_model


def check(model: bytes, scoring: dict | None) -> None:
    sig = read_signature(model)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    check_config_against_model(parse_scoring_config(scoring, sig), sig, session)


def image(size, **more) -> dict:
    return {"input": {**models.DIGITS_SCORING["input"], "size": size, **more}}


@pytest.mark.parametrize("model, scoring", [
    (models.digits_classifier, models.DIGITS_SCORING),
    (models.diabetes_regressor, models.DIABETES_SCORING),
    (models.breast_cancer_classifier, models.BREAST_CANCER_SCORING),
    (models.iris_multi_input, models.IRIS_SCORING),
    (lambda: models.digits_logits(4), None),  # a static batch: padded
    (models.digits_logits, {"input": {"type": "tensor"}}),
    (models.digits_logits, {"input": {"type": "tabular", "format": "parquet"}}),
    (models.digits_logits, {"input": {"type": "tabular", "format": "jsonl"}}),
    (lambda: models.heavy_cnn(32), models.heavy_scoring(32)),
], ids=["digits", "diabetes", "breast-cancer", "iris-by-name", "static-batch", "tensor",
        "parquet", "jsonl", "cnn"])
def test_configurations_that_fit_their_model_pass(model, scoring):
    check(model(), scoring)


def test_28x28_images_for_a_64_feature_model_name_both_shapes():
    with pytest.raises(ModelMismatchError) as e:
        check(models.digits_classifier(), image([28, 28]))
    assert e.value.field == "scoring.input"
    assert "28x28 L image" in e.value.rule and "[784]" in e.value.rule
    assert "expects [64]" in e.value.rule


def test_8x8_images_for_a_10_input_tabular_model_name_both_shapes():
    with pytest.raises(ModelMismatchError, match=r"8x8 L image.*\[64\].*expects \[10\]"):
        check(models.diabetes_regressor(), models.DIGITS_SCORING)


def test_a_dtype_the_model_refuses_names_both_types():
    with pytest.raises(ModelMismatchError, match=r"int64.*float"):
        check(models.digits_logits(), {"input": {"type": "tabular", "dtype": "int64"}})


def test_an_input_nothing_feeds_is_refused():
    model = tiny_model([helper.make_node("Add", ["a", "b"], ["y"])],
                       [("a", [None, 2]), ("b", [None, 2])], [("y", [None, 2])])
    with pytest.raises(ModelMismatchError, match="model rejected the item"):
        check(model, {"input": {"type": "tensor", "input_name": "a"}})


def test_a_huge_size_is_refused_before_anything_is_allocated():
    started = time.monotonic()
    tracemalloc.start()
    try:
        with pytest.raises(ModelMismatchError) as e:
            check(models.digits_logits(), image([100_000, 100_000]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert e.value.field == "scoring.input.size" and "10,000,000,000 pixels" in e.value.rule
    # The buffer it must not allocate is 10 GB (40 GB as floats). tracemalloc counts every
    # thread's allocations, and in the whole suite other tests' threads left running add
    # tens of MB to the peak, so the bound is far above those and far below the buffer.
    assert peak < 512 * 1024 * 1024 and time.monotonic() - started < 5
    assert MAX_IMAGE_PIXELS == 4096 * 4096
