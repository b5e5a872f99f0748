"""HTTP API for jobs: invoke, list, show, cancel, retry the failed items, download outputs,
errors and logs, the progress timeline, the outputs' listing and first rows, re-send the
job-ended event.

The routes of one endpoint's jobs are served through both doors (blueprints/endpoint_auth.py);
`GET /jobs`, across endpoints, only with a function key."""

from __future__ import annotations

import azure.functions as func
from azure.core.exceptions import ResourceNotFoundError

from blueprints.bindings import QueueMessagesOut
from blueprints.endpoint_auth import endpoint_route
from blueprints.http_util import (
    api_base,
    handles_errors,
    json_body,
    json_response,
    page_request,
    paged_response,
    with_warnings,
)
from shared import names, outbox
from shared.errors import NotFoundError, ValidationError
from shared.events import outbound, undelivered
from shared.jobs import fanin, invoke, peek, records, retry, scripts, views
from shared.messages import PLAN_QUEUE
from shared.resources import deployments
from shared.resources.schemas import parse
from shared.resources.schemas.resources import RetryBody
from shared.storage.clients import default_storage

bp = func.Blueprint()


@endpoint_route(bp, "endpoints/{endpoint}/jobs", ["POST", "GET"],
                bp.queue_output(arg_name="to_plan", queue_name=PLAN_QUEUE,
                                connection="AzureWebJobsStorage"))
def endpoint_jobs(req: func.HttpRequest, to_plan: QueueMessagesOut) -> func.HttpResponse:
    with outbox.collect({PLAN_QUEUE: to_plan}):
        return _endpoint_jobs(req)


