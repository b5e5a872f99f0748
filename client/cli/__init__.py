"""`bep`: the batch endpoints CLI, with `az ml`'s verbs and flags.

    bep batch-endpoint create --file endpoint.yml --name mnist-batch
    bep batch-deployment create --file deployment.yml --endpoint-name mnist-batch --set-default
    bep batch-endpoint invoke --name mnist-batch --input ./sample --stream
    bep job download --name <job> --output-name score

Errors are one line on stderr and a non-zero exit code. Shell completion is Click's:
`eval "$(_BEP_COMPLETE=bash_source bep)"` (zsh_source, fish_source for other shells).
"""

from __future__ import annotations

import logging
import os

import click
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
)

from client import DocumentError, JobFailedError
from client._pipeline import describe
from client.cli import configure, data, datastores, deployments, endpoints, jobs, models
from client.cli._common import service_options


@click.group(help=__doc__.split("\n\n")[0], context_settings={"help_option_names":
                                                                 ["-h", "--help"]})
@service_options
def cli(**_: str | None) -> None:
    """The service options may come before the group too (read by each command)."""


for module in (endpoints, deployments, jobs, models, datastores, data):
    cli.add_command(module.group)
cli.add_command(configure.configure)


def _message(error: BaseException) -> str:
    """One line saying what went wrong, in the service's words where it spoke."""
    if isinstance(error, ServiceRequestError):
        return ("cannot reach the service: connection failed "
                f"({str(error).splitlines()[0][-120:]}); check --url / BEP_URL")
    if isinstance(error, HttpResponseError) and hasattr(error, "error_code"):
        return describe(error)
    if isinstance(error, ClientAuthenticationError) and error.status_code is None:
        return ("no Entra credential (used by --auth aad): sign in (az login) or set "
                "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET")
    if isinstance(error, AzureError):
        return (str(error.message or error).strip().splitlines() or [type(error).__name__])[0]
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def main(argv: list[str] | None = None) -> int:
    if not os.environ.get("BEP_DEBUG"):  # the SDKs' own warnings would repeat the error
        logging.getLogger("azure").setLevel(logging.ERROR)
    try:
        result = cli.main(args=argv, prog_name="bep", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except (JobFailedError, DocumentError, AzureError, OSError, ValueError,
            TimeoutError) as e:
        click.echo(f"error: {_message(e)}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as e:  # a bug here, not the user's input: still one line by default
        if os.environ.get("BEP_DEBUG"):
            raise
        click.echo(f"error: internal error ({type(e).__name__}: {_message(e)}); "
                   "run with BEP_DEBUG=1 for a traceback", err=True)
        return 1
    return result if isinstance(result, int) else 0
