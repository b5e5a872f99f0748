"""What the API answers: resources, pages and errors, for the OpenAPI document.

These describe the documents the service builds (shared/resources/*.py, shared/jobs/views.py);
unlisted extra keys are allowed so a newer service stays within the contract.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

JobStatus = Literal["NotStarted", "Queued", "Preparing", "Running", "Finalizing", "Completed",
                    "Failed", "CancelRequested", "Canceled"]


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Warned(Open):
    warnings: list[str] | None = Field(
        default=None, description="fields the request carried that were accepted and ignored")


class EndpointResource(Warned):
    name: str
    type: Literal["batch_endpoint"]
    description: str
    tags: dict[str, str]
    auth_mode: Literal["key", "aad_token"]
    defaults: dict[str, str | None]
    notifications: dict[str, str]
    provisioning_state: str
    created_at: str
    updated_at: str
    scoring_uri: str = Field(description="POST here to invoke (the SDK's scoring_uri)")
    incarnation: str = Field(default="", description="new each time the name is created: "
                             "an endpoint re-created under a deleted one's name has none of "
                             "its jobs")


class DeploymentResource(Warned):
    name: str
    endpoint_name: str
    type: Literal["model"]
    description: str
    tags: dict[str, str]
    model: str
    model_name: str
    model_version: str
    scoring: dict[str, Any] | None = Field(description="the no-code scoring configuration "
                                          "(none for a scoring script)")
    code_configuration: dict[str, Any] | None = Field(
        default=None, description="the scoring script: code version, script, content sha256")
    environment: Any = Field(default=None, description="the environment as given (checked)")
    resources: dict[str, Any]
    settings: dict[str, Any]
    provisioning_state: str
    created_at: str
    updated_at: str


class ModelResource(Warned):
    name: str
    version: str
    id: str
    description: str
    tags: dict[str, str]
    type: str
    format: Literal["onnx", "folder"]
    size_bytes: int
    sha256: str
    path: str
    signature: dict[str, Any] | None = Field(description="inputs and outputs of its ONNX file "
                                            "(none: a folder only scripts can score)")
    created_at: str


class CodeResource(Open):
    name: str
    version: str
    id: str
    sha256: str
    size_bytes: int
    files: list[str]
    path: str
    created_at: str


class DatastoreResource(Warned):
    name: str
    type: Literal["azure_blob", "azure_data_lake_gen2"]
    account_name: str
    container_name: str | None = None
    filesystem: str | None = None
    endpoint: str | None = None
    protocol: str | None = None
    credentials: dict[str, str] | None = Field(
        default=None, description="the kind only (account_key, sas or none): never the secret")
    description: str
    is_default: bool
    tags: dict[str, str] | None = None


class DataResource(Warned):
    name: str
    version: str
    id: str = Field(description="azureml:<name>:<version>")
    type: Literal["uri_folder", "uri_file"]
    path: str
    description: str
    tags: dict[str, str]
    creation_context: dict[str, Any]


class JobResource(Warned):
    name: str
    id: str
    type: Literal["batch_job"]
    status: JobStatus
    endpoint_name: str
    deployment_name: str
    model: str
    started_by: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    settings: dict[str, Any]
    progress: dict[str, Any]
    creation_context: dict[str, Any]
    started_at: str | None = None
    ended_at: str | None = None
    error: dict[str, Any] | None = None
    links: dict[str, str]
    endpoint_incarnation: str | None = Field(default=None, description="the incarnation of "
                                             "the endpoint that ran the job")
    properties: dict[str, Any] = Field(
        description="Azure ML's REST shape: status, InputData, OutputData")


class TimelinePoint(Open):
    at: str
    succeeded: int
    failed: int
    canceled: int


class JobTimeline(Open):
    started_at: str
    ended_at: str | None
    total: int | None
    points: list[TimelinePoint]


class OutputFile(Open):
    name: Literal["score", "errors", "summary"]
    file: str
    path: str
    size: int


class OutputListing(Open):
    value: list[OutputFile]


class OutputPreview(Open):
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    truncated: bool | None = None
    document: dict[str, Any] | None = None


class RejectedDrop(Open):
    container: str | None
    blob: str | None
    etag: str | None
    reason: str | None
    source: str | None
    at: str | None


class EventResend(Open):
    job: str
    status: JobStatus
    resending_to: list[str]


class EndpointDeleted(Open):
    deleted: str
    deleted_deployments: list[str]


class ErrorDetail(Open):
    code: str
    message: str = Field(description="'field: rule' for validation errors")
    target: str | None = Field(default=None, description="the field at fault")
    job_status: str | None = Field(default=None, description="the job's state, when that "
                                   "state refuses the request (a 409 to cancel an ended job)")


class Error(Open):
    error: ErrorDetail


class PreviewError(Open):
    file_name: str
    row: int | None
    reason: str


class PreviewResult(Open):
    """The rows the deployment would write, and each item that failed."""

    endpoint: str
    deployment: str
    model: str
    columns: list[str]
    rows: list[list[Any]] = Field(description="one list per row, in `columns` order")
    errors: list[PreviewError]


class DatastoreFile(Open):
    name: str
    size: int | None
    last_modified: str | None


class DatastoreListing(Open):
    """One level of a datastore's container."""

    datastore: str
    prefix: str
    folders: list[str]
    files: list[DatastoreFile]
    truncated: bool = Field(description="more entries exist than one listing returns")


class UploadedFile(Open):
    """A file put into a datastore, and the path a job or a preview can name it by."""

    datastore: str
    path: str
    size: int
    uri: str


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    """`{"value": [...], "nextLink": ...}`, as Azure's list APIs answer."""
    return create_model(
        f"{item.__name__.removesuffix('Resource')}Page", __base__=Open,
        value=(list[item], ...),
        nextLink=(str | None, Field(default=None, description="the next page; absent on the "
                                    "last (repeats the query with a $skiptoken)")))
