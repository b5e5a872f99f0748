"""App settings the service reads (environment variables, as the Functions host sets them)."""

from __future__ import annotations

import os

# Containers and tables the service owns.
MODELS_CONTAINER = "batch-models"
JOBS_CONTAINER = "batch-jobs"
CODE_CONTAINER = "batch-code"
TABLE_MODELS = "models"
TABLE_CODES = "codes"
TABLE_DATASTORES = "datastores"
TABLE_ENDPOINTS = "endpoints"
TABLE_DEPLOYMENTS = "deployments"
TABLE_JOBS = "jobs"
TABLE_JOB_INDEX = "jobindex"

DEFAULT_DATASTORE = "workspaceblobstore"

# Bounds: an HTTP request body on Azure Functions is capped at 100 MB; ONNX protobufs at 2 GB.
MAX_MODEL_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_MODEL_BLOB_BYTES = 2 * 1024 * 1024 * 1024 - 1
MAX_CODE_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_MINI_BATCH_SIZE = 1000
MAX_INPUT_FILE_BYTES = 256 * 1024 * 1024


def default_datastore_container() -> str:
    return os.environ.get("BATCH_DEFAULT_DATASTORE_CONTAINER", DEFAULT_DATASTORE)


# Event-driven jobs (blob drops and Event Grid).
INBOX_DATASTORE = "inbox"
TABLE_DROPS = "drops"
TABLE_REJECTED_DROPS = "droprejects"


def inbox_container() -> str:
    return os.environ.get("BATCH_INBOX_CONTAINER", "inbox")


def drop_quiet_seconds() -> int:
    """How long a folder must see no new file before its arrivals become one job."""
    return int(os.environ.get("BATCH_DROP_QUIET_SECONDS", "30"))


def drop_output_datastore() -> str:
    return os.environ.get("BATCH_DROP_OUTPUT_DATASTORE", DEFAULT_DATASTORE)
