"""Identity-based connections (`AzureWebJobsStorage__*`): which client, URL and credential.

No token is ever requested here (that would call the managed-identity endpoint, which only
exists in Azure): the tests check what each form of settings builds.
"""

import pytest
from azure.data.tables import TableServiceClient
from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared.errors import ConfigError
from shared.storage.clients import Storage
from shared.storage.connection import from_environment

CLIENT_ID = "00000000-1111-2222-3333-444444444444"


def storage_for(**settings: str) -> Storage:
    env = {f"AzureWebJobsStorage__{key}": value for key, value in settings.items()}
    return Storage(from_environment(environ=env))


def urls(storage: Storage) -> tuple[str, str, str]:
    return storage.blobs.url, storage._queues.url, storage.tables.url


def test_account_name_with_user_assigned_identity():
    storage = storage_for(accountName="stbatch", credential="managedidentity",
                          clientId=CLIENT_ID)
    assert (type(storage.blobs), type(storage._queues), type(storage.tables)) == (
        BlobServiceClient, QueueServiceClient, TableServiceClient)
    assert urls(storage) == ("https://stbatch.blob.core.windows.net/",
                             "https://stbatch.queue.core.windows.net/",
                             "https://stbatch.table.core.windows.net")
    credential = storage.blobs.credential
    assert isinstance(credential, ManagedIdentityCredential)
    assert storage._queues.credential is credential and storage.tables.credential is credential
    # the client id reaches the identity endpoint's settings (azure-identity's own field)
    assert credential._credential._settings["client_id"] == CLIENT_ID
    assert storage.account.name == "stbatch"


def test_service_uris_without_credential_use_default_azure_credential():
    storage = storage_for(blobServiceUri="https://stx.blob.core.windows.net",
                          queueServiceUri="https://stx.queue.core.windows.net/",
                          tableServiceUri="https://stx.table.core.windows.net")
    assert urls(storage) == ("https://stx.blob.core.windows.net/",
                             "https://stx.queue.core.windows.net/",
                             "https://stx.table.core.windows.net")
    assert isinstance(storage.blobs.credential, DefaultAzureCredential)
    assert storage.account.name == "stx"
    assert storage.account.blob_endpoint == "https://stx.blob.core.windows.net"


def test_service_uri_is_the_blob_uri_and_overrides_the_account_name():
    storage = storage_for(accountName="stname", serviceUri="https://custom.example/blobs")
    assert urls(storage)[0] == "https://custom.example/blobs/"
    assert urls(storage)[1] == "https://stname.queue.core.windows.net/"
    assert storage.account.name == "stname"


def test_managed_identity_without_client_id_is_the_system_assigned_one():
    storage = storage_for(accountName="stbatch", credential="ManagedIdentity")
    assert isinstance(storage.blobs.credential, ManagedIdentityCredential)
    assert storage.blobs.credential._credential._settings["client_id"] is None


def test_service_principal_settings_give_a_client_secret_credential():
    storage = storage_for(accountName="stbatch", tenantId="t", clientId=CLIENT_ID,
                          clientSecret="s")
    assert isinstance(storage.tables.credential, ClientSecretCredential)


def test_setting_names_match_without_regard_to_case():
    account = from_environment(environ={"AZUREWEBJOBSSTORAGE__ACCOUNTNAME": "stcase"})
    assert account.table_endpoint == "https://stcase.table.core.windows.net"


def test_azurite_style_uris_name_the_account_from_the_path():
    account = from_environment(environ={
        "AzureWebJobsStorage__blobServiceUri": "http://127.0.0.1:10000/devstoreaccount1",
        "AzureWebJobsStorage__queueServiceUri": "http://127.0.0.1:10001/devstoreaccount1",
        "AzureWebJobsStorage__tableServiceUri": "http://127.0.0.1:10002/devstoreaccount1"})
    assert account.name == "devstoreaccount1"


@pytest.mark.parametrize(("env", "field", "rule"), [
    ({}, "AzureWebJobsStorage", "missing"),
    ({"AzureWebJobsStorage__blobServiceUri": "https://a.blob.core.windows.net"},
     "AzureWebJobsStorage__queueServiceUri", "queue"),
    ({"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__credential": "cli"},
     "AzureWebJobsStorage__credential", "managedidentity"),
    ({"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__clientSecret": "s"},
     "AzureWebJobsStorage__clientSecret", "tenantId"),
])
def test_incomplete_settings_are_refused_naming_the_setting(env, field, rule):
    """A configuration error (the operator's, answered 500), never a caller's 400."""
    with pytest.raises(ConfigError) as raised:
        from_environment(environ=env)
    assert f"app setting {field} " in str(raised.value)
    assert rule in str(raised.value)


def test_event_topic_signs_in_with_its_key_or_else_with_an_identity(monkeypatch):
    from azure.core.credentials import AzureKeyCredential

    from shared.events import outbound

    topic = "https://jobs.westeurope-1.eventgrid.azure.net/api/events"
    monkeypatch.setenv("BATCH_EVENTGRID_TOPIC_KEY", "key")
    assert isinstance(outbound._topic_client(topic)._credential, AzureKeyCredential)
    monkeypatch.delenv("BATCH_EVENTGRID_TOPIC_KEY")
    assert isinstance(outbound._topic_client(topic)._credential, DefaultAzureCredential)


def test_lean_requests_with_a_token_carry_the_date_as_the_sdks_send_it():
    """Storage wants `x-ms-date` on requests authorized with a bearer token, as the SDKs'
    headers policy sends it; the lean requests (signedrequests.py) add it with the token."""
    from datetime import UTC, datetime, timedelta
    from email.utils import parsedate_to_datetime
    from types import SimpleNamespace

    class Token:
        def get_token(self, *scopes):
            return SimpleNamespace(token="t0ken", expires_on=(datetime.now(UTC)
                                                               + timedelta(hours=1)).timestamp())

    storage = Storage(from_environment(environ={
        "AzureWebJobsStorage__accountName": "acct"}))
    for lean in (storage.reads, storage.rows, storage.transactions, storage.puts):
        lean._credential = Token()
        headers: dict[str, str] = {}
        assert lean._sign("resource", headers) == ""  # no SAS: a token
        assert headers["Authorization"] == "Bearer t0ken"
        sent = parsedate_to_datetime(headers["x-ms-date"])
        assert abs((sent - datetime.now(UTC)).total_seconds()) < 60
