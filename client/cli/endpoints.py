"""`bep batch-endpoint ...` (az ml batch-endpoint)."""

from __future__ import annotations

import click

from client import BatchEndpoint, JobFailedError, load_batch_endpoint
from client._entities import apply_overrides
from client.cli._common import (
    FILE,
    NAME,
    NO_WAIT,
    SET,
    YES,
    command,
    confirm,
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


@command(group, "list-jobs", help="List the jobs started on a batch endpoint.")
@NAME
def list_jobs(session, name):
    return session.client.batch_endpoints.list_jobs(name)


def stream(session, job):
    """Follow a job with a progress bar; then say where its outputs are."""
    with JobBar() as bar:
        try:
            job = session.client.jobs.stream(job.name, on_progress=bar)
        except JobFailedError as e:
            bar(e.job)
            raise
    score = ((job.outputs or {}).get("score") or {}).get("path")
    note(f"job {job.name} {job.status}; outputs: {score}")
    note(f"download them with: bep job download --name {job.name} --output-name score")
    return job


@command(group, "invoke", help="Start a batch scoring job. --input is a datastore path "
                               "(azureml://datastores/<ds>/paths/<p>), a blob URL, or a local "
                               "file or folder, uploaded first to the default datastore.")
@NAME
@click.option("--input", "input_", required=True, metavar="PATH",
              help="Input data: datastore path, blob URL, or local file/folder.")
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
    job = session.client.batch_endpoints.invoke(
        name, input=input_, input_type=input_type, deployment_name=deployment_name,
        output_path=output_path, job_name=job_name, mini_batch_size=mini_batch_size,
        instance_count=instance_count, params_override=overrides(sets))
    return stream(session, job) if follow else job
