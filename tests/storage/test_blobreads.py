"""The lean reader of input files (shared/storage/blobreads.py) against a real Azurite: the
bytes as stored, the pinned version, clear refusals, retries of transient failures, listing
pages as the SDK lists them; and the SDK's own requests never pick up ~/.netrc
credentials."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.storage.blob import (
    AccountSasPermissions,
    BlobPrefix,
    ContentSettings,
    ResourceTypes,
    generate_account_sas,
)

from shared.storage.blobreads import BlobReads, BlobTooLargeError
from shared.storage.clients import Storage
from shared.storage.connection import AZURITE_ACCOUNT, AZURITE_KEY, StorageAccount


def test_reads_the_bytes_as_stored_under_any_name(storage, unique_name):
    container = storage.container(unique_name)
    names = ["plain.png", "folder/with space/é #1?.png", "a+b%20c~d.bin"]
    for i, name in enumerate(names):
        container.upload_blob(name, bytes([i]) * 1000)
    packed = gzip.compress(b"x" * 5000)  # stored compressed: returned as stored, not inflated
    container.upload_blob("packed.csv", packed,
                          content_settings=ContentSettings(content_encoding="gzip"))
    for i, name in enumerate(names):
        assert storage.reads.get(unique_name, name, limit=10_000) == bytes([i]) * 1000
    assert storage.reads.get(unique_name, "packed.csv", limit=10_000) == packed


def test_a_pinned_version_is_read_only_while_it_lasts(storage, unique_name):
    container = storage.container(unique_name)
    etag = container.upload_blob("a.png", b"first").get_blob_properties().etag
    assert storage.reads.get(unique_name, "a.png", etag=etag, limit=100) == b"first"
    container.upload_blob("a.png", b"second", overwrite=True)
    with pytest.raises(ResourceModifiedError):
        storage.reads.get(unique_name, "a.png", etag=etag, limit=100)
    assert storage.reads.get(unique_name, "a.png", limit=100) == b"second"


def test_missing_blobs_and_containers_are_not_found(storage, unique_name):
    storage.container(unique_name)
    with pytest.raises(ResourceNotFoundError, match="BlobNotFound"):
        storage.reads.get(unique_name, "nothing.png", limit=100)
    with pytest.raises(ResourceNotFoundError, match="ContainerNotFound"):
        storage.reads.get(unique_name + "x", "nothing.png", limit=100)


def test_listing_pages_are_the_sdks_pages(storage, unique_name):
    """Page by page, the same blobs (names, versions, sizes) and the same continuation as
    the SDK's walk_blobs, whose token a job's plan message may carry; folders left out."""
    container = storage.container(unique_name)
    names = ["in/plain.png", "in/with space/é #1?.png", "in/a+b%20c~d.bin", "in/z.png",
             "in/sub/deeper.png", "in/sub2/x.png", "in/é.png", "other/no.png", "in.png"]
    for i, name in enumerate(names):
        container.upload_blob(name, b"x" * (i + 1))
    sdk_pages = container.walk_blobs(name_starts_with="in/", delimiter="/",
                                     results_per_page=2).by_page()
    marker: str | None = None
    seen: list[str] = []
    for sdk_page in sdk_pages:
        listed, marker = storage.reads.list_page(unique_name, "in/", marker=marker,
                                                 max_results=2)
        expected = [(b.name, b.etag, b.size) for b in sdk_page
                    if not isinstance(b, BlobPrefix)]
        assert [(b.name, b.etag, b.size) for b in listed] == expected
        assert marker == (sdk_pages.continuation_token or "")
        seen += [b.name for b in listed]
    assert marker == ""
    assert sorted(seen) == sorted(n for n in names
                                  if n.startswith("in/") and "/" not in n[3:])
    everything, following = storage.reads.list_page(unique_name, "")
    assert [b.name for b in everything] == ["in.png"] and following == ""


def test_listing_a_missing_container_is_not_found(storage, unique_name):
    with pytest.raises(ResourceNotFoundError, match="ContainerNotFound"):
        storage.reads.list_page(unique_name + "x", "in/")


def test_a_blob_over_the_limit_is_refused_unread_and_the_pool_goes_on(storage, unique_name):
    container = storage.container(unique_name)
    container.upload_blob("big.bin", b"b" * 200_000)
    container.upload_blob("small.bin", b"s")
    for _ in range(3):  # more refusals than a connection: each one hands its connection back
        with pytest.raises(BlobTooLargeError) as refused:
            storage.reads.get(unique_name, "big.bin", limit=1000)
        assert refused.value.size == 200_000
    assert storage.reads.get(unique_name, "small.bin", limit=1000) == b"s"


def test_a_connection_strings_own_sas_signs_the_reads(azurite, storage, unique_name):
    storage.container(unique_name).upload_blob("a.png", b"signed")
    sas = generate_account_sas(AZURITE_ACCOUNT, AZURITE_KEY,
                               ResourceTypes(container=True, object=True),
                               AccountSasPermissions(read=True, list=True),
                               expiry=datetime.now(UTC) + timedelta(hours=1))
    endpoint = f"http://127.0.0.1:{azurite.ports['blob']}/{AZURITE_ACCOUNT}"
    account = StorageAccount.from_connection_string(
        f"BlobEndpoint={endpoint};SharedAccessSignature={sas}")
    reads = BlobReads(account, None, storage.blobs.api_version, 4)
    assert reads.get(unique_name, "a.png", limit=100) == b"signed"
    listed, _ = reads.list_page(unique_name, "")  # the SAS's own permissions: listing
    assert [b.name for b in listed] == ["a.png"]
    unsigned = BlobReads(StorageAccount(name=AZURITE_ACCOUNT, blob_endpoint=endpoint), None,
                         storage.blobs.api_version, 4)
    with pytest.raises(HttpResponseError) as refused:  # the same GET with no credentials
        unsigned.get(unique_name, "a.png", limit=100)
    assert refused.value.status_code in (401, 403, 404)
    read_only = generate_account_sas(AZURITE_ACCOUNT, AZURITE_KEY,
                                     ResourceTypes(container=True, object=True),
                                     AccountSasPermissions(read=True),
                                     expiry=datetime.now(UTC) + timedelta(hours=1))
    no_list = BlobReads(StorageAccount.from_connection_string(
        f"BlobEndpoint={endpoint};SharedAccessSignature={read_only}"), None,
        storage.blobs.api_version, 4)
    with pytest.raises(ClientAuthenticationError, match="403"):  # as the SDK would raise it
        no_list.list_page(unique_name, "")


class Server(BaseHTTPRequestHandler):
    """A small local HTTP server's handler: one reply per GET, no logging."""

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"content-length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class Flaky(Server):
    """Refuses the first GETs of each path with 503, then serves them."""

    seen: dict[str, int] = {}
    failures = 2

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/unsized.bin"):  # no Content-Length: the body ends with the connection
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"u" * 5000)
            return
        Flaky.seen[path] = Flaky.seen.get(path, 0) + 1
        if Flaky.seen[path] <= Flaky.failures:
            self.reply(503, **{"x-ms-error-code": "ServerBusy"})
            return
        self.reply(200, b"served after %d refusals" % Flaky.failures)


