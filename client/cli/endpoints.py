"""`bep batch-endpoint ...` (az ml batch-endpoint)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from client import BatchEndpoint, JobFailedError, load_batch_endpoint
from client._entities import apply_overrides
from client.cli._common import (
    FILE,
    MAX_RESULTS,
    NAME,
    NO_WAIT,
    SET,
    YES,
    UserError,
    command,
    confirm,
    first,
    note,
    overrides,
    warn,
)
from client.cli._progress import JobBar

group = click.Group("batch-endpoint", help="Manage batch endpoints and start jobs on them.")
OPTIONAL_NAME = click.option("--name", "-n", help="Name of the endpoint (overrides the "
                             "file's name).")


def _save(session, name, file, sets, no_wait, update: bool):
    sets = overrides(sets)
    ops = session.client.batch_endpoints
    if update and not file:
        if not name:
            raise click.UsageError("give --name (and --set ...) or --file")
        current = ops.get(name)._to_dict()
        endpoint = BatchEndpoint._from_rest(apply_overrides(current, sets))
    else:
        if not file and not name:
            raise click.UsageError("give --file or --name")
        endpoint = load_batch_endpoint(file, params_override=sets)
        endpoint.name = name or endpoint.name
        if not endpoint.name:
            raise click.UsageError("the endpoint needs a name: give --name or name: in the file")
        if update:
            ops.get(endpoint.name)
    result = ops.begin_create_or_update(endpoint).result()
    if no_wait:
        warn(result.warnings)
        return None
    return result


@command(group, "create", help="Create a batch endpoint from a YAML file and/or --name.")
@OPTIONAL_NAME
@FILE
@SET
@NO_WAIT
def create(session, name, file, sets, no_wait):
    return _save(session, name, file, sets, no_wait, update=False)


@command(group, "update", help="Update a batch endpoint: --set fields of the current "
                               "endpoint, or send a YAML file.")
@OPTIONAL_NAME
@FILE
@SET
@NO_WAIT
def update(session, name, file, sets, no_wait):
    return _save(session, name, file, sets, no_wait, update=True)


@command(group, "show", help="Show a batch endpoint.")
@NAME
def show(session, name):
    return session.client.batch_endpoints.get(name)


@command(group, "list", help="List the batch endpoints.")
def list_(session):
    return session.client.batch_endpoints.list()


@command(group, "delete", help="Delete a batch endpoint and its deployments (its jobs and "
                               "their outputs are kept).")
@NAME
@YES
@NO_WAIT
def delete(session, name, yes, no_wait):
    confirm(f"delete batch endpoint {name} and its deployments", yes)
    session.client.batch_endpoints.begin_delete(name).result()


@command(group, "list-jobs", help="List the jobs started on a batch endpoint, newest first.")
@NAME
@MAX_RESULTS
def list_jobs(session, name, max_results):
    return first(session.client.batch_endpoints.list_jobs(name), max_results)


def stream(session, job):
    """Follow a job with a progress bar; then a short summary and where its outputs are (the
    job itself only when -o or --query asks for it)."""
    with JobBar() as bar:
        try:
            job = session.client.jobs.stream(job.name, on_progress=bar)
        except JobFailedError as e:
            bar(e.job)
            note(summary(e.job))
            raise
    note(summary(job))
    score = ((job.outputs or {}).get("score") or {}).get("path")
    note(f"job {job.name} {job.status}; outputs: {score}")
    note(f"download them with: bep job download --name {job.name} --output-name score")
    return job if session.asked_for_output else None


def summary(job) -> str:
    """One line: the counts and how long it ran."""
    items = (job.progress or {}).get("items") or {}
    ran = ""
    if job.started_at and job.ended_at:
        seconds = (datetime.fromisoformat(job.ended_at)
                   - datetime.fromisoformat(job.started_at)).total_seconds()
        ran = f" in {seconds:.1f} s"
    return (f"{job.status}{ran}: {items.get('succeeded', 0)} items succeeded, "
            f"{items.get('failed', 0)} failed, {items.get('canceled', 0)} canceled")


def _local_input(value: str) -> Path | None:
    """The local file or folder `--input` names, or None for a datastore path or URL. A path
    that looks local (./x, ../x, /x, ~/x, or one name without '/') but is not there is said
    so here, before any request: the service would read it as `<container>/<path>`."""
    if "://" in value or value.startswith("azureml:"):  # (a data asset too)
        return None
    path = Path(value).expanduser()
    if path.exists():
        return path
    if value.startswith((".", "/", "~")) or "/" not in value.strip("/"):
        raise UserError(
            f"--input: no local file or folder '{value}' (from {Path.cwd()}); a datastore "
            "path looks like azureml://datastores/<datastore>/paths/<path>")
    return None


@command(group, "invoke", help="Start a batch scoring job. --input is a datastore path "
                               "(azureml://datastores/<ds>/paths/<p>), a storage URL (public, "
                               "SAS), a data asset (azureml:<name>:<version>, @latest), or a "
                               "local file or folder, uploaded first to the default datastore.")
@NAME
@click.option("--input", "input_", required=True, metavar="PATH",
              help="Input data: datastore path, storage URL, data asset, or local "
                   "file/folder.")
@click.option("--input-type", type=click.Choice(["uri_folder", "uri_file"]),
              help="Type of the input (default: uri_folder, or uri_file for a local file).")
@click.option("--deployment-name", "-d", help="Deployment to run (default: the endpoint's).")
@click.option("--output-path", help="Datastore folder for the outputs, "
                                    "e.g. azureml://datastores/workspaceblobstore/paths/out.")
@click.option("--mini-batch-size", help="Files per mini-batch, for this job; for tabular "
              "deployments also a size ('10MB') or rows ('50000 rows').")
@click.option("--instance-count", type=int, help="Instances (parallel mini-batches), "
                                                 "for this job.")
@click.option("--job-name", help="Name of the job (default: generated).")
@SET
@click.option("--stream", "follow", is_flag=True,
              help="Follow the job with a progress bar until it ends.")
def invoke(session, name, input_, input_type, deployment_name, output_path, mini_batch_size,
           instance_count, job_name, sets, follow):
    local = _local_input(input_)
    if local is not None:  # a missing endpoint or deployment is said before any upload
        session.client.batch_endpoints.get(name)
        if deployment_name:
            session.client.batch_deployments.get(deployment_name, name)
    job = session.client.batch_endpoints.invoke(
        name, input=input_, input_type=input_type, deployment_name=deployment_name,
        output_path=output_path, job_name=job_name, mini_batch_size=mini_batch_size,
        instance_count=instance_count, params_override=overrides(sets))
    return stream(session, job) if follow else job
