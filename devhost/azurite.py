"""Start and stop the Azurite storage emulator (npm package pinned in package.json)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.storage.connection import AZURITE_ACCOUNT, AZURITE_KEY, azurite_connection_string

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://[^:]+:(\d+)")


class AzuriteError(RuntimeError):
    pass


def azurite_command() -> list[str]:
    local = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return [str(local)]
    found = shutil.which("azurite")
    if found:
        return [found]
    raise AzuriteError("Azurite is not installed: run `npm install` in the project folder")


@dataclass
class Azurite:
    """A running Azurite; `ports` maps blob/queue/table to the ports it listens on;
    `accounts` are its accounts besides devstoreaccount1 (name → key)."""

    process: subprocess.Popen
    ports: dict[str, int]
    host: str = "127.0.0.1"
    accounts: dict[str, str] = field(default_factory=dict)
    _log: list[str] = field(default_factory=list)

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.host, self.ports)

    def account_connection_string(self, name: str) -> str:
        """The connection string of another of its accounts (path-style, like the first)."""
        return azurite_connection_string(self.host, self.ports).replace(
            AZURITE_ACCOUNT, name).replace(AZURITE_KEY, self.accounts[name])

    def blob_endpoint(self, name: str) -> str:
        return f"http://{self.host}:{self.ports['blob']}/{name}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    location: Path | None = None,
    ports: dict[str, int] | None = None,
    host: str = "127.0.0.1",
    in_memory: bool = False,
    timeout: float = 30.0,
    accounts: dict[str, str] | None = None,
) -> Azurite:
    """Start Azurite and wait until all three services listen. Port 0 = any free port.
    `accounts` (name → base64 key), and those of an `AZURITE_ACCOUNTS` variable
    (`name:key;...`), are served beside devstoreaccount1 (which that variable alone would
    replace), path-style: `http://<host>:<port>/<name>`."""
    ports = {"blob": 0, "queue": 0, "table": 0, **(ports or {})}
    cmd = azurite_command() + [
        "--blobHost", host, "--queueHost", host, "--tableHost", host,
        "--blobPort", str(ports["blob"]), "--queuePort", str(ports["queue"]),
        "--tablePort", str(ports["table"]),
        "--skipApiVersionCheck", "--disableTelemetry", "--loose",
    ]
    if in_memory:
        cmd.append("--inMemoryPersistence")
    else:
        location = location or PROJECT_ROOT / ".azurite"
        location.mkdir(parents=True, exist_ok=True)
        cmd += ["--location", str(location)]
    env = dict(os.environ)
    given = dict(a.split(":", 1) for a in env.get("AZURITE_ACCOUNTS", "").split(";")
                 if ":" in a)  # a user's own, from the environment (docs/data.md)
    if accounts or given:
        env["AZURITE_ACCOUNTS"] = ";".join(
            f"{name}:{key}" for name, key in {AZURITE_ACCOUNT: AZURITE_KEY, **given,
                                              **(accounts or {})}.items())
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env=env)
    found: dict[str, int] = {}
    log: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line.rstrip())
            m = _LISTENING.search(line)
            if m:
                found[m.group(1).lower()] = int(m.group(2))
                if len(found) == 3:
                    ready.set()
        ready.set()  # process ended

    threading.Thread(target=pump, daemon=True, name="azurite-log").start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.05):
        if time.monotonic() > deadline:
            break
    if len(found) != 3:
        proc.kill()
        raise AzuriteError("Azurite did not start:\n" + "\n".join(log[-20:]))
    return Azurite(process=proc, ports=found, host=host, accounts=dict(accounts or {}), _log=log)
