"""The app is indexed by the Python worker's own code (azure-functions-runtime), so the local
host refuses what Azure refuses — and, as in Azure, one refused function means none runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from devhost import testing

ROOT = Path(__file__).resolve().parents[2]
REFUSED_APP = textwrap.dedent('''
    import azure.functions as func

    app = func.FunctionApp()

    @app.route(route="ping", auth_level=func.AuthLevel.ANONYMOUS)
    def ping(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("pong")

    @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="next", connection="AzureWebJobsStorage")
    def relay(msg: func.QueueMessage, out: func.Out[list[str]]) -> None:
        out.set([msg.get_body().decode()])
''')


def test_builtin_generic_out_is_refused_and_no_function_runs(azurite, tmp_path):
    app_file = tmp_path / "refused_app.py"
    app_file.write_text(REFUSED_APP)
    project = testing.make_project(tmp_path / "project", app_file, azurite.connection_string)
    with testing.HostProcess(project) as host:
        host.wait_for_log("Worker failed to index functions")
        assert ("FunctionLoadError: cannot load the relay function: binding out has invalid "
                "non-type annotation azure.functions._abc.Out[list[str]]") in host.logs()
        assert "No job functions found." in host.logs()
        # the worker refuses the whole app: the valid HTTP function is not served either
        assert httpx.get(f"{host.api}/ping").status_code == 404


def test_every_function_of_the_product_app_loads_under_the_worker_loader():
    """Indexed in a fresh process (get_functions() may run once per app)."""
    script = textwrap.dedent('''
        import json
        import function_app
        from devhost import pyworker
        names = [fb._function.get_function_name() for fb in function_app.app._function_builders]
        indexed = pyworker.index(function_app.app)
        print(json.dumps({"declared": names,
                          "indexed": [info.name for _, info in indexed]}))
    ''')
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr  # an IndexingError names the refused function
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["declared"]) >= 29
    assert sorted(result["indexed"]) == sorted(result["declared"])


@pytest.mark.parametrize("annotation, refused", [
    ("func.Out[typing.List[str]]", False),
    ("func.Out[str]", False),
    ("func.Out[list[str]]", True),
    ("func.Out[dict[str, str]]", True),
])
def test_out_annotations_as_the_worker_judges_them(annotation, refused, tmp_path):
    """The worker's rule, not ours: the same check in a fresh process per annotation."""
    (tmp_path / "function_app.py").write_text(textwrap.dedent(f'''
        import typing
        import azure.functions as func
        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="out", queue_name="next", connection="AzureWebJobsStorage")
        def relay(msg: func.QueueMessage, out: {annotation}) -> None:
            pass
    '''))
    script = ("import sys, function_app; sys.path.insert(0, sys.argv[1]); "
              "from devhost import pyworker; pyworker.index(function_app.app)")
    out = subprocess.run([sys.executable, "-c", script, str(ROOT)], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert (out.returncode != 0) == refused, out.stderr
    if refused:
        assert "invalid non-type annotation" in out.stderr


def test_importing_the_app_loads_no_scoring_library():
    """Cold start: onnxruntime, pyarrow and Pillow load only in the functions that score or
    read tables, not when the worker imports function_app (bench.coldstart measures it)."""
    script = ("import sys, function_app; "
              "print(','.join(m for m in ('onnxruntime', 'pyarrow', 'PIL', 'numpy') "
              "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.strip() == ""
