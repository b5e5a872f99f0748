"""`bep batch-deployment ...` (az ml batch-deployment)."""

from __future__ import annotations

import click

from client import BatchDeployment, load_batch_deployment
from client._entities import apply_overrides
from client.cli._common import (
    ENDPOINT,
    FILE,
    MAX_RESULTS,
    NAME,
    NO_WAIT,
    SET,
    YES,
    command,
    confirm,
    first,
    note,
    overrides,
    warn,
)

group = click.Group("batch-deployment", help="Manage deployments under a batch endpoint.")
OPTIONAL_NAME = click.option("--name", "-n", help="Name of the deployment (overrides the "
                             "file's name).")
OPTIONAL_ENDPOINT = click.option("--endpoint-name", "-e", help="Name of the batch endpoint "
                                 "(overrides the file's endpoint_name).")


def _from_file(file, name, endpoint_name, sets) -> BatchDeployment:
    deployment = load_batch_deployment(file, params_override=overrides(sets))
    deployment.name = name or deployment.name
    deployment.endpoint_name = endpoint_name or deployment.endpoint_name
    if not deployment.name:
        raise click.UsageError("the deployment needs a name: give --name or name: in the file")
    if not deployment.endpoint_name:
        raise click.UsageError("the deployment needs an endpoint: give --endpoint-name or "
                               "endpoint_name: in the file")
    return deployment


def _save(session, deployment: BatchDeployment, set_default: bool, no_wait: bool):
    client = session.client
    result = client.batch_deployments.begin_create_or_update(deployment).result()
    if set_default:
        endpoint = client.batch_endpoints.get(deployment.endpoint_name)
        endpoint.defaults = {"deployment_name": deployment.name}
        client.batch_endpoints.begin_create_or_update(endpoint).result()
        note(f"{deployment.name} is now the default deployment of {deployment.endpoint_name}")
    if no_wait:
        warn(result.warnings)
        return None
    return result


SET_DEFAULT = click.option("--set-default", is_flag=True,
                           help="Make this the endpoint's default deployment.")


@command(group, "create", help="Create a deployment from a YAML file (a model given with a "
                               "local path is registered first).")
@OPTIONAL_NAME
@OPTIONAL_ENDPOINT
@click.option("--file", "-f", "file", required=True, type=click.Path(dir_okay=False),
              help="Local path to the deployment YAML file.")
@SET
@SET_DEFAULT
@NO_WAIT
def create(session, name, endpoint_name, file, sets, set_default, no_wait):
    return _save(session, _from_file(file, name, endpoint_name, sets), set_default, no_wait)


@command(group, "update", help="Update a deployment: --set fields of the current "
                               "deployment, or send a YAML file.")
@OPTIONAL_NAME
@OPTIONAL_ENDPOINT
@FILE
@SET
@SET_DEFAULT
@NO_WAIT
def update(session, name, endpoint_name, file, sets, set_default, no_wait):
    overrides(sets)  # a malformed --set fails before anything is read
    if file:
        deployment = _from_file(file, name, endpoint_name, sets)
        session.client.batch_deployments.get(deployment.name, deployment.endpoint_name)
    else:
        if not (name and endpoint_name):
            raise click.UsageError("give --name and --endpoint-name (and --set ...) or --file")
        current = session.client.batch_deployments.get(name, endpoint_name)._to_dict()
        deployment = BatchDeployment._from_rest(apply_overrides(current, overrides(sets)))
    return _save(session, deployment, set_default, no_wait)


@command(group, "show", help="Show a deployment.")
@NAME
@ENDPOINT
def show(session, name, endpoint_name):
    return session.client.batch_deployments.get(name, endpoint_name)


@command(group, "list", help="List the deployments of a batch endpoint.")
@ENDPOINT
def list_(session, endpoint_name):
    return session.client.batch_deployments.list(endpoint_name)


@command(group, "delete", help="Delete a deployment (not the endpoint's default one).")
@NAME
@ENDPOINT
@YES
@NO_WAIT
def delete(session, name, endpoint_name, yes, no_wait):
    confirm(f"delete deployment {name} of batch endpoint {endpoint_name}", yes)
    session.client.batch_deployments.begin_delete(name, endpoint_name).result()


@command(group, "list-jobs", help="List the jobs that ran on a deployment, newest first.")
@NAME
@ENDPOINT
@MAX_RESULTS
def list_jobs(session, name, endpoint_name, max_results):
    return first(session.client.batch_deployments.list_jobs(endpoint_name, name), max_results)
