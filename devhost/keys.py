"""Function, master and system keys, generated on first run and kept in .devhost/keys.json
(git-ignored), as the real host keeps them in `azure-webjobs-secrets`."""

from __future__ import annotations

import hmac
import json
import os
import secrets
from pathlib import Path


def path(project_dir: Path) -> Path:
    return project_dir / ".devhost" / "keys.json"


def _new() -> str:
    return secrets.token_urlsafe(40)


def ensure(project_dir: Path) -> dict:
    file = path(project_dir)
    if file.exists():
        return json.loads(file.read_text())
    file.parent.mkdir(parents=True, exist_ok=True)
    keys = {
        "masterKey": _new(),
        "functionKeys": {"default": _new()},
        "systemKeys": {"eventgrid_extension": _new(), "blobs_extension": _new()},
    }
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(keys, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(file)
    return keys


def load(project_dir: Path) -> dict:
    return json.loads(path(project_dir).read_text())


def presented(headers, query) -> str:
    """The key a request carries: header `x-functions-key`, else query `code`."""
    return headers.get("x-functions-key") or query.get("code") or ""


def accepts(keys: dict, key: str, level: str) -> bool:
    """`anonymous`: anything; `function`: a function key or the master key; `admin`: the
    master key; `system:<name>` (a runtime webhook): that system key or the master key."""
    if level == "anonymous":
        return True
    allowed = [keys["masterKey"]]
    if level == "function":
        allowed += list(keys["functionKeys"].values())
    elif level.startswith("system:"):
        allowed.append(keys["systemKeys"][level.removeprefix("system:")])
    return bool(key) and any(hmac.compare_digest(key, k) for k in allowed)
