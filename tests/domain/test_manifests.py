"""Jobs planned from a manifest (a drop's arrivals, a retry's failed items) read it a piece
at a time: every item once, each page reading only the pieces it covers. Pieces and pages
are made small here so a few dozen files span several of each."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.events import drops
from shared.jobs import manifests, planning, records, retry
from shared.messages import PlanPage
from tests import builders
from tests.domain.support import assert_consistent, digits_endpoint, errors, predictions, start
from tests.domain.support import upload as upload_files
from tests.inprocess import InProcessHost

PIECE, PAGE = 7, 10  # mini_batch_size 4: pages of 8 entries, so pages straddle pieces


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(manifests, "PIECE", PIECE)
    monkeypatch.setattr(planning, "LIST_PAGE_LIMIT", PAGE)
    monkeypatch.setenv("BATCH_DROP_QUIET_SECONDS", "3600")  # only markers start drop jobs


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The manifest blobs downloaded, in order."""
    seen: list[str] = []
    download = manifests._download

    def counted(storage, path):
        seen.append(path)
        return download(storage, path)

    monkeypatch.setattr(manifests, "_download", counted)
    return seen


def test_a_drop_of_several_pieces_is_planned_once_each_page_reading_its_pieces(
        storage, small_pieces, reads):
    endpoint = digits_endpoint(storage)
    files = [(name, data) for name, data, _ in builders.digit_pngs(30)]
    inbox = storage.container("inbox")
    for name, data in files:
        inbox.upload_blob(f"{endpoint}/big/{name}", data)
    inbox.upload_blob(f"{endpoint}/big/_READY", b"")
    outcome = drops.on_blob_created(storage, drops.BlobCreated(
        "inbox", f"{endpoint}/big/_READY", "marker", "blob-drop"))
    job_name = outcome.removeprefix("job: ")
    manifest = records.load(storage, job_name).input["manifest"]
    reads.clear()  # the starter's own reading of it (which files it took)
    for page in range(4):  # 30 entries in pages of 8
        continuation = records.load(storage, job_name).plan_continuation or None
        planning.plan_page(storage, PlanPage(job_name, page, continuation))
        first, last = page * 8, min(30, page * 8 + 8) - 1
        assert reads == [f"{manifest}/index.json"] + [
            f"{manifest}/{n:08d}.jsonl" for n in range(first // PIECE, last // PIECE + 1)]
        reads.clear()
    job = records.load(storage, job_name)
    assert (job.planning_done, job.files_total, job.mb_total) == (True, 30, 8)
    InProcessHost(storage).run_until_idle()  # every page's message delivered again, too
    assert records.load(storage, job_name).mb_total == 8
    assert_consistent(storage, job_name, [name for name, _ in files])
    assert len(predictions(storage, job_name)) == 30


def test_a_retry_of_more_than_a_page_scores_each_failed_item_once(storage, small_pieces):
    endpoint = digits_endpoint(storage)
    good = builders.digit_pngs(22)
    bad = [f"bad{i:02d}.png" for i in range(20)]
    folder = uuid.uuid4().hex
    upload_files(storage, folder, [(n, b"junk") for n in bad] + [g[:2] for g in good[20:]])
    first = start(storage, endpoint, folder)
    host = InProcessHost(storage)
    host.run_until_idle()
    assert len(errors(storage, first)) == 20
    upload_files(storage, folder, [(bad[i], good[i][1]) for i in range(5)])  # 5 are fixed
    again = retry.retry(storage, first)
    assert json.loads(storage.container("batch-jobs").download_blob(
        f"{again.input['manifest']}/index.json").readall()) == {"entries": 20, "pieces": 3}
    host.run_until_idle()
    assert records.load(storage, again.name).mb_total == 5  # pages of 8: 2 + 2 + 1
    assert_consistent(storage, again.name, bad)
    assert sorted(r["file_name"] for r in predictions(storage, again.name)) == bad[:5]


def test_a_drop_starter_that_lost_the_race_takes_the_jobs_manifest(storage, small_pieces):
    """The winner's job (here with a manifest of the single-array form jobs had before
    pieces) names two of three waiting files: the loser marks those two taken, not all."""
    endpoint = digits_endpoint(storage)
    files = [(name, data) for name, data, _ in builders.digit_pngs(3)]
    inbox = storage.container("inbox")
    etags = {}
    for name, data in files:
        path = f"{endpoint}/race/{name}"
        etags[path] = inbox.upload_blob(path, data).get_blob_properties().etag
        assert drops.on_blob_created(storage, drops.BlobCreated(
            "inbox", path, etags[path], "blob-drop")) == "recorded"
    group = drops.parse_target(storage, path).group
    won = sorted(etags)[:2]
    legacy = f"drops/{group}/0.json"
    storage.container("batch-jobs").upload_blob(
        legacy, json.dumps([{"name": n, "etag": etags[n].strip('"')} for n in won]))
    row = storage.table("drops").get_entity(group, drops.GROUP_ROW)
    job_name = f"drop-{group[:16]}-0"
    drops._invoke(storage, row, job_name, legacy, "blob-drop")  # the racing starter's job
    assert drops.start_group_job(storage, group, "test") == job_name
    state = {r["blob"]: r["state"] for r in storage.table("drops").query_entities(
        "PartitionKey eq @g and RowKey ne @r", parameters={"g": group, "r": drops.GROUP_ROW})}
    assert state == {**dict.fromkeys(won, drops.TAKEN), sorted(etags)[2]: drops.WAITING}
    InProcessHost(storage).run_until_idle()
    assert_consistent(storage, job_name, [n.rsplit("/", 1)[1] for n in won])
