"""Scoring scripts in their child processes (real ones), without a host: init once per
process, a timeout kills only that run and the next one starts a new process (init again),
a crash never takes the caller down, run()'s return values; and the zip checks."""

from __future__ import annotations

import hashlib
import io
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from scoring.engine import InputFile
from scoring.errors import MiniBatchTimeoutError, ScoringConfigError, ScriptError
from scoring.folders import check_zip
from scoring.scorer import for_snapshot

SCRIPT = '''
import logging, os, sys, time

def init():
    logging.info("init %d", os.getpid())

def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    if "sleep" in names:
        time.sleep(60)
    if "crash" in names:
        os._exit(3)
    if "stdin" in names:
        print("prints do not reach the parent's channel")
        return [repr(sys.stdin.read())]
    if "dict" in names:
        return {"not": "a list"}
    if "frame" in names:
        import pandas as pd
        return pd.DataFrame({"name": names, "size": [os.path.getsize(p) for p in mini_batch]})
    return [n + "!" for n in names if n != "drop"]
'''


def _zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


@pytest.fixture
def scorer(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_FOLDER_CACHE", str(tmp_path / "cache"))
    code = _zip({"score.py": textwrap.dedent(SCRIPT)})
    snapshot = {"model": {"sha256": hashlib.sha256(b"m").hexdigest(), "signature": {}},
                "code": {"sha256": check_zip(code, "code").sha256, "scoring_script": "score.py"}}
    return for_snapshot(snapshot, lambda: b"m", lambda: code, 1, {"RUN": str(tmp_path)})


def _files(*names: str) -> list[InputFile]:
    return [InputFile(n, n.encode()) for n in names]


def _inits(result) -> list[str]:
    return [entry["message"] for entry in result.logs if entry["message"].startswith("init")]


def test_init_runs_once_per_process_and_again_after_a_timeout(scorer):
    first = scorer.score(_files("a", "b"), time.monotonic() + 30)
    assert [(r.file_name, r.text) for r in first.rows] == [("a", "a!"), ("b", "b!")]
    assert len(_inits(first)) == 1
    assert _inits(scorer.score(_files("c"), time.monotonic() + 30)) == []  # the same process
    began = time.monotonic()
    with pytest.raises(MiniBatchTimeoutError):
        scorer.score(_files("sleep"), time.monotonic() + 1)
    assert time.monotonic() - began < 10  # killed, not waited for
    after = scorer.score(_files("d"), time.monotonic() + 30)
    assert [r.text for r in after.rows] == ["d!"]
    assert len(_inits(after)) == 1 and _inits(after) != _inits(first)  # a new process


def test_a_crashing_script_fails_only_its_run(scorer):
    with pytest.raises(ScriptError, match="ended during run"):
        scorer.score(_files("crash"), time.monotonic() + 30)
    assert [r.text for r in scorer.score(_files("e"), time.monotonic() + 30).rows] == ["e!"]


def test_return_values(scorer):
    with pytest.raises(ScriptError, match="must return a list .* or a pandas DataFrame"):
        scorer.score(_files("dict"), time.monotonic() + 30)
    frame = scorer.score(_files("frame", "xy"), time.monotonic() + 30)
    assert [(r.file_name, r.text) for r in frame.rows] == [
        ("frame", '{"name": "frame", "size": 5}'), ("xy", '{"name": "xy", "size": 2}')]
    assert [r.text for r in scorer.score(_files("stdin"), time.monotonic() + 30).rows] == [
        "''"]  # a script reading stdin reads nothing, and its prints go elsewhere
    fewer = scorer.score(_files("a", "drop", "b"), time.monotonic() + 30)
    assert [r.file_name for r in fewer.rows] == ["a", "b"]
    assert [(e.file_name, e.reason) for e in fewer.errors] == [
        ("drop", "run() returned no result for this file")]


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py",
                                  "c:/evil.py", "a\\..\\evil.py"])
def test_a_zip_whose_paths_escape_its_folder_is_refused(name):
    with pytest.raises(ScoringConfigError, match="outside its folder"):
        check_zip(_zip({"ok.py": "", name: "x"}), "code")


def test_zip_limits_and_content_hash(monkeypatch):
    same = check_zip(_zip({"b.py": "2", "a.py": "1"}), "code")
    assert same.sha256 == check_zip(_zip({"a.py": "1", "b.py": "2"}), "code").sha256
    assert same.files == ("a.py", "b.py")
    link = zipfile.ZipInfo("link.py")
    link.external_attr = 0o120777 << 16
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(ScoringConfigError, match="symbolic link"):
        check_zip(buf.getvalue(), "code")
    monkeypatch.setattr("scoring.folders.MAX_UNPACKED_BYTES", 1000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 100_000)
    assert len(bomb.getvalue()) < 1000
    with pytest.raises(ScoringConfigError, match="unpacks to more than"):
        check_zip(bomb.getvalue(), "code")
    with pytest.raises(ScoringConfigError, match="not a zip"):
        check_zip(b"PK nope", "code")


def test_a_changed_stored_folder_is_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("BATCH_FOLDER_CACHE", str(tmp_path / "cache"))
    code = _zip({"score.py": textwrap.dedent(SCRIPT)})
    snapshot = {"model": {"sha256": hashlib.sha256(b"m").hexdigest(), "signature": {}},
                "code": {"sha256": "0" * 64, "scoring_script": "score.py"}}
    scorer = for_snapshot(snapshot, lambda: b"m", lambda: code)
    with pytest.raises(ScoringConfigError, match="was changed"):
        scorer.score(_files("a"), time.monotonic() + 30)
    assert not any(Path(tmp_path / "cache" / "code").glob("*"))


def test_rows_keep_input_order_and_unattributable_misses_fail_honestly():
    from scoring.scripts.processes import Answer
    from scoring.scripts.runner import attribute

    files = _files("a.png", "b.png", "c.png")
    rows, errors = attribute(files, Answer(["c.png 3", "a.png 1"], []), "mini-batch 4")
    assert [(r.file_name, r.text) for r in rows] == [("a.png", "a.png 1"), ("c.png", "c.png 3")]
    assert [(e.file_name, e.reason) for e in errors] == [
        ("b.png", "run() returned no result for this file")]
    rows, errors = attribute(files, Answer(["7", "9"], []), "mini-batch 4")
    assert [(r.file_name, r.text) for r in rows] == [("", "7"), ("", "9")]
    assert len(errors) == 1 and errors[0].reason.startswith(
        "run() returned 2 results for the 3 files of mini-batch 4 (a.png … c.png)")
