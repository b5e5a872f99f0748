"""`bep data ...` (az ml data): data assets, versions naming where data is."""

from __future__ import annotations

import click

from client import Data, load_data
from client.cli._common import SET, YES, command, confirm, overrides

group = click.Group("data", help="Create, show, list and delete data assets.")
DATA_NAME = click.option("--name", "-n", required=True, help="Name of the data asset.")


@command(group, "create", help="Create a data asset version from a datastore path, a storage "
                               "URL or a local folder or file (uploaded first). With no "
                               "--version, the next integer.")
@click.option("--name", "-n", help="Name of the data asset (overrides the file's).")
@click.option("--version", "-v", help="Version (default: the newest version + 1).")
@click.option("--path", "-p", help="azureml://datastores/..., a storage URL, or a local path.")
@click.option("--type", "-t", "type_", type=click.Choice(["uri_folder", "uri_file"]),
              help="Type of the data asset (default: uri_folder, uri_file for a local file).")
@click.option("--description", "-d", help="Description of the data asset.")
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False),
              help="Local path to a data asset YAML file (name, version, type, path, ...).")
@SET
def create(session, name, version, path, type_, description, file, sets):
    data = load_data(file, params_override=overrides(sets)) if file else Data()
    data.name = name or data.name
    data.version = str(version or data.version or "") or None
    data.path = path or data.path
    data.type = type_ or data.type
    data.description = description or data.description
    if not data.name or not data.path:
        raise click.UsageError("a data asset needs --name and --path (or a file giving them)")
    return session.client.data.create_or_update(data)


@command(group, "show", help="Show a data asset version (the newest with --label latest).")
@DATA_NAME
@click.option("--version", "-v", help="Version to show.")
@click.option("--label", "-l", type=click.Choice(["latest"]), help="Show the newest version.")
def show(session, name, version, label):
    if not version and not label:
        raise click.UsageError("give --version or --label latest")
    return session.client.data.get(name, version, label=label)


@command(group, "list", help="List data asset versions (of one asset with --name).")
@click.option("--name", "-n", help="Only this data asset's versions.")
def list_(session, name):
    return session.client.data.list(name)


@command(group, "delete", help="Delete a data asset version (refused while a running job "
                               "reads it). Its files stay where they are.")
@DATA_NAME
@click.option("--version", "-v", required=True, help="Version to delete.")
@YES
def delete(session, name, version, yes):
    confirm(f"delete data asset {name}:{version}", yes)
    session.client.data.delete(name, version)
