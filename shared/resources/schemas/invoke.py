"""Invoke bodies (POST /endpoints/{e}/jobs), in the three shapes callers send:

- native, as `az ml batch-endpoint invoke` / the SDK's YAML take it: `inputs`, `outputs`,
  `deployment_name`, per-job settings, `params_override`;
- Azure ML's REST body, PascalCase: `properties.InputData.<n>.JobInputType/Uri`, `OutputData`;
- the azure-ai-ml SDK's wire body, camelCase: `properties.inputData.<n>.jobInputType/uri`,
  `miniBatchSize`, `outputFileName`, `errorThreshold`, `retrySettings`, `compute`,
  `outputDataset`, `name`, `properties`.
The REST spellings are aliases of one model, so both cases validate the same way.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Discriminator,
    Field,
    RootModel,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
)

from shared.resources.schemas.base import Strict, ignored
from shared.resources.schemas.limits import Int, Name, PathText
from shared.resources.schemas.resources import (
    ErrorThreshold,
    JobSettings,
    MiniBatchSize,
    OutputFileName,
    RetrySettings,
)

_DIRECT = "inputs and outputs are read and written directly in blob storage"


def _either(snake: str, pascal: str, camel: str | None = None) -> AliasChoices:
    return AliasChoices(pascal, camel or pascal[:1].lower() + pascal[1:], snake)


def _rest_kind(value: Any) -> Any:
    """JobInputType / JobOutputType, case-insensitively (the REST enum's `uri_folder` too)."""
    if isinstance(value, str):
        return {"urifolder": "UriFolder", "urifile": "UriFile",
                "literal": "Literal"}.get(value.lower().replace("_", ""), value)
    return value


RestKind = Annotated[Literal["UriFolder", "UriFile"], BeforeValidator(_rest_kind)]
RestInputKind = Annotated[Literal["UriFolder", "UriFile", "Literal"],
                          BeforeValidator(_rest_kind)]
MAX_INPUTS = 20
LITERAL_TYPES = ("number", "integer", "string", "boolean")
Scalar = StrictBool | StrictInt | StrictFloat | Annotated[str, Field(max_length=4096)]


class Overrides(JobSettings):
    """Settings one job may override (the deployment's are the defaults)."""

    instance_count: Int(1, 64) | None = None


class InputSpec(Strict):
    type: Literal["uri_folder", "uri_file"] = "uri_folder"
    path: PathText
    mode: Any = ignored(_DIRECT)
    description: Any = ignored("inputs carry no description")


class LiteralSpec(Strict):
    """A literal input (azure-ai-ml's `Input(type="number", default=0.5)`): a value handed to
    the scoring, not data to read."""

    type: Literal["number", "integer", "string", "boolean"]
    value: Scalar | None = None
    default: Scalar | None = Field(default=None, description="the SDK's name for the value")
    description: Any = ignored("inputs carry no description")


def _native_input(value: Any) -> str:
    if isinstance(value, str):
        return "path"
    if isinstance(value, bool | int | float):
        return "scalar"
    if isinstance(value, dict) and value.get("type") in LITERAL_TYPES:
        return "literal"
    return "data"


NativeInput = Annotated[
    Annotated[InputSpec, Tag("data")] | Annotated[LiteralSpec, Tag("literal")]
    | Annotated[PathText, Tag("path")]
    | Annotated[StrictBool | StrictInt | StrictFloat, Tag("scalar")],
    Discriminator(_native_input)]


class OutputSpec(Strict):
    type: Literal["uri_folder", "uri_file"] = "uri_folder"
    path: PathText | None = None
    mode: Any = ignored(_DIRECT)
    overwrite: StrictBool = Field(
        default=False, description="replace the outputs another job left in this folder "
        "(predictions, errors.csv, job_summary.json); without it such a folder is refused "
        "with 409")


class NativeInvoke(Overrides):
    inputs: Annotated[dict[Name, NativeInput], Field(min_length=1, max_length=MAX_INPUTS)]
    outputs: dict[Literal["score"], OutputSpec | PathText] | None = None
    deployment_name: Name | None = None
    job_name: Name | None = None
    params_override: Annotated[list[dict[Name, Any]], Field(max_length=50)] | None = Field(
        default=None, description="SDK style: [{\"mini_batch_size\": 20}, "
        "{\"retry_settings.max_retries\": 1}]; merged over the body's own settings")
    experiment_name: Any = ignored("jobs are grouped by endpoint and deployment")


class RestInput(Strict):
    job_input_type: RestInputKind = Field(
        default="UriFolder", validation_alias=_either("job_input_type", "JobInputType"))
    uri: PathText | None = Field(default=None, validation_alias=_either("uri", "Uri"))
    value: Scalar | None = Field(default=None, validation_alias=_either("value", "Value"),
                                 description="a Literal input's value")
    mode: Any = ignored(_DIRECT, validation_alias=_either("mode", "Mode"))
    description: Any = ignored("inputs carry no description",
                               validation_alias=_either("description", "Description"))


class RestOutput(Strict):
    job_output_type: RestKind = Field(default="UriFile",
                                      validation_alias=_either("job_output_type", "JobOutputType"))
    uri: PathText | None = Field(default=None, validation_alias=_either("uri", "Uri"))
    mode: Any = ignored(_DIRECT, validation_alias=_either("mode", "Mode"))


class OutputDataset(Strict):
    """The SDK's `output_dataset` override: a datastore (name or ARM id) and a folder."""

    datastore_id: Name = Field(validation_alias=_either("datastore_id", "DatastoreId"))
    path: PathText | None = Field(default=None, validation_alias=_either("path", "Path"))


class RestCompute(Strict):
    instance_count: Int(1, 64) | None = Field(
        default=None, validation_alias=_either("instance_count", "InstanceCount"))
    is_local: Any = ignored("no compute clusters here",
                            validation_alias=_either("is_local", "IsLocal"))
    target: Any = ignored("no compute clusters here", validation_alias=_either("target", "Target"))
    instance_type: Any = ignored("no VM sizes here",
                                 validation_alias=_either("instance_type", "InstanceType"))
    properties: Any = ignored("no compute properties here",
                              validation_alias=_either("properties", "Properties"))


class RestProperties(Strict):
    input_data: Annotated[dict[Name, RestInput],
                          Field(min_length=1, max_length=MAX_INPUTS)] = Field(
        validation_alias=_either("input_data", "InputData"))
    output_data: Annotated[dict[Name, RestOutput], Field(max_length=1)] | None = Field(
        default=None, validation_alias=_either("output_data", "OutputData"))
    output_dataset: OutputDataset | None = Field(
        default=None, validation_alias=_either("output_dataset", "OutputDataset"))
    mini_batch_size: MiniBatchSize | None = Field(
        default=None, validation_alias=_either("mini_batch_size", "MiniBatchSize"))
    output_file_name: OutputFileName | None = Field(
        default=None, validation_alias=_either("output_file_name", "OutputFileName"))
    error_threshold: ErrorThreshold | None = Field(
        default=None, validation_alias=_either("error_threshold", "ErrorThreshold"))
    retry_settings: RetrySettings | None = Field(
        default=None, validation_alias=_either("retry_settings", "RetrySettings"))
    compute: RestCompute | None = Field(default=None,
                                        validation_alias=_either("compute", "Compute"))
    name: Name | None = Field(default=None, validation_alias=_either("name", "Name"),
                              description="the job's name (the SDK's job_name)")
    properties: Any = ignored("job properties such as experimentName are not used",
                              validation_alias=_either("properties", "Properties"))


class RestInvoke(Strict):
    properties: RestProperties
    name: Name | None = Field(default=None, description="the job's name")


def _shape(value: Any) -> str:
    return "rest-invoke" if isinstance(value, dict) and "properties" in value else "native-invoke"


class InvokeBody(RootModel):
    root: Annotated[
        Annotated[NativeInvoke, Tag("native-invoke")] | Annotated[RestInvoke, Tag("rest-invoke")],
        Discriminator(_shape)]
