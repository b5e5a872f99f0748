"""Deployment settings with Azure ML's names and defaults, and per-job overrides.

The request shapes (nested `settings:` or the older root-level layout, job overrides) are
validated by shared/resources/schemas; here they resolve to one frozen `DeploymentSettings`,
which a job copies (plus its overrides) when it starts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


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


def apply_overrides(base: DeploymentSettings, values: dict[str, Any]) -> DeploymentSettings:
    """`base` with the given (already validated) settings replaced; `retry_settings` merges
    key by key, so overriding `max_retries` keeps the deployment's `timeout`."""
    changes = {k: v for k, v in values.items() if v is not None}
    if "retry_settings" in changes:
        retry = {k: v for k, v in changes["retry_settings"].items() if v is not None}
        changes["retry_settings"] = replace(base.retry_settings, **retry)
    if "environment_variables" in changes:
        changes["environment_variables"] = {
            k: str(v) for k, v in changes["environment_variables"].items()}
    return replace(base, **changes)
