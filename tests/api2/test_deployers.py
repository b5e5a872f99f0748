"""Who may run code (shared/auth/deployers.py), in process: the master key, or an Entra ID
token with the Deployer app role (against the loopback JWKS); a function key is a 403."""

from __future__ import annotations

import pytest

from shared.auth.deployers import require_deployer
from shared.errors import AuthError, ForbiddenError
from tests.api2.conftest import TENANT

MASTER = "the-master-key"


@pytest.fixture
def app(monkeypatch, entra):
    monkeypatch.setenv("BATCH_AAD_TENANT_ID", TENANT)
    monkeypatch.setenv("BATCH_AAD_JWKS_URL", entra.jwks_url)
    monkeypatch.setenv("BATCH_MASTER_KEY", MASTER)
    return monkeypatch


def test_the_master_key_deploys(app):
    require_deployer({"x-functions-key": MASTER}, {}, "uploading code")
    require_deployer({}, {"code": MASTER}, "uploading code")


def test_a_function_key_is_not_enough(app):
    with pytest.raises(ForbiddenError, match="uploading code runs user code: it needs the "
                                             "master key .* a function key is not enough"):
        require_deployer({"x-functions-key": "a-function-key"}, {}, "uploading code")


def test_a_token_needs_the_deployer_role(app, entra):
    require_deployer({"authorization": f"Bearer {entra.token(roles=['Deployer'])}"}, {}, "x")
    with pytest.raises(ForbiddenError, match=r"the 'Deployer' app role \(this token has roles "
                                             r"\['Invoker'\]\)"):
        require_deployer({"authorization": f"Bearer {entra.token(roles=['Invoker'])}"}, {}, "x")
    app.setenv("BATCH_DEPLOYER_ROLE", "Batch.Deploy")
    require_deployer({"authorization": f"Bearer {entra.token(roles=['Batch.Deploy'])}"}, {},
                     "x")
    with pytest.raises(AuthError, match="expired"):
        require_deployer({"authorization": f"Bearer {entra.token(exp=1)}"}, {}, "x")


def test_without_the_master_key_setting_keys_cannot_deploy(app):
    app.delenv("BATCH_MASTER_KEY")
    with pytest.raises(ForbiddenError, match="has no BATCH_MASTER_KEY setting"):
        require_deployer({"x-functions-key": MASTER}, {}, "uploading code")
