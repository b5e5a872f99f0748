"""Invoke: validate the request, pin the deployment and model, record the job, queue planning.

Nothing here lists the input: a folder of a million files cannot be listed within an HTTP
timeout. Planning pages through the listing in queue-triggered runs (planning.py).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from azure.core.exceptions import ResourceExistsError

from shared import config, names, telemetry
from shared.errors import ConflictError, NotFoundError, ValidationError
from shared.jobs import jobindex, ownership, paths, records, sources
from shared.messages import PLAN_QUEUE, PlanPage
from shared.resources import data_assets, deployments, endpoints, models
from shared.resources.schemas import parse
from shared.resources.schemas.invoke import (
    InputSpec,
    InvokeBody,
    LiteralSpec,
    NativeInvoke,
    OutputSpec,
    Overrides,
    RestInvoke,
)
from shared.resources.settings import DeploymentSettings, apply_overrides, check_batching
from shared.storage.clients import Storage

_REST_TYPES = {"UriFolder": paths.URI_FOLDER, "UriFile": paths.URI_FILE}
SCRIPT_INPUT = {"input": {"type": "files"}}
_REQUEST_ID_NAMESPACE = uuid.UUID("6f1d7c1e-6d4c-4a53-9a56-4bb3f0b8e1a2")


@dataclass(frozen=True)
class InvokeRequest:
    """What a caller asked for, in one shape whatever body they sent."""

    input_path: str
    input_type: str
    output_path: str | None
    output_type: str
    deployment_name: str | None
    job_name: str | None
    overrides: dict[str, Any]
    started_by: str = "http"
    manifest: str | None = None  # blob in batch-jobs listing the files (jobs started by drops)
    azure_ml_shape: bool = False  # a REST body: answer as Azure ML does (200, the job)
    warnings: tuple[str, ...] = ()
    overwrite_outputs: bool = False  # outputs.score.overwrite: take over another job's folder
    input_name: str = "input_data"  # the scored file input's name
    literals: dict[str, Any] = field(default_factory=dict)  # literal inputs: name → value


def parse_request(body: object, header_deployment: str | None = None) -> InvokeRequest:
    """Read the native body (as `az ml batch-endpoint invoke` takes it) or Azure ML's REST
    body, PascalCase or the SDK's camelCase (shared/resources/schemas/invoke.py)."""
    parsed = parse(InvokeBody, body)
    spec = parsed.value.root
    if isinstance(spec, RestInvoke):
        request = _from_rest(spec, header_deployment)
    else:
        request = _from_native(spec, header_deployment)
    return replace(request, warnings=tuple(parsed.warnings))


def _from_native(spec: NativeInvoke, header_deployment: str | None) -> InvokeRequest:
    files: dict[str, InputSpec] = {}
    literals: dict[str, Any] = {}
    for name, given in spec.inputs.items():
        if isinstance(given, str):
            files[name] = InputSpec(path=given)
        elif isinstance(given, InputSpec):
            files[name] = given
        elif isinstance(given, LiteralSpec):
            literals[name] = _literal(name, given)
        else:
            literals[name] = given  # a bare number or boolean
    input_name, source = _scored(files)
    score = (spec.outputs or {}).get("score")
    if isinstance(score, str):
        score = OutputSpec(path=score)
    overrides = spec.model_dump(include=set(Overrides.model_fields), exclude_none=True)
    if spec.params_override:
        overrides.update(parse(Overrides, _nested(spec.params_override),
                               "params_override").value.model_dump(exclude_none=True))
    return InvokeRequest(
        input_path=source.path, input_type=source.type,
        output_path=score.path if score else None,
        output_type=score.type if score else paths.URI_FOLDER,
        deployment_name=spec.deployment_name or header_deployment,
        job_name=spec.job_name, overrides=overrides,
        overwrite_outputs=bool(score and score.overwrite), input_name=input_name,
        literals=literals)


def _scored(files: dict[str, Any]) -> tuple[str, Any]:
    """The one file input a job scores (its other inputs are literals)."""
    if not files:
        raise ValidationError("inputs", "names no uri_folder or uri_file input: a job scores "
                              "one file input (its other inputs may be literals)")
    first, *others = files
    if others:
        raise ValidationError(f"inputs.{others[0]}", f"a job scores one file input "
                              f"('{first}'); other inputs may only be literals (number, "
                              "integer, string, boolean)")
    return first, files[first]


def _literal(name: str, spec: LiteralSpec) -> Any:
    """A literal's value as its type says (`default` is the SDK's name for it)."""
    value = spec.value if spec.value is not None else spec.default
    where = f"inputs.{name}.value"
    if value is None:
        raise ValidationError(where, f"a {spec.type} input needs a value")
    try:
        if spec.type == "boolean":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            if isinstance(value, bool):
                return value
        elif isinstance(value, bool):
            pass  # true is no number nor text here
        elif spec.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        elif spec.type == "number":
            number = float(value)
            if math.isfinite(number):
                return int(value) if isinstance(value, int) else number
        else:
            return str(value)
    except ValueError:
        pass
    raise ValidationError(where, f"'{value}' is not a {spec.type}")


