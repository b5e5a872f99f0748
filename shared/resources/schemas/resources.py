"""Bodies of PUT /endpoints, /deployments, /models (JSON) and /datastores.

Field names are Azure ML's YAML names, so an `endpoint.yml` / `deployment.yml` carries over.
Read-only fields a GET returns may be sent back (a document round-trips); they are ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic_core import PydanticCustomError

from shared import config
from shared.resources import settings
from shared.resources.schemas.base import Strict, ignored
from shared.resources.schemas.limits import (
    MAX_TAG_VALUE,
    Description,
    Int,
    Name,
    PathText,
    TagKey,
    Tags,
)
from shared.resources.schemas.scoring import Scoring

_ISO_SECONDS = re.compile(
    r"PT(?:([0-9]{1,5})H)?(?:([0-9]{1,5})M)?(?:([0-9]{1,7}(?:\.[0-9]{1,6})?)S)?")
_READ_ONLY = "read-only; set by the service"


def _seconds(value: Any) -> int:
    """Seconds as an integer or ISO 8601 (`PT30S`, as Azure ML's REST API sends them)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("seconds", "must be seconds (e.g. 30) or ISO 8601 (e.g. PT30S)")
    if isinstance(value, str):
        if not value.isascii():  # other digits ('١') and letters that upper-case to 'S' ('ſ')
            raise PydanticCustomError("seconds", "must be seconds (e.g. 30) or ISO 8601 (e.g. "
                                      "PT30S), in ASCII digits and letters")
        text = value.strip().upper()
        m = _ISO_SECONDS.fullmatch(text)
        if re.fullmatch(r"[0-9]{1,7}", text):
            value = int(text)
        elif m and any(m.groups()):
            h, mi, s = m.groups()
            value = int(h or 0) * 3600 + int(mi or 0) * 60 + round(float(s or 0))
        else:
            raise PydanticCustomError("seconds",
                                      "must be seconds (e.g. 30) or ISO 8601 (e.g. PT30S)")
    # Azure Functions' functionTimeout caps one run at 10 minutes.
    if not 1 <= value <= 600:
        raise PydanticCustomError("seconds", "must be from 1 to 600 seconds")
    return value


Seconds = Annotated[StrictInt | StrictStr, AfterValidator(_seconds)]


class RetrySettings(Strict):
    max_retries: Int(0, 10) | None = Field(
        default=None, validation_alias=AliasChoices("max_retries", "maxRetries", "MaxRetries"))
    timeout: Seconds | None = Field(
        default=None, validation_alias=AliasChoices("timeout", "Timeout"),
        description="seconds per mini-batch attempt (integer or ISO 8601, 1-600)")


def _mini_batch_size(value: Any) -> int | str:
    """Files (an integer, or digits as `--set` sends them), a size ('10MB') or rows
    ('50000 rows'); whether the deployment is tabular is checked where it is known."""
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,12}\s*", value):
        value = int(value)
    try:
        settings.batching(value)
    except ValueError as e:
        raise PydanticCustomError("mini_batch_size", str(e)) from None
    return value.strip() if isinstance(value, str) else value


MiniBatchSize = Annotated[
    StrictInt | StrictStr, BeforeValidator(_mini_batch_size),
    Field(description="files per mini-batch (1-1000, Azure ML's default 10); for tabular "
                      "deployments also a size of input per mini-batch ('512KB', '10MB', "
                      "'1GB'; 1KB-256MB, as Azure ML's tabular inputs take it) or rows per "
                      "mini-batch ('50000 rows'): large CSV and Parquet files are then split "
                      "into row ranges (docs/tabular.md)")]


def _not_a_side_file(value: str) -> str:
    """The errors file and the summary sit beside the predictions: a predictions file of
    the same name would be overwritten by them."""
    if value.lower() in config.SIDE_FILES:
        raise PydanticCustomError(
            "output_file_name", "must not be {name}: {reserved} are written beside the "
            "predictions and would overwrite them",
            {"name": value, "reserved": " and ".join(config.SIDE_FILES)})
    return value


OutputFileName = Annotated[str, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-_. ]{0,127}$"),
                           AfterValidator(_not_a_side_file)]
ErrorThreshold = Int(-1, 2**31 - 1)
Concurrency = Int(1, 64)
OutputAction = Literal["append_row", "summary_only"]
LoggingLevel = Annotated[Literal["warning", "info", "debug"],
                         BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v)]


class JobSettings(Strict):
    """What one job may override (invoke bodies); a deployment adds environment_variables."""

    mini_batch_size: MiniBatchSize | None = None
    output_file_name: OutputFileName | None = None
    error_threshold: ErrorThreshold | None = None
    retry_settings: RetrySettings | None = None
    max_concurrency_per_instance: Concurrency | None = None
    output_action: OutputAction | None = None
    logging_level: LoggingLevel | None = None


EnvValue = Annotated[StrictStr, Field(max_length=MAX_TAG_VALUE * 16)] | StrictInt | StrictFloat


EnvironmentVariables = Annotated[dict[TagKey, EnvValue], Field(max_length=100)]


