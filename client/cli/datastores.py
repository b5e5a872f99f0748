"""`bep datastore ...` (az ml datastore): where inputs are read and outputs written."""

from __future__ import annotations

import click

from client import load_datastore
from client.cli._common import NAME, SET, YES, command, confirm, overrides

group = click.Group("datastore", help="Create, show, list and delete datastores (blob "
                                      "containers and ADLS Gen2 filesystems).")


@command(group, "create", help="Create or update a datastore from Azure ML's datastore YAML "
                               "(credentials are sent once and never shown).")
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False), required=True,
              help="Local path to the datastore YAML file.")
@click.option("--name", "-n", help="Name of the datastore (overrides the file's).")
@SET
def create(session, file, name, sets):
    datastore = load_datastore(file, params_override=overrides(sets))
    datastore.name = name or datastore.name
    if not datastore.name:
        raise click.UsageError("a datastore needs a name (--name or the file's name:)")
    return session.client.datastores.create_or_update(datastore)


@command(group, "list", help="List the datastores.")
def list_(session):
    return session.client.datastores.list()


@command(group, "show", help="Show a datastore.")
@NAME
def show(session, name):
    return session.client.datastores.get(name)


@command(group, "delete", help="Delete a datastore (its files stay where they are).")
@NAME
@YES
def delete(session, name, yes):
    confirm(f"delete datastore {name}", yes)
    session.client.datastores.delete(name)
