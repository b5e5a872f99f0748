"""Deployment settings with Azure ML's names and defaults, and per-job overrides.

The request shapes (nested `settings:` or the older root-level layout, job overrides) are
validated by shared/resources/schemas; here they resolve to one frozen `DeploymentSettings`,
which a job copies (plus its overrides) when it starts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.errors import ValidationError

MAX_FILES = 1000
MAX_ROWS = 10_000_000
MIN_BYTES, MAX_BYTES = 1024, 256 * 1024 * 1024  # a range is read whole into one worker
_UNITS = {"kb": 1024, "mb": 1024 ** 2, "gb": 1024 ** 3}
_SIZE = re.compile(r"\s*([0-9]{1,9}(?:\.[0-9]{1,3})?)\s*(kb|mb|gb|rows?)\s*",
                   re.I | re.ASCII)
MINI_BATCH_RULE = (f"must be a number of files (1-{MAX_FILES}), or for tabular deployments a "
                   f"size of input per mini-batch ('512KB', '10MB', '1GB'; 1KB-256MB) or a "
                   f"number of rows ('50000 rows'; 1-{MAX_ROWS})")


@dataclass(frozen=True)
class Batching:
    """What `mini_batch_size` means: files per mini-batch (Azure ML's file inputs), or, for
    tables, input bytes per mini-batch (Azure ML's tabular form) or rows per mini-batch."""

    unit: str  # files | bytes | rows
    amount: int

    @property
    def files(self) -> bool:
        return self.unit == "files"


def batching(value: int | str) -> Batching:
    """Parse a `mini_batch_size`; ValueError(MINI_BATCH_RULE) when it breaks the rule."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= MAX_FILES:
            return Batching("files", value)
        raise ValueError(MINI_BATCH_RULE)
    m = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise ValueError(MINI_BATCH_RULE)
    number, unit = float(m.group(1)), m.group(2).lower()
    if unit.startswith("row"):
        if number != int(number) or not 1 <= number <= MAX_ROWS:
            raise ValueError(MINI_BATCH_RULE)
        return Batching("rows", int(number))
    size = int(number * _UNITS[unit])
    if not MIN_BYTES <= size <= MAX_BYTES:
        raise ValueError(MINI_BATCH_RULE)
    return Batching("bytes", size)


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int = 3
    timeout: int = 30  # seconds per mini-batch attempt


@dataclass(frozen=True)
class DeploymentSettings:
    instance_count: int = 1
    max_concurrency_per_instance: int = 1
    mini_batch_size: int | str = 10  # see Batching
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


def check_batching(value: int | str, tabular: bool, field: str) -> None:
    """Sizes and rows split tables: refused (400) for deployments that read other files."""
    if not tabular and not batching(value).files:
        raise ValidationError(field, f"'{value}' is a size or a number of rows, which only "
                              "tabular deployments (scoring.input.type tabular) take; give a "
                              f"number of files (1-{MAX_FILES})")


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
