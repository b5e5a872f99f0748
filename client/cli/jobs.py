"""`bep job ...` (az ml job), for batch jobs."""

from __future__ import annotations

import click

from client.cli._common import MAX_RESULTS, NAME, NO_WAIT, command, first, note
from client.cli.endpoints import stream as follow

group = click.Group("job", help="Show, follow, download, cancel and retry batch jobs.")


@command(group, "show", help="Show a job: status, progress, outputs, error.")
@NAME
@click.option("--web", is_flag=True, help="Print the job's page in Studio (nothing else).")
def show(session, name, web):
    job = session.client.jobs.get(name)
    if web:
        note("open in a browser (Studio asks for the function key once):")
        click.echo(session.studio_url(f"jobs/{job.name}"))
        return None
    return job


@command(group, "list", help="List jobs, newest first.")
@click.option("--status", help="Only jobs in this state, e.g. Running or Failed.")
@click.option("--name", "-n", "name_part", help="Only jobs whose name contains this "
                                                "(case-insensitive).")
@MAX_RESULTS
def list_(session, status, name_part, max_results):
    return first(session.client.jobs.list(status=status, name=name_part), max_results)


@command(group, "stream", help="Follow a job with a progress bar until it ends.")
@NAME
def stream(session, name):
    return follow(session, session.client.jobs.get(name))


@command(group, "download", help="Download a job's outputs to "
                                 "<download-path>/named-outputs/<output-name>/.")
@NAME
@click.option("--output-name", type=click.Choice(["score", "errors", "summary"]),
              default="score", show_default=True, help="Which output to download.")
@click.option("--download-path", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Folder to download into.")
@click.option("--all", "all_", is_flag=True, help="Download every output of the job.")
def download(session, name, output_name, download_path, all_):
    files = session.client.jobs.download(name, output_name=output_name,
                                         download_path=download_path, all=all_)
    return [str(f) for f in files]


@command(group, "cancel", help="Cancel a job and wait until it is Canceled.")
@NAME
@NO_WAIT
def cancel(session, name, no_wait):
    poller = session.client.jobs.begin_cancel(name)
    return poller.polling_method().resource() if no_wait else poller.result()


@command(group, "retry", help="Start a new job over the items that failed in a job.")
@NAME
@click.option("--deployment-name", "-d", help="Deployment for the new job (default: the "
                                              "failed job's).")
@click.option("--stream", "follow_job", is_flag=True,
              help="Follow the new job with a progress bar until it ends.")
def retry(session, name, deployment_name, follow_job):
    job = session.client.jobs.retry(name, deployment_name=deployment_name)
    return follow(session, job) if follow_job else job
