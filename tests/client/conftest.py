"""The CLI as a user runs it: the installed `bep` console script in a subprocess, from a
folder outside the repository, against the real local host (the e2e tier's host)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from client import BatchClient
from tests.e2e import conftest as e2e

ROOT = e2e.ROOT
# The e2e tier's Azurite and local host (one of each for these modules), and its storage.
e2e_azurite, service, store = e2e.e2e_azurite, e2e.service, e2e.store

BEP = Path(sys.executable).parent / "bep"


class Bep:
    """Runs `bep ...` in `cwd` with the service given through BEP_* variables."""

    def __init__(self, cwd: Path, env: dict[str, str]):
        self.cwd, self.env = cwd, env

    def run(self, *args: str, ok: bool = True, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([str(BEP), *args], cwd=self.cwd, env={**self.env, **(env or {})},
                                capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        if ok and result.returncode != 0:
            raise AssertionError(f"bep {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stderr}")
        if not ok:
            assert result.returncode != 0, f"bep {' '.join(args)} should have failed"
            assert "Traceback" not in result.stderr, result.stderr
        return result

    def json(self, *args: str):
        return json.loads(self.run(*args, "-o", "json").stdout)

    def fails(self, *args: str, env: dict[str, str] | None = None) -> str:
        """The one line a failing command prints."""
        err = self.run(*args, ok=False, env=env).stderr.strip().splitlines()
        return err[-1]


@pytest.fixture(scope="session")
def installed() -> Path:
    if not BEP.exists():
        pytest.fail(f"{BEP} is missing: scripts/bootstrap installs the CLI (pip install -e .)")
    return BEP


@pytest.fixture
def bep(installed, service, e2e_azurite, tmp_path_factory) -> Bep:
    """A user's shell: cwd a fresh folder outside the repository, its own config dir."""
    home = tmp_path_factory.mktemp("user")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEP_", "AZURE_"))}
    env.update({
        "BEP_URL": service.api, "BEP_KEY": service.function_key,
        "BEP_STORAGE_CONNECTION_STRING": e2e_azurite.connection_string,
        "XDG_CONFIG_HOME": str(home / ".config"), "HOME": str(home),
        # The venv may be shared by several checkouts: import this one's client.
        "PYTHONPATH": str(ROOT), "COLUMNS": "160",
    })
    assert ROOT not in home.parents
    return Bep(home, env)


@pytest.fixture
def examples(tmp_path) -> Path:
    """A copy of examples/ with the models and inputs built by examples/make_models.py."""
    from examples import make_models

    target = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", target,
                    ignore=shutil.ignore_patterns("model", "sample", "data", "__pycache__"))
    make_models.make(target, digits=20)
    return target


@pytest.fixture(scope="package")
def ml(service, e2e_azurite):
    with BatchClient(service.api, service.function_key,
                     storage_connection_string=e2e_azurite.connection_string) as client:
        yield client
