"""A job's outputs — predictions, errors.csv, job_summary.json — are one unit owned by that
job: each blob's metadata `batch_job` names the job that wrote it.

Invoke refuses a folder holding another job's outputs (409) unless the caller asked to
overwrite them (`outputs.score.overwrite`); the aggregator checks every write again, since
two jobs invoked at the same time both pass invoke's check. Each write is conditional on
the version the check saw (or on there being none), so a job that wrote in between is seen,
not overwritten: the write raises `OutputTaken` and the next delivery checks again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient

from shared.errors import RetryableError

OWNER = "batch_job"  # the metadata key naming the job that wrote an output


class OutputTaken(RetryableError):
    """An output changed between the owner check and the write: check again."""


def owner_of(blob: BlobClient) -> str | None:
    """The job that wrote `blob` ('' for a blob no job wrote), None when there is no blob."""
    try:
        return blob.get_blob_properties().metadata.get(OWNER, "")
    except ResourceNotFoundError:
        return None


def write_conditions(blob: BlobClient, job_name: str, overwrite: bool) -> dict[str, Any] | None:
    """Keyword arguments that make a write of `blob` by `job_name` replace only the version
    checked here; None when another job owns it and overwriting was not asked for."""
    try:
        props = blob.get_blob_properties()
    except ResourceNotFoundError:
        return {"match_condition": MatchConditions.IfMissing}
    if props.metadata.get(OWNER) != job_name and not overwrite:
        return None
    return {"etag": props.etag, "match_condition": MatchConditions.IfNotModified}


def taken_message(container: str, blob: BlobClient) -> str:
    owner = owner_of(blob)
    by = f" (written by job {owner})" if owner else ""
    return f"output file {container}/{blob.blob_name} already exists{by}"


@contextmanager
def guarded(blob: BlobClient) -> Iterator[None]:
    """A conditional write that found the blob changed since its check raises OutputTaken."""
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError) as e:
        raise OutputTaken(f"output file {blob.container_name}/{blob.blob_name} was written "
                          "by someone else meanwhile; checking its owner again") from e
