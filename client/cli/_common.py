"""What every command shares: the service options, `-o/--query`, `--set`, `--yes`, and the
client built from them."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
import yaml

from client import BatchClient
from client._entities import Resource
from client.cli import _output, _progress
from client.cli._settings import AUTH_MODES, Connection

NAME = click.option("--name", "-n", required=True, help="Name of the resource.")
ENDPOINT = click.option("--endpoint-name", "-e", required=True,
                        help="Name of the batch endpoint.")
FILE = click.option("--file", "-f", "file", type=click.Path(dir_okay=False),
                    help="Local path to the YAML file with the resource's configuration.")
SET = click.option("--set", "sets", multiple=True, metavar="PATH=VALUE",
                   help="Update a field of the document: dotted path=value (repeatable), "
                        "e.g. --set settings.mini_batch_size=20.")
NO_WAIT = click.option("--no-wait", is_flag=True,
                       help="Do not wait for the operation to finish.")
YES = click.option("--yes", "-y", is_flag=True, help="Do not prompt for confirmation.")

_SERVICE_OPTIONS = [
    click.option("--url", help="Service URL, e.g. https://<app>.azurewebsites.net/api "
                               "[env BEP_URL, or `bep configure`]."),
    click.option("--key", help="Function key sent as x-functions-key [env BEP_KEY]."),
    click.option("--auth", type=click.Choice(AUTH_MODES),
                 help="key: the function key; aad: an Entra token from "
                      "DefaultAzureCredential (scope https://ml.azure.com/.default), plus the "
                      "function key when one is given [env BEP_AUTH]."),
    click.option("--storage-connection-string",
                 help="Storage used to upload local inputs and models' folders "
                      "[env BEP_STORAGE_CONNECTION_STRING or AZURE_STORAGE_CONNECTION_STRING]; "
                      "without one, they go through the service (its key or token is enough)."),
    click.option("--output", "-o", "output", type=click.Choice(_output.FORMATS),
                 default="json", show_default=True, help="Output format."),
    click.option("--query", help="JMESPath query applied to the result, e.g. [].name."),
]


class Session:
    """One command's view of the service: its client and how to print results."""

    def __init__(self, output: str, query: str | None, **flags: str | None):
        self.connection = Connection.resolve(**flags)
        self.output, self.query = output, query
        self._client: BatchClient | None = None
        self._upload_bar: Any = None

    @property
    def client(self) -> BatchClient:
        if self._client is None:
            bar, on_start, on_progress = _progress.upload_progress()
            self._upload_bar = bar
            c = self.connection
            self._client = BatchClient(c.url, c.credential(),
                                       storage_connection_string=c.storage_connection_string,
                                       upload_progress=(on_start, on_progress))
        return self._client

    def close(self) -> None:
        if self._upload_bar is not None and self._upload_bar.live.is_started:
            self._upload_bar.stop()
        if self._client is not None:
            self._client.close()

    def emit(self, result: Any) -> None:
        if isinstance(result, Resource):
            warn(result.warnings)
        _output.emit(result, self.output, self.query)


def command(group: click.Group, name: str, help: str) -> Callable:
    """A subcommand of `group` taking the service options; the function gets a Session
    first and what it returns is printed."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(url, key, auth, storage_connection_string, output, query, **kwargs):
            session = Session(output, query, url=url, key=key, auth=auth,
                              storage_connection_string=storage_connection_string)
            try:
                result = fn(session, **kwargs)
                if result is not None:
                    session.emit(result)
            finally:
                session.close()

        for option in reversed(_SERVICE_OPTIONS):
            run = option(run)
        # The command's own options first in --help, the service options after them.
        params, n = run.__click_params__, len(_SERVICE_OPTIONS)
        run.__click_params__ = params[-n:] + params[:-n]
        return group.command(name, help=help, short_help=help.split(". ")[0])(run)

    return decorate


def overrides(sets: tuple[str, ...]) -> list[dict[str, Any]]:
    """`--set a.b=value` as azure-ai-ml's params_override; values read as YAML scalars."""
    out = []
    for item in sets:
        path, sep, value = item.partition("=")
        if not sep or not path:
            raise click.BadParameter(f"'{item}' is not PATH=VALUE", param_hint="--set")
        try:
            out.append({path: yaml.safe_load(value) if value else ""})
        except yaml.YAMLError:
            out.append({path: value})
    return out


def confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{what}: confirm with --yes/-y (no terminal to ask on)")
    click.confirm(f"Are you sure you want to {what}?", abort=True, err=True)


def warn(warnings: list[Any] | None) -> None:
    """The service's warnings (fields that mean nothing here, ...), one line each."""
    for w in warnings or []:
        if isinstance(w, dict):
            where = w.get("target") or w.get("field")
            text = w.get("message") or w.get("reason") or str(w)
            w = f"{where}: {text}" if where else text
        click.echo(f"warning: {w}", err=True)


def note(text: str) -> None:
    click.echo(text, err=True)
