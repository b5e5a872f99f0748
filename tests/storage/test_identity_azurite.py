"""An identity-based connection end to end: managed-identity token → Azurite checking it.

What differs from Azure is only where the pieces live: Azurite runs with HTTPS and
`--oauth basic` (it checks each bearer token's issuer, audience and lifetime, not its
signature), and the managed-identity endpoint is a small local server speaking the App Service
identity protocol that azure-identity's `ManagedIdentityCredential` uses on Functions
(`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`). The app's own `Storage`, built from
`AzureWebJobsStorage__*` settings, then reads and writes blobs, queues and tables.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devhost.azurite import azurite_command
from shared.storage.clients import Storage
from shared.storage.connection import AZURITE_ACCOUNT, from_environment

CLIENT_ID = "00000000-1111-2222-3333-444444444444"
IDENTITY_HEADER = "identity-header-value"
LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at "
                       r"https://[^:]+:(\d+)")


def _b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenEndpoint(BaseHTTPRequestHandler):
    """The App Service managed-identity endpoint: GET ?resource=&client_id= → a JWT."""

    requests: list[dict] = []

    def do_GET(self) -> None:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        TokenEndpoint.requests.append({**query, "header": self.headers["X-IDENTITY-HEADER"]})
        now = int(time.time())
        claims = {"aud": query["resource"], "iss": "https://sts.windows.net/tenant/",
                  "iat": now, "nbf": now - 60, "exp": now + 3600, "appid": query["client_id"]}
        token = ".".join((_b64({"alg": "RS256", "typ": "JWT"}), _b64(claims), _b64(b"sig")))
        body = json.dumps({"access_token": token, "expires_on": str(now + 3600),
                           "resource": query["resource"], "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (Azurite's OAuth needs HTTPS)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture(scope="module")
def oauth_azurite(certificate) -> Iterator[dict[str, int]]:
    """Azurite over HTTPS with bearer-token checks, on free ports; yields its ports."""
    cert, key = certificate
    proc = subprocess.Popen(
        azurite_command() + [
            "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
            "--blobPort", "0", "--queuePort", "0", "--tablePort", "0",
            "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--loose",
            "--oauth", "basic", "--cert", str(cert), "--key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    ports: dict[str, int] = {}
    log: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            log.append(line)
            if m := LISTENING.search(line):
                ports[m.group(1).lower()] = int(m.group(2))

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 30
    while len(ports) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert len(ports) == 3, "Azurite did not start:\n" + "".join(log[-20:])
        yield ports
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def identity_endpoint(monkeypatch, certificate) -> Iterator[list[dict]]:
    """The local managed-identity endpoint, wired as App Service wires it for the worker."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    TokenEndpoint.requests = []
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{server.server_port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))  # trust Azurite's cert
    try:
        yield TokenEndpoint.requests
    finally:
        server.shutdown()


def test_managed_identity_connection_reads_and_writes_through_azurite(
        oauth_azurite, identity_endpoint, unique_name):
    env = {f"AzureWebJobsStorage__{service}ServiceUri":
           f"https://127.0.0.1:{port}/{AZURITE_ACCOUNT}" for service, port in oauth_azurite.items()}
    env |= {"AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": CLIENT_ID}
    storage = Storage(from_environment(environ=env))
    assert storage.account.name == AZURITE_ACCOUNT

    storage.container(unique_name).upload_blob("a.txt", b"signed in")
    assert storage.container(unique_name).download_blob("a.txt").readall() == b"signed in"
    assert storage.reads.get(unique_name, "a.txt", limit=100) == b"signed in"  # bearer token
    assert [b.name for b in storage.reads.list_page(unique_name, "")[0]] == ["a.txt"]
    storage.puts.put(unique_name, "b.txt", b"put")  # bearer token
    assert storage.reads.get(unique_name, "b.txt", limit=100) == b"put"
    storage.send(unique_name, "message")
    assert next(storage.queue(unique_name).receive_messages()).content == "message"
    storage.table(unique_name).create_entity({"PartitionKey": "p", "RowKey": "r"})
    assert storage.table(unique_name).get_entity("p", "r")["RowKey"] == "r"
    assert storage.rows.get_entity(unique_name, "p", "r")["RowKey"] == "r"  # bearer token
    storage.transactions.submit(unique_name, [("create", {"PartitionKey": "p", "RowKey": "s"}),
                                              ("update", {"PartitionKey": "p", "RowKey": "r",
                                                          "v": 1})])  # bearer token
    assert storage.table(unique_name).get_entity("p", "r")["v"] == 1

    assert identity_endpoint, "no token was asked for"
    assert {(r["client_id"], r["header"], r["resource"]) for r in identity_endpoint} == {
        (CLIENT_ID, IDENTITY_HEADER, "https://storage.azure.com")}


def test_this_azurite_refuses_requests_without_a_token(oauth_azurite, identity_endpoint):
    anonymous = BlobServiceClient(f"https://127.0.0.1:{oauth_azurite['blob']}/{AZURITE_ACCOUNT}")
    with pytest.raises(HttpResponseError) as refused:
        list(anonymous.list_containers())
    assert refused.value.status_code in (401, 403)
