"""checkov passes on infra/ with no failed check, and every skip is justified and used."""

from __future__ import annotations

import json
import re
import subprocess

from tests.infra.project import INFRA, ROOT

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
SKIP = re.compile(r"//\s*checkov:skip=(CKV2?_[A-Z]+_\d+)(.*)")


def test_checkov_finds_no_failed_check_and_every_skip_is_justified():
    assert CHECKOV.exists(), "checkov is missing: run scripts/bootstrap --test"
    run = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--framework", "bicep", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    report = json.loads(run.stdout)
    results, summary = report["results"], report["summary"]
    assert summary["parsing_errors"] == 0, results.get("parsing_errors")
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
              for c in results["failed_checks"]]
    assert failed == []
    checked = {c["resource"] for kind in ("passed_checks", "skipped_checks")
               for c in results[kind]}
    for resource in ("Microsoft.Storage/storageAccounts.storage", "Microsoft.Web/sites.app",
                     "Microsoft.Web/serverfarms.plan", "Microsoft.EventGrid/topics.topic"):
        assert resource in checked, f"checkov did not check {resource}"

    written = [(path.relative_to(INFRA), m.group(1), m.group(2))
               for path in INFRA.rglob("*.bicep")
               for m in SKIP.finditer(path.read_text())]
    for path, check, reason in written:
        assert len(reason.strip(": ")) > 20, f"{path}: skip of {check} needs a reason"
    used = {c["check_id"] for c in results["skipped_checks"]}
    assert {check for _, check, _ in written} == used, "a skip comment matches no check"
