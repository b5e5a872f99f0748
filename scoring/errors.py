"""Scoring's own errors: scoring/ depends on nothing of shared/, which maps these at its
boundary (shared/errors.py builds its tree on them)."""

from __future__ import annotations


class ScoringError(Exception):
    """Root of what scoring raises on purpose."""


class ScoringConfigError(ScoringError):
    """A scoring configuration field (or model) broke a rule; names both."""

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class InvalidModel(ScoringConfigError):
    """Bytes that ONNX Runtime cannot load as a model."""


class ItemError(ScoringError):
    """One input item (file or row) failed; the reason goes to the errors file."""

    code = "ItemFailed"


class MiniBatchTimeoutError(ScoringError):
    """A mini-batch ran past `retry_settings.timeout`; the attempt fails and is retried.
    `logs`: what a scoring script logged before it was killed."""

    code = "MiniBatchTimeout"

    def __init__(self, message: str, logs: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.logs = logs or []


class ScriptError(ScoringError):
    """A scoring script's init() or run() raised, or its process died: the mini-batch
    attempt fails (and is retried) with the traceback and what the script logged."""

    code = "ScriptFailed"

    def __init__(self, message: str, traceback: str, logs: list[dict[str, str]]):
        super().__init__(message)
        self.traceback = traceback
        self.logs = logs
