import pytest

from shared import names
from shared.errors import ValidationError
from shared.jobs import invoke
from shared.resources.schemas import parse
from shared.resources.schemas.resources import DeploymentBody
from shared.resources.settings import DeploymentSettings, apply_overrides


def parse_deployment_settings(body: dict) -> DeploymentSettings:
    return parse(DeploymentBody, {"model": "m:1", **body}).value.resolved_settings()


def test_defaults_are_azure_mls():
    s = parse_deployment_settings({})
    assert (s.instance_count, s.max_concurrency_per_instance, s.mini_batch_size) == (1, 1, 10)
    assert s.output_action == "append_row" and s.output_file_name == "predictions.csv"
    assert (s.retry_settings.max_retries, s.retry_settings.timeout) == (3, 30)
    assert s.error_threshold == -1 and s.logging_level == "info"


def test_nested_and_legacy_root_layouts_agree():
    nested = parse_deployment_settings(
        {"settings": {"mini_batch_size": 5, "retry_settings": {"timeout": "PT1M"}},
         "resources": {"instance_count": 2}})
    legacy = parse_deployment_settings(
        {"mini_batch_size": 5, "retry_settings": {"timeout": 60},
         "resources": {"instance_count": 2}})
    assert nested == legacy
    assert nested.retry_settings.timeout == 60 and nested.max_in_flight == 2


@pytest.mark.parametrize("body, field", [
    ({"settings": {"mini_batch_size": 0}}, "settings.mini_batch_size"),
    ({"settings": {"output_action": "append"}}, "settings.output_action"),
    ({"settings": {"retry_settings": {"timeout": "soon"}}}, "settings.retry_settings.timeout"),
    ({"settings": {"bogus": 1}}, "settings.bogus"),
    ({"settings": {"output_file_name": "../x.csv"}}, "settings.output_file_name"),
    ({"mini_batch_size": 3, "settings": {"mini_batch_size": 4}}, "mini_batch_size"),
])
def test_bad_settings_name_the_field(body, field):
    with pytest.raises(ValidationError) as err:
        parse_deployment_settings(body)
    assert err.value.field == field


def test_overrides_replace_only_what_is_named():
    s = apply_overrides(DeploymentSettings(), {"mini_batch_size": 3,
                                               "retry_settings": {"max_retries": 0}})
    assert s.mini_batch_size == 3 and s.retry_settings.max_retries == 0
    assert s.retry_settings.timeout == 30


@pytest.mark.parametrize("rule, good", [
    (names.endpoint_or_deployment_name, "abc"), (names.asset_name, "digits"),
    (names.version, "1"), (names.job_name, "nljob-1"), (names.container_name, "inputs"),
    (names.output_file_name, "predictions.csv"),
])
@pytest.mark.parametrize("suffix", ["\n", "\r", "\x00", "\x85", "\ud800", "\x1b[31m"])
def test_every_name_rule_matches_the_whole_name(rule, good, suffix):
    assert rule(good) == good
    with pytest.raises(ValidationError) as err:
        rule(good + suffix)
    assert err.value.field in ("name", "version", "job_name", "container_name",
                               "output_file_name")


def test_internal_containers_include_what_infra_creates():
    from pathlib import Path

    from shared import config

    infra = Path(__file__).resolve().parents[2] / "infra"
    text = (infra / "main.bicep").read_text() + (infra / "app" / "inbox-events.bicep").read_text()
    assert f"deploymentContainerName = '{config.DEPLOYMENT_CONTAINER}'" in text
    assert f"deadLetterContainerName = '{config.DEADLETTER_CONTAINER}'" in text
    for name in ("app-package", "inbox-deadletter", "batch-jobs", "batch-models",
                 "azure-webjobs-hosts", "azure-webjobs-secrets", "batch-score-poison",
                 "webjobs-blobtrigger-poison", "scm-releases"):
        assert config.internal_container(name), name
    for name in ("workspaceblobstore", "inbox", "my-data", "app-packages2"):
        assert not config.internal_container(name), name


