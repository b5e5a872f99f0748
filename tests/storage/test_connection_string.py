"""Connection strings: development storage and a real Azurite behind every client."""

from azure.data.tables import TableServiceClient

from shared.storage.clients import default_storage
from shared.storage.connection import StorageAccount, expand


def test_development_storage_expands_for_every_client():
    full = expand("UseDevelopmentStorage=true")
    assert "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1" in full
    account = StorageAccount.from_connection_string("UseDevelopmentStorage=true")
    assert account.name == "devstoreaccount1"
    assert account.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert account.queue_endpoint == "http://127.0.0.1:10001/devstoreaccount1"
    assert account.credential() is None


def test_tables_work_against_real_azurite(storage_connection_string, unique_name):
    service = TableServiceClient.from_connection_string(storage_connection_string)
    table = service.create_table(unique_name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "n": 1})
    assert table.get_entity("p", "r")["n"] == 1


def test_app_setting_connection_string_reaches_blob_queue_and_table(
        azurite, monkeypatch, unique_name):
    """`AzureWebJobsStorage` as a connection string: the app's Storage talks to Azurite."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "ignored")  # the string wins
    storage = default_storage()
    assert storage.account.connection_string == azurite.connection_string
    storage.container(unique_name).upload_blob("a.txt", b"hello")
    assert storage.container(unique_name).download_blob("a.txt").readall() == b"hello"
    storage.send(unique_name, "message")
    assert next(storage.queue(unique_name).receive_messages()).content == "message"
    storage.table(unique_name).create_entity({"PartitionKey": "p", "RowKey": "r"})
    assert storage.table(unique_name).get_entity("p", "r")["RowKey"] == "r"
