"""Entra ID tokens on aad_token endpoints, function keys on key endpoints, through the real
host: the token door (`/aad/...`) validates tokens in code, the key door is the host's."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devhost.testing import wait_for
from samples import data
from tests.api2.conftest import TENANT, start_host


def upload_digits(store, count: int = 3) -> str:
    folder = uuid.uuid4().hex
    for name, png, _ in data.digit_pngs(count):
        store.container("workspaceblobstore").upload_blob(f"{folder}/{name}", png)
    return f"azureml://datastores/workspaceblobstore/paths/{folder}"


def invoke_body(path: str) -> dict:
    return {"inputs": {"images": {"type": "uri_folder", "path": path}}}


def test_a_good_token_runs_a_job_through_the_token_door(host, api, store, entra,
                                                        aad_endpoint):
    endpoint = api.batch_endpoints.get(aad_endpoint)
    assert endpoint.scoring_uri == f"{host.api}/aad/endpoints/{aad_endpoint}/jobs"
    got = httpx.post(endpoint.scoring_uri, json=invoke_body(upload_digits(store)),
                     headers=entra.bearer())
    assert got.status_code == 202, got.text
    job = got.json()
    assert got.headers["Location"] == f"{host.api}/aad/jobs/{job['name']}"

    def ended():
        shown = httpx.get(got.headers["Location"], headers=entra.bearer())
        assert shown.status_code == 200, shown.text
        return shown.json() if shown.json()["status"] in ("Completed", "Failed") else None

    assert wait_for(ended, 60, 0.2, "the job to end")["status"] == "Completed"
    score = httpx.get(f"{host.api}/aad/jobs/{job['name']}/outputs/score",
                      headers=entra.bearer())
    assert score.status_code == 200 and score.text.count("\n") == 4  # header + 3 rows
    listed = httpx.get(endpoint.scoring_uri, headers=entra.bearer())
    assert [j["name"] for j in listed.json()["value"]] == [job["name"]]
    keyed = httpx.get(f"{host.api}/jobs/{job['name']}",
                      headers={"x-functions-key": host.function_key})
    assert keyed.status_code == 401 and "aad_token" in keyed.text  # its job, too


def test_the_v1_issuer_is_accepted(host, entra, aad_endpoint):
    token = entra.bearer(iss=f"https://sts.windows.net/{TENANT}/")
    got = httpx.get(f"{host.api}/aad/endpoints/{aad_endpoint}/jobs", headers=token)
    assert got.status_code == 200, got.text


OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BAD_TOKENS = {
    "no token": lambda e: {},
    "not bearer": lambda e: {"Authorization": f"Basic {e.token()}"},
    "not a jwt": lambda e: {"Authorization": "Bearer not-a-jwt"},
    "wrong audience": lambda e: e.bearer(aud="https://management.azure.com"),
    "wrong issuer": lambda e: e.bearer(iss="https://login.microsoftonline.com/other/v2.0"),
    "expired": lambda e: e.bearer(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    "bad signature": lambda e: {"Authorization": f"Bearer {e.token(key=OTHER_KEY)}"},
    "alg none": lambda e: {"Authorization": "Bearer " + jwt.encode(
        e.claims(), None, algorithm="none", headers={"kid": e.kid})},
    "HS256": lambda e: {"Authorization": "Bearer " + jwt.encode(
        e.claims(), "a-guessed-secret-of-32-bytes-or-more!", algorithm="HS256",
        headers={"kid": e.kid})},
}
REASONS = {"no token": "Authorization: Bearer", "not bearer": "Authorization: Bearer",
           "not a jwt": "not a JWT", "wrong audience": "audience",
           "wrong issuer": "not issued by tenant", "expired": "expired",
           "bad signature": "Signature verification failed", "alg none": "'none'",
           "HS256": "'HS256' is not allowed"}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_bad_tokens_are_401_and_name_the_rule(host, store, entra, aad_endpoint, case):
    got = httpx.post(f"{host.api}/aad/endpoints/{aad_endpoint}/jobs",
                     json=invoke_body("azureml://datastores/workspaceblobstore/paths/x"),
                     headers=BAD_TOKENS[case](entra))
    assert got.status_code == 401, got.text
    message = got.json()["error"]["message"]
    assert REASONS[case] in message
    challenge = parse_challenge(got.headers["WWW-Authenticate"])
    assert challenge["realm"] == host.api.split("//")[1].split("/")[0]
    assert challenge["authorization_uri"] == (
        f"https://login.microsoftonline.com/{TENANT}/oauth2/authorize")
    assert challenge["resource_id"] == "https://ml.azure.com"
    if case in ("no token", "not bearer"):  # no token sent: no error code (RFC 6750 3.1)
        assert "error" not in challenge
    else:
        assert challenge["error"] == "invalid_token"
        assert challenge["error_description"] == message


def parse_challenge(header: str) -> dict[str, str]:
    """`Bearer k="v", ...` → {k: v}, with quoted-pair escapes undone."""
    scheme, _, params = header.partition(" ")
    assert scheme == "Bearer", header
    return {k: re.sub(r"\\(.)", r"\1", v)
            for k, v in re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', params)}


def test_a_bad_token_learns_nothing_about_jobs(host, entra):
    got = httpx.get(f"{host.api}/aad/jobs/no-such-job", headers=BAD_TOKENS["expired"](entra))
    assert got.status_code == 401


def test_function_keys_are_refused_on_aad_token_endpoints(host, api, aad_endpoint):
    got = httpx.get(f"{host.api}/endpoints/{aad_endpoint}/jobs",
                    headers={"x-functions-key": host.function_key})
    assert got.status_code == 401
    assert "uses auth_mode aad_token" in got.json()["error"]["message"]
    assert "error" not in parse_challenge(got.headers["WWW-Authenticate"])  # tokens it takes
    bearer_only = httpx.get(f"{host.api}/endpoints/{aad_endpoint}/jobs",
                            headers={"Authorization": "Bearer x"})
    assert bearer_only.status_code == 401 and bearer_only.content == b""  # the host's 401,
    assert "WWW-Authenticate" not in bearer_only.headers  # bare, as the real host's
    # management stays with function keys
    assert api.batch_endpoints.get(aad_endpoint).auth_mode == "aad_token"


def test_key_endpoints_keep_function_keys_and_refuse_tokens(host, api, entra, key_endpoint):
    assert api.batch_endpoints.get(key_endpoint).scoring_uri.endswith(
        f"/api/endpoints/{key_endpoint}/jobs")
    assert list(api.batch_endpoints.list_jobs(key_endpoint)) == []
    got = httpx.get(f"{host.api}/aad/endpoints/{key_endpoint}/jobs", headers=entra.bearer())
    assert got.status_code == 401
    assert "uses auth_mode key" in got.json()["error"]["message"]
    assert "WWW-Authenticate" not in got.headers  # keys are not an HTTP auth scheme


def test_batch_aad_allow_keys_lets_keys_in_too(api2_azurite, entra, aad_endpoint,
                                               tmp_path):
    with start_host(tmp_path / "app", api2_azurite, entra,
                    BATCH_AAD_ALLOW_KEYS="true") as other:
        key = httpx.get(f"{other.api}/endpoints/{aad_endpoint}/jobs",
                        headers={"x-functions-key": other.function_key})
        token = httpx.get(f"{other.api}/aad/endpoints/{aad_endpoint}/jobs",
                          headers=entra.bearer())
    assert key.status_code == 200, key.text
    assert token.status_code == 200, token.text


def test_the_python_client_with_a_token_reaches_an_aad_endpoint(host, store, entra,
                                                                 aad_endpoint):
    """A TokenCredential and no key: the client takes the endpoint's token door itself."""
    from azure.core.credentials import AccessToken

    from client import BatchClient

    class Token:
        def get_token(self, *scopes, **kwargs) -> AccessToken:
            assert scopes == ("https://ml.azure.com/.default",)
            return AccessToken(entra.token(), int(time.time()) + 600)

    with BatchClient(host.api, Token()) as ml:
        job = ml.batch_endpoints.invoke(aad_endpoint, input=upload_digits(store))
        done = ml.jobs.stream(job.name, timeout=120)
        assert done.status == "Completed" and done.progress["items"]["succeeded"] > 0