@handles_errors
def _endpoint_jobs(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = names.endpoint_or_deployment_name(req.route_params["endpoint"], "endpoint")
    base = api_base(req, "endpoints")
    if req.method == "GET":
        return _list(req, base, endpoint=name, deployment=req.params.get("deployment"))
    request = invoke.parse_request(json_body(req), req.headers.get("azureml-model-deployment"))
    # Azure ML's header; the azure-ai-ml SDK spells it `repeatability_request-id`.
    request_id = (req.headers.get("repeatability-request-id")
                  or req.headers.get("repeatability_request-id"))
    job, _ = invoke.invoke(storage, name, request, request_id)
    resource = with_warnings(views.job_resource(job, base), list(request.warnings))
    location = {"Location": f"{base}/jobs/{job.name}"}
    if request.azure_ml_shape:  # Azure ML answers its REST invoke with 200 and the job
        return json_response(views.without_nulls(resource), status=200, headers=location)
    return json_response(resource, status=202, headers=location)


@endpoint_route(bp, "endpoints/{endpoint}/deployments/{deployment}/jobs", ["GET"])
@handles_errors
def deployment_jobs(req: func.HttpRequest) -> func.HttpResponse:
    ep = names.endpoint_or_deployment_name(req.route_params["endpoint"], "endpoint")
    dep = names.endpoint_or_deployment_name(req.route_params["deployment"], "deployment")
    deployments.get(default_storage(), ep, dep)
    return _list(req, api_base(req, "endpoints"), endpoint=ep, deployment=dep)


@bp.route(route="jobs", methods=["GET"])
@handles_errors
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return _list(req, api_base(req, "jobs"))


def _list(req: func.HttpRequest, base: str, **where: str | None) -> func.HttpResponse:
    if where.get("deployment"):
        names.endpoint_or_deployment_name(where["deployment"], "deployment")
    page = views.list_page(default_storage(), page_request(req),
                           status=views.status_filter(req.params.get("status")),
                           name=req.params.get("name"), **where)
    return paged_response(req, page, lambda job: views.job_resource(job, base))


@endpoint_route(bp, "jobs/{job}", ["GET"])
@handles_errors
def show_job(req: func.HttpRequest) -> func.HttpResponse:
    job = views.load(default_storage(), _job_name(req))
    return json_response(views.job_resource(job, api_base(req, "jobs")))


@endpoint_route(bp, "jobs/{job}/timeline", ["GET"])
@handles_errors
def job_timeline(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    return json_response(views.timeline(storage, records.load(storage, _job_name(req))))


@endpoint_route(bp, "jobs/{job}/cancel", ["POST"])
@handles_errors
def cancel_job(req: func.HttpRequest) -> func.HttpResponse:
    job = fanin.request_cancel(default_storage(), _job_name(req))  # 409 once it has ended
    job = views.load(default_storage(), job.name)
    return json_response(views.job_resource(job, api_base(req, "jobs")), status=202)


@endpoint_route(bp, "jobs/{job}/retry", ["POST"],
                bp.queue_output(arg_name="to_plan", queue_name=PLAN_QUEUE,
                                connection="AzureWebJobsStorage"))
def retry_job(req: func.HttpRequest, to_plan: QueueMessagesOut) -> func.HttpResponse:
    with outbox.collect({PLAN_QUEUE: to_plan}):
        return _retry(req)


@handles_errors
def _retry(req: func.HttpRequest) -> func.HttpResponse:
    body = parse(RetryBody, json_body(req, required=False)).value
    job = retry.retry(default_storage(), _job_name(req), body.deployment_name)
    base = api_base(req, "jobs")
    return json_response(views.job_resource(job, base), status=202,
                         headers={"Location": f"{base}/jobs/{job.name}"})


@endpoint_route(bp, "jobs/{job}/outputs/{output}", ["GET"])
@handles_errors
def download_output(req: func.HttpRequest) -> func.HttpResponse:
    return _download(_job_name(req), req.route_params["output"])


@endpoint_route(bp, "jobs/{job}/outputs", ["GET"])
@handles_errors
def list_outputs(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    return json_response({"value": peek.listing(storage, records.load(storage, _job_name(req)))})


@endpoint_route(bp, "jobs/{job}/outputs/{output}/preview", ["GET"])
@handles_errors
def preview_output(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    raw = req.params.get("rows", "20")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise ValidationError("rows", f"must be an integer from 1 to {peek.MAX_ROWS}")
    job = records.load(storage, _job_name(req))
    return json_response(peek.first_rows(storage, job, req.route_params["output"], int(raw)))


@endpoint_route(bp, "jobs/{job}/errors", ["GET"])
@handles_errors
def job_errors(req: func.HttpRequest) -> func.HttpResponse:
    return _download(_job_name(req), "errors")


@endpoint_route(bp, "jobs/{job}/logs", ["GET"])
@handles_errors
def job_logs(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    job = records.load(storage, _job_name(req))
    text = views.progress_log(storage, job) + undelivered.log_section(storage, job.name)
    return func.HttpResponse(text, mimetype="text/plain")


@endpoint_route(bp, "jobs/{job}/events/resend", ["POST"])
@handles_errors
def resend_job_event(req: func.HttpRequest) -> func.HttpResponse:
    storage = default_storage()
    name = _job_name(req)
    pending = undelivered.listed(storage, name)
    job = outbound.resend(storage, name)
    return json_response({"job": job.name, "status": job.status.value,
                          "resending_to": [r["target"] for r in pending]}, status=202)


def _job_name(req: func.HttpRequest) -> str:
    return names.job_name(req.route_params["job"], "job")


def _download(job_name: str, output: str) -> func.HttpResponse:
    storage = default_storage()
    job = records.load(storage, job_name)
    key = peek.OUTPUT_FILES.get(output)
    if key is None:
        raise ValidationError("output", "must be one of: score, errors, summary")
    if not job.status.terminal:
        raise NotFoundError(f"job {job_name} is {job.status}; outputs exist once it ends")
    if output == "score" and job.settings["output_action"] == "summary_only":
        written = scripts.outputs_zip(storage, job)  # a script's own files, if it wrote any
        if written is not None:
            return func.HttpResponse(written, mimetype="application/zip", headers={
                "Content-Disposition": 'attachment; filename="score.zip"'})
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



