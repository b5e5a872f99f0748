"""Local inputs uploaded to a datastore first, as `az ml` does for `--input ./folder`.

The files go under `LocalUpload/<sha256 of their names and bytes>/<file or folder name>`
(Azure ML's layout: content-addressed, so the same data lands on the same path). They go
straight to the storage account with azure-storage-blob, using a connection string, or else
an Entra credential on the datastore's account; the service itself moves no bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContainerClient

from client._entities import Datastore, DocumentError

Progress = Callable[[int], None]  # called with the bytes just sent


def local_files(path: Path) -> list[tuple[Path, str]]:
    """(file, blob name under the upload folder) for a file or every file of a folder."""
    if path.is_file():
        return [(path, path.name)]
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise DocumentError(f"input {path}: the folder has no files")
    return [(p, f"{path.name}/{p.relative_to(path).as_posix()}") for p in files]


def content_hash(files: list[tuple[Path, str]]) -> str:
    digest = hashlib.sha256()
    for local, name in files:
        digest.update(name.encode() + b"\0")
        with local.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def container_client(datastore: Datastore, connection_string: str | None,
                     credential=None) -> ContainerClient:
    """The datastore's container, through a connection string or an Entra credential."""
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string)
        if datastore.account_name and service.account_name != datastore.account_name:
            raise DocumentError(
                f"the storage connection string is for account '{service.account_name}', "
                f"but datastore {datastore.name} is in account '{datastore.account_name}'")
    else:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        service = BlobServiceClient(
            f"https://{datastore.account_name}.blob.core.windows.net", credential=credential)
    return service.get_container_client(datastore.container_name)


def upload(local: str | Path, datastore: Datastore, container: ContainerClient,
           on_progress: Progress | None = None, on_start: Callable[[int], None] | None = None
           ) -> str:
    """Upload a local file or folder; returns its `azureml://datastores/...` URI."""
    path = Path(local)
    if not path.exists():
        raise DocumentError(f"input {path}: no such file or folder")
    files = local_files(path)
    if on_start:
        on_start(sum(p.stat().st_size for p, _ in files))
    prefix = f"LocalUpload/{content_hash(files)}"
    try:
        container.create_container()  # a new workspace's datastore may hold nothing yet
    except ResourceExistsError:
        pass

    def send(item: tuple[Path, str]) -> None:
        local_file, name = item
        with local_file.open("rb") as f:
            container.upload_blob(f"{prefix}/{name}", f, overwrite=True)
        if on_progress:
            on_progress(local_file.stat().st_size)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, files))
    return f"azureml://datastores/{datastore.name}/paths/{prefix}/{path.name}"
