"""Local inputs uploaded to a datastore first, as `az ml` does for `--input ./folder`.

The files go under `LocalUpload/<sha256 of their names and bytes>/<file or folder name>`
(Azure ML's layout: content-addressed, so the same data lands on the same path). With a
storage connection string or an Entra credential they go straight to the storage account
with azure-storage-blob; with only the service's URL and key they go through the service
(`PUT /datastores/<ds>/paths/<path>`, big files in parts), and a folder uploaded whole
before is not sent again (a `.complete` marker beside it says so).
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
PART_BYTES = 16 * 1024 * 1024  # per request through the service (it takes up to 32 MiB)
MARKER = ".complete"  # beside an upload folder once all of it is in (through the service)


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


def upload_through_service(local: str | Path, datastore: str, pipeline,
                           on_progress: Progress | None = None,
                           on_start: Callable[[int], None] | None = None) -> str:
    """Upload through the service with only its key or token; returns the azureml:// URI.
    An upload already complete is skipped; a file already there (an upload cut short after
    it) is not sent again."""
    path = Path(local)
    if not path.exists():
        raise DocumentError(f"input {path}: no such file or folder")
    files = local_files(path)
    prefix = f"LocalUpload/{content_hash(files)}"
    uri = f"azureml://datastores/{datastore}/paths/{prefix}/{path.name}"
    total = sum(p.stat().st_size for p, _ in files)
    if on_start:
        on_start(total)
    listing = pipeline.request("GET", f"datastores/{datastore}/paths",
                               params={"prefix": f"{prefix}/"}).json()
    if any(f["name"] == f"{prefix}/{MARKER}" for f in listing["files"]):
        if on_progress:
            on_progress(total)
        return uri

    def send(item: tuple[Path, str]) -> None:
        local_file, name = item
        route = f"datastores/{datastore}/paths/{prefix}/{name}"
        size, sent = local_file.stat().st_size, 0
        try:
            with local_file.open("rb") as f:
                if size <= PART_BYTES:
                    _put(pipeline, route, f.read())
                else:
                    count = 0
                    for count, chunk in enumerate(iter(lambda: f.read(PART_BYTES), b""), 1):
                        _put(pipeline, route, chunk, part=count - 1)
                        sent += len(chunk)
                        if on_progress:
                            on_progress(len(chunk))
                    _put(pipeline, route, b"", parts=count)
        except ResourceExistsError:
            pass  # sent whole by an earlier upload of the same content
        if on_progress:
            on_progress(size - sent)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, files))
    try:
        _put(pipeline, f"datastores/{datastore}/paths/{prefix}/{MARKER}", b"")
    except ResourceExistsError:
        pass
    return uri


def _put(pipeline, route: str, body: bytes, **params: int) -> None:
    pipeline.request("PUT", route, content=body, params=params,
                     headers={"content-type": "application/octet-stream"})
