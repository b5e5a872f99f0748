"""scoring/ on its own: real ONNX Runtime sessions on models the samples build."""

from __future__ import annotations

import csv
import io
import time

import numpy as np
import onnxruntime as ort
import pytest

from samples import data, models
from scoring.config import parse_scoring_config
from scoring.engine import InputFile, output_columns, score_files
from scoring.sessions import get_session
from scoring.signature import read_signature
from scoring.writers import csv_header, rows_to_csv
from shared.errors import InvalidModelError, MiniBatchTimeoutError, ValidationError


def run(model: bytes, scoring: dict, files: list[tuple[str, bytes]], deadline=None):
    sig = read_signature(model)
    cfg = parse_scoring_config(scoring, sig)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    result = score_files(session, cfg, sig, [InputFile(n, d) for n, d in files], deadline)
    return cfg, sig, result


def test_signature_reads_inputs_outputs_and_batch_dim():
    sig = read_signature(models.digits_classifier())
    assert sig.inputs[0].dtype == "float32" and sig.inputs[0].shape[1] == 64
    assert [o.name for o in sig.outputs] == ["output_label", "output_probability"]
    assert sig.batch_size is None
    assert read_signature(models.heavy_cnn(64, batch=4)).batch_size == 4


def test_garbage_is_not_a_model():
    with pytest.raises(InvalidModelError) as err:
        read_signature(b"\x00\x01 certainly not onnx")
    assert err.value.field == "model"


def test_digit_images_with_zipmap_probabilities():
    files = data.digit_pngs(12)
    cfg, sig, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                           [(n, d) for n, d, _ in files])
    cols = output_columns(cfg, sig)
    assert cols[:4] == ["file_name", "row", "prediction", "probability"]
    session = ort.InferenceSession(models.digits_classifier(), providers=["CPUExecutionProvider"])
    labels, probs = session.run(None, {"X": np.stack([x for _, _, x in files])})
    assert [int(r.values[0]) for r in result.rows] == [int(v) for v in labels]
    first = dict(zip(cols[2:], result.rows[0].values, strict=True))
    assert float(first["probability"]) == pytest.approx(max(probs[0].values()), rel=1e-5)
    assert result.errors == ()


def test_tabular_regression_csv_parquet_jsonl_by_order():
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    raw = data.diabetes_csv(rows=20)
    table = pacsv.read_csv(io.BytesIO(raw))
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    jsonl = "".join(__import__("json").dumps(r) + "\n" for r in table.to_pylist()).encode()
    cfg, sig, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                           [("a.csv", raw), ("b.parquet", parquet.getvalue()), ("c.jsonl", jsonl)])
    assert len(result.rows) == 60 and result.errors == ()
    x = np.stack([table.column(c).to_numpy() for c in table.column_names if c != "target"],
                 axis=1).astype(np.float32)
    session = ort.InferenceSession(models.diabetes_regressor(), providers=["CPUExecutionProvider"])
    want = session.run(None, {sig.inputs[0].name: x})[0].reshape(-1)
    for k in range(3):
        got = [float(r.values[0]) for r in result.rows[k * 20:(k + 1) * 20]]
        assert got == pytest.approx(want.tolist(), rel=1e-5)
    assert [r.row for r in result.rows[:3]] == [0, 1, 2]
    assert pa is not None


def test_bad_row_fails_alone_and_unreadable_file_fails_as_one_item():
    lines = data.diabetes_csv(rows=3).decode().splitlines()
    lines[2] = "oops," + lines[2].split(",", 1)[1]
    _, _, result = run(models.diabetes_regressor(), models.DIABETES_SCORING,
                       [("t.csv", "\n".join(lines).encode()), ("x.parquet", b"PAR1 broken")])
    assert [r.row for r in result.rows] == [0, 2]
    assert [(e.file_name, e.row) for e in result.errors] == [("t.csv", 1), ("x.parquet", None)]
    assert "not a number" in result.errors[0].reason


