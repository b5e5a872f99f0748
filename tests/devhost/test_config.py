"""host.json, local.settings.json and app-setting overrides (no host needed)."""

from __future__ import annotations

import json
import os

import pytest

from devhost import config, keys


def write(folder, host=None, values=None, settings_name="local.settings.json", port=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "host.json").write_text(json.dumps(host or {"version": "2.0"}))
    doc = {"IsEncrypted": False, "Values": values or {}}
    if port is not None:
        doc["Host"] = {"LocalHttpPort": port}
    (folder / settings_name).write_text(json.dumps(doc))
    return folder


def test_defaults_are_the_real_hosts_in_development(tmp_path):
    cfg = config.load(write(tmp_path / "My_App.Functions"), env={})
    q = cfg.queues
    assert (q.batch_size, q.max_dequeue_count, q.visibility_timeout, q.message_encoding) == (
        16, 5, 0.0, "base64")
    assert q.new_batch_threshold == 8 * (os.cpu_count() or 1)
    assert q.max_polling_interval == 2.0  # 1 min in Azure, 2 s in development
    assert cfg.route_prefix == "api" and cfg.poison_blob_threshold == 5
    assert cfg.function_timeout == 1800.0 and cfg.http_port == 7071
    assert cfg.host_id == "myappfunctions"


def test_host_json_values_and_app_setting_overrides(tmp_path):
    host = {"version": "2.0", "functionTimeout": "00:05:00",
            "extensions": {"http": {"routePrefix": ""},
                           "queues": {"batchSize": 64, "maxPollingInterval": "00:00:00.250",
                                      "visibilityTimeout": "00:00:30",
                                      "messageEncoding": "None"},
                           "blobs": {"poisonBlobThreshold": 2}}}
    folder = write(tmp_path / "p", host, values={
        "AzureFunctionsJobHost__extensions__queues__maxDequeueCount": "2"}, port=7999)
    cfg = config.load(folder, env={"AzureFunctionsJobHost__functionTimeout": "-1",
                                   "AzureFunctionsWebHost__hostid": "fixed-id"})
    assert cfg.route_prefix == "" and cfg.function_timeout is None
    assert cfg.queues.batch_size == 32  # capped as the real host caps it
    assert cfg.queues.max_polling_interval == 0.25 and cfg.queues.visibility_timeout == 30
    assert cfg.queues.message_encoding == "none" and cfg.queues.max_dequeue_count == 2
    assert cfg.poison_blob_threshold == 2 and cfg.http_port == 7999
    assert cfg.host_id == "fixed-id"


def test_environment_wins_over_local_settings(tmp_path):
    folder = write(tmp_path / "p", values={
        "AzureFunctionsJobHost__extensions__queues__batchSize": "4"})
    cfg = config.load(folder, env={"AzureFunctionsJobHost__extensions__queues__batchSize": "8"})
    assert cfg.queues.batch_size == 8


def test_missing_local_settings_is_copied_from_the_sample(tmp_path):
    folder = write(tmp_path / "p", values={"A": "1"}, settings_name="local.settings.sample.json")
    cfg = config.load(folder, env={})
    assert (folder / "local.settings.json").read_text() == (
        folder / "local.settings.sample.json").read_text()
    assert cfg.values == {"A": "1"}


@pytest.mark.parametrize(("text", "seconds"), [
    ("00:00:02", 2), ("00:10:00", 600), ("00:00:00.500", 0.5), ("1.00:00:00", 86400), (3, 3)])
def test_timespans(text, seconds):
    assert config._timespan(text, 0) == seconds


def test_keys_are_made_once_and_kept(tmp_path):
    made = keys.ensure(tmp_path)
    assert set(made) == {"masterKey", "functionKeys", "systemKeys"}
    assert set(made["systemKeys"]) == {"eventgrid_extension", "blobs_extension"}
    assert keys.ensure(tmp_path) == made == keys.load(tmp_path)
    assert keys.path(tmp_path) == tmp_path / ".devhost" / "keys.json"
    assert oct(keys.path(tmp_path).stat().st_mode & 0o777) == "0o600"


def test_which_keys_each_level_accepts(tmp_path):
    k = keys.ensure(tmp_path)
    master, function = k["masterKey"], k["functionKeys"]["default"]
    eventgrid = k["systemKeys"]["eventgrid_extension"]
    assert keys.accepts(k, "", "anonymous")
    assert keys.accepts(k, function, "function") and keys.accepts(k, master, "function")
    assert not keys.accepts(k, eventgrid, "function") and not keys.accepts(k, "", "function")
    assert keys.accepts(k, master, "admin") and not keys.accepts(k, function, "admin")
    assert keys.accepts(k, eventgrid, "system:eventgrid_extension")
    assert keys.accepts(k, master, "system:blobs_extension")
    assert not keys.accepts(k, eventgrid, "system:blobs_extension")
    assert keys.presented({"x-functions-key": "h"}, {"code": "q"}) == "h"
    assert keys.presented({}, {"code": "q"}) == "q"
