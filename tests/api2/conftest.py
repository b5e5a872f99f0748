"""The real function_app.py on the real local host, set up for Entra ID: an RSA key made
here, its JWKS document served on loopback, and the host pointed at it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from client import BatchClient
from devhost import azurite as azurite_process
from devhost.testing import HostProcess, make_project
from samples import models
from shared.storage.clients import Storage
from tests.e2e.conftest import put_deployment, put_endpoint, register

ROOT = Path(__file__).resolve().parents[2]
TENANT = str(uuid.UUID(int=0xA11CE))
AUDIENCE = "https://ml.azure.com"


class Entra:
    """A stand-in tenant: signs tokens with its key and serves the public half as JWKS."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "test-key-1"
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        body = json.dumps({"keys": [{**public, "kid": self.kid, "use": "sig",
                                     "alg": "RS256"}]}).encode()

        class Keys(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/keys" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/keys"

    def claims(self, **override: object) -> dict:
        now = int(time.time())
        return {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "aud": AUDIENCE,
                "tid": TENANT, "oid": str(uuid.uuid4()), "iat": now, "nbf": now,
                "exp": now + 600, **override}

    def token(self, key=None, algorithm: str = "RS256", **override: object) -> str:
        return jwt.encode(self.claims(**override), key or self.key, algorithm=algorithm,
                          headers={"kid": self.kid})

    def bearer(self, **override: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(**override)}"}


@pytest.fixture(scope="package")
def entra():
    tenant = Entra()
    yield tenant
    tenant.server.shutdown()


@pytest.fixture(scope="package")
def api2_azurite():
    """Its own Azurite, so this host polls no queue another tier drives by hand."""
    server = azurite_process.start(in_memory=True)
    yield server
    server.stop()


def start_host(folder: Path, azurite, entra: Entra, **settings: str) -> HostProcess:
    project = make_project(folder, ROOT / "function_app.py", azurite.connection_string,
                           {"BATCH_AAD_TENANT_ID": TENANT, "BATCH_AAD_JWKS_URL": entra.jwks_url,
                            **settings}, host_json=ROOT / "host.json")
    env = {"DEVHOST_QUEUE_LEASE_SECONDS": "5",
           "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.5"}
    return HostProcess(project, workers=1, env=env)


@pytest.fixture(scope="package")
def host(api2_azurite, entra, tmp_path_factory):
    with start_host(tmp_path_factory.mktemp("api2") / "app", api2_azurite, entra) as process:
        yield process


@pytest.fixture(scope="package")
def api(host):
    with BatchClient(host.api, host.function_key) as client:
        yield client


@pytest.fixture(scope="package")
def store(api2_azurite):
    return Storage.from_connection_string(api2_azurite.connection_string)


def endpoint_with_digits(api, auth_mode: str) -> str:
    """A new endpoint whose default deployment scores 8x8 digit PNGs."""
    name = f"{auth_mode.replace('_', '')}-{uuid.uuid4().hex[:6]}"
    register(api, "digits-api2", name, models.digits_classifier())
    put_endpoint(api, name, {"auth_mode": auth_mode})
    put_deployment(api, name, "blue", {"model": f"azureml:digits-api2:{name}",
                                       "scoring": models.DIGITS_SCORING})
    return name


@pytest.fixture(scope="package")
def key_endpoint(api):
    return endpoint_with_digits(api, "key")


@pytest.fixture(scope="package")
def aad_endpoint(api):
    return endpoint_with_digits(api, "aad_token")
