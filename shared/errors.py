"""One exception tree for the whole service.

    BatchEndpointError                 root: anything this project raises on purpose
    ├── ValidationError (400)          a field broke a rule; names the field and the rule
    │   └── InvalidModelError (400)    bytes that ONNX Runtime cannot load as a model
    ├── AuthError (401)                no or a bad key or token for this endpoint
    ├── ForbiddenError (403)           a valid token whose principal is not allowed
    ├── NotFoundError (404)            unknown endpoint, deployment, model, job, output
    ├── ConflictError (409)            taken name+version, deleting something in use
    ├── PayloadTooLargeError (413)     a request over a documented size bound
    ├── DeadlineError (504)            synchronous work (a preview) over its time budget
    ├── UnavailableError (503)         a service we depend on (Entra ID's keys) is unreachable
    ├── MiniBatchTimeoutError          a mini-batch ran past retry_settings.timeout
    ├── ItemError                      one input item failed (corrupt file, bad row);
    │                                  recorded in the errors file, never fails a mini-batch
    └── StorageUnavailableError (503)  Azure Storage (or Azurite) could not be reached

HTTP handlers map `status` to the response code; everything else is a 500.
"""

from __future__ import annotations


class BatchEndpointError(Exception):
    """Root of every error this project raises on purpose."""

    status = 500
    code = "InternalError"

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": str(self)}}


class ValidationError(BatchEndpointError):
    """A request field broke a rule. The message names both."""

    status = 400
    code = "ValidationError"

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")

    def to_dict(self) -> dict:
        body = super().to_dict()
        body["error"]["target"] = self.field
        return body


class InvalidModelError(ValidationError):
    code = "InvalidModel"


class AuthError(BatchEndpointError):
    status = 401
    code = "Unauthorized"


class ForbiddenError(BatchEndpointError):
    status = 403
    code = "Forbidden"


class PayloadTooLargeError(BatchEndpointError):
    status = 413
    code = "PayloadTooLarge"


class DeadlineError(BatchEndpointError):
    status = 504
    code = "DeadlineExceeded"


class UnavailableError(BatchEndpointError):
    status = 503
    code = "ServiceUnavailable"


class NotFoundError(BatchEndpointError):
    status = 404
    code = "NotFound"


class ConflictError(BatchEndpointError):
    status = 409
    code = "Conflict"


class ItemError(BatchEndpointError):
    """One input item (file or row) failed; the reason goes to the errors file."""

    code = "ItemFailed"


class StorageUnavailableError(BatchEndpointError):
    status = 503
    code = "StorageUnavailable"


class MiniBatchTimeoutError(BatchEndpointError):
    """A mini-batch ran past `retry_settings.timeout`; the attempt fails and is retried."""

    code = "MiniBatchTimeout"