class DeploymentSettings(JobSettings):
    environment_variables: EnvironmentVariables | None = None


class Resources(Strict):
    instance_count: Int(1, 64) | None = None
    instance_type: Any = ignored("no VM sizes: Functions instances scale out by themselves")
    properties: Any = ignored("no compute properties here")


class ModelRef(Strict):
    name: Name
    version: Annotated[str, Field(max_length=64)] | StrictInt | None = None
    path: Any = ignored("register the model first (PUT /models/{name}/versions/{version}); "
                        "deployments refer to registered models")
    type: Any = ignored("every model here is an ONNX custom_model")
    description: Any = ignored("describe the model when registering it")


def _script_path(value: str) -> str:
    parts = value.split("/")
    if (not value.endswith(".py") or value.startswith("/") or "\\" in value or ":" in value
            or any(p in ("", ".", "..") for p in parts)):
        raise PydanticCustomError("script", "must be a relative path to a .py file inside the "
                                  "code folder (no '..', no absolute path)")
    return value


class CodeConfiguration(Strict):
    """Azure ML's scoring script: a code folder and the script in it (docs/scoring-scripts.md)."""

    code: Annotated[str, Field(min_length=1, max_length=600)] = Field(
        description="an uploaded code version, 'azureml:<name>:<version>' (the CLI and client "
                    "upload a local folder and send its version)")
    scoring_script: Annotated[str, Field(max_length=255), AfterValidator(_script_path)] = Field(
        description="the script's path in the code folder, with init() and run(mini_batch)")
    sha256: Any = ignored(_READ_ONLY)


PackageList = Annotated[list[Annotated[StrictStr, Field(max_length=300)]], Field(max_length=500)]


class EnvironmentSpec(Strict):
    """What a script needs from the app's Python environment, checked when the deployment is
    created (shared/resources/environments.py): no image is built here."""

    name: Name | None = None
    version: Annotated[str, Field(max_length=64)] | StrictInt | None = None
    description: Description | None = None
    conda_file: dict[str, Any] | Annotated[str, Field(max_length=600)] | None = Field(
        default=None, description="a conda environment document (the CLI reads the file "
                                  "a path names and sends its content)")
    pip: PackageList | None = Field(default=None, description="pip requirements")
    image: Any = ignored("no images here: scripts run in the function app's own Python "
                         "environment (docs/scoring-scripts.md)")
    build: Any = ignored("no image builds here: scripts run in the function app's own Python "
                         "environment")
    inference_config: Any = ignored("no inference server here")
    tags: Tags | None = None


class DeploymentBody(Strict):
    """PUT /endpoints/{e}/deployments/{d}. Settings may be nested under `settings:` or, as in
    Azure ML's older layout, at the root (not both for one setting)."""

    schema_: Any = Field(default=None, alias="$schema", description="YAML schema reference")
    name: Name | None = None
    endpoint_name: Name | None = None
    type: Literal["model"] | None = None
    description: Description | None = None
    tags: Tags | None = None
    model: Annotated[str, Field(min_length=1, max_length=600)] | ModelRef
    scoring: Scoring | None = None
    code_configuration: CodeConfiguration | None = None
    environment: EnvironmentSpec | Annotated[str, Field(max_length=600)] | None = None
    resources: Resources | None = None
    settings: DeploymentSettings | None = None
    # the legacy root-level layout
    mini_batch_size: MiniBatchSize | None = None
    output_file_name: OutputFileName | None = None
    error_threshold: ErrorThreshold | None = None
    retry_settings: RetrySettings | None = None
    max_concurrency_per_instance: Concurrency | None = None
    output_action: OutputAction | None = None
    logging_level: LoggingLevel | None = None
    environment_variables: EnvironmentVariables | None = None
    # accepted from Azure ML documents, meaningless here
    compute: Any = ignored("no compute clusters: Functions instances score mini-batches")
    properties: Any = ignored("free-form deployment properties are not used")
    # what a GET returns
    id: Any = ignored(_READ_ONLY)
    model_name: Any = ignored(_READ_ONLY)
    model_version: Any = ignored(_READ_ONLY)
    provisioning_state: Any = ignored(_READ_ONLY)
    created_at: Any = ignored(_READ_ONLY)
    updated_at: Any = ignored(_READ_ONLY)
    warnings: Any = ignored(_READ_ONLY)

    def resolved_settings(self) -> settings.DeploymentSettings:
        """Azure ML's defaults with the settings given, from either layout, and
        `resources.instance_count`; a setting given in both layouts is an error."""
        from shared.errors import ValidationError

        nested = self.settings.model_dump(exclude_none=True) if self.settings else {}
        root = self.model_dump(include=set(DeploymentSettings.model_fields), exclude_none=True)
        both = sorted(set(nested) & set(root))
        if both:
            raise ValidationError(both[0], "is given both at the root and under settings")
        source = {**nested, **root}
        if self.resources and self.resources.instance_count is not None:
            source["instance_count"] = self.resources.instance_count
        return settings.apply_overrides(settings.DeploymentSettings(), source)


class Defaults(Strict):
    deployment_name: Name | None = None