def _nested(items: list[dict[str, Any]]) -> dict[str, Any]:
    """[{"mini_batch_size": 2}, {"retry_settings.max_retries": 1}] as one nested dict."""
    merged: dict[str, Any] = {}
    for item in items:
        for key, value in item.items():
            *parents, leaf = key.split(".")
            node = merged
            for parent in parents:
                child = node.setdefault(parent, {})
                if not isinstance(child, dict):
                    raise ValidationError(f"params_override.{key}", "conflicts with "
                                          f"params_override.{parent}")
                node = child
            node[leaf] = value
    return merged


def _from_rest(spec: RestInvoke, header_deployment: str | None) -> InvokeRequest:
    props = spec.properties
    files: dict[str, Any] = {}
    literals: dict[str, Any] = {}
    for name, given in props.input_data.items():
        where = f"properties.InputData.{name}"
        if given.job_input_type == "Literal":
            if given.value is None or given.uri is not None:
                raise ValidationError(where, "a Literal input has a Value and no Uri")
            literals[name] = given.value
        elif given.uri is None or given.value is not None:
            raise ValidationError(where, f"a {given.job_input_type} input has a Uri and no "
                                  "Value")
        else:
            files[name] = given
    input_name, source = _scored(files)
    out_path, out_type = None, paths.URI_FOLDER
    if props.output_data:
        (target,) = props.output_data.values()
        out_path, out_type = target.uri, _REST_TYPES[target.job_output_type]
    elif props.output_dataset:
        datastore = props.output_dataset.datastore_id.rsplit("/", 1)[-1].removeprefix("azureml:")
        out_path = f"azureml://datastores/{datastore}/paths/{props.output_dataset.path or ''}"
    overrides = props.model_dump(include=set(Overrides.model_fields), exclude_none=True)
    if props.compute and props.compute.instance_count is not None:
        overrides["instance_count"] = props.compute.instance_count
    return InvokeRequest(
        input_path=source.uri, input_type=_REST_TYPES[source.job_input_type],
        output_path=out_path, output_type=out_type, deployment_name=header_deployment,
        job_name=props.name or spec.name, overrides=overrides, azure_ml_shape=True,
        input_name=input_name, literals=literals)


@telemetry.traced("invoke", job_of=lambda created: created[0])
def invoke(
    storage: Storage, endpoint_name: str, request: InvokeRequest, request_id: str | None = None
) -> tuple[records.JobRecord, bool]:
    """Create the job and queue its planning. Returns (job, created?).

    With a `request_id` (the `Repeatability-Request-ID` header) a retried request returns
    the job the first one created instead of starting a second job.
    """
    endpoint = endpoints.get(storage, endpoint_name)
    job_name = _job_name(request, endpoint_name, request_id)
    if request_id:
        existing = records.find(storage, job_name)
        if existing is not None:
            jobindex.add(storage, existing)  # in case the first try died here
            return existing, False
    deployment = _choose_deployment(storage, endpoint, request.deployment_name)
    model = models.get(storage, deployment["model_name"], deployment["model_version"])
    settings = apply_overrides(_settings_of(deployment), request.overrides)
    check_batching(settings.mini_batch_size,
                   (deployment["scoring"] or {}).get("input", {}).get("type") == "tabular",
                   "mini_batch_size")
    source, asset = _input_location(storage, request)
    if not request.manifest or source.account:  # (a retry of another account's files too)
        source = sources.check_readable(storage, source)
    target = _output_location(storage, request, settings, job_name)
    if not request.overwrite_outputs:
        _check_output_free(storage, target, settings)
    fields = {
        "endpoint_name": endpoint_name,
        "endpoint_incarnation": endpoint.get("incarnation", ""),
        "deployment_name": deployment["name"],
        "model_id": model["id"],
        "started_by": request.started_by,
        "request_id": request_id or "",
        "input": {**source.to_dict(), "manifest": request.manifest or "", **asset,
                  "name": request.input_name},
        "literals": request.literals,
        "output": target,
        "settings": settings.to_dict(),
        "deployment": {
            "name": deployment["name"],
            # a scoring script reads whole files: planning splits its input by file count
            "scoring": deployment["scoring"] or SCRIPT_INPUT,
            "code": deployment.get("code_configuration"),
            "model": {k: model[k] for k in ("id", "name", "version", "sha256", "path",
                                            "signature", "layout", "file_name", "onnx_file")
                      if k in model},
        },
    }
    try:
        records.table(storage).create_entity(records.new_job_entity(job_name, fields))
    except ResourceExistsError:
        if request_id:
            return records.load(storage, job_name), False
        raise ConflictError(f"a job named {job_name} already exists") from None
    sources.keep_secret(storage, job_name, source)  # before planning can start
    job = records.load(storage, job_name)
    jobindex.add(storage, job)
    records.log(storage, job_name, f"job created by {request.started_by} for "
                f"{endpoint_name}/{deployment['name']} with model {model['id']}")
    storage.send(PLAN_QUEUE, PlanPage(job=job_name))
    return job, True


