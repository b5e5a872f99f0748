"""`bep configure`: remember the service URL, key and auth in the user's config file."""

from __future__ import annotations

import json

import click

from client.cli._settings import AUTH_MODES, config_file, read_config, write_config


@click.command(help="Save the service URL, key, auth mode and storage connection string in "
                    "the user's config file (used when no flag or BEP_* variable is given). "
                    "With no options, show what is saved.")
@click.option("--url", help="Service URL, e.g. https://<app>.azurewebsites.net/api.")
@click.option("--key", help="Function key.")
@click.option("--auth", type=click.Choice(AUTH_MODES), help="key or aad (Entra token).")
@click.option("--storage-connection-string", help="Storage for uploading local inputs.")
def configure(url, key, auth, storage_connection_string):
    values = {"url": url, "key": key, "auth": auth,
              "storage_connection_string": storage_connection_string}
    if any(v is not None for v in values.values()):
        click.echo(f"saved to {write_config(values)}", err=True)
    shown = {k: ("***" if k in ("key", "storage_connection_string") else v)
             for k, v in read_config().items()}
    click.echo(json.dumps({"file": str(config_file()), **shown}, indent=2))