class Notifications(Strict):
    webhook_url: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, description="http(s) URL that job-ended CloudEvents are POSTed to; "
        "loopback, private, link-local and metadata addresses are refused")


class EndpointBody(Strict):
    """PUT /endpoints/{e}; fields left out keep their current values on an update."""

    schema_: Any = Field(default=None, alias="$schema", description="YAML schema reference")
    name: Name | None = None
    type: Literal["batch_endpoint"] | None = None
    description: Description | None = None
    tags: Tags | None = None
    auth_mode: Literal["key", "aad_token"] | None = None
    defaults: Defaults | None = None
    notifications: Notifications | None = None
    properties: Any = ignored("free-form endpoint properties are not used")
    id: Any = ignored(_READ_ONLY)
    scoring_uri: Any = ignored(_READ_ONLY)
    provisioning_state: Any = ignored(_READ_ONLY)
    incarnation: Any = ignored(_READ_ONLY)
    created_at: Any = ignored(_READ_ONLY)
    updated_at: Any = ignored(_READ_ONLY)
    warnings: Any = ignored(_READ_ONLY)


class ModelMetadata(Strict):
    """What a model registration carries besides its bytes (query parameters of an upload)."""

    description: Description | None = None
    tags: Tags | None = None
    file_name: OutputFileName | None = Field(
        default=None, description="the model file's name in AZUREML_MODEL_DIR, for scoring "
                                  "scripts (default: the uploaded file's, else model.onnx)")
    type: Literal["custom_model", "mlflow_model"] | None = Field(
        default=None, description="custom_model (an ONNX file, or a folder as a zip) or "
                                  "mlflow_model (an MLflow folder with an onnx flavor, as a zip)")


class ModelBody(ModelMetadata):
    """PUT /models/{name}/versions/{version} with a JSON body: register a blob as a model."""

    schema_: Any = Field(default=None, alias="$schema", description="YAML schema reference")
    path: PathText = Field(description="azureml://datastores/<ds>/paths/<file>.onnx, "
                           "<container>/<file> or a blob URL of the service's account")
    name: Name | None = None
    version: Annotated[str, Field(max_length=64)] | StrictInt | None = None
    type: Literal["custom_model"] | None = None


class DatastoreCredentials(Strict):
    """Azure ML's datastore credentials: an account key or a SAS token (write-only: kept
    encrypted, never answered). Service principals are not supported."""

    account_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    sas_token: Annotated[str, Field(min_length=1, max_length=4000)] | None = None
    tenant_id: Any = None  # refused with a clear message (datastores.py)
    client_id: Any = None
    client_secret: Any = None
    certificate: Any = None


class DatastoreBody(Strict):
    """PUT /datastores/{name}: a blob container (`azure_blob`) or an ADLS Gen2 filesystem
    (`azure_data_lake_gen2`, read through its blob endpoint) of the service's storage account
    or of another one, with its credentials (none: the app's identity, or a public
    container)."""

    schema_: Any = Field(default=None, alias="$schema", description="YAML schema reference")
    name: Name | None = None
    type: Literal["azure_blob", "azure_data_lake_gen2"] | None = None
    container_name: Annotated[str, Field(max_length=63)] | None = None
    filesystem: Annotated[str, Field(max_length=63)] | None = None
    account_name: Annotated[str, Field(max_length=24)] | None = None
    endpoint: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="the storage suffix, e.g. core.windows.net")
    protocol: Literal["https", "wasbs", "abfss"] | None = None
    description: Description | None = None
    tags: Tags | None = None
    credentials: DatastoreCredentials | None = None
    is_default: Any = ignored(_READ_ONLY)
    id: Any = ignored(_READ_ONLY)


class DataBody(Strict):
    """PUT /data/{name}/versions/{version}: Azure ML's data asset YAML, naming where the
    data is (a datastore path, a storage URL); a local folder is uploaded by the CLI first."""

    schema_: Any = Field(default=None, alias="$schema", description="YAML schema reference")
    name: Name | None = None
    version: Annotated[str, Field(max_length=64)] | StrictInt | None = None
    type: Literal["uri_folder", "uri_file"] = "uri_folder"
    path: PathText = Field(description="azureml://datastores/<ds>/paths/<p>, <container>/<p> "
                           "of a datastore, or a storage URL (public, or readable by the app)")
    description: Description | None = None
    tags: Tags | None = None
    id: Any = ignored(_READ_ONLY)
    creation_context: Any = ignored(_READ_ONLY)


class PreviewBody(Strict):
    """POST .../deployments/{d}/preview: up to 20 files scored at once, before a job (or the
    same files as multipart/form-data uploads)."""

    inputs: Annotated[list[Annotated[str, Field(max_length=1024)]],
                      Field(min_length=1, max_length=20)] = Field(
        description="file paths: azureml://datastores/<ds>/paths/<file>, <container>/<file> "
                    "of a datastore, or blob URLs of this service's account")


class RetryBody(Strict):
    """POST /jobs/{job}/retry: a new job over the original's failed and canceled items."""

    deployment_name: Name | None = Field(
        default=None, description="run the retry under this deployment (default: the "
                                  "original job's)")
