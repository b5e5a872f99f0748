"""HTTP API for jobs: invoke, list, show, cancel, retry the failed items, download outputs,
errors and logs."""

from __future__ import annotations

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from blueprints.bindings import QueueMessagesOut
from blueprints.http_util import api_base, handles_errors, json_body, json_response
from shared import outbox
from shared.errors import NotFoundError, ValidationError
from shared.jobs import fanin, invoke, records, retry, views
from shared.messages import PLAN_QUEUE
from shared.resources import deployments
from shared.storage.clients import default_storage

bp = func.Blueprint()
_OUTPUT_FILES = {"score": "predictions", "errors": "errors", "summary": "summary"}


@bp.route(route="endpoints/{endpoint}/jobs", methods=["POST", "GET"])
@bp.queue_output(arg_name="to_plan", queue_name=PLAN_QUEUE, connection="AzureWebJobsStorage")
def endpoint_jobs(req: func.HttpRequest, to_plan: QueueMessagesOut) -> func.HttpResponse:
    with outbox.collect({PLAN_QUEUE: to_plan}):
        return _endpoint_jobs(req)


@handles_errors
def _endpoint_jobs(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = req.route_params["endpoint"]
    base = api_base(req, "endpoints")
    if req.method == "GET":
        return _list(req, base, endpoint=name, deployment=req.params.get("deployment"))
    request = invoke.parse_request(json_body(req), req.headers.get("azureml-model-deployment"))
    request_id = req.headers.get("repeatability-request-id")
    job, _ = invoke.invoke(storage, name, request, request_id)
    return json_response(views.job_resource(job, base), status=202,
                         headers={"Location": f"{base}/jobs/{job.name}"})


@bp.route(route="endpoints/{endpoint}/deployments/{deployment}/jobs", methods=["GET"])
@handles_errors
def deployment_jobs(req: func.HttpRequest) -> func.HttpResponse:
    ep, dep = req.route_params["endpoint"], req.route_params["deployment"]
    deployments.get(default_storage(), ep, dep)
    return _list(req, api_base(req, "endpoints"), endpoint=ep, deployment=dep)


@bp.route(route="jobs", methods=["GET"])
@handles_errors
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return _list(req, api_base(req, "jobs"))


def _list(req: func.HttpRequest, base: str, **where: str | None) -> func.HttpResponse:
    jobs = records.list_jobs(default_storage(), status=req.params.get("status"), **where)
    return json_response({"value": [views.job_resource(j, base) for j in jobs]})


@bp.route(route="jobs/{job}", methods=["GET"])
@handles_errors
def show_job(req: func.HttpRequest) -> func.HttpResponse:
    job = records.load(default_storage(), req.route_params["job"])
    return json_response(views.job_resource(job, api_base(req, "jobs")))


@bp.route(route="jobs/{job}/cancel", methods=["POST"])
@handles_errors
def cancel_job(req: func.HttpRequest) -> func.HttpResponse:
    job = fanin.request_cancel(default_storage(), req.route_params["job"])
    return json_response(views.job_resource(job, api_base(req, "jobs")), status=202)


@bp.route(route="jobs/{job}/retry", methods=["POST"])
@bp.queue_output(arg_name="to_plan", queue_name=PLAN_QUEUE, connection="AzureWebJobsStorage")
def retry_job(req: func.HttpRequest, to_plan: QueueMessagesOut) -> func.HttpResponse:
    with outbox.collect({PLAN_QUEUE: to_plan}):
        return _retry(req)


@handles_errors
def _retry(req: func.HttpRequest) -> func.HttpResponse:
    body = json_body(req, required=False)
    unknown = sorted(set(body) - {"deployment_name"})
    if unknown:
        raise ValidationError(unknown[0], "is not a retry field (only deployment_name)")
    deployment = body.get("deployment_name")
    if deployment is not None and not isinstance(deployment, str):
        raise ValidationError("deployment_name", "must be a string")
    job = retry.retry(default_storage(), req.route_params["job"], deployment)
    base = api_base(req, "jobs")
    return json_response(views.job_resource(job, base), status=202,
                         headers={"Location": f"{base}/jobs/{job.name}"})


@bp.route(route="jobs/{job}/outputs/{output}", methods=["GET"])
@handles_errors
def download_output(req: func.HttpRequest) -> func.HttpResponse:
    return _download(req.route_params["job"], req.route_params["output"])


@bp.route(route="jobs/{job}/errors", methods=["GET"])
@handles_errors
def job_errors(req: func.HttpRequest) -> func.HttpResponse:
    return _download(req.route_params["job"], "errors")


@bp.route(route="jobs/{job}/logs", methods=["GET"])
@handles_errors
def job_logs(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    job = records.load(storage, req.route_params["job"])
    return func.HttpResponse(views.progress_log(storage, job), mimetype="text/plain")


def _download(job_name: str, output: str) -> func.HttpResponse:
    storage = default_storage()
    job = records.load(storage, job_name)
    key = _OUTPUT_FILES.get(output)
    if key is None:
        raise ValidationError("output", "must be one of: score, errors, summary")
    if not job.status.terminal:
        raise NotFoundError(f"job {job_name} is {job.status}; outputs exist once it ends")
    out = job.output
    blob = storage.blobs.get_blob_client(out["container"], out[key])
    try:
        stream = blob.download_blob()
    except ResourceNotFoundError:
        raise NotFoundError(f"job {job_name} has no '{output}' output "
                            f"(output_action is {job.settings['output_action']})") from None
    file_name = out[key].rsplit("/", 1)[-1]
    return func.HttpResponse(
        stream.readall(), mimetype=stream.properties.content_settings.content_type or
        "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'})



