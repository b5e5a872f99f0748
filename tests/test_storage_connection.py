from azure.data.tables import TableServiceClient

from shared.storage.connection import StorageAccount, expand


def test_development_storage_expands_for_every_client():
    full = expand("UseDevelopmentStorage=true")
    assert "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1" in full
    account = StorageAccount.from_connection_string("UseDevelopmentStorage=true")
    assert account.name == "devstoreaccount1"
    assert account.blob_endpoint == "http://127.0.0.1:10000/devstoreaccount1"


def test_tables_work_against_real_azurite(storage_connection_string, unique_name):
    service = TableServiceClient.from_connection_string(storage_connection_string)
    table = service.create_table(unique_name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "n": 1})
    assert table.get_entity("p", "r")["n"] == 1
