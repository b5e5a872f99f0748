import pytest

from shared.errors import NotFoundError, ValidationError
from shared.jobs import paths
from shared.resources import datastores


@pytest.fixture
def store(storage):
    datastores.create_or_update(storage, "images", {"container_name": "images-data"})
    return storage


def test_azureml_datastore_uri(store):
    loc = paths.resolve(store, "azureml://datastores/images/paths/batch/1/", "uri_folder", "in")
    assert (loc.datastore, loc.container, loc.path) == ("images", "images-data", "batch/1")
    assert loc.prefix == "batch/1/"
    default = paths.resolve(store, "azureml://datastores/workspaceblobstore/paths/a.csv",
                            "uri_file", "in")
    assert default.container == "workspaceblobstore"


def test_plain_container_path_and_own_blob_url(store):
    assert paths.resolve(store, "images-data/x/y.png", "uri_file", "in").path == "x/y.png"
    url = f"{store.account.blob_endpoint}/images-data/x%20y/z.png"
    assert paths.resolve(store, url, "uri_file", "in").path == "x y/z.png"


@pytest.mark.parametrize("value", [
    "https://evil.example.com/images-data/x",
    "http://127.0.0.1:1/devstoreaccount1/images-data/x",
    "/etc/passwd", "file:///etc/passwd", "C:/data", "images-data/../batch-models/x",
    "batch-models/m.onnx", "s3://bucket/x", "azureml:my-data:1",
])
def test_refused_locations(store, value):
    with pytest.raises(ValidationError) as err:
        paths.resolve(store, value, "uri_folder", "inputs")
    assert err.value.field == "inputs.path"


def test_unknown_datastore_is_404(store):
    with pytest.raises(NotFoundError):
        paths.resolve(store, "azureml://datastores/nope/paths/x", "uri_folder", "inputs")
