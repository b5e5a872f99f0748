"""`.npy` tensors, raw and multi-value outputs, number formatting, writers, deadlines."""

from __future__ import annotations

import csv
import io
import json
import time

import numpy as np
import pytest
from onnx import helper

from samples import data, models
from scoring.engine import FailedItem, output_columns
from scoring.errors import MiniBatchTimeoutError
from scoring.outputs import fmt
from scoring.writers import csv_header, errors_to_jsonl, rows_to_csv
from tests.scoring.helpers import npy, ort_outputs, run, tiny_model

RAW_LABELS = {"input": {"type": "tensor"}, "output": {"type": "raw"}}


def test_npy_items_along_axis_0_with_raw_outputs():
    blob, array = data.digits_npy(6)
    cfg, sig, result = run(models.digits_classifier(), RAW_LABELS, [("x.npy", blob)])
    assert output_columns(cfg, sig) == ["file_name", "row", "output_label",
                                        "output_probability"]
    assert [r.row for r in result.rows] == list(range(6))
    labels, probs = ort_outputs(models.digits_classifier(), {"X": array})
    assert [json.loads(r.values[0]) for r in result.rows] == labels.tolist()
    first = json.loads(result.rows[0].values[1])
    assert first == {str(k): pytest.approx(v, rel=1e-6) for k, v in probs[0].items()}


def test_npy_whole_array_as_one_item_and_per_file_failures():
    array = data.digits_npy(3)[1]
    scoring = {"input": {"type": "tensor", "items_per_file": 1},
               "output": {"type": "raw", "outputs": ["output_label"]}}
    files = [("one.npy", npy(array[0])), ("many.npy", npy(array)),
             ("junk.npy", b"\x93NUMPY broken"), ("two.npy", npy(array[1]))]
    _, _, result = run(models.digits_classifier(), scoring, files)
    assert [(r.file_name, r.row) for r in result.rows] == [("one.npy", 0), ("two.npy", 0)]
    assert [(e.file_name, e.row) for e in result.errors] == [("many.npy", None),
                                                             ("junk.npy", None)]
    assert "expects [64]" in result.errors[0].reason
    assert result.errors[1].reason.startswith("not a readable .npy file")


def test_regression_with_several_values_per_item():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    model = tiny_model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                       [("x", [None, 2])], [("y", [None, 3])], {"w": w})
    x = np.array([[1, 0], [0.5, 1 / 3]], np.float32)
    cfg, sig, result = run(model, {"input": {"type": "tensor"},
                                   "output": {"type": "regression"}}, [("x.npy", npy(x))])
    assert output_columns(cfg, sig)[2:] == ["prediction_0", "prediction_1", "prediction_2"]
    want = x @ w
    assert [[float(v) for v in r.values] for r in result.rows] == pytest.approx(want, rel=1e-6)
    assert result.rows[1].values[0] == "1"  # 0.5*0 + 1/3*3 in float32


def test_numbers_have_seven_significant_digits():
    assert fmt(np.float32(1 / 3)) == "0.3333333"
    assert fmt(np.float32(123456.789)) == "123456.8"
    assert fmt(np.float32(2.5e-9)) == "2.5e-09"
    assert fmt(np.int64(7)) == "7" and fmt(b"cat") == "cat"


def test_every_item_ends_in_rows_or_errors_exactly_once():
    files = [(n, b) for n, b, _ in data.digit_pngs(70)]
    files[5] = ("bad.png", b"nope")
    _, _, result = run(models.digits_classifier(), {**models.DIGITS_SCORING, "max_batch": 8},
                       files)
    seen = [(r.file_name, r.row) for r in result.rows] + [(e.file_name, 0)
                                                          for e in result.errors]
    assert sorted(seen) == sorted((n, 0) for n, _ in files)
    assert [r.file_name for r in result.rows] == [n for n, _ in files if n != "bad.png"]


def test_deadline_passed_raises_timeout():
    with pytest.raises(MiniBatchTimeoutError):
        run(models.digits_classifier(), models.DIGITS_SCORING,
            [(n, d) for n, d, _ in data.digit_pngs(2)], deadline=time.monotonic() - 1)


def test_csv_writer_quotes_fields_and_errors_are_json_lines():
    cfg, sig, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                           [('a,"b".png', data.digit_pngs(1)[0][1])])
    text = (csv_header(output_columns(cfg, sig)) + rows_to_csv(result.rows)).decode()
    assert "\r" not in text and text.endswith("\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["file_name", "row", "prediction", "probability"]
    assert rows[1][:2] == ['a,"b".png', "0"] and len(rows[1]) == len(rows[0])
    lines = errors_to_jsonl([FailedItem("x.csv", 3, "bad"), FailedItem("y.png", None, "ü")])
    assert [json.loads(line) for line in lines.decode().splitlines()] == [
        {"file_name": "x.csv", "row": 3, "reason": "bad"},
        {"file_name": "y.png", "row": None, "reason": "ü"}]


def test_write_samples_puts_every_kind_of_input_on_disk(tmp_path):
    written = {p.relative_to(tmp_path).as_posix() for p in data.write_samples(tmp_path, 3)}
    assert {"digits/digit-00000.png", "digits/zz-corrupt.png", "diabetes/diabetes.csv",
            "diabetes/diabetes.parquet", "diabetes/diabetes.jsonl", "iris/iris.csv",
            "breast-cancer/breast-cancer.csv", "tensors/digits.npy"} <= written
    files = [(p, (tmp_path / p).read_bytes()) for p in sorted(written) if p.startswith("diab")]
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING, files)
    assert len(result.rows) == 150 and result.errors == ()
