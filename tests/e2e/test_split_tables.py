"""A large table through the real host: split into row ranges by a job's `mini_batch_size`
override, scored by the host's workers, written back in file order."""

from __future__ import annotations

import uuid

from samples import data, models
from tests.e2e.conftest import output, put_deployment, put_endpoint, register
from tests.e2e.test_batch_jobs import rows, upload


def test_a_table_split_by_a_size_override_comes_back_whole_and_in_order(api, store):
    name = "split-" + uuid.uuid4().hex[:6]
    register(api, "diabetes-e2e", name, models.diabetes_regressor())
    put_endpoint(api, name)
    put_deployment(api, name, "gbr", {"model": f"diabetes-e2e:{name}",
                                      "scoring": models.DIABETES_SCORING,
                                      "resources": {"instance_count": 2}})
    table = data.diabetes_csv()  # 442 rows, ~75 KB
    body = table + b"".join(table.split(b"\n", 1)[1:]) * 3  # 1,768 rows
    folder = uuid.uuid4().hex
    path = upload(store, folder, [("t.csv", body)])
    job = api.batch_endpoints.invoke(name, input=path, mini_batch_size="64KB")
    done = api.jobs.stream(job.name, timeout=90)
    assert done.progress["mini_batches"]["total"] >= 4
    assert done.progress["items"] == {"succeeded": 1_768, "failed": 0, "canceled": 0}
    assert [r["row"] for r in rows(output(api, job.name))] == [str(r) for r in range(1_768)]
