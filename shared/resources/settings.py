"""Deployment settings with Azure ML's names and defaults, and per-job overrides.

Accepted in AML's nested `settings:` layout and in its older root-level layout. Both resolve
to one frozen `DeploymentSettings`; a job copies it (plus its overrides) when it starts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared import config, names
from shared.errors import ValidationError

OUTPUT_ACTIONS = ("append_row", "summary_only")
LOGGING_LEVELS = ("warning", "info", "debug")
SETTING_KEYS = (
    "max_concurrency_per_instance", "mini_batch_size", "output_action", "output_file_name",
    "retry_settings", "error_threshold", "logging_level", "environment_variables",
)
JOB_OVERRIDE_KEYS = (
    "mini_batch_size", "output_file_name", "error_threshold", "retry_settings",
    "instance_count", "max_concurrency_per_instance", "output_action", "logging_level",
)
_ISO_SECONDS = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$")


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 3
    timeout: int = 30  # seconds per mini-batch attempt


@dataclass(frozen=True)
class DeploymentSettings:
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    mini_batch_size: int = 10
    output_action: str = "append_row"
    output_file_name: str = "predictions.csv"
    retry_settings: RetrySettings = field(default_factory=RetrySettings)
    error_threshold: int = -1
    logging_level: str = "info"
    environment_variables: dict[str, str] = field(default_factory=dict)

    @property
    def max_in_flight(self) -> int:
        """Mini-batches of one job scored at once: AML's nodes x processes per node."""
        return self.instance_count * self.max_concurrency_per_instance

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeploymentSettings:
        return cls(**{**d, "retry_settings": RetrySettings(**d["retry_settings"])})


def parse_deployment_settings(body: dict[str, Any]) -> DeploymentSettings:
    """Read `settings.*` (or the legacy root-level keys) and `resources.instance_count`."""
    nested = body.get("settings")
    if nested is not None and not isinstance(nested, dict):
        raise ValidationError("settings", "must be an object")
    source = dict(nested or {})
    for key in SETTING_KEYS:
        if key in body:
            if key in source:
                raise ValidationError(key, "is given both at the root and under settings")
            source[key] = body[key]
    unknown = sorted(set(source) - set(SETTING_KEYS))
    if unknown:
        raise ValidationError(f"settings.{unknown[0]}", f"is not a known setting "
                              f"(known: {', '.join(SETTING_KEYS)})")
    resources = body.get("resources") or {}
    if not isinstance(resources, dict):
        raise ValidationError("resources", "must be an object")
    if "instance_count" in resources:
        source["instance_count"] = resources["instance_count"]
    return apply_overrides(DeploymentSettings(), source, prefix="settings.")


def apply_overrides(
    base: DeploymentSettings, values: dict[str, Any], prefix: str = ""
) -> DeploymentSettings:
    """Return `base` with the given settings replaced, each one validated."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = prefix + key
        if key == "instance_count" or key == "max_concurrency_per_instance":
            changes[key] = _int(value, name, 1, 64)
        elif key == "mini_batch_size":
            changes[key] = _int(value, name, 1, config.MAX_MINI_BATCH_SIZE)
        elif key == "error_threshold":
            changes[key] = _int(value, name, -1, 2**31 - 1)
        elif key == "output_action":
            changes[key] = _choice(value, name, OUTPUT_ACTIONS)
        elif key == "logging_level":
            changes[key] = _choice(str(value).lower(), name, LOGGING_LEVELS)
        elif key == "output_file_name":
            changes[key] = names.output_file_name(value, name)
        elif key == "retry_settings":
            changes[key] = _retry(value, name, base.retry_settings)
        elif key == "environment_variables":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
            ):
                raise ValidationError(name, "must be a map of names to strings")
            changes[key] = {k: str(v) for k, v in value.items()}
        else:
            raise ValidationError(name, "cannot be overridden")
    return replace(base, **changes)


def _retry(value: Any, name: str, base: RetrySettings) -> RetrySettings:
    if not isinstance(value, dict):
        raise ValidationError(name, "must be an object with max_retries and/or timeout")
    unknown = sorted(set(value) - {"max_retries", "timeout"})
    if unknown:
        raise ValidationError(f"{name}.{unknown[0]}", "is not a retry setting")
    max_retries = base.max_retries
    timeout = base.timeout
    if value.get("max_retries") is not None:
        max_retries = _int(value["max_retries"], f"{name}.max_retries", 0, 10)
    if value.get("timeout") is not None:
        timeout = _seconds(value["timeout"], f"{name}.timeout")
    return RetrySettings(max_retries=max_retries, timeout=timeout)


def _seconds(value: Any, name: str) -> int:
    """Seconds as an integer or ISO 8601 (`PT30S`, as AML's REST API sends them)."""
    if isinstance(value, str):
        m = _ISO_SECONDS.match(value.strip().upper())
        if value.strip().isdigit():
            value = int(value)
        elif m and any(m.groups()):
            h, mi, s = m.groups()
            value = int(h or 0) * 3600 + int(mi or 0) * 60 + round(float(s or 0))
        else:
            raise ValidationError(name, "must be seconds (e.g. 30) or ISO 8601 (e.g. PT30S)")
    # Azure Functions' functionTimeout caps one run at 10 minutes.
    return _int(value, name, 1, 600)


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        else:
            raise ValidationError(name, f"must be an integer from {low} to {high}")
    if not low <= value <= high:
        raise ValidationError(name, f"must be an integer from {low} to {high}")
    return value


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationError(name, f"must be one of: {', '.join(choices)}")
    return value
