"""The app settings the Bicep sets and the ones the code and its bindings read agree.

Read by the code: `os.environ.get("X"[, default])` / `os.environ["X"]` in the modules that
ship, `%X%` in binding expressions, and binding `connection` names (a connection string or
`<name>__*` identity settings). Anything else the Bicep sets must be read by the Functions
host or a library it names below.
"""

from __future__ import annotations

import ast
import re

from azure.identity import ManagedIdentityCredential

from shared.storage.connection import from_environment
from tests.infra.project import app_functions, bicep, bicep_app_settings, shipped_modules

# Settings read by the platform rather than by our code (keep short; say who reads each).
HOST_READ = {
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host: where telemetry goes",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host: Entra ID auth of telemetry",
    "AZURE_CLIENT_ID": "azure-identity DefaultAzureCredential: the user-assigned identity",
    "PYTHON_ISOLATE_WORKER_DEPENDENCIES": "Python worker: the app's azure-functions over its own",
    "PYTHON_ENABLE_OPENTELEMETRY": "Python worker: trace context of each invocation from the host",
    "OTEL_TRACES_SAMPLER": "azure-monitor-opentelemetry / OpenTelemetry SDK: the sampler",
    "OTEL_TRACES_SAMPLER_ARG": "azure-monitor-opentelemetry / OpenTelemetry SDK: its ratio",
}
# Connection suffixes the Functions host and shared/storage/connection.py both read.
CONNECTION_SUFFIXES = {"accountName", "credential", "clientId", "serviceUri",
                       "blobServiceUri", "queueServiceUri", "tableServiceUri"}
# Flex Consumption refuses these as app settings (the runtime is in functionAppConfig).
FLEX_REFUSED = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION",
                "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE",
                "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "SCM_DO_BUILD_DURING_DEPLOYMENT",
                "WEBSITE_NODE_DEFAULT_VERSION", "FUNCTIONS_WORKER_PROCESS_COUNT"}
EXPRESSION = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")


def code_reads() -> dict[str, bool]:
    """Setting name → whether the code has a default for it, over every shipped module."""
    reads: dict[str, bool] = {}
    for path in shipped_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            name, has_default = _environ_read(node)
            if name:
                reads[name] = reads.get(name, True) and has_default
    return reads


def _environ_read(node: ast.AST) -> tuple[str | None, bool]:
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        f = ast.unparse(node.func)
        if f in ("os.environ.get", "os.getenv"):
            return node.args[0].value, True  # .get(X) means "optional": None is its default
    if (isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)):
        return node.slice.value, False
    return None, False


def binding_expressions() -> set[str]:
    return {m for bindings in app_functions().values() for b in bindings
            for value in b.values() if isinstance(value, str)
            for m in EXPRESSION.findall(value)}


def connections() -> set[str]:
    return {b["connection"] for bindings in app_functions().values() for b in bindings
            if b.get("connection")}


def test_code_reads_settings_and_bindings_name_them():
    """The scans see what they should (else the checks below would pass on nothing)."""
    assert {"BATCH_INBOX_CONTAINER", "BATCH_EVENTGRID_TOPIC_ENDPOINT"} <= set(code_reads())
    assert binding_expressions() == {"BATCH_INBOX_CONTAINER"}
    assert connections() == {"AzureWebJobsStorage"}


def test_every_setting_the_app_needs_is_set_by_the_bicep():
    settings = bicep_app_settings()
    required = {name for name, has_default in code_reads().items() if not has_default}
    assert required - settings == set(), "read without a default but not set in Azure"
    assert binding_expressions() - settings == set(), "a %setting% the host cannot resolve"
    for connection in connections():
        assert connection in settings or any(s.startswith(f"{connection}__") for s in settings)


def test_every_setting_the_bicep_sets_is_read_by_something():
    read = set(code_reads()) | binding_expressions() | set(HOST_READ)
    for setting in bicep_app_settings():
        connection, _, suffix = setting.partition("__")
        if suffix:
            assert connection in connections() and suffix in CONNECTION_SUFFIXES, setting
        else:
            assert setting in read, f"{setting} is set in Azure but nothing reads it"
    assert bicep_app_settings() & FLEX_REFUSED == set()


def test_the_bicep_storage_connection_is_one_our_clients_understand():
    env = {s: f"https://st.{s.rsplit('__', 1)[1][:-10].lower()}.core.windows.net/"
           if s.endswith("ServiceUri") else "x" for s in bicep_app_settings()
           if s.startswith("AzureWebJobsStorage__")}
    env["AzureWebJobsStorage__credential"] = "managedidentity"
    account = from_environment(environ=env)
    assert account.connection_string is None
    assert account.table_endpoint == "https://st.table.core.windows.net"
    assert isinstance(account.credential(), ManagedIdentityCredential)


def test_inbox_subscription_delivers_to_the_apps_blob_trigger():
    blob_triggers = [name for name, bindings in app_functions().items()
                     if any(b["type"] == "blobTrigger" for b in bindings)]
    assert len(blob_triggers) == 1
    # Flex Consumption runs only the Event Grid-based blob trigger
    trigger = next(b for b in app_functions()[blob_triggers[0]] if b["type"] == "blobTrigger")
    assert str(trigger.get("source")) in ("EventGrid", "BlobSource.EVENT_GRID"), trigger
    events = bicep("app/inbox-events.bicep")
    assert f"var inboxFunctionName = '{blob_triggers[0]}'" in events
    assert "functionName=Host.Functions.${inboxFunctionName}" in events
    assert "systemKeys.blobs_extension" in events
    assert "subjectBeginsWith: '/blobServices/default/containers/${inboxContainerName}/'" in events
    assert "'Microsoft.Storage.BlobCreated'" in events
    assert "BATCH_INBOX_CONTAINER: inboxContainerName" in bicep("app/api.bicep")


def test_the_bicep_creates_every_queue_the_bindings_name():
    named = {b["queueName"] for bindings in app_functions().values() for b in bindings
             if b.get("queueName")}
    block = re.search(r"var appQueues = \[(.*?)\]", bicep("main.bicep"), re.DOTALL).group(1)
    assert set(re.findall(r"'([a-z0-9-]+)'", block)) == named
