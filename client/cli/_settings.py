"""Where the service is and how to authenticate: flags, then environment variables, then
the config file that `bep configure` writes in the user's config directory."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

DEFAULT_URL = "http://127.0.0.1:7071/api"
ENV = {"url": "BEP_URL", "key": "BEP_KEY", "auth": "BEP_AUTH",
       "storage_connection_string": "BEP_STORAGE_CONNECTION_STRING"}
AUTH_MODES = ("key", "aad")


def config_file() -> Path:
    return Path(platformdirs.user_config_dir("bep")) / "config.json"


def read_config() -> dict[str, Any]:
    path = config_file()
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); run `bep configure` again") from None
    return doc if isinstance(doc, dict) else {}


def write_config(values: dict[str, Any]) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {**read_config(), **{k: v for k, v in values.items() if v is not None}}
    path.write_text(json.dumps(doc, indent=2) + "\n")
    path.chmod(0o600)  # it holds a key
    return path


@dataclass(frozen=True)
class Connection:
    url: str
    key: str | None
    auth: str
    storage_connection_string: str | None
    key_source: str = ""  # where the key came from, for a 401's message: "--key", "BEP_KEY", ...

    @classmethod
    def resolve(cls, **flags: str | None) -> Connection:
        config = read_config()

        def pick(name: str) -> tuple[str | None, str]:
            flag = "--" + name.replace("_", "-")
            extra = "AZURE_STORAGE_CONNECTION_STRING" \
                if name == "storage_connection_string" else ""
            for value, source in ((flags.get(name), flag),
                                  (os.environ.get(ENV[name]), ENV[name]),
                                  (os.environ.get(extra) if extra else None, extra),
                                  (config.get(name), f"the config file {config_file()}")):
                if value:
                    return value, source
            return None, ""

        auth = pick("auth")[0] or "key"
        if auth not in AUTH_MODES:
            raise ValueError(f"auth: must be one of {', '.join(AUTH_MODES)} (got '{auth}')")
        key, key_source = pick("key")
        return cls(url=pick("url")[0] or DEFAULT_URL, key=key, auth=auth,
                   storage_connection_string=pick("storage_connection_string")[0],
                   key_source=key_source)

    def credential(self) -> Any:
        """The key, or with `aad` an Entra token (plus the key when one is given too)."""
        from azure.core.credentials import AzureKeyCredential

        key = AzureKeyCredential(self.key) if self.key else None
        if self.auth == "aad":
            from azure.identity import DefaultAzureCredential

            return (key, DefaultAzureCredential()) if key else DefaultAzureCredential()
        return key
