"""Model signatures, the scoring configuration's validation and defaults, the session cache."""

from __future__ import annotations

import json
import os
import threading

import pytest

from samples import models
from scoring import sessions
from scoring.config import ScoringConfig, parse_scoring_config
from scoring.errors import InvalidModel, ScoringConfigError
from scoring.sessions import get_session, usable_cpus
from scoring.signature import ModelSignature, read_signature


def test_signature_reads_inputs_outputs_batch_dim_and_zipmap_classes():
    sig = read_signature(models.digits_classifier())
    assert sig.inputs[0].name == "X" and sig.inputs[0].dtype == "float32"
    assert sig.inputs[0].shape == (None, 64)
    assert [(o.name, o.dtype) for o in sig.outputs] == [
        ("output_label", "int64"), ("output_probability", "seq(map(int64,float))")]
    assert sig.batch_size is None and sig.class_labels == tuple(str(k) for k in range(10))
    assert read_signature(models.digits_logits(batch=4)).batch_size == 4
    assert read_signature(models.breast_cancer_classifier()).class_labels == ("benign",
                                                                                "malignant")


def test_signature_round_trips_through_json():
    sig = read_signature(models.iris_multi_input())
    assert ModelSignature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig
    old = {k: v for k, v in sig.to_dict().items() if k != "class_labels"}
    assert ModelSignature.from_dict(old).class_labels == ()


@pytest.mark.parametrize("blob", [b"", b"\x00\x01 certainly not onnx", b"PK\x03\x04zip"])
def test_bytes_that_are_not_a_model_are_refused(blob):
    with pytest.raises(InvalidModel) as err:
        read_signature(blob)
    assert err.value.field == "model" and err.value.rule


@pytest.mark.parametrize("model, kind, output, mapping", [
    (models.digits_classifier, "tabular", "classification", "auto"),
    (models.diabetes_regressor, "tabular", "regression", "auto"),
    (models.iris_multi_input, "tabular", "classification", "by_name"),
    (lambda: models.heavy_cnn(32), "tensor", "raw", None),
])
def test_defaults_are_inferred_from_the_signature(model, kind, output, mapping):
    cfg = parse_scoring_config(None, read_signature(model()))
    assert (cfg.input.type, cfg.output.type) == (kind, output)
    if mapping:
        assert cfg.input.mapping == mapping


def test_image_defaults_come_from_the_model_input():
    cfg = parse_scoring_config({"input": {"type": "image"}}, read_signature(models.heavy_cnn(32)))
    assert (cfg.input.mode, cfg.input.size, cfg.input.layout) == ("RGB", (32, 32), "NCHW")
    flat = parse_scoring_config({"input": {"type": "image", "mode": "L"}},
                                read_signature(models.digits_classifier()))
    assert flat.input.layout == "flat"


def test_config_round_trips_through_json():
    sig = read_signature(models.digits_classifier())
    cfg = parse_scoring_config(models.DIGITS_SCORING, sig)
    assert ScoringConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@pytest.mark.parametrize("scoring, field", [
    ("image", "scoring"),
    ({"surprise": 1}, "scoring.surprise"),
    ({"max_batch": 0}, "scoring.max_batch"),
    ({"input": {"type": "audio"}}, "scoring.input.type"),
    ({"input": {"type": "image", "size": [8]}}, "scoring.input.size"),
    ({"input": {"type": "image", "size": [8, -8]}}, "scoring.input.size"),
    ({"input": {"type": "image", "layout": "CHWN"}}, "scoring.input.layout"),
    ({"input": {"type": "image", "layout": "NCHW"}}, "scoring.input.layout"),
    ({"input": {"type": "image", "mode": "CMYK"}}, "scoring.input.mode"),
    ({"input": {"type": "image", "mean": [1, 2]}}, "scoring.input.mean"),
    ({"input": {"type": "image", "std": [0]}}, "scoring.input.std"),
    ({"input": {"type": "image", "scale": -1}}, "scoring.input.scale"),
    ({"input": {"type": "image", "sise": [8, 8]}}, "scoring.input.sise"),
    ({"input": {"input_name": "nope"}}, "scoring.input.input_name"),
    ({"input": {"dtype": "complex"}}, "scoring.input.dtype"),
    ({"input": {"type": "tabular", "format": "xlsx"}}, "scoring.input.format"),
    ({"input": {"type": "tabular", "columns": "a,b"}}, "scoring.input.columns"),
    ({"input": {"type": "tabular", "columns": ["a", "b"]}}, "scoring.input.columns"),
    ({"input": {"type": "tabular", "mapping": "by_magic"}}, "scoring.input.mapping"),
    ({"input": {"type": "tensor", "items_per_file": 3}}, "scoring.input.items_per_file"),
    ({"output": {"type": "ranking"}}, "scoring.output.type"),
    ({"output": {"label_output": "nope"}}, "scoring.output.label_output"),
    ({"output": {"class_names": ["a", "b"]}}, "scoring.output.class_names"),
    ({"output": {"probabilities": "yes"}}, "scoring.output.probabilities"),
    ({"output": {"type": "raw", "outputs": ["nope"]}}, "scoring.output.outputs"),
    ({"output": {"type": "regression", "outputs": ["output_probability"]}},
     "scoring.output.outputs"),
])
def test_config_errors_name_the_field(scoring, field):
    with pytest.raises(ScoringConfigError) as err:
        parse_scoring_config(scoring, read_signature(models.digits_classifier()))
    assert err.value.field == field


def test_multi_input_model_cannot_be_mapped_by_order():
    with pytest.raises(ScoringConfigError) as err:
        parse_scoring_config({"input": {"type": "tabular", "mapping": "by_order"}},
                             read_signature(models.iris_multi_input()))
    assert err.value.field == "scoring.input.mapping" and "by_name" in err.value.rule


def test_session_cache_loads_each_model_once_across_threads():
    calls = []

    def load():
        calls.append(1)
        return models.diabetes_regressor()

    got = []
    threads = [threading.Thread(target=lambda: got.append(get_session("cache-test", load)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and all(s is got[0] for s in got)
    assert get_session("cache-test", load) is got[0]
    assert got[0].get_session_options().intra_op_num_threads == usable_cpus()


def test_session_cache_evicts_the_least_recently_used():
    first = get_session("lru-0", models.diabetes_regressor)
    for k in range(1, sessions.MAX_SESSIONS + 1):
        get_session(f"lru-{k}", models.diabetes_regressor)
    assert "lru-0" not in sessions._sessions
    assert get_session("lru-0", models.diabetes_regressor) is not first


def test_usable_cpus_respects_affinity():
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))