def _job_name(request: InvokeRequest, endpoint: str, request_id: str | None) -> str:
    if request.job_name:
        return names.job_name(request.job_name)
    if request_id:
        if len(request_id) > 256:
            raise ValidationError("Repeatability-Request-ID", "is longer than 256 characters")
        return f"batchjob-{uuid.uuid5(_REQUEST_ID_NAMESPACE, endpoint + '/' + request_id)}"
    return f"batchjob-{uuid.uuid4()}"


def _choose_deployment(
    storage: Storage, endpoint: dict[str, Any], named: str | None
) -> dict[str, Any]:
    name = named or endpoint["defaults"].get("deployment_name")
    if not name:
        raise ValidationError(
            "deployment_name",
            f"batch endpoint {endpoint['name']} has no default deployment and the request names "
            "none (\"No valid deployments to route to\"): set defaults.deployment_name or pass "
            "deployment_name / the azureml-model-deployment header")
    names.endpoint_or_deployment_name(name, "deployment_name")
    doc = deployments.find(storage, endpoint["name"], name)
    if doc is None:
        raise NotFoundError(f"deployment {name} not found under batch endpoint "
                            f"{endpoint['name']}")
    return doc


def _settings_of(deployment: dict[str, Any]) -> DeploymentSettings:
    return DeploymentSettings.from_dict(
        {**deployment["settings"], "instance_count": deployment["resources"]["instance_count"]})


def _input_location(storage: Storage, request: InvokeRequest
                    ) -> tuple[paths.Location, dict[str, str]]:
    """The input's location, and the data asset version it came from if it named one
    (`azureml:<name>:<version>`, `azureml:<name>@latest`: resolved now, once)."""
    if not data_assets.is_reference(request.input_path):
        return paths.resolve(storage, request.input_path, request.input_type, "inputs"), {}
    asset = data_assets.resolve(storage, request.input_path, "inputs.path")
    return (paths.resolve(storage, asset["path"], asset["type"], "inputs"),
            {"data_asset": asset["id"]})


def _output_location(storage: Storage, request: InvokeRequest, settings: DeploymentSettings,
                     job_name: str) -> dict[str, Any]:
    if request.output_path:
        where = paths.resolve(storage, request.output_path, request.output_type, "outputs.score",
                              other_accounts=False)
    else:
        where = paths.Location(config.DEFAULT_DATASTORE, config.default_datastore_container(),
                               f"azureml/{job_name}/score", paths.URI_FOLDER)
    if where.container in config.watched_containers():
        raise ValidationError("outputs.score.path", f"must not be in container "
                              f"'{where.container}': files written there start jobs, so the "
                              "job's outputs would start another job")
    if where.kind == paths.URI_FILE:
        folder, _, file_name = where.path.rpartition("/")
        names.output_file_name(file_name, "outputs.score.path")
        if file_name.lower() in config.SIDE_FILES:
            raise ValidationError("outputs.score.path", f"must not end in {file_name}: "
                                  f"{' and '.join(config.SIDE_FILES)} are written beside the "
                                  "predictions and would overwrite them")
    else:
        folder, file_name = where.path, settings.output_file_name
    prefix = f"{folder}/" if folder else ""
    return {
        "datastore": where.datastore, "container": where.container, "folder": folder,
        "predictions": prefix + file_name, "errors": prefix + config.ERRORS_FILE,
        "summary": prefix + config.SUMMARY_FILE, "overwrite": request.overwrite_outputs,
    }


def _check_output_free(storage: Storage, target: dict[str, Any],
                       settings: DeploymentSettings) -> None:
    """A job's predictions, errors and summary are one unit owned by that job (blob
    metadata `batch_job`): a folder holding another job's is refused before the job starts
    (Azure ML fails a job whose output file exists), unless outputs.score.overwrite asks
    to replace them. The aggregator checks again before each write (a job invoked
    meanwhile)."""
    keys = ("predictions", "errors", "summary") if settings.output_action == "append_row" \
        else ("errors", "summary")
    container = storage.blobs.get_container_client(target["container"])
    for key in keys:
        blob = container.get_blob_client(target[key])
        if ownership.owner_of(blob) is not None:
            raise ConflictError(
                f"{ownership.taken_message(target['container'], blob)}; choose another "
                "outputs.score.path or output_file_name, or set outputs.score.overwrite: "
                "true to replace it")
