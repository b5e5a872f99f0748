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
TABLE_JOBS_BY_TIME = "jobsbytime"  # the jobs index, newest first (jobs/jobindex.py)
TABLE_PREVIOUS_JOB_INDEX = "jobindex"  # read once, to backfill the one above
TABLE_SECRETS = "secrets"  # encrypted: shared/secrets.py
TABLE_DATA = "data"  # data assets

DEFAULT_DATASTORE = "workspaceblobstore"

# What a job writes beside its predictions, in the same folder: no output_file_name may be
# one of these (compared case-insensitively, as a download to a case-insensitive disk would).
ERRORS_FILE = "errors.csv"
SUMMARY_FILE = "job_summary.json"
SIDE_FILES = (ERRORS_FILE, SUMMARY_FILE)
# Containers no user location may name (a datastore, an input, an output): the service's
# state, the Flex Consumption deployment package (infra/main.bicep), the inbox's Event Grid
# dead letters (infra/app/inbox-events.bicep), and the Functions host's own (keys, locks,
# blob-trigger receipts: `azure-webjobs-*`; Kudu's `scm-*`). Queue names are listed too: a
# storage account's names are read as one namespace by people, and a datastore named like a
# queue is a mistake.
DEPLOYMENT_CONTAINER = "app-package"
DEADLETTER_CONTAINER = "inbox-deadletter"
_INTERNAL_PREFIXES = ("azure-webjobs-", "webjobs-", "scm-", f"{DEPLOYMENT_CONTAINER}-")


def internal_container(name: str) -> bool:
    """True for a container the service or the Functions host keeps its own state in."""
    from shared.messages import ALL_QUEUES, poison

    internal = {MODELS_CONTAINER, JOBS_CONTAINER, CODE_CONTAINER, DEPLOYMENT_CONTAINER,
                DEADLETTER_CONTAINER, *ALL_QUEUES, *(poison(q) for q in ALL_QUEUES)}
    return name in internal or name.startswith(_INTERNAL_PREFIXES)


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


def watched_containers() -> set[str]:
    """Containers a trigger starts jobs from (the blob trigger and Event Grid both feed the
    inbox): no job may write its outputs there, or its outputs would start another job."""
    return {inbox_container()}


def drop_quiet_seconds() -> int:
    """How long a folder must see no new file before its arrivals become one job."""
    return int(os.environ.get("BATCH_DROP_QUIET_SECONDS", "30"))


def drop_output_datastore() -> str:
    return os.environ.get("BATCH_DROP_OUTPUT_DATASTORE", DEFAULT_DATASTORE)