@pytest.fixture
def flaky() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Flaky.seen = {}
    try:
        yield f"http://127.0.0.1:{server.server_port}/{AZURITE_ACCOUNT}"
    finally:
        server.shutdown()


def test_transient_refusals_are_retried_and_a_lasting_one_is_raised(flaky, storage):
    account = StorageAccount.from_connection_string(
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={flaky}")
    reads = BlobReads(account, None, storage.blobs.api_version, 4)
    assert reads.get("c", "a.png", limit=100) == b"served after 2 refusals"
    assert Flaky.seen[f"/{AZURITE_ACCOUNT}/c/a.png"] == 3
    Flaky.failures = 100
    try:
        with pytest.raises(HttpResponseError, match="503 ServerBusy") as refused:
            reads.get("c", "b.png", limit=100)
    finally:
        Flaky.failures = 2
    assert refused.value.status_code == 503  # retryable for the queue (shared/errors.py)
    assert Flaky.seen[f"/{AZURITE_ACCOUNT}/c/b.png"] == 5  # the first try and 4 retries
    with pytest.raises(BlobTooLargeError):  # no size announced: the limit still holds
        reads.get("c", "unsized.bin", limit=1000)
    assert reads.get("c", "unsized.bin", limit=5000) == b"u" * 5000


class Proxy(Server):
    """A forward proxy for plain HTTP that answers itself and records what it was asked."""

    asked: list[str] = []

    def do_GET(self) -> None:
        Proxy.asked.append(self.path)  # an absolute URL: the request came as to a proxy
        self.reply(200, b"through the proxy")


def test_proxy_variables_and_no_proxy_are_honoured(azurite, storage, unique_name, monkeypatch):
    storage.container(unique_name).upload_blob("a.png", b"direct")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Proxy.asked = []
    account = StorageAccount.from_connection_string(azurite.connection_string)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        proxied = BlobReads(account, None, storage.blobs.api_version, 4)
        assert proxied.get(unique_name, "a.png", limit=100) == b"through the proxy"
        wanted = f"{account.blob_endpoint}/{unique_name}/a.png?"
        assert Proxy.asked and Proxy.asked[0].startswith(wanted)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = BlobReads(account, None, storage.blobs.api_version, 4)
        assert direct.get(unique_name, "a.png", limit=100) == b"direct"
        assert len(Proxy.asked) == 1
    finally:
        server.shutdown()


def test_the_sdk_requests_ignore_netrc_credentials(azurite, unique_name, tmp_path,
                                                   monkeypatch):
    """requests would put a ~/.netrc match over the SDK's signed Authorization header."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    direct = Storage(StorageAccount.from_connection_string(azurite.connection_string))
    direct.container(unique_name).upload_blob("a.txt", b"signed by the SDK")
    assert direct.container(unique_name).download_blob("a.txt").readall() == b"signed by the SDK"


class Encoding(Server):
    """Lists one blob whose name Storage had to percent-encode (XML cannot carry it), or,
    for the prefix `cut/`, a reply cut short."""

    def do_GET(self) -> None:
        if "prefix=cut" in self.path:  # a reply cut short
            self.reply(200, b"<EnumerationResults><Blobs><Blob><Name>cut/a")
            return
        self.reply(200, b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults>'
                        b'<Blobs><Blob><Name Encoded="true">in%2Fbell%07.png</Name>'
                        b'<Properties><Etag>0x1</Etag><Content-Length>3</Content-Length>'
                        b'</Properties></Blob><BlobPrefix><Name>in/sub/</Name></BlobPrefix>'
                        b'</Blobs><NextMarker>2!abc</NextMarker></EnumerationResults>',
                   **{"content-type": "application/xml"})


def test_an_encoded_name_is_decoded_and_a_cut_listing_is_retryable(storage):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Encoding)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        account = StorageAccount.from_connection_string(
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{server.server_port}/{AZURITE_ACCOUNT}")
        reads = BlobReads(account, None, storage.blobs.api_version, 4)
        listed, following = reads.list_page("c", "in/")
        with pytest.raises(ServiceResponseError, match="not XML"):  # retryable
            reads.list_page("c", "cut/")
    finally:
        server.shutdown()
    assert [(b.name, b.etag, b.size) for b in listed] == [("in/bell\x07.png", "0x1", 3)]
    assert following == "2!abc"
