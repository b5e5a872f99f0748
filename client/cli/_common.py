"""What every command shares: the service options (after the verb, or before the group as
`bep --key ... batch-endpoint list`), `-o/--query`, `--set`, `--yes`, the client built from
them, and errors that say what to do."""

from __future__ import annotations

import functools
import itertools
import sys
from collections.abc import Callable
from typing import Any

import click
import yaml
from azure.core.exceptions import HttpResponseError

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
MAX_RESULTS = click.option("--max-results", "-r", type=click.IntRange(min=1),
                           help="At most this many (the newest first).")


def first(items: Any, max_results: int | None) -> Any:
    """The first `max_results` items of a pager (pages beyond them are not read)."""
    return items if max_results is None else list(itertools.islice(items, max_results))

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
                 help="Output format [default: json]."),
    click.option("--query", help="JMESPath query applied to the result, e.g. [].name."),
]


# One example per verb, shown at the end of its --help.
EXAMPLES = {
    "batch-endpoint create": "bep batch-endpoint create --file endpoint.yml --name mnist-batch",
    "batch-endpoint update": "bep batch-endpoint update -n mnist-batch --set description=digits",
    "batch-endpoint show": "bep batch-endpoint show -n mnist-batch --query scoring_uri -o tsv",
    "batch-endpoint list": "bep batch-endpoint list -o table",
    "batch-endpoint delete": "bep batch-endpoint delete -n mnist-batch --yes",
    "batch-endpoint list-jobs": "bep batch-endpoint list-jobs -n mnist-batch -r 5 -o table",
    "batch-endpoint invoke": "bep batch-endpoint invoke -n mnist-batch --input ./sample --stream",
    "batch-deployment create": "bep batch-deployment create --file deployment.yml "
                               "--endpoint-name mnist-batch --set-default",
    "batch-deployment update": "bep batch-deployment update -n blue -e mnist-batch "
                               "--set settings.mini_batch_size=20",
    "batch-deployment show": "bep batch-deployment show -n blue -e mnist-batch",
    "batch-deployment list": "bep batch-deployment list -e mnist-batch -o table",
    "batch-deployment delete": "bep batch-deployment delete -n green -e mnist-batch --yes",
    "batch-deployment list-jobs": "bep batch-deployment list-jobs -n blue -e mnist-batch -r 5",
    "job show": "bep job show -n <job> --query progress.items",
    "job list": "bep job list --status Failed -r 10 -o table",
    "job stream": "bep job stream -n <job>",
    "job download": "bep job download -n <job> --output-name score --download-path ./",
    "job cancel": "bep job cancel -n <job>",
    "job retry": "bep job retry -n <job> --stream",
    "model create": "bep model create -n digits --path ./model/digits.onnx",
    "model show": "bep model show -n digits --label latest",
    "model list": "bep model list -o table",
    "model delete": "bep model delete -n digits -v 1 --yes",
    "datastore create": "bep datastore create --file datastore.yml",
    "datastore list": "bep datastore list -o table",
    "datastore show": "bep datastore show -n workspaceblobstore",
    "datastore delete": "bep datastore delete -n userdata --yes",
    "data create": "bep data create -n mnist-sample --path ./sample",
    "data show": "bep data show -n mnist-sample --label latest",
    "data list": "bep data list -n mnist-sample -o table",
    "data delete": "bep data delete -n mnist-sample -v 1 --yes",
}

SERVICE_FLAGS = ("url", "key", "auth", "storage_connection_string", "output", "query")


class UserError(click.ClickException):
    """A mistake the user can fix, said in one line with what to do (exit code 1)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def service_options(fn: Callable) -> Callable:
    for option in reversed(_SERVICE_OPTIONS):
        fn = option(fn)
    return fn


class Session:
    """One command's view of the service: its client and how to print results."""

    def __init__(self, output: str | None, query: str | None, **flags: str | None):
        self.connection = Connection.resolve(**flags)
        self.output, self.query = output or "json", query
        self.asked_for_output = output is not None or query is not None
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

    def studio_url(self, route: str) -> str:
        """Studio's page for `route` (the app serves Studio at <api>/studio/)."""
        return f"{self.connection.url.rstrip('/')}/studio/#/{route}"

    def unauthorized(self, error: HttpResponseError) -> UserError:
        """A 401 that says which credential was sent and where the right one comes from."""
        c = self.connection
        if c.auth == "aad":
            sent = "an Entra token" + (f" and the function key from {c.key_source}"
                                       if c.key else "")
        elif c.key:
            sent = f"the function key from {c.key_source}"
        else:
            sent = "no function key (none given by --key, BEP_KEY or `bep configure`)"
        return UserError(
            f"the service at {c.url} refused {sent} (HTTP 401). A local host prints its key "
            "when it starts (scripts/run; functionKeys.default in .devhost/keys.json); in "
            "Azure: az functionapp keys list -g <group> -n <app>. Give it with --key, BEP_KEY "
            "or `bep configure --key <key>`.")


def _with_root_options(ctx: click.Context, given: dict[str, Any]) -> dict[str, Any]:
    """The service options given after the verb, else those given before the group."""
    root = ctx.find_root().params
    return {k: given[k] if given.get(k) is not None else root.get(k) for k in SERVICE_FLAGS}


def command(group: click.Group, name: str, help: str) -> Callable:
    """A subcommand of `group` taking the service options; the function gets a Session
    first and what it returns is printed."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(**kwargs):
            flags = _with_root_options(click.get_current_context(),
                                       {k: kwargs.pop(k) for k in SERVICE_FLAGS})
            session = Session(flags.pop("output"), flags.pop("query"), **flags)
            try:
                result = fn(session, **kwargs)
                if result is not None:
                    session.emit(result)
            except HttpResponseError as e:
                if e.status_code == 401:
                    raise session.unauthorized(e) from e
                raise
            finally:
                session.close()

        run = service_options(run)
        # The command's own options first in --help, the service options after them.
        params, n = run.__click_params__, len(_SERVICE_OPTIONS)
        run.__click_params__ = params[-n:] + params[:-n]
        example = EXAMPLES.get(f"{group.name} {name}")
        return group.command(name, help=help, short_help=help.split(". ")[0],
                             epilog=f"\b\nExample:\n  {example}" if example else None)(run)

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
