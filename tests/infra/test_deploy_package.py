"""What `.funcignore` leaves in the deployment package: the app, and nothing local or secret.

Patterns are matched as .gitignore's are, which .funcignore follows: a plain name or glob
against each path component, one with a leading `/` against the top folder only (how
`/scripts` leaves out the project's scripts but ships `scoring/scripts`). No negations.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

from tests.infra.project import ROOT, shipped_modules

PATTERNS = [line.strip().rstrip("/") for line in (ROOT / ".funcignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def ignored(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return any(fnmatch.fnmatch(parts[0], pattern[1:]) if pattern.startswith("/") else
               any(fnmatch.fnmatch(part, pattern) for part in parts) for pattern in PATTERNS)


def test_everything_the_app_imports_ships():
    modules = shipped_modules()
    assert {m.relative_to(ROOT).parts[0] for m in modules} >= {"function_app.py", "blueprints",
                                                                "shared"}
    assert [m for m in modules if ignored(m)] == []
    for needed in ("host.json", "requirements.txt", "function_app.py"):
        assert not ignored(ROOT / needed)


def test_local_tools_state_tests_and_keys_never_ship():
    for path in (".venv/lib/x.py", "node_modules/azurite/x.js", ".tools/checkov/bin/checkov",
                 "tests/conftest.py", "samples/models.py", ".samples/digits.onnx",
                 "bench/run.py", "devhost/keys.py", "client/cli.py", ".azurite/x",
                 ".devhost/keys.json", "local.settings.json", ".azure/dev/.env",
                 "shared/__pycache__/x.pyc", "infra/main.bicep", ".git/config"):
        assert ignored(ROOT / path), path
