"""Who may make the service run code: deployers.

Uploading code, or creating or updating a deployment that runs a scoring script, needs the
master key or an Entra ID token whose app roles include the deployer role; a function key
alone (what invokers hold) gets 403. The host checks that a key is valid but does not tell
the function which key it was, so the function compares the key it was sent with the
master key it is told about in the BATCH_MASTER_KEY app setting (in Azure a Key Vault
reference holding the host's master key; locally the devhost's masterKey from
.devhost/keys.json). docs/security.md says why and what a script may do.

App settings: BATCH_MASTER_KEY, BATCH_DEPLOYER_ROLE (default `Deployer`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from shared.auth import tokens
from shared.errors import ForbiddenError


def deployer_role() -> str:
    return os.environ.get("BATCH_DEPLOYER_ROLE", "").strip() or "Deployer"


def require_deployer(headers: Mapping[str, str], params: Mapping[str, str], what: str
                     ) -> None:
    """Return if the request comes from a deployer; else ForbiddenError naming `what` and
    what is needed. A bearer token is validated (401 if it is not valid)."""
    authorization = headers.get("authorization")
    if authorization and authorization.strip().lower().startswith("bearer "):
        claims = tokens.validate(authorization)
        roles = claims.get("roles") or []
        if deployer_role() in roles:
            return
        raise ForbiddenError(f"{what} runs user code: it needs the master key or an Entra ID "
                             f"token with the '{deployer_role()}' app role (this token has "
                             f"roles {sorted(roles) or 'none'})")
    key = headers.get("x-functions-key") or params.get("code") or ""
    master = os.environ.get("BATCH_MASTER_KEY", "")
    if master and key and hmac.compare_digest(key.encode(), master.encode()):
        return
    if not master:
        raise ForbiddenError(f"{what} runs user code and needs the master key, but this app "
                             "has no BATCH_MASTER_KEY setting to check it against "
                             "(docs/security.md); or send an Entra ID token with the "
                             f"'{deployer_role()}' app role")
    raise ForbiddenError(f"{what} runs user code: it needs the master key (or an Entra ID "
                         f"token with the '{deployer_role()}' app role); a function key is not "
                         "enough")
