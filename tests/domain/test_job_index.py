"""Jobs list newest first, page by page, from the index (shared/jobs/jobindex.py); jobs
belong to the endpoint incarnation that ran them; retry names keep the original's."""

from __future__ import annotations

import uuid

import pytest

from shared import config
from shared.errors import ConflictError, NotFoundError
from shared.jobs import jobindex, records, retry, views
from shared.resources import endpoints, paging
from tests import builders
from tests.domain.support import digits_endpoint, start, upload
from tests.inprocess import InProcessHost


def _all_pages(storage, top: int, **where) -> list[str]:
    names, token, pages = [], None, 0
    while True:
        page = views.list_page(storage, paging.PageRequest(top=top, token=token), **where)
        assert len(page.items) <= top
        names += [job.name for job in page.items]
        pages += 1
        if not page.next_token:
            return names
        token = paging.decode_token(page.next_token)


def test_jobs_come_newest_first_across_pages(storage):
    endpoint = digits_endpoint(storage)
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(1))
    started = [start(storage, endpoint, folder) for _ in range(5)]
    newest_first = started[::-1]
    assert _all_pages(storage, 2, endpoint=endpoint) == newest_first
    assert _all_pages(storage, 2, endpoint=endpoint, deployment="blue") == newest_first
    assert _all_pages(storage, 2, endpoint=endpoint, deployment="green") == []
    everyone = _all_pages(storage, 3)  # all jobs of every test so far
    assert [name for name in everyone if name in started] == newest_first
    created = [records.load(storage, n).created_at for n in everyone]
    assert created == sorted(created, reverse=True)
    # a name search and a state filter page in the same order
    assert _all_pages(storage, 2, endpoint=endpoint, name=started[1][-12:].upper()) == [
        started[1]]
    assert _all_pages(storage, 2, endpoint=endpoint, status="Queued") == newest_first
    assert _all_pages(storage, 2, endpoint=endpoint, status="Completed") == []


def test_jobs_of_the_previous_index_are_backfilled_in_bounded_steps(storage, monkeypatch):
    endpoint = digits_endpoint(storage)
    folder = uuid.uuid4().hex
    upload(storage, folder, builders.digit_pngs(1))
    older, newer = start(storage, endpoint, folder), start(storage, endpoint, folder)
    table = storage.table(config.TABLE_JOBS_BY_TIME)
    previous = storage.table(config.TABLE_PREVIOUS_JOB_INDEX)
    for name in (older, newer):  # as the version before this index recorded them
        job = records.load(storage, name)
        for row in table.query_entities("job eq @j", parameters={"j": name}):
            table.delete_entity(row["PartitionKey"], row["RowKey"])
        previous.upsert_entity({"PartitionKey": "jobs", "RowKey": name,
                                "endpoint_name": endpoint, "deployment_name": "blue",
                                "model_id": job.model_id, "created_at": job.created_at})
    table.delete_entity("meta", "backfilled")
    monkeypatch.setattr(jobindex, "_BACKFILL_BATCH", 1)  # one previous row per step,
    monkeypatch.setattr(jobindex, "_BACKFILL_SECONDS", 0.0)  # one step per list call
    steps = 0
    while True:
        views.list_page(storage, paging.PageRequest(top=1))
        steps += 1
        if table.get_entity("meta", "backfilled").get("done"):
            break
        assert steps <= 10, "the backfill does not end"
    assert steps >= 2  # bounded: it took more than one list call
    assert [n for n in _all_pages(storage, 50) if n in (older, newer)] == [newer, older]
    old_partition = jobindex.endpoint_partition(endpoint, "")  # jobs from before incarnations
    assert [r["job"] for r in table.query_entities(
        "PartitionKey eq @pk", parameters={"pk": old_partition})] == [newer, older]
    for name in (older, newer):
        previous.delete_entity("jobs", name)


def test_a_re_created_endpoint_does_not_inherit_the_old_jobs(storage):
    endpoint = digits_endpoint(storage)
    folder = uuid.uuid4().hex
    upload(storage, folder, [*builders.digit_pngs(1), ("bad.png", b"junk")])
    old_job = start(storage, endpoint, folder)
    InProcessHost(storage).run_until_idle()
    endpoints.delete(storage, endpoint)
    with pytest.raises(NotFoundError):
        views.list_page(storage, paging.PageRequest(), endpoint=endpoint)
    with pytest.raises(ConflictError, match="was deleted; invoke another endpoint"):
        retry.retry(storage, old_job)
    endpoints.create_or_update(storage, endpoint, {})
    assert _all_pages(storage, 10, endpoint=endpoint) == []
    assert old_job in _all_pages(storage, 1000, name=old_job)
    with pytest.raises(ConflictError, match="deleted and created again"):
        retry.retry(storage, old_job)


@pytest.mark.parametrize("original", [
    "batchjob-" + str(uuid.UUID(int=0x2cee2eb5fe20)),  # 45 characters, as invoke names them
    "nightly",
])
def test_retry_names_keep_the_whole_original_name(original):
    name = retry.retry_name(original)
    assert name.startswith(original + "-retry-") and len(name) == len(original) + 15
    again = retry.retry_name(name)  # a retry of the retry names the first job
    assert again.startswith(original + "-retry-") and again != name


def test_a_name_too_long_to_fit_keeps_its_start_and_a_hash():
    original = "j" * 63
    name = retry.retry_name(original)
    assert len(name) == 63 and name.startswith("j" * 39 + "-")
    assert retry.retry_name(original)[:48] == name[:48]  # stable for the same original
