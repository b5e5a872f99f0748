"""host.json + local.settings.json + app-setting overrides, as the real host reads them."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _timespan(value: Any, default: float) -> float:
    """A .NET TimeSpan ('00:00:02', '1.00:00:00') or a number of seconds → seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    days = 0.0
    if text.count(":") == 2 and "." in text.split(":")[0]:  # d.hh:mm:ss
        d, _, text = text.partition(".")
        days = float(d)
    parts = [float(p) for p in text.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    h, m, s = parts[-3:]
    return days * 86400 + h * 3600 + m * 60 + s


def _function_timeout(value: Any) -> float | None:
    """Outside Consumption (and locally) the host defaults to 30 min; "-1" means no limit."""
    if value is not None and str(value).strip() in ("-1", "-1.00:00:00"):
        return None
    return max(1.0, _timespan(value, 1800.0))


@dataclass(frozen=True)
class QueueSettings:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 2.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"


@dataclass(frozen=True)
class HostConfig:
    project_dir: Path
    route_prefix: str = "api"
    function_timeout: float | None = 1800.0  # None: no limit ("-1")
    queues: QueueSettings = field(default_factory=QueueSettings)
    poison_blob_threshold: int = 5
    values: dict[str, str] = field(default_factory=dict)
    http_port: int = 7071
    host_id: str = "devhost"


def _override(host: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    """`AzureFunctionsJobHost__extensions__queues__batchSize=4` overrides host.json."""
    prefix = "AzureFunctionsJobHost__"
    for key, value in env.items():
        if not key.startswith(prefix):
            continue
        path = key[len(prefix):].split("__")
        target = host
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return host


def load(project_dir: Path, env: dict[str, str] | None = None) -> HostConfig:
    project_dir = project_dir.resolve()
    settings_path = project_dir / "local.settings.json"
    sample = project_dir / "local.settings.sample.json"
    if not settings_path.exists() and sample.exists():
        shutil.copy(sample, settings_path)
    settings = json.loads(settings_path.read_text()) if settings_path.exists() else {}
    values = {k: str(v) for k, v in (settings.get("Values") or {}).items()}
    merged_env = {**values, **(env if env is not None else os.environ)}
    host_path = project_dir / "host.json"
    host = json.loads(host_path.read_text()) if host_path.exists() else {}
    host = _override(host, merged_env)
    ext = host.get("extensions") or {}
    q = ext.get("queues") or {}
    batch = max(1, min(32, int(q.get("batchSize", 16))))
    cores = os.cpu_count() or 1
    queues = QueueSettings(
        batch_size=batch,
        new_batch_threshold=int(q.get("newBatchThreshold", (batch // 2) * cores)),
        # Local runs are "development": the real host caps polling at 2 s there.
        max_polling_interval=_timespan(q.get("maxPollingInterval"), 2.0),
        visibility_timeout=_timespan(q.get("visibilityTimeout"), 0.0),
        max_dequeue_count=int(q.get("maxDequeueCount", 5)),
        message_encoding=str(q.get("messageEncoding", "base64")).lower(),
    )
    prefix = (ext.get("http") or {}).get("routePrefix", "api")
    host_id = merged_env.get("AzureFunctionsWebHost__hostid") or re.sub(
        r"[^a-z0-9-]", "", project_dir.name.lower())[:32] or "devhost"
    return HostConfig(
        project_dir=project_dir,
        route_prefix=str(prefix).strip("/"),
        function_timeout=_function_timeout(host.get("functionTimeout")),
        queues=queues,
        poison_blob_threshold=int((ext.get("blobs") or {}).get("poisonBlobThreshold", 5)),
        values=values,
        http_port=int((settings.get("Host") or {}).get("LocalHttpPort", 7071)),
        host_id=host_id,
    )


def resolve(text: str) -> str:
    """Binding expressions `%AppSetting%` are read from the app settings (environment)."""

    def setting(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise KeyError(f"app setting '{m.group(1)}' (used as %{m.group(1)}%) is not set")
        return value

    return re.sub(r"%([^%]+)%", setting, text)
