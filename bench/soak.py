"""`python -m bench.soak`: many jobs for a bounded time; are the workers' memory and handles
flat, and does every job end?

The local host with 2 workers over its own Azurite on a data folder (bench/chaos.py's rig,
no faults) is kept busy for `--minutes`: small and large digit jobs mixed (every 10th file
corrupt, so jobs have failed items), a few at a time; every `--cancel-every`th job a large
one, canceled right after invoke; every `--retry-every`th ended job with failed items
retried (`POST /jobs/{name}/retry`, a new job). Every `--sample-every` seconds it prints
each worker's resident memory (VmRSS), open files and open sockets, read from /proc; at
the end it waits for every job to end, and prints the jobs by kind and final state, the
jobs that did not end, those whose items do not add up to their files, and the change of
each figure from the first sample after warm-up to the last.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.chaos import TERMINAL, Faults, Rig, deploy, upload

WARM_UP = 60.0  # seconds: sessions, pools and caches filled; growth is measured after


@dataclass
class Sample:
    seconds: float
    jobs_started: int
    jobs_ended: int
    workers: dict[int, tuple[int, float, int, int]]  # index → (pid, RSS MB, files, sockets)


@dataclass
class Tracked:
    name: str
    kind: str  # small, large, retry
    files: int | None  # None: a retry (its items are the failed ones of another job)
    cancel: bool = False  # canceled right after invoke
    state: str = ""
    accounted: int = 0


@dataclass
class Soak:
    samples: list[Sample] = field(default_factory=list)
    jobs: list[Tracked] = field(default_factory=list)

    @property
    def unended(self) -> list[Tracked]:
        return [j for j in self.jobs if j.state not in TERMINAL]

    @property
    def unaccounted(self) -> list[Tracked]:
        """Ended jobs whose succeeded + failed + canceled items are not their files."""
        return [j for j in self.jobs if j.state in TERMINAL and j.files is not None
                and j.accounted != j.files]

    def baseline(self) -> Sample:
        """The first sample after warm-up (in a run shorter than that, the second)."""
        warm = [s for s in self.samples if s.seconds >= WARM_UP]
        return warm[0] if len(warm) > 1 else self.samples[min(1, len(self.samples) - 1)]

    def growth(self) -> dict[int, tuple[float, int, int]]:
        """Per worker: RSS MB, files and sockets, last sample minus the baseline (only for
        a worker with the same pid in both: a restarted one starts afresh)."""
        first, last = self.baseline(), self.samples[-1]
        out = {}
        for index, (pid, rss, files, sockets) in last.workers.items():
            base = first.workers.get(index)
            if base and base[0] == pid:
                out[index] = (rss - base[1], files - base[2], sockets - base[3])
        return out


def sample_process(pid: int) -> tuple[float, int, int]:
    """(resident MB, open files, open sockets) of a process, from /proc."""
    rss = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:  # closed meanwhile
            pass
    return rss, len(fds), sockets


def take_sample(rig: Rig, started: float, soak: Soak) -> Sample:
    workers = {}
    for index, pid in sorted(rig.host.worker_pids().items()):
        try:
            workers[index] = (pid, *sample_process(pid))
        except OSError:  # restarting
            continue
    ended = sum(1 for j in soak.jobs if j.state in TERMINAL)
    sample = Sample(time.monotonic() - started, len(soak.jobs), ended, workers)
    soak.samples.append(sample)
    return sample


def _line(sample: Sample) -> str:
    cells = " | ".join(f"{rss:.0f} MB, {files} files, {sockets} sockets"
                       for _, rss, files, sockets in sample.workers.values())
    return (f"| {sample.seconds / 60:5.1f} | {sample.jobs_started} | {sample.jobs_ended} "
            f"| {cells} |")


def _call(api: httpx.Client, method: str, url: str, **kwargs) -> httpx.Response | None:
    try:
        return api.request(method, url, **kwargs)
    except httpx.HTTPError:  # a worker busy or restarting: the caller asks again later
        return None


def _invoke(api: httpx.Client, endpoint: str, folder: str) -> str | None:
    got = _call(api, "POST", f"/endpoints/{endpoint}/jobs", json={
        "inputs": {"images": {"type": "uri_folder",
                              "path": f"azureml://datastores/workspaceblobstore/paths/{folder}"}},
        "deployment_name": "green"}, headers={"Repeatability-Request-ID": uuid.uuid4().hex})
    return got.json()["name"] if got is not None and got.status_code == 202 else None


def _refresh(api: httpx.Client, job: Tracked) -> dict | None:
    got = _call(api, "GET", f"/jobs/{job.name}")
    if got is None or got.status_code != 200:
        return None
    doc = got.json()
    job.state = doc["status"]
    items = doc["progress"]["items"]
    job.accounted = items["succeeded"] + items["failed"] + items["canceled"]
    return doc


def run(minutes: float = 5.0, workers: int = 2, small: int = 20, large: int = 400,
        large_share: float = 0.2, in_flight: int = 3, cancel_every: int = 7,
        retry_every: int = 4, sample_every: float = 30.0, drain: float = 300.0,
        out=sys.stdout) -> Soak:
    soak = Soak()
    print_ = lambda text: print(text, file=out, flush=True)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        rig = Rig(Path(tmp), workers, Faults(storage_faults=0.0, lease=60))
        try:
            endpoint, _ = deploy(rig.api)
            folders = {"small": (f"soak/{uuid.uuid4().hex[:8]}", small),
                       "large": (f"soak/{uuid.uuid4().hex[:8]}", large)}
            for folder, count in folders.values():
                upload(rig.store, folder, count)
            print_("| minutes | jobs started | jobs ended | "
                   + " | ".join(f"worker {i}" for i in range(workers)) + " |")
            print_("|---|---|---|" + "---|" * workers)
            started = time.monotonic()
            print_(_line(take_sample(rig, started, soak)))
            stop_at = started + minutes * 60
            next_sample = started + sample_every
            retried = 0
            ended_with_failures = 0
            while time.monotonic() < stop_at:
                running = [j for j in soak.jobs if j.state not in TERMINAL]
                for job in running:
                    before = job.state
                    doc = _refresh(rig.api, job)
                    if doc and before not in TERMINAL and job.state in TERMINAL \
                            and doc["progress"]["items"]["failed"]:
                        ended_with_failures += 1
                        if ended_with_failures % retry_every == 0:
                            got = _call(rig.api, "POST", f"/jobs/{job.name}/retry", json={})
                            if got is not None and got.status_code in (200, 202):
                                soak.jobs.append(Tracked(got.json()["name"], "retry", None))
                                retried += 1
                if len([j for j in soak.jobs if j.state not in TERMINAL]) < in_flight:
                    cancel = (len(soak.jobs) + 1) % cancel_every == 0
                    kind = "large" if cancel or random.random() < large_share else "small"
                    name = _invoke(rig.api, endpoint, folders[kind][0])
                    if name:
                        soak.jobs.append(Tracked(name, kind, folders[kind][1], cancel))
                        if cancel:
                            _call(rig.api, "POST", f"/jobs/{name}/cancel")
                if time.monotonic() >= next_sample:
                    print_(_line(take_sample(rig, started, soak)))
                    next_sample += sample_every
                time.sleep(0.5)
            deadline = time.monotonic() + drain
            while soak.unended and time.monotonic() < deadline:
                for job in soak.unended:
                    _refresh(rig.api, job)
                time.sleep(1.0)
            print_(_line(take_sample(rig, started, soak)))
        finally:
            rig.close()
    return soak


def report(soak: Soak, out=sys.stdout) -> None:
    kinds = Counter((j.kind, j.state) for j in soak.jobs)
    print(f"\njobs: {len(soak.jobs)}; by kind and final state: "
          + ", ".join(f"{k} {s} {n}" for (k, s), n in sorted(kinds.items())), file=out)
    print(f"not ended: {[j.name for j in soak.unended]}", file=out)
    print(f"items not adding up to files: "
          f"{[(j.name, j.accounted, j.files) for j in soak.unaccounted]}", file=out)
    since = soak.baseline().seconds / 60
    for index, (rss, files, sockets) in sorted(soak.growth().items()):
        print(f"worker {index}, minute {since:.1f} to the end: RSS {rss:+.0f} MB, "
              f"open files {files:+d}, sockets {sockets:+d}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", type=int, default=20, help="files of a small job")
    parser.add_argument("--large", type=int, default=400, help="files of a large job")
    parser.add_argument("--in-flight", type=int, default=3, help="jobs running at once")
    parser.add_argument("--cancel-every", type=int, default=7)
    parser.add_argument("--retry-every", type=int, default=4)
    parser.add_argument("--sample-every", type=float, default=30.0, help="seconds")
    args = parser.parse_args(argv)
    soak = run(args.minutes, args.workers, args.small, args.large, in_flight=args.in_flight,
               cancel_every=args.cancel_every, retry_every=args.retry_every,
               sample_every=args.sample_every)
    report(soak)
    return 0 if not soak.unended and not soak.unaccounted else 1


if __name__ == "__main__":
    sys.exit(main())