@pytest.mark.parametrize("value, ok", [
    ("abc", True), ("a-b-c", True), ("ab", False), ("a" * 33, False), ("1abc", False),
    ("abc-", False), ("ab_c", False),
])
def test_endpoint_name_rule(value, ok):
    if ok:
        assert names.endpoint_or_deployment_name(value) == value
    else:
        with pytest.raises(ValidationError, match="3-32 characters"):
            names.endpoint_or_deployment_name(value)


def test_native_invoke_body():
    req = invoke.parse_request({
        "inputs": {"images": {"type": "uri_folder", "path": "azureml://datastores/d/paths/x"}},
        "outputs": {"score": {"type": "uri_file", "path": "out/p.csv"}},
        "mini_batch_size": 4, "params_override": [{"error_threshold": 2}],
        "deployment_name": "blue"}, header_deployment="green")
    assert req.input_path == "azureml://datastores/d/paths/x" and req.input_type == "uri_folder"
    assert req.output_path == "out/p.csv" and req.output_type == "uri_file"
    assert req.deployment_name == "blue"
    assert req.overrides == {"mini_batch_size": 4, "error_threshold": 2}


def test_aml_rest_invoke_body_and_header_deployment():
    req = invoke.parse_request({"properties": {
        "InputData": {"heart": {"JobInputType": "UriFile", "Uri": "data/heart.csv"}},
        "OutputData": {"score": {"JobOutputType": "UriFile", "Uri": "out/h.csv"}}}},
        header_deployment="green")
    assert (req.input_path, req.input_type) == ("data/heart.csv", "uri_file")
    assert (req.output_path, req.output_type) == ("out/h.csv", "uri_file")
    assert req.deployment_name == "green"


@pytest.mark.parametrize("body, field", [
    ([], "body"),
    ({"inputs": {}}, "inputs"),
    ({"inputs": {"a": {"path": "x"}}, "surprise": 1}, "surprise"),
    ({"properties": {"InputData": {"a": {"JobInputType": "MLTable", "Uri": "x"}}}},
     "properties.InputData.a.JobInputType"),
    ({"inputs": {"a": {"path": "x"}}, "outputs": {"other": {}}}, "outputs.other"),
    ({"inputs": {"a": {"path": "x"}}, "mini_batch_size": "²"}, "mini_batch_size"),
    ({"inputs": {"a": {"path": "x"}}, "retry_settings": {"timeout": "²"}},
     "retry_settings.timeout"),
    ({"inputs": {"a": {"path": "x"}}, "params_override": [{"mini_batch_size": 0}]},
     "params_override.mini_batch_size"),
    ({"properties": {"inputData": {"a": {"uri": "x"}}, "miniBatchSize": True}},
     "properties.miniBatchSize"),
])
def test_bad_invoke_bodies(body, field):
    with pytest.raises(ValidationError) as err:
        invoke.parse_request(body)
    assert err.value.field == field


@pytest.mark.parametrize("url, allowed", [
    ("https://8.8.8.8/hook", True),
    ("http://169.254.169.254/latest/meta-data/", False),
    ("http://168.63.129.16/machine", False),
    ("http://10.0.0.5/hook", False),
    ("http://192.168.1.1/hook", False),
    ("http://[fe80::1]/hook", False),
    ("http://0.0.0.0:8080/", False),
    ("http://127.0.0.1:9000/hook", False),
    ("http://localhost:9000/hook", False),
    ("http://[::1]/hook", False),
    ("ftp://8.8.8.8/x", False),
    ("http://no-such-host.invalid/x", False),
])
def test_webhook_urls_must_reach_public_addresses(url, allowed, monkeypatch):
    from shared.resources import webhooks

    monkeypatch.delenv("BATCH_ALLOW_LOOPBACK_WEBHOOKS", raising=False)
    if allowed:
        assert webhooks.check_url(url) == url
    else:
        with pytest.raises(ValidationError) as err:
            webhooks.check_url(url)
        assert err.value.field == "notifications.webhook_url"


def test_loopback_webhooks_only_with_the_development_setting(monkeypatch):
    from shared.resources import webhooks

    monkeypatch.setenv("BATCH_ALLOW_LOOPBACK_WEBHOOKS", "true")
    assert webhooks.check_url("http://127.0.0.1:9000/hook")
    with pytest.raises(ValidationError):
        webhooks.check_url("http://169.254.169.254/")  # metadata stays refused

