"""Token validation in process (shared/auth/tokens.py), against the loopback JWKS."""

from __future__ import annotations

import pytest

from shared.auth import tokens
from shared.errors import AuthError, ForbiddenError, UnavailableError
from tests.api2.conftest import TENANT


@pytest.fixture
def tenant_env(monkeypatch, entra):
    monkeypatch.setenv("BATCH_AAD_TENANT_ID", TENANT)
    monkeypatch.setenv("BATCH_AAD_JWKS_URL", entra.jwks_url)
    return monkeypatch


def test_claims_of_a_good_token(tenant_env, entra):
    claims = tokens.validate(f"Bearer {entra.token(oid='me')}")
    assert claims["oid"] == "me" and claims["tid"] == TENANT


def test_the_audience_is_configurable(tenant_env, entra):
    tenant_env.setenv("BATCH_AAD_AUDIENCE", "api://batch, api://other")
    assert tokens.validate(f"Bearer {entra.token(aud='api://other')}")
    with pytest.raises(AuthError, match="audience is not api://batch or api://other"):
        tokens.validate(f"Bearer {entra.token()}")


def test_the_object_id_allow_list_is_a_403(tenant_env, entra):
    tenant_env.setenv("BATCH_AAD_ALLOWED_OBJECT_IDS", "alice, bob")
    assert tokens.validate(f"Bearer {entra.token(oid='bob')}")["oid"] == "bob"
    with pytest.raises(ForbiddenError, match="principal mallory is not allowed"):
        tokens.validate(f"Bearer {entra.token(oid='mallory')}")


def test_no_tenant_configured_refuses_every_token(monkeypatch, entra):
    monkeypatch.delenv("BATCH_AAD_TENANT_ID", raising=False)
    with pytest.raises(AuthError, match="BATCH_AAD_TENANT_ID is not set"):
        tokens.validate(f"Bearer {entra.token()}")


def test_unreachable_signing_keys_are_a_503(tenant_env, entra):
    tenant_env.setenv("BATCH_AAD_JWKS_URL", "http://127.0.0.1:9/keys")
    with pytest.raises(UnavailableError, match="signing keys could not be fetched"):
        tokens.validate(f"Bearer {entra.token()}")


def test_the_keys_default_to_the_tenants_v2_jwks(monkeypatch):
    monkeypatch.delenv("BATCH_AAD_JWKS_URL", raising=False)
    assert tokens.jwks_url("t1") == "https://login.microsoftonline.com/t1/discovery/v2.0/keys"
    assert tokens.issuers("t1") == ["https://login.microsoftonline.com/t1/v2.0",
                                    "https://sts.windows.net/t1/"]
