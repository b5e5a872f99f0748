"""One exception tree for the whole service, and the one place that tells retryable failures
from permanent ones.

    BatchEndpointError                  root: anything this project raises on purpose
    ├── ClientError                     the caller can fix it (4xx)
    │   ├── ValidationError (400)       a field broke a rule; names the field and the rule
    │   │   └── InvalidModelError (400) bytes that ONNX Runtime cannot load as a model
    │   ├── AuthError (401)             no or a bad key or token for this endpoint
    │   ├── ForbiddenError (403)        a valid token whose principal is not allowed
    │   ├── NotFoundError (404)         unknown endpoint, deployment, model, job, output
    │   ├── ConflictError (409)         taken name+version, deleting something in use
    │   │   └── JobStateConflict (409)  a job's state refuses the request (cancel once ended)
    │   ├── PreconditionFailedError (412)  If-None-Match / If-Match of a PUT not met
    │   └── PayloadTooLargeError (413)  a request over a documented size bound
    ├── ConfigError (500)               a missing or invalid app setting: the operator's
    │                                   problem, never reported as the caller's
    ├── DeadlineError (504)             synchronous work (a preview) over its time budget
    ├── UnavailableError (503)          a service we depend on (Entra ID's keys) is unreachable
    ├── Rejected                        a dropped blob that cannot become a job
    ├── IllegalTransition               an event the job state machine forbids (a bug)
    └── RetryableError                  try again later: the queue redelivers
        ├── StorageUnavailableError (503)  Azure Storage (or Azurite) could not be reached
        ├── ConcurrentUpdate            someone else changed the row first (HTTP 412)
        │   └── ContentionError         ...on every one of a bounded number of attempts
        └── EventDeliveryError          a job event target refused or was unreachable

Scoring has its own errors (scoring/errors.py) and imports nothing from here; `scoring_rules()`
turns its config and model errors into ValidationError / InvalidModelError where a request
meets scoring. ItemError and MiniBatchTimeoutError are re-exported: a mini-batch time-out is
retryable, an item error is recorded and never raised further.

HTTP handlers map `status` to the response code; everything else is a 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from scoring.errors import (
    InvalidModel,
    ItemError,
    MiniBatchTimeoutError,
    ScoringConfigError,
    ScoringError,
)

__all__ = [
    "AuthError", "BatchEndpointError", "ClientError", "ConcurrentUpdate", "ConfigError",
    "ConflictError", "ContentionError", "DeadlineError", "EventDeliveryError",
    "ForbiddenError", "IllegalTransition", "InvalidModelError", "ItemError", "JobStateConflict",
    "MiniBatchTimeoutError", "NotFoundError", "PayloadTooLargeError",
    "PreconditionFailedError", "Rejected",
    "RetryableError", "StorageUnavailableError", "UnavailableError", "ValidationError",
    "is_retryable", "scoring_rules",
]


class BatchEndpointError(Exception):
    """Root of every error this project raises on purpose."""

    status = 500
    code = "InternalError"

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": str(self)}}


class ClientError(BatchEndpointError):
    status = 400
    code = "BadRequest"


class ValidationError(ClientError, ScoringConfigError):
    """A request field broke a rule. The message names both."""

    code = "ValidationError"

    def __init__(self, field: str, rule: str):
        ScoringConfigError.__init__(self, field, rule)

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["target"] = self.field
        return body


class InvalidModelError(ValidationError):
    code = "InvalidModel"


class AuthError(ClientError):
    """No or a bad credential. `bearer`: the route takes Entra ID tokens, so the 401 carries
    a Bearer challenge (blueprints/http_util.py); `token_given`: a token was sent and refused,
    which the challenge calls invalid_token (RFC 6750 section 3.1)."""

    status = 401
    code = "Unauthorized"

    def __init__(self, message: str, *, bearer: bool = False, token_given: bool = False):
        super().__init__(message)
        self.bearer = bearer
        self.token_given = token_given


class ForbiddenError(ClientError):
    status = 403
    code = "Forbidden"


class PayloadTooLargeError(ClientError):
    status = 413
    code = "PayloadTooLarge"


class DeadlineError(BatchEndpointError):
    status = 504
    code = "DeadlineExceeded"


class UnavailableError(BatchEndpointError):
    status = 503
    code = "ServiceUnavailable"


class NotFoundError(ClientError):
    status = 404
    code = "NotFound"


class ConflictError(ClientError):
    status = 409
    code = "Conflict"


class JobStateConflict(ConflictError):
    """The job's state refuses the request; the answer names the state (`job_status`)."""

    def __init__(self, message: str, job_status: str):
        super().__init__(message)
        self.job_status = job_status

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["job_status"] = self.job_status
        return body


class PreconditionFailedError(ClientError):
    """A conditional PUT whose condition does not hold: nothing was written."""

    status = 412
    code = "PreconditionFailed"


class ConfigError(BatchEndpointError):
    """An app setting is missing or invalid; the message names it."""

    code = "ConfigurationError"


class Rejected(BatchEndpointError):
    """A drop that cannot become a job; recorded with its reason where users look."""


class IllegalTransition(BatchEndpointError):
    """The job state machine has no such move; raised instead of guessing."""


class RetryableError(BatchEndpointError):
    """A passing failure: the same work done again later may succeed."""

    status = 503
    code = "TryAgain"


class StorageUnavailableError(RetryableError):
    code = "StorageUnavailable"


class ConcurrentUpdate(RetryableError):
    """Someone else changed the row first (HTTP 412): read again and retry."""


class ContentionError(ConcurrentUpdate):
    """Every one of a bounded number of attempts lost to a concurrent writer."""


class EventDeliveryError(RetryableError):
    """A job event could not be delivered to one of its targets."""


@contextlib.contextmanager
def scoring_rules() -> Iterator[None]:
    """Scoring's config and model errors, as the caller's 400s (the scoring boundary)."""
    try:
        yield
    except ValidationError:
        raise
    except ScoringConfigError as e:
        kind = InvalidModelError if isinstance(e, InvalidModel) else ValidationError
        raise kind(e.field, e.rule) from e


_RETRYABLE_STATUS = {408, 412, 429, 500, 502, 503, 504}


def is_retryable(error: BaseException) -> bool:
    """True for failures worth trying again (storage faults, contention, time-outs)."""
    if isinstance(error, MiniBatchTimeoutError):
        return True
    if isinstance(error, BatchEndpointError | ScoringError):
        return isinstance(error, RetryableError)
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    if isinstance(error, HttpResponseError):
        return error.status_code is None or error.status_code in _RETRYABLE_STATUS
    return isinstance(error, ConnectionError | TimeoutError)
