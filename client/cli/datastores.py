"""`bep datastore ...` (az ml datastore): where inputs are read and outputs written."""

from __future__ import annotations

import click

from client.cli._common import NAME, command

group = click.Group("datastore", help="Show the datastores (named blob containers).")


@command(group, "list", help="List the datastores.")
def list_(session):
    return session.client.datastores.list()


@command(group, "show", help="Show a datastore.")
@NAME
def show(session, name):
    return session.client.datastores.get(name)
