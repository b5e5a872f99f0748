"""Large tables split into row ranges: each range an ordinary mini-batch, every row once, in
file order, numbered in the whole file; a bad row fails alone, a changed file fails clearly,
a retry scores only the ranges holding its failed rows."""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from samples import data
from samples import models as sample_models
from shared.errors import ValidationError
from shared.jobs import records, retry, splitting
from shared.messages import PLAN_QUEUE
from shared.resources import deployments, endpoints, models
from tests.domain.support import errors, predictions, start, upload
from tests.inprocess import InProcessHost

ROWS = 12_000  # ~2.6 MB of CSV
SCORING = {"input": {"type": "tabular", "exclude": ["target", "note"]},
           "output": {"type": "regression"}}


def _endpoint(storage, mini_batch_size) -> str:
    name = "tab-" + uuid.uuid4().hex[:8]
    version = uuid.uuid4().hex[:8]
    models.register(storage, "diabetes", version, sample_models.diabetes_regressor())
    endpoints.create_or_update(storage, name, {})
    deployments.create_or_update(storage, name, "blue", {
        "model": f"diabetes:{version}", "scoring": SCORING,
        "settings": {"mini_batch_size": mini_batch_size}, "resources": {"instance_count": 2}})
    return name


def _table(rows: int = ROWS) -> pa.Table:
    """The diabetes rows repeated, with a text column whose quoted values hold newlines."""
    base = data.diabetes_table()
    t = pa.concat_tables([base] * (rows // base.num_rows + 1)).slice(0, rows)
    notes = [f'line one\r\nline "two" of {i}' if i % 5 == 0 else f"n{i}" for i in range(rows)]
    return t.append_column("note", pa.array(notes))


def _run(storage, endpoint, folder):
    job = start(storage, endpoint, folder)
    InProcessHost(storage).run_until_idle(timeout=120)
    return job


def _values(rows):
    return [(r["file_name"], r["row"], r["prediction"]) for r in rows]


def test_csv_split_scores_every_row_once_in_order_with_whole_file_numbers(storage):
    t = _table()
    folder = uuid.uuid4().hex
    bad = ROWS // 2 + 7  # in a middle range
    upload(storage, folder, [("t.csv", _csv_crlf_with_bad_row(t, bad))])
    whole = _run(storage, _endpoint(storage, 10), folder)  # 2.6 MB < 32 MB: one mini-batch
    split = _run(storage, _endpoint(storage, "512KB"), folder)
    assert records.load(storage, whole).mb_total == 1
    assert records.load(storage, split).mb_total >= 5
    want = predictions(storage, whole)
    assert [int(r["row"]) for r in want] == [r for r in range(ROWS) if r != bad]
    assert _values(predictions(storage, split)) == _values(want)
    assert [(e["file_name"], e["row"]) for e in errors(storage, split)] == [("t.csv", str(bad))]

    upload(storage, folder, [("t.csv", _csv_crlf_with_bad_row(t, None))])  # the user fixes it
    again = retry.retry(storage, split)
    InProcessHost(storage).run_until_idle(timeout=60)
    assert records.load(storage, again.name).mb_total == 1  # only the range holding the row
    assert [(r["file_name"], r["row"]) for r in predictions(storage, again.name)] == [
        ("t.csv", str(bad))]


def _csv_crlf_with_bad_row(t: pa.Table, bad: int | None) -> bytes:
    """The table as CSV with CRLF line ends (quoted values keep their own CRLF), the `age`
    of data row `bad` replaced by text."""
    if bad is not None:
        age = t.column("age").cast(pa.string()).to_pylist()
        age[bad] = "not-a-number"
        t = t.set_column(0, "age", pa.array(age))
    out = io.BytesIO()
    pacsv.write_csv(t, out, pacsv.WriteOptions(eol="\r\n"))
    return out.getvalue()


def test_parquet_split_by_row_groups(storage):
    t = _table(6_000)
    buf = io.BytesIO()
    pq.write_table(t, buf, row_group_size=1_000)
    folder = uuid.uuid4().hex
    upload(storage, folder, [("t.parquet", buf.getvalue()), ("small.csv", data.diabetes_csv(9))])
    whole = _run(storage, _endpoint(storage, 10), folder)
    split = _run(storage, _endpoint(storage, "2500 rows"), folder)
    job = records.load(storage, split)
    # small.csv (9 rows) and the first range (2 groups, 2,000 rows) fit in one mini-batch
    assert job.mb_total == 3 and job.files_total == 2
    got = predictions(storage, split)
    assert _values(got) == _values(predictions(storage, whole))
    assert [r["row"] for r in got if r["file_name"] == "t.parquet"] == [
        str(r) for r in range(6_000)]
    assert errors(storage, split) == []


def test_with_a_file_count_only_tables_over_the_threshold_are_cut(storage, monkeypatch):
    monkeypatch.setattr(splitting, "SPLIT_BYTES", 200_000)
    folder = uuid.uuid4().hex
    small = [(f"s{i}.csv", data.diabetes_csv(5)) for i in range(3)]
    upload(storage, folder, [*small, ("t.csv", _csv_crlf_with_bad_row(_table(3_000), None))])
    job_name = _run(storage, _endpoint(storage, 2), folder)
    job = records.load(storage, job_name)
    assert job.mb_total == 2 + 4  # s0+s1, s2, then t.csv's ~650 KB in ranges of ~200 KB
    got = predictions(storage, job_name)
    assert [(r["file_name"], r["row"]) for r in got] == [
        (f"s{i}.csv", str(r)) for i in range(3) for r in range(5)] + [
        ("t.csv", str(r)) for r in range(3_000)]


def test_a_file_changed_mid_job_fails_every_row_of_its_ranges_clearly(storage):
    folder = uuid.uuid4().hex
    body = _csv_crlf_with_bad_row(_table(4_000), None)
    upload(storage, folder, [("t.csv", body)])
    job = start(storage, _endpoint(storage, "256KB"), folder)
    host = InProcessHost(storage)
    while host.step(PLAN_QUEUE):
        pass
    upload(storage, folder, [("t.csv", body + b"1,2,3,4,5,6,7,8,9,10,11,x\r\n")])
    host.run_until_idle(timeout=60)
    assert records.load(storage, job).mb_total >= 3
    failed = errors(storage, job)
    assert predictions(storage, job) == []
    assert [e["row"] for e in failed] == [str(r) for r in range(4_000)]
    assert {e["reason"] for e in failed} == {
        f"file changed after the job was planned: version {_etag_of(storage, job)} is gone "
        "(retry the job's failed items to score the new one)"}


def _etag_of(storage, job_name) -> str:
    from shared.jobs import planning

    row = next(records.minibatch_rows(storage, job_name, 0, 1))
    return planning.files_of(storage, row)[0].etag


@pytest.mark.parametrize(("value", "rule"), [
    ("10TB", "must be a number of files"), (0, "must be a number of files"),
    ("100 KB rows", "must be a number of files"), ("0.5KB", "1KB-256MB"),
    ("20000000 rows", "1-10000000")])
def test_bad_mini_batch_sizes_are_refused_naming_the_field(storage, value, rule):
    with pytest.raises(ValidationError, match=f"settings.mini_batch_size: .*{rule}"):
        _endpoint(storage, value)


def test_sizes_and_rows_are_for_tabular_deployments_only(storage):
    from tests.domain.support import digits_endpoint

    with pytest.raises(ValidationError, match="settings.mini_batch_size: '10MB' is a size or "
                       "a number of rows, which only tabular deployments"):
        digits_endpoint(storage, mini_batch_size="10MB")
    endpoint = digits_endpoint(storage)
    with pytest.raises(ValidationError, match="^mini_batch_size: '5 rows' is a size"):
        start(storage, endpoint, "anything", mini_batch_size="5 rows")