def test_by_name_mapping_for_a_multi_input_model():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Sub", ["a", "b"], ["diff"])], "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 1]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("diff", TensorProto.FLOAT, [None, 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    csv_bytes = b"b,a,other\n1,5,x\n2,10,y\n"
    cfg, sig, result = run(model.SerializeToString(), {"output": {"type": "regression"}},
                           [("t.csv", csv_bytes)])
    assert cfg.input.mapping == "by_name"
    assert [r.values for r in result.rows] == [("4",), ("8",)]


def test_static_batch_model_chunks_and_pads():
    model = models.heavy_cnn(32, batch=4)
    photos = data.photos(6, size=32)
    cfg, sig, result = run(model, models.heavy_scoring(32), photos)
    assert len(result.rows) == 6 and result.errors == ()
    dynamic = models.heavy_cnn(32)
    _, _, want = run(dynamic, models.heavy_scoring(32), photos)
    assert [r.values for r in result.rows] == [r.values for r in want.rows]


def test_corrupt_image_fails_only_that_item():
    files = [(n, d) for n, d, _ in data.digit_pngs(3)]
    files.insert(1, ("bad.png", b"\x89PNG garbage"))
    _, _, result = run(models.digits_classifier(), models.DIGITS_SCORING, files)
    assert [r.file_name for r in result.rows] == [files[0][0], files[2][0], files[3][0]]
    assert [e.file_name for e in result.errors] == ["bad.png"]


def test_wrong_image_size_is_an_item_error():
    photo = data.photos(1, size=16)
    scoring = {**models.DIGITS_SCORING, "input": {**models.DIGITS_SCORING["input"],
                                                  "size": None, "mode": "L"}}
    _, _, result = run(models.digits_classifier(), scoring, photo)
    assert result.rows == () and "expects" in result.errors[0].reason


def test_npy_tensors_and_raw_output():
    arrays = np.random.default_rng(1).random((5, 64)).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, arrays)
    cfg, sig, result = run(models.digits_classifier(), {
        "input": {"type": "tensor"}, "output": {"type": "raw", "outputs": ["output_label"]}},
        [("x.npy", buf.getvalue())])
    assert output_columns(cfg, sig) == ["file_name", "row", "output_label"]
    assert [r.row for r in result.rows] == [0, 1, 2, 3, 4]


def test_logits_classifier_with_class_names_and_softmax():
    names = [f"class{i}" for i in range(80)]
    cfg, sig, result = run(models.heavy_cnn(32), {
        **models.heavy_scoring(32),
        "output": {"type": "classification", "class_names": names, "probabilities": True}},
        data.photos(2, size=32))
    cols = output_columns(cfg, sig)
    assert cols[4] == "prob_class0" and len(cols) == 4 + 80
    row = dict(zip(cols[2:], result.rows[0].values, strict=True))
    assert row["prediction"] in names
    assert sum(float(row[f"prob_{n}"]) for n in names) == pytest.approx(1, rel=1e-4)


def test_deadline_raises_timeout():
    with pytest.raises(MiniBatchTimeoutError):
        run(models.digits_classifier(), models.DIGITS_SCORING,
            [(n, d) for n, d, _ in data.digit_pngs(2)], deadline=time.monotonic() - 1)


@pytest.mark.parametrize("scoring, field", [
    ({"input": {"type": "audio"}}, "scoring.input.type"),
    ({"input": {"type": "image", "size": [8]}}, "scoring.input.size"),
    ({"input": {"type": "image", "layout": "CHWN"}}, "scoring.input.layout"),
    ({"input": {"input_name": "nope"}}, "scoring.input.input_name"),
    ({"output": {"type": "classification", "label_output": "nope"}},
     "scoring.output.label_output"),
    ({"surprise": 1}, "scoring.surprise"),
])
def test_config_errors_name_the_field(scoring, field):
    with pytest.raises(ValidationError) as err:
        parse_scoring_config(scoring, read_signature(models.digits_classifier()))
    assert err.value.field == field


def test_session_cache_loads_once():
    calls = []

    def load():
        calls.append(1)
        return models.digits_classifier()

    assert get_session("digits-cache-test", load) is get_session("digits-cache-test", load)
    assert calls == [1]


def test_csv_writer_quotes_and_has_header():
    cfg, sig, result = run(models.digits_classifier(), models.DIGITS_SCORING,
                           [("a,b.png", data.digit_pngs(1)[0][1])])
    text = (csv_header(output_columns(cfg, sig)) + rows_to_csv(result.rows)).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["file_name", "row"] and rows[1][0] == "a,b.png"
