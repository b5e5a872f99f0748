"""Entra ID access tokens, validated as Azure ML's endpoints validate them.

A token is accepted when it is an RS256 JWT signed by one of the configured tenant's keys
(fetched from its JWKS document and cached), issued by that tenant (v2.0 or v1 issuer), for
the configured audience (`https://ml.azure.com`, what `az account get-access-token
--resource https://ml.azure.com` and azure-ai-ml request), and not expired. Other algorithms
(`none`, HS256 with a guessed secret) are refused before any key is looked up.

App settings: BATCH_AAD_TENANT_ID (required for tokens), BATCH_AAD_AUDIENCE (comma
separated), BATCH_AAD_JWKS_URL (default: the tenant's v2.0 keys), BATCH_AAD_ALLOWED_OBJECT_IDS
(optional, comma separated `oid`s; without it any principal of the tenant may call).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jwt

from shared.errors import AuthError, ForbiddenError, UnavailableError

ALGORITHMS = ["RS256"]
DEFAULT_AUDIENCE = "https://ml.azure.com"
LEEWAY_SECONDS = 60  # clock skew between Entra ID and this host
JWKS_CACHE_SECONDS = 3600  # an unknown key id still refetches (key rotation)


def tenant() -> str:
    return os.environ.get("BATCH_AAD_TENANT_ID", "").strip()


def audiences() -> list[str]:
    value = os.environ.get("BATCH_AAD_AUDIENCE", "") or DEFAULT_AUDIENCE
    return [a.strip() for a in value.split(",") if a.strip()]


def issuers(tenant_id: str) -> list[str]:
    return [f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            f"https://sts.windows.net/{tenant_id}/"]


def jwks_url(tenant_id: str) -> str:
    return (os.environ.get("BATCH_AAD_JWKS_URL", "").strip()
            or f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys")


def _listed(name: str) -> set[str]:
    return {v.strip() for v in os.environ.get(name, "").split(",") if v.strip()}


@functools.lru_cache(maxsize=8)
def _keys(url: str) -> jwt.PyJWKClient:
    """One JWKS client per URL and process: keys are fetched once, then cached."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=10)


def validate(authorization: str | None) -> dict[str, Any]:
    """The claims of the `Authorization: Bearer` token; AuthError (401) if it is missing or
    not valid, ForbiddenError (403) if its principal is not in the allow-list."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthError("this endpoint takes Entra ID tokens: send Authorization: Bearer "
                        "<access token>", bearer=True)
    tenant_id = tenant()
    if not tenant_id:
        raise _refused("Entra ID tokens are not accepted here: BATCH_AAD_TENANT_ID is not set")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except jwt.DecodeError:
        raise _refused("the bearer token is not a JWT") from None
    if algorithm not in ALGORITHMS:
        raise _refused(f"token algorithm {algorithm!r} is not allowed (only "
                       f"{', '.join(ALGORITHMS)})")
    try:
        key = _keys(jwks_url(tenant_id)).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as e:
        raise UnavailableError(f"the tenant's signing keys could not be fetched: {e}") from None
    except jwt.PyJWKClientError as e:
        raise _refused(f"the token is not signed by a key of tenant {tenant_id}: {e}") from None
    try:
        claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=audiences(),
                            issuer=issuers(tenant_id), leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iss", "aud"]})
    except jwt.ExpiredSignatureError:
        raise _refused("the token has expired") from None
    except jwt.InvalidAudienceError:
        raise _refused(f"the token's audience is not {' or '.join(audiences())}") from None
    except jwt.InvalidIssuerError:
        raise _refused(f"the token was not issued by tenant {tenant_id}") from None
    except jwt.InvalidTokenError as e:
        raise _refused(f"the token is not valid: {e}") from None
    allowed = _listed("BATCH_AAD_ALLOWED_OBJECT_IDS")
    if allowed and claims.get("oid") not in allowed:
        raise ForbiddenError(f"principal {claims.get('oid')} is not allowed to call this "
                             "endpoint (BATCH_AAD_ALLOWED_OBJECT_IDS)")
    return claims


def _refused(message: str) -> AuthError:
    """A token was sent and is not accepted."""
    return AuthError(message, bearer=True, token_given=True)


def challenge(realm: str, refused: AuthError) -> str:
    """The `WWW-Authenticate` value of a token 401, as Azure's services send it: where to get
    a token (the tenant's authorize endpoint) and for which resource, and, when a token was
    sent, why it was refused."""
    params = {"realm": realm}
    if tenant():
        params["authorization_uri"] = (f"https://login.microsoftonline.com/{tenant()}"
                                       "/oauth2/authorize")
    params["resource_id"] = audiences()[0]
    if refused.token_given:
        params.update(error="invalid_token", error_description=str(refused))
    return "Bearer " + ", ".join(f'{k}="{_quoted(v)}"' for k, v in params.items())


def _quoted(value: str) -> str:
    """A quoted-string's content: ASCII, quotes and backslashes escaped (RFC 9110 5.6.4)."""
    text = value.encode("ascii", "replace").decode().replace("\\", "\\\\")
    return "".join(c for c in text.replace('"', '\\"') if c.isprintable())


def keys_allowed() -> bool:
    """BATCH_AAD_ALLOW_KEYS: aad_token endpoints also take function keys."""
    return os.environ.get("BATCH_AAD_ALLOW_KEYS", "").strip().lower() in ("1", "true", "yes")
