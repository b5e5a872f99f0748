"""checkov passes on infra/ with no failed check, with private networking off (the default)
and on, and every skip is justified and used."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.infra.project import INFRA, PUBLIC_ONLY_SKIPS, ROOT, infra_variant

CHECKOV = ROOT / ".tools" / "checkov" / "bin" / "checkov"
SKIP = re.compile(r"//\s*checkov:skip=(CKV2?_[A-Z]+_\d+)(.*)")


def checkov(directory: Path) -> dict:
    assert CHECKOV.exists(), "checkov is missing: run scripts/bootstrap --test"
    run = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "bicep", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    return json.loads(run.stdout)


@pytest.mark.parametrize("private", [False, True], ids=["public", "private-networking"])
def test_checkov_finds_no_failed_check_and_every_skip_is_justified(tmp_path, private):
    infra = infra_variant(tmp_path / "infra", private)
    report = checkov(infra)
    results, summary = report["results"], report["summary"]
    assert summary["parsing_errors"] == 0, results.get("parsing_errors")
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
              for c in results["failed_checks"]]
    assert failed == []
    checked = {c["resource"] for kind in ("passed_checks", "skipped_checks")
               for c in results[kind]}
    for resource in ("Microsoft.Storage/storageAccounts.storage", "Microsoft.Web/sites.app",
                     "Microsoft.Web/serverfarms.plan", "Microsoft.EventGrid/topics.topic",
                     "Microsoft.KeyVault/vaults.vault"):
        assert resource in checked, f"checkov did not check {resource}"
    passed = {c["check_id"] for c in results["passed_checks"]}
    if private:  # storage and Key Vault closed to the internet: their network checks pass
        assert set(PUBLIC_ONLY_SKIPS) <= passed

    written = [(path.relative_to(infra), m.group(1), m.group(2))
               for path in infra.rglob("*.bicep")
               for m in SKIP.finditer(path.read_text())]
    for path, check, reason in written:
        assert len(reason.strip(": ")) > 20, f"{path}: skip of {check} needs a reason"
    used = {c["check_id"] for c in results["skipped_checks"]}
    assert {check for _, check, _ in written} == used, "a skip comment matches no check"


def test_the_variants_differ_only_where_the_option_chooses(tmp_path):
    public = infra_variant(tmp_path / "public", False)
    private = infra_variant(tmp_path / "private", True)
    storage = "core/storage.bicep"
    assert "publicNetworkAccess: 'Enabled'" in (public / storage).read_text()
    assert "publicNetworkAccess: 'Disabled'" in (private / storage).read_text()
    assert "defaultAction: 'Deny'" in (private / "core/keyvault.bicep").read_text()
    assert (public / "main.bicep").read_text() == (INFRA / "main.bicep").read_text()
