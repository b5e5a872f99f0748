"""Tables: CSV, Parquet and JSON Lines, columns by order or by name, per-row failures."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
from onnx import helper

from samples import data, models
from scoring.engine import output_columns
from tests.scoring.helpers import run, table, tiny_model

FORMATS = {"csv": "a.csv", "parquet": "b.parquet", "jsonl": "c.jsonl"}


def _features(t: pa.Table, columns) -> np.ndarray:
    return np.stack([t.column(c).to_numpy() for c in columns], axis=1).astype(np.float32)


def test_regression_by_order_in_every_format():
    t = data.diabetes_table(25)
    files = [(name, data.table_bytes(t, fmt)) for fmt, name in FORMATS.items()]
    cfg, sig, result = run(models.diabetes_regressor(), models.DIABETES_SCORING, files)
    assert cfg.input.mapping == "auto" and output_columns(cfg, sig)[2:] == ["prediction"]
    assert len(result.rows) == 75 and result.errors == ()
    assert [(r.file_name, r.row) for r in result.rows[23:27]] == [
        ("a.csv", 23), ("a.csv", 24), ("b.parquet", 0), ("b.parquet", 1)]
    features = _features(t, [c for c in t.column_names if c != "target"])
    from tests.scoring.helpers import ort_outputs

    want = ort_outputs(models.diabetes_regressor(), {"X": features})[0].reshape(-1)
    for k in range(3):
        got = [float(r.values[0]) for r in result.rows[k * 25:(k + 1) * 25]]
        assert got == pytest.approx(want.tolist(), rel=1e-6)
    sk = [float(r.values[0]) for r in result.rows[:25]]
    from sklearn.datasets import load_diabetes  # the ONNX trees agree with sklearn's
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = load_diabetes(return_X_y=True)
    estimator = GradientBoostingRegressor(n_estimators=50, random_state=0).fit(x, y)
    assert sk == pytest.approx(estimator.predict(features.astype(np.float64)), rel=1e-3)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_multi_input_model_by_name(fmt):
    t = data.iris_table(30)
    cfg, sig, result = run(models.iris_multi_input(), models.IRIS_SCORING,
                           [(FORMATS[fmt], data.table_bytes(t, fmt))])
    assert cfg.input.mapping == "by_name" and result.errors == ()
    rows = table(cfg, sig, result)
    features = _features(t, models.IRIS_COLUMNS)
    assert [r["prediction"] for r in rows] == models.iris_estimator().predict(features).tolist()
    assert output_columns(cfg, sig)[4:] == ["prob_setosa", "prob_versicolor", "prob_virginica"]
    want = models.iris_estimator().predict_proba(features)
    got = [[float(r[c]) for c in output_columns(cfg, sig)[4:]] for r in rows]
    assert np.array(got) == pytest.approx(want, abs=1e-5)


def test_classifier_with_named_columns_and_string_labels():
    t = data.breast_cancer_table(40)
    cfg, sig, result = run(models.breast_cancer_classifier(), models.BREAST_CANCER_SCORING,
                           [("bc.csv", data.table_bytes(t, "csv"))])
    features = _features(t, [c for c in t.column_names if c != "diagnosis"])
    estimator = models.breast_cancer_estimator()
    rows = table(cfg, sig, result)
    assert [r["prediction"] for r in rows] == estimator.predict(features).tolist()
    assert [float(r["probability"]) for r in rows] == pytest.approx(
        estimator.predict_proba(features).max(axis=1), abs=1e-5)
    assert output_columns(cfg, sig)[4:] == ["prob_benign", "prob_malignant"]


def test_columns_pick_the_model_order_from_a_shuffled_file():
    t = data.diabetes_table(5)
    features = [c for c in t.column_names if c != "target"]
    shuffled = t.select(["target", *reversed(features)])
    _, _, want = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                     [("a.csv", data.table_bytes(t, "csv"))])
    _, _, got = run(models.diabetes_regressor(),
                    {"input": {"type": "tabular", "columns": features}},
                    [("a.csv", data.table_bytes(shuffled, "csv"))])
    assert [r.values for r in got.rows] == [r.values for r in want.rows]


def test_single_input_named_like_a_column_is_mapped_by_name():
    model = tiny_model([helper.make_node("Mul", ["age", "two"], ["out"])],
                       [("age", [None, 1])], [("out", [None, 1])],
                       {"two": np.array([2], np.float32)})
    cfg, _, result = run(model, None, [("t.csv", b"id,age\n7,10\n8,21.5\n")])
    assert cfg.input.type == "tabular" and cfg.output.type == "regression"
    assert [r.values for r in result.rows] == [("20",), ("43",)]


def test_bad_rows_fail_alone_and_keep_their_row_numbers():
    lines = data.diabetes_csv(rows=5).decode().splitlines()
    lines[2] = "oops," + lines[2].split(",", 1)[1]  # row 1: not a number
    lines[4] = "," + lines[4].split(",", 1)[1]  # row 3: empty
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                       [("t.csv", "\n".join(lines).encode())])
    assert [r.row for r in result.rows] == [0, 2, 4]
    assert [(e.row, e.reason) for e in result.errors] == [
        (1, "column 'age': 'oops' is not a number"), (3, "column 'age' is empty")]


def test_jsonl_rows_that_change_type_or_do_not_parse_fail_alone():
    jsonl = data.table_bytes(data.diabetes_table(4), "jsonl").decode().splitlines()
    jsonl[1] = re.sub(r'"sex": [^,]+', '"sex": "male"', jsonl[1])
    jsonl[2] = "{broken"
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                       [("t.jsonl", "\n".join(jsonl).encode())])
    assert [r.row for r in result.rows] == [0, 3]
    assert [e.row for e in result.errors] == [1, 2]
    assert "'male' is not a number" in result.errors[0].reason
    assert result.errors[1].reason.startswith("not valid JSON")


def test_unreadable_or_mismatched_files_fail_as_one_item():
    files = [("x.parquet", b"PAR1 broken"),
             ("few.csv", b"a,b\n1,2\n"),
             ("ok.csv", data.diabetes_csv(rows=2))]
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING, files)
    assert [(r.file_name, r.row) for r in result.rows] == [("ok.csv", 0), ("ok.csv", 1)]
    assert [(e.file_name, e.row) for e in result.errors] == [("x.parquet", None),
                                                             ("few.csv", None)]
    assert "not a readable parquet file" in result.errors[0].reason
    assert "expects [10]" in result.errors[1].reason


def test_by_name_reports_a_missing_column():
    _, _, result = run(models.iris_multi_input(), models.IRIS_SCORING,
                       [("t.csv", b"sepal_length,sepal_width,petal_length\n1,2,3\n")])
    assert result.rows == () and "petal_width" in result.errors[0].reason


def test_a_header_that_is_not_utf8_fails_the_file():
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                       [("latin1.csv", "âge,b\n1,2\n".encode("latin-1"))])
    assert result.rows == () and result.errors[0].row is None
    assert result.errors[0].reason.startswith("not a readable csv file")


def test_a_csv_line_with_the_wrong_number_of_values_fails_alone():
    lines = data.diabetes_csv(rows=7).decode().splitlines()
    lines[2] += ",99"  # row 1: one value too many
    lines[4] = lines[4].rsplit(",", 2)[0]  # row 3: two too few
    lines.insert(6, "")  # an empty line is not a row
    lines[7] = "oops," + lines[7].split(",", 1)[1]  # row 5: not a number
    _, _, good = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                     [("ok.csv", data.diabetes_csv(rows=7))])
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                       [("t.csv", "\n".join(lines).encode())])
    assert [r.row for r in result.rows] == [0, 2, 4, 6]
    assert [r.values for r in result.rows] == [good.rows[k].values for k in (0, 2, 4, 6)]
    assert [(e.row, e.reason) for e in result.errors] == [
        (1, "has 12 values but the header has 11 columns"),
        (3, "has 9 values but the header has 11 columns"),
        (5, "column 'age': 'oops' is not a number")]
