"""Base of the operation groups: each holds the shared pipeline and builds entities."""

from __future__ import annotations

from typing import Any

from client._entities import BatchJob
from client._pipeline import Pipeline


class Operations:
    def __init__(self, pipeline: Pipeline):
        self._pipeline = pipeline

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._pipeline.request(method, path, **kwargs).json()

    def _jobs(self, path: str, **params: Any):
        return self._pipeline.pages(path, BatchJob._from_rest, params)
